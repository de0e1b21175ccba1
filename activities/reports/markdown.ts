// Markdown table helpers shared by the run and drill reports.

/** A table cell: one line, `|` and `\` escaped, HTML neutralised. */
export function cell(value: string | number | undefined | null): string {
  if (value === undefined || value === null || value === '') return '—';
  return String(value)
    .replace(/\\/g, '\\\\')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, '<br>')
    .trim();
}

export function row(...cells: (string | number | undefined)[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}
