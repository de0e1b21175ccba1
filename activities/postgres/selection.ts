// What a recovery brings back, checked before anything runs: rows chosen by their key (one
// column or several) or by filters on their columns. Values are only ever sent to PostgreSQL as
// query parameters; PostgreSQL itself says whether a value fits its column's type.
//
// Guarantees:
// - A key tuple names exactly the key's columns; a filter names columns of the table; anything
//   else is refused with an InputError that says what the table's key or columns are.
// - Keys come back in the form PostgreSQL prints them, without duplicates, in the key's column order.
import type pg from 'pg';
import { InputError } from '../../common/errors.js';
import { escapeIdentifier } from './connection.js';
import type { TableShape } from './tables.js';

const quote = escapeIdentifier;

export type Condition = { column: string; op: '=' | '!=' | '<' | '<=' | '>' | '>=' | 'like' | 'is null' | 'is not null'; value?: string };

const OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=', 'like', 'is null', 'is not null']);
const FILTER_FORM =
  'a filter is "<column> <op> <value>" with <op> one of =, !=, <, <=, >, >=, like (e.g. status=lost, created_at>=2026-11-01, ' +
  '"email like %@example.com"), or "<column> is null", "<column> is not null"';
const MAX_VALUE_LENGTH = 1000;

function columnOf(shape: Pick<TableShape, 'table' | 'columns'>, name: string): string {
  const column = shape.columns.find((c) => c.name === name) ?? shape.columns.find((c) => c.name === name.toLowerCase());
  if (!column)
    throw new InputError(`table ${shape.table} has no column "${name}": its columns are ${shape.columns.map((c) => c.name).join(', ')}`);
  return column.name;
}

/**
 * Parses filter expressions such as "status=lost", "created_at>=2026-11-01", "email like
 * %@example.com", "deleted_at is null". A value may be wrapped in matching single or double
 * quotes (which are removed, nothing else is unescaped); it is only ever sent as a query
 * parameter, so "status=lost'; --" is the plain value `lost'; --`. Anything that is not
 * `<column> <op> <value>`, and unknown columns, are refused with an InputError.
 */
export function parseFilter(expressions: string[], shape: TableShape): Condition[] {
  if (!Array.isArray(expressions) || expressions.length === 0) throw new InputError(`no filter given: ${FILTER_FORM}`);
  return expressions.map((expression) => {
    if (typeof expression !== 'string') throw new InputError(`a filter must be text: ${FILTER_FORM}`);
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)(.*)$/s.exec(expression);
    if (!m) throw new InputError(`"${expression}" is not a filter: ${FILTER_FORM}`);
    const [, name, rest] = m as unknown as [string, string, string];
    let op: Condition['op'];
    let value: string | undefined;
    let r: RegExpExecArray | null;
    if (/^\s+is\s+not\s+null\s*$/i.test(rest)) op = 'is not null';
    else if (/^\s+is\s+null\s*$/i.test(rest)) op = 'is null';
    else if ((r = /^\s+like\s+(.*)$/is.exec(rest))) [op, value] = ['like', r[1]!];
    else if ((r = /^\s*(>=|<=|!=|<>|=|<|>)(.*)$/s.exec(rest))) [op, value] = [(r[1] === '<>' ? '!=' : r[1]) as Condition['op'], r[2]!];
    else throw new InputError(`"${expression}" is not a filter: ${FILTER_FORM}`);
    const column = columnOf(shape, name);
    if (value === undefined) return { column, op };
    value = value.trim();
    const quoted = /^'(.*)'$/s.exec(value) ?? /^"(.*)"$/s.exec(value);
    if (quoted) value = quoted[1]!;
    if (value === '') throw new InputError(`"${expression}" has no value: ${FILTER_FORM}`);
    checkValue(value, expression);
    return { column, op, value };
  });
}

function checkValue(value: string, context: string): void {
  if (value.includes('\0')) throw new InputError(`"${context}": a value cannot contain a NUL character`);
  if (value.length > MAX_VALUE_LENGTH)
    throw new InputError(`"${context.slice(0, 40)}...": a value is limited to ${MAX_VALUE_LENGTH} characters`);
}

/** Re-checks conditions that did not come from parseFilter (they arrive through workflow history). */
export function checkConditions(conditions: Condition[], shape: TableShape): void {
  if (!Array.isArray(conditions) || conditions.length === 0) throw new InputError(`no filter given: ${FILTER_FORM}`);
  for (const c of conditions) {
    if (!c || typeof c.column !== 'string' || !OPS.has(c.op))
      throw new InputError(`${JSON.stringify(c)} is not a filter condition: ${FILTER_FORM}`);
    if (columnOf(shape, c.column) !== c.column) throw new InputError(`table ${shape.table} has no column "${c.column}"`);
    const needsValue = c.op !== 'is null' && c.op !== 'is not null';
    if (needsValue !== (typeof c.value === 'string' && c.value !== ''))
      throw new InputError(`condition on ${c.column} ${c.op}: ${needsValue ? 'a value is needed' : 'takes no value'}`);
    if (needsValue) checkValue(c.value!, `${c.column} ${c.op} ${c.value!}`);
  }
}

const SQL_OPS: Record<string, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/** The conditions as SQL on `alias`, every value a parameter appended to `params`. */
export function conditionSql(conditions: Condition[], alias: string, params: unknown[]): string {
  return conditions
    .map((c) => {
      const column = `${alias}.${quote(c.column)}`;
      if (c.op === 'is null') return `${column} IS NULL`;
      if (c.op === 'is not null') return `${column} IS NOT NULL`;
      params.push(c.value);
      return c.op === 'like' ? `${column}::text LIKE $${params.length}` : `${column} ${SQL_OPS[c.op]} $${params.length}`;
    })
    .join(' AND ');
}

type KeyKind = 'int' | 'uuid' | 'text';
const INT_RANGE: Record<string, bigint> = { smallint: 2n ** 15n, integer: 2n ** 31n, bigint: 2n ** 63n };

export function keyKind(type: string): KeyKind | undefined {
  if (type in INT_RANGE) return 'int';
  if (type === 'uuid') return 'uuid';
  if (type === 'text' || type === 'citext' || /^character varying(\(\d+\))?$/.test(type)) return 'text';
  return undefined;
}

const MAX_KEYS = 100_000;

/** The refusal of more keys than one selection may name. */
const tooManyKeys = (count: number) => new InputError(`${count} keys is more than ${MAX_KEYS}: use a filter or a table restore`);

/**
 * Validates primary-key values against the key's type and returns them in the form PostgreSQL
 * prints them (which is how the backup holds them), without duplicates: integers for
 * smallint/integer/bigint keys (within range), uuids (any case, braces or not), text for text
 * keys (not empty, no control characters). Anything else, such as "1; DROP TABLE crm_leads" or
 * "1 OR 1=1" for an integer key, is refused with an InputError. Keys of other types (dates,
 * numerics...) cannot be chosen by value: use a filter.
 */
export function validateKeys(keys: string[], shape: Pick<TableShape, 'table' | 'primaryKey' | 'columns'>): string[] {
  const type = shape.columns.find((c) => c.name === shape.primaryKey)?.type ?? '';
  const kind = keyKind(type);
  if (!kind)
    throw new InputError(
      `rows of ${shape.table} cannot be chosen by key: its primary key ${shape.primaryKey} is of type ${type}; use a filter`,
    );
  if (!Array.isArray(keys) || keys.length === 0) throw new InputError(`no primary keys given for ${shape.table}`);
  if (keys.length > MAX_KEYS) throw tooManyKeys(keys.length);
  const out = new Set<string>();
  const refuse = (key: unknown, why: string) =>
    new InputError(`"${String(key).slice(0, 80)}" is not a valid ${shape.table}.${shape.primaryKey} (${type}): ${why}`);
  for (const key of keys) {
    if (typeof key !== 'string') throw refuse(key, 'keys are text');
    if (kind === 'int') {
      const k = key.trim();
      if (!/^[+-]?\d{1,20}$/.test(k)) throw refuse(key, 'expected an integer');
      const n = BigInt(k);
      const limit = INT_RANGE[type]!;
      if (n < -limit || n >= limit) throw refuse(key, 'out of range');
      out.add(n.toString());
    } else if (kind === 'uuid') {
      const m = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i.exec(key.trim());
      if (!m) throw refuse(key, 'expected a uuid such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301');
      out.add(m.slice(1).join('-').toLowerCase());
    } else {
      if (key === '') throw refuse(key, 'empty');
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(key)) throw refuse(key, 'control characters are not allowed');
      if (key.length > MAX_VALUE_LENGTH) throw refuse(key, `longer than ${MAX_VALUE_LENGTH} characters`);
      out.add(key);
    }
  }
  return [...out];
}

/** Values that do not parse as their column's type (a date that is not a date) are refused now, not after staging. */
export async function checkFilterValues(client: pg.Client, shape: TableShape, conditions: Condition[]): Promise<void> {
  const params: unknown[] = [];
  const where = conditionSql(conditions, 's', params);
  try {
    await client.query(`SELECT 1 FROM ${shape.relation} AS s WHERE ${where} LIMIT 0`, params);
  } catch (err) {
    throw new InputError(`the filter does not fit table ${shape.table}: ${(err as Error).message}`);
  }
}

/** The `--key` form of a table's key, for messages: "customer_id=…,order_id=…". */
function keyForm(shape: Pick<TableShape, 'keyColumns'>): string {
  return shape.keyColumns.map((c) => `${c}=…`).join(',');
}

function keyShapeError(shape: Pick<TableShape, 'table' | 'keyColumns' | 'keyKind'>, why: string): InputError {
  const key = shape.keyColumns.length === 1 ? shape.keyColumns[0]! : `(${shape.keyColumns.join(', ')})`;
  return new InputError(
    `${why}: the ${shape.keyKind} of ${shape.table} is ${key}; give each row as --key ${keyForm(shape)}` +
      (shape.keyColumns.length === 1 ? ` or its values as --keys` : ''),
  );
}

/**
 * The rows a selection names by key, as tuples of the key's values in the key's column order:
 * `keys` for a one-column key (validated as validateKeys does), `tuples` for any key (each names
 * every key column once, by name). Every value is cast to its column's type by PostgreSQL and
 * returned as PostgreSQL prints it; duplicates go. A value that does not fit, a column that is not
 * the key's, a missing one, or `keys` for a key of several columns is refused, naming the key.
 */
export async function keyTuplesOf(
  client: pg.Client,
  shape: TableShape,
  keys: string[] | undefined,
  tuples: Array<Record<string, unknown>> | undefined,
): Promise<string[][]> {
  const columns = shape.keyColumns;
  const rows: unknown[][] = [];
  if (keys !== undefined) {
    if (columns.length !== 1) throw keyShapeError(shape, `--keys takes the values of a one-column key`);
    if (!Array.isArray(keys) || keys.length === 0) throw new InputError(`no primary keys given for ${shape.table}`);
    for (const k of keys) rows.push([k]);
  }
  if (tuples !== undefined) {
    if (!Array.isArray(tuples) || tuples.length === 0) throw keyShapeError(shape, 'no key given');
    for (const tuple of tuples) {
      if (!tuple || typeof tuple !== 'object' || Array.isArray(tuple)) throw keyShapeError(shape, `${JSON.stringify(tuple)} is not a key`);
      const values = new Map<string, unknown>();
      for (const [name, value] of Object.entries(tuple)) {
        const column = columns.find((c) => c === name) ?? columns.find((c) => c === name.toLowerCase());
        if (!column) {
          const known = shape.columns.some((c) => c.name === name || c.name === name.toLowerCase());
          throw keyShapeError(shape, known ? `${name} is not a column of the key` : `table ${shape.table} has no column "${name}"`);
        }
        values.set(column, value);
      }
      const missing = columns.filter((c) => !values.has(c));
      if (missing.length) throw keyShapeError(shape, `${JSON.stringify(tuple)} gives no ${missing.join(', ')}`);
      rows.push(columns.map((c) => values.get(c)));
    }
  }
  if (rows.length > MAX_KEYS) throw tooManyKeys(rows.length);
  const normalized: string[][] = rows.map(() => []);
  for (const [i, column] of columns.entries()) {
    const type = shape.columns.find((c) => c.name === column)!.type;
    const named = { table: shape.table, primaryKey: column, columns: shape.columns };
    const values = rows.map((r) => {
      const v = r[i];
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      if (typeof v !== 'string')
        throw new InputError(`"${String(v).slice(0, 80)}" is not a valid ${shape.table}.${column} (${type}): keys are text`);
      // Types Lifeboat knows are checked here, with the reasons; every type is then PostgreSQL's to parse.
      return keyKind(type) ? validateKeys([v], named)[0]! : v;
    });
    const cast = await client
      .query<{ v: string }>(`SELECT u.v::${type}::text AS v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, o) ORDER BY u.o`, [values])
      .catch(async (err: Error) => {
        for (const v of values) {
          await client.query(`SELECT $1::text::${type}`, [v]).catch((one: Error) => {
            throw new InputError(`"${v.slice(0, 80)}" is not a valid ${shape.table}.${column} (${type}): ${one.message}`);
          });
        }
        throw err;
      });
    cast.rows.forEach((r, n) => normalized[n]!.push(r.v));
  }
  const seen = new Set<string>();
  return normalized.filter((t) => {
    const id = JSON.stringify(t);
    return !seen.has(id) && seen.add(id) !== undefined;
  });
}
