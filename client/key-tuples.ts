// The keys an L1 names on the command line, for keys of any shape: `--key customer_id=5,order_id=17`
// (one row, repeatable) or `--keys-file` (JSON: a list of objects; CSV: a header naming the key's
// columns, then one row per record). Only the form is checked here; the worker checks the columns
// and values against the live table before anything is declared.
import { InputError } from '../common/errors.js';

const KEY_FORM = 'a key is column=value[,column=value…], e.g. --key customer_id=5,order_id=17';

/** One `--key` option as column → value. */
export function parseKeyOption(text: string): Record<string, string> {
  const tuple: Record<string, string> = {};
  for (const part of text.split(',')) {
    const at = part.indexOf('=');
    const column = part.slice(0, Math.max(at, 0)).trim();
    if (at < 1 || column === '') throw new InputError(`--key "${text}": ${KEY_FORM}`);
    if (column in tuple) throw new InputError(`--key "${text}" names ${column} twice`);
    tuple[column] = part.slice(at + 1).trim();
  }
  return tuple;
}

/** Splits one CSV line: fields may be "quoted", with "" for a quote inside. */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted && ch === '"' && line[i + 1] === '"') {
      field += '"';
      i++;
    } else if (quoted && ch === '"') quoted = false;
    else if (quoted) field += ch;
    else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

/** The contents of a `--keys-file`: JSON (`[{"customer_id": 5, "order_id": 17}, …]`) or CSV with a header. */
export function parseKeysFile(text: string, file: string): Array<Record<string, string>> {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let rows: unknown;
    try {
      rows = JSON.parse(trimmed);
    } catch (err) {
      throw new InputError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new InputError(`${file}: expected a list of keys such as [{"customer_id": 5, "order_id": 17}]`);
    return rows.map((row, i) => {
      if (!row || typeof row !== 'object' || Array.isArray(row))
        throw new InputError(`${file}: key ${i + 1} is not an object such as {"customer_id": 5, "order_id": 17}`);
      return Object.fromEntries(
        Object.entries(row as Record<string, unknown>).map(([column, value]) => {
          if (typeof value !== 'string' && typeof value !== 'number')
            throw new InputError(`${file}: key ${i + 1} gives ${column} as ${JSON.stringify(value)}: values are text or numbers`);
          return [column, String(value)];
        }),
      );
    });
  }
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.length ? csvFields(lines[0]!) : [];
  if (lines.length < 2 || header.some((h) => h === ''))
    throw new InputError(`${file}: expected JSON, or CSV with a header of the key's columns and one row per record`);
  return lines.slice(1).map((line, i) => {
    const fields = csvFields(line);
    if (fields.length !== header.length)
      throw new InputError(`${file}: row ${i + 2} has ${fields.length} fields, the header ${header.length}`);
    return Object.fromEntries(header.map((h, n) => [h, fields[n]!]));
  });
}
