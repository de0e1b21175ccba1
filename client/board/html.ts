// Escaping for the board's pages: every value interpolated into `html` is escaped unless it is
// already SafeHtml (made by `html` itself, or by `trusted` for markup this code produced, such as
// the report's SVG). Text from configuration, inputs, step names and summaries can therefore only
// ever reach a page as text.
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Markup that is already safe to put in a page. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Markup produced by our own renderers (never by input): passed through as is. */
export const trusted = (markup: string): SafeHtml => new SafeHtml(markup);

function part(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(part).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** A template whose interpolations are escaped (arrays are joined, nullish and false are left out). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => (out += part(value) + strings[i + 1]!));
  return new SafeHtml(out);
}

/** An SVG document of our own renderers, without its XML prologue, to sit inside a page. */
export const inlineSvg = (svg: string): string => svg.replace(/^<\?xml[^>]*\?>\s*/, '');
