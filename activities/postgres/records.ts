// The data layer of record-level (L1) and table-level (L2) recovery: bring back chosen rows (and
// the rows of tables that reference them) or one whole table from a backup, without restoring
// the database.
//
//   describeTable / parseFilter / validateKeys   what to bring back, refused with InputError when wrong
//   stageFromBackup                              the backup's rows into a staging schema of the target
//   diffStaged / snapshotRows                    what the apply would change, and what it overwrites
//   applyStaged                                  one transaction of upserts (and deletes for a table restore)
//   compareWithStaged / dropStaging              the check after the apply, and the cleanup
//
// Staging reads the backup once, as a stream, and never restores the whole database. A backup
// is a pg_dump custom-format archive: a table of contents, then each table's COPY data as one
// zlib stream. The archive is read here directly (format versions 1.12 to 1.16, pg_dump 9.0 to
// 17, zlib or no compression): the data of unwanted tables is skipped without being
// decompressed, the wanted tables are inflated in parallel on libuv's thread pool while the main
// thread keeps, line by line, the rows whose key (or foreign key) is wanted. Archives this reader
// does not know (lz4 or zstd compression, newer formats), or `reader: 'pg_restore'`, go through
// `pg_restore --data-only --file=-` instead, with the same row filter on its output.
//
// Why not pg_restore always: on a 1,000,000-lead CRM (277 MB archive, zlib level 1, 2 vCPUs),
// staging 10 leads with their children took 5.5 s through pg_restore, whose single-threaded
// inflate dominates, against 2.2-2.7 s here (20-21 s for `pg_restore -j2` of the whole archive).
// What remains is mostly inflating the 1.1 GB of child-table data (about 1.7 CPU-seconds), which
// no reader of a zlib-compressed archive avoids; 10 leads without children take 1.0 s.
//
// Kept rows stay in COPY text form, untouched, and are loaded with psql's COPY FROM STDIN: values
// round-trip byte for byte, whatever their type. A whole table streams into its own psql; rows
// kept by key are few, buffered, and loaded by one psql after the pass. Every later comparison is
// on the columns' text forms (`col::text`), so "equal" means equal to the byte, like the
// fingerprints.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import zlib from 'node:zlib';
import type pg from 'pg';
import { InputError } from '../../common/errors.js';
import { escapeIdentifier, libpqEnv, pgTool, withClient } from './connection.js';

// ─────────────────────────────────────────── Shapes ───────────────────────────────────────────

export interface ColumnShape {
  name: string;
  /** The type as format_type shows it, e.g. bigint, numeric(12,2), timestamp with time zone. */
  type: string;
  /** A generated (computed) column: never copied by pg_dump, never written by an apply. */
  generated?: boolean;
  /** GENERATED ALWAYS AS IDENTITY: inserted with OVERRIDING SYSTEM VALUE, never updated. */
  identityAlways?: boolean;
}

export interface TableShape {
  table: string;
  primaryKey: string;
  columns: ColumnShape[];
  /** Tables (of the public schema, other than this one) with a single-column foreign key to this table's primary key. */
  children: { table: string; column: string }[];
}

const quote = escapeIdentifier;
const production = (table: string) => `public.${quote(table)}`;
const staging = (schema: string, table: string) => `${quote(schema)}.${quote(table)}`;

/**
 * Reads a table's shape from the catalog (public schema). An unknown table is refused with an
 * InputError naming the known tables; so is a table without a single-column primary key, or a
 * partitioned table (its rows live in its partitions).
 */
export async function describeTable(client: pg.Client, table: string): Promise<TableShape> {
  if (typeof table !== 'string' || table === '') throw new InputError('no table given');
  const { rows: found } = await client.query<{ oid: number; relkind: string }>(
    `SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = $1 AND c.relkind IN ('r', 'p')`,
    [table],
  );
  const rel = found[0];
  if (!rel) {
    const { rows } = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    const names = rows.map((r) => r.name);
    throw new InputError(`unknown table "${table}": the tables are ${names.length ? names.join(', ') : '(none)'}`);
  }
  if (rel.relkind === 'p') throw new InputError(`table ${table} is partitioned: restore its partitions one by one`);

  const { rows: columns } = await client.query<{ num: number; name: string; type: string; generated: boolean; identity_always: boolean }>(
    `SELECT a.attnum AS num, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, a.attidentity = 'a' AS identity_always
       FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [rel.oid],
  );
  const { rows: keys } = await client.query<{ conkey: number[] }>(
    `SELECT conkey FROM pg_constraint WHERE conrelid = $1 AND contype = 'p'`,
    [rel.oid],
  );
  const conkey = keys[0]?.conkey;
  if (!conkey) throw new InputError(`table ${table} has no primary key: rows cannot be matched with production`);
  if (conkey.length !== 1)
    throw new InputError(`table ${table} has a primary key of ${conkey.length} columns: only single-column keys are supported`);
  const pk = columns.find((c) => c.num === conkey[0])!;

  const { rows: children } = await client.query<{ table: string; column: string }>(
    `SELECT ch.relname AS table, a.attname AS column
       FROM pg_constraint k
       JOIN pg_class ch ON ch.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = ch.relnamespace
       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
      WHERE k.contype = 'f' AND k.confrelid = $1 AND k.conrelid <> $1 AND n.nspname = 'public'
        AND cardinality(k.conkey) = 1 AND k.confkey[1] = $2
      ORDER BY 1, 2`,
    [rel.oid, pk.num],
  );
  return {
    table,
    primaryKey: pk.name,
    columns: columns.map((c) => ({
      name: c.name,
      type: c.type,
      ...(c.generated ? { generated: true } : {}),
      ...(c.identity_always ? { identityAlways: true } : {}),
    })),
    children,
  };
}

// ────────────────────────────────────── Filters and keys ──────────────────────────────────────

export type Condition = { column: string; op: '=' | '!=' | '<' | '<=' | '>' | '>=' | 'like' | 'is null' | 'is not null'; value?: string };

const OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=', 'like', 'is null', 'is not null']);
const FILTER_FORM =
  'a filter is "<column> <op> <value>" with <op> one of =, !=, <, <=, >, >=, like (e.g. status=lost, created_at>=2026-11-01, ' +
  '"email like %@example.com"), or "<column> is null", "<column> is not null"';
const MAX_VALUE_LENGTH = 1000;

function columnOf(shape: TableShape, name: string): string {
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
function checkConditions(conditions: Condition[], shape: TableShape): void {
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
function conditionSql(conditions: Condition[], alias: string, params: unknown[]): string {
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

function keyKind(type: string): KeyKind | undefined {
  if (type in INT_RANGE) return 'int';
  if (type === 'uuid') return 'uuid';
  if (type === 'text' || type === 'citext' || /^character varying(\(\d+\))?$/.test(type)) return 'text';
  return undefined;
}

const MAX_KEYS = 100_000;

/**
 * Validates primary-key values against the key's type and returns them in the form PostgreSQL
 * prints them (which is how the backup holds them), without duplicates: integers for
 * smallint/integer/bigint keys (within range), uuids (any case, braces or not), text for text
 * keys (not empty, no control characters). Anything else, such as "1; DROP TABLE crm_leads" or
 * "1 OR 1=1" for an integer key, is refused with an InputError. Keys of other types (dates,
 * numerics...) cannot be chosen by value: use a filter.
 */
export function validateKeys(keys: string[], shape: TableShape): string[] {
  const type = shape.columns.find((c) => c.name === shape.primaryKey)?.type ?? '';
  const kind = keyKind(type);
  if (!kind)
    throw new InputError(
      `rows of ${shape.table} cannot be chosen by key: its primary key ${shape.primaryKey} is of type ${type}; use a filter`,
    );
  if (!Array.isArray(keys) || keys.length === 0) throw new InputError(`no primary keys given for ${shape.table}`);
  if (keys.length > MAX_KEYS) throw new InputError(`${keys.length} keys is more than ${MAX_KEYS}: use a filter or a table restore`);
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

// ──────────────────────────────────────────── Staging ────────────────────────────────────────────

export interface StagingPlan {
  /** The staging schema, e.g. lifeboat_staging_<incident>: must start with "lifeboat_" (it is dropped and recreated). */
  schema: string;
  table: string;
  /** Rows of `table` to bring back, by primary key (as validateKeys returns them). */
  keys?: string[];
  /** Or: rows of the backup's `table` matching every condition. */
  filter?: Condition[];
  /** Or (L2): the whole table. */
  wholeTable?: boolean;
  /** With keys or a filter: also the rows of child tables referencing the staged rows. */
  includeChildren?: boolean;
}

export interface StagedTable {
  table: string;
  primaryKey: string;
  /** Rows staged. */
  rows: number;
  /** The staged primary keys as text, in key order: at most KEY_LIST_LIMIT of them (see keysTruncated). */
  keys: string[];
  keysTruncated?: boolean;
  /** Keys mode, the chosen table: requested keys the backup does not hold. */
  notInBackup?: string[];
}

export interface StageProgress {
  phase: string;
  bytes?: number;
}

export interface StageOptions {
  onProgress?: (p: StageProgress) => void;
  /** How the archive is read: 'auto' (this module's reader when it knows the format, else pg_restore) or always 'pg_restore'. */
  reader?: 'auto' | 'pg_restore';
}

/**
 * The backup: a stream, or a function opening it. With a function, a filter with children reads
 * the archive twice (the table, then its children by the kept keys: fast). With a stream, that
 * case stages the child tables whole in the same pass and prunes them afterwards (slower on
 * large tables). Every other plan reads the archive once.
 */
export type BackupSource = Readable | (() => Readable | Promise<Readable>);

/** Lists of keys in results and messages stop here, so activity results stay small. */
export const KEY_LIST_LIMIT = 1000;
const SCHEMA_PATTERN = /^lifeboat_[a-z0-9_]{1,54}$/;

function assertSchemaName(schema: string): void {
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new InputError(
      `"${schema}" cannot be a staging schema: expected lifeboat_<lowercase letters, digits, _> of at most 63 characters`,
    );
  }
}

interface Want {
  table: string;
  /** Columns of the staging table, so the archive's column list can be checked. */
  columns: ReadonlySet<string>;
  /** Every row, or the rows whose value in one of `fields` is one of `keys`. */
  keepAll: boolean;
  fields: string[];
  keys?: KeyMatcher;
}

/**
 * Stages what the plan needs from the backup into tables of `plan.schema` named like the
 * production tables (the schema is dropped and recreated first, so staging twice gives the same
 * result). Everything is validated before anything is created: the schema name, the table, the
 * keys or the filter (columns, and values against the columns' types). Keys mode reads the
 * archive once, keeping the chosen rows and, with includeChildren, the child rows whose foreign
 * key is one of the chosen keys (whatever the order of the tables in the archive). Filter mode
 * stages the whole table, deletes the rows not matching, then stages the children of the rows
 * left (see BackupSource). Returns the staged tables, parents before children.
 */
export async function stageFromBackup(
  url: string,
  backup: BackupSource,
  plan: StagingPlan,
  options: StageOptions | ((p: StageProgress) => void) = {},
): Promise<StagedTable[]> {
  const { onProgress, reader = 'auto' } = typeof options === 'function' ? { onProgress: options } : options;
  const progress = onProgress ?? (() => undefined);
  let given = typeof backup === 'function' ? undefined : backup;
  const open = async (): Promise<Readable> => {
    if (given) {
      const stream = given;
      given = undefined;
      return stream;
    }
    if (typeof backup !== 'function') throw new Error('the backup stream was already read: pass a function opening the backup');
    return backup();
  };
  try {
    assertSchemaName(plan.schema);
    const modes = [plan.keys !== undefined, plan.filter !== undefined, plan.wholeTable === true].filter(Boolean).length;
    if (modes !== 1) throw new InputError('a staging plan names exactly one of: keys, a filter, or the whole table');
    return await withClient(url, async (client) => {
      await client.query('SET statement_timeout = 0');
      const shape = await describeTable(client, plan.table);
      const keys = plan.keys ? validateKeys(plan.keys, shape) : undefined;
      if (plan.filter) {
        checkConditions(plan.filter, shape);
        await checkFilterValues(client, shape, plan.filter);
      }
      const children = plan.includeChildren && !plan.wholeTable ? await childShapes(client, shape) : [];

      // Everything is valid: from here on the staging schema exists.
      const { schema } = plan;
      progress({ phase: 'creating the staging tables' });
      const tables = [shape, ...children.map((c) => c.shape)];
      await client.query(
        [`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`, `CREATE SCHEMA ${quote(schema)}`]
          .concat(tables.map((t) => `CREATE TABLE ${staging(schema, t.table)} (LIKE ${production(t.table)})`))
          .join(';\n'),
      );
      const columnsOf = (t: TableShape) => new Set(t.columns.map((c) => c.name));
      const pass = async (wants: Want[], phase: string) => {
        progress({ phase });
        await stagePass(url, schema, await open(), wants, reader, (bytes) => progress({ phase, bytes }));
      };
      const parentKind = keyKind(shape.columns.find((c) => c.name === shape.primaryKey)!.type);
      const childWants = (matcher: KeyMatcher | undefined): Want[] =>
        children.map((c) => ({ table: c.shape.table, columns: columnsOf(c.shape), keepAll: !matcher, fields: c.columns, keys: matcher }));

      if (keys) {
        const matcher = new KeyMatcher(keys, parentKind === 'int');
        await pass(
          [
            { table: shape.table, columns: columnsOf(shape), keepAll: false, fields: [shape.primaryKey], keys: matcher },
            ...childWants(matcher),
          ],
          'reading the backup',
        );
      } else if (plan.wholeTable) {
        await pass([{ table: shape.table, columns: columnsOf(shape), keepAll: true, fields: [] }], 'reading the backup');
      } else {
        // Filter: the whole table, then only the matching rows; children in a second pass when possible.
        const twoPasses = typeof backup === 'function' && parentKind !== undefined;
        const first: Want[] = [{ table: shape.table, columns: columnsOf(shape), keepAll: true, fields: [] }];
        await pass(twoPasses ? first : [...first, ...childWants(undefined)], 'reading the backup');
        progress({ phase: 'applying the filter' });
        const params: unknown[] = [];
        const where = conditionSql(plan.filter!, 's', params);
        await client.query(`DELETE FROM ${staging(schema, shape.table)} AS s WHERE (${where}) IS NOT TRUE`, params);
        if (twoPasses && children.length) {
          const { rows } = await client.query<{ k: string }>(
            `SELECT ${quote(shape.primaryKey)}::text AS k FROM ${staging(schema, shape.table)}`,
          );
          if (rows.length)
            await pass(
              childWants(
                new KeyMatcher(
                  rows.map((r) => r.k),
                  parentKind === 'int',
                ),
              ),
              'reading the backup for the child rows',
            );
        }
      }

      progress({ phase: 'indexing the staged rows' });
      // Child rows must reference a staged row: exact whatever the key's type, and a no-op when the filter in the pass was exact.
      for (const c of children) {
        const refs = c.columns.map(
          (col) => `EXISTS (SELECT 1 FROM ${staging(schema, shape.table)} p WHERE p.${quote(shape.primaryKey)} = c.${quote(col)})`,
        );
        await client.query(`DELETE FROM ${staging(schema, c.shape.table)} AS c WHERE NOT (${refs.join(' OR ')})`);
      }
      const staged: StagedTable[] = [];
      for (const t of tables) {
        const target = staging(schema, t.table);
        // A key makes the comparisons with production cheap; a whole table is joined by hash anyway.
        if (!plan.wholeTable) await client.query(`ALTER TABLE ${target} ADD PRIMARY KEY (${quote(t.primaryKey)})`);
        await client.query(`ANALYZE ${target}`);
        const { rows: count } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${target}`);
        const { rows: listed } = await client.query<{ k: string }>(
          `SELECT ${quote(t.primaryKey)}::text AS k FROM ${target} ORDER BY ${quote(t.primaryKey)} LIMIT ${KEY_LIST_LIMIT}`,
        );
        const rows = Number(count[0]!.n);
        staged.push({
          table: t.table,
          primaryKey: t.primaryKey,
          rows,
          keys: listed.map((r) => r.k),
          ...(rows > listed.length ? { keysTruncated: true } : {}),
        });
      }
      if (keys) {
        const { rows } = await client.query<{ k: string }>(
          `SELECT w.key AS k FROM unnest($1::text[]) AS w(key)
            WHERE NOT EXISTS (SELECT 1 FROM ${staging(schema, shape.table)} s WHERE s.${quote(shape.primaryKey)}::text = w.key) ORDER BY 1 LIMIT ${KEY_LIST_LIMIT}`,
          [keys],
        );
        if (rows.length) staged[0]!.notInBackup = rows.map((r) => r.k);
      }
      return staged;
    });
  } finally {
    given?.destroy(); // refused before reading: do not leave the download open
  }
}

async function childShapes(client: pg.Client, shape: TableShape): Promise<{ shape: TableShape; columns: string[] }[]> {
  const byTable = new Map<string, string[]>();
  for (const c of shape.children) byTable.set(c.table, [...(byTable.get(c.table) ?? []), c.column]);
  const out: { shape: TableShape; columns: string[] }[] = [];
  for (const [table, columns] of byTable) {
    try {
      out.push({ shape: await describeTable(client, table), columns });
    } catch (err) {
      if (err instanceof InputError)
        throw new InputError(`child table ${table} of ${shape.table} cannot be staged (${err.message}); stage without children`);
      throw err;
    }
  }
  return out;
}

/** Values that do not parse as their column's type (a date that is not a date) are refused now, not after staging. */
async function checkFilterValues(client: pg.Client, shape: TableShape, conditions: Condition[]): Promise<void> {
  const params: unknown[] = [];
  const where = conditionSql(conditions, 's', params);
  try {
    await client.query(`SELECT 1 FROM ${production(shape.table)} AS s WHERE ${where} LIMIT 0`, params);
  } catch (err) {
    throw new InputError(`the filter does not fit table ${shape.table}: ${(err as Error).message}`);
  }
}

// ────────────────────────────── Reading COPY data: the row filter ──────────────────────────────

const NL = 0x0a;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const END_OF_DATA = Buffer.from('\n\\.\n');

/** COPY text form of a value: backslash escapes as COPY TO writes them. */
function copyEscape(value: string): string {
  return value.replace(
    /[\\\b\f\n\r\t\v]/g,
    (c) => ({ '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' })[c]!,
  );
}

/** Keys as they appear in COPY data: small non-negative integers as numbers, anything else as the field's bytes (in a latin1 string). */
class KeyMatcher {
  readonly numbers = new Set<number>();
  readonly texts = new Set<string>();
  constructor(
    keys: string[],
    readonly integers: boolean,
  ) {
    for (const key of keys) {
      if (integers && /^(0|[1-9]\d{0,14})$/.test(key)) this.numbers.add(Number(key));
      else this.texts.add(Buffer.from(copyEscape(key), 'utf8').toString('latin1'));
    }
  }
}

/**
 * Takes one table's COPY data in chunks of any size and keeps the wanted lines, untouched, in
 * `out`; stops at the end-of-data line (`\.`). Complete lines are never copied: kept lines are
 * slices of the chunks; only a line split between two chunks is joined.
 */
class RowFilter {
  out: Buffer[] = [];
  ended = false;
  private carry: Buffer | null = null;
  /** wanted[i]: whether field i holds a key to match; as long as the last such field. */
  private readonly wanted: Uint8Array;

  constructor(
    readonly want: Want,
    readonly columns: string[],
  ) {
    const unknown = columns.filter((c) => !want.columns.has(c));
    if (unknown.length) {
      throw new Error(
        `the backup's ${want.table} has column(s) ${unknown.join(', ')} that production's table lacks: a restore across this schema change is not supported`,
      );
    }
    const fields = want.fields.map((name) => {
      const i = columns.indexOf(name);
      if (i < 0) throw new Error(`the backup's ${want.table} has no column ${name}`);
      return i;
    });
    this.wanted = new Uint8Array(fields.length ? Math.max(...fields) + 1 : 0);
    for (const i of fields) this.wanted[i] = 1;
  }

  take(): Buffer | undefined {
    if (!this.out.length) return undefined;
    const out = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    return out;
  }

  /** Consumes `chunk` from `start`; returns the index after the end-of-data line when it is in this chunk, else -1. */
  push(chunk: Buffer, start: number): number {
    if (this.ended) return start;
    let pos = start;
    if (this.carry) {
      const nl = chunk.indexOf(NL, pos);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, chunk.subarray(pos)]);
        return -1;
      }
      const line = Buffer.concat([this.carry, chunk.subarray(pos, nl + 1)]);
      this.carry = null;
      this.scan(line, 0);
      if (this.ended) return nl + 1;
      pos = nl + 1;
    }
    return this.scan(chunk, pos);
  }

  /** Whether data ended cleanly: nothing is left over but blank lines. */
  get leftover(): boolean {
    return this.carry !== null && this.carry.some((b) => b !== NL);
  }

  private scan(d: Buffer, pos: number): number {
    return this.want.keepAll ? this.scanAll(d, pos) : this.scanMatching(d, pos);
  }

  private scanAll(d: Buffer, pos: number): number {
    const last = d.lastIndexOf(NL);
    if (last < pos) {
      this.carry = Buffer.from(d.subarray(pos));
      return -1;
    }
    let end = -1;
    if (d[pos] === BACKSLASH && d[pos + 1] === DOT && d[pos + 2] === NL) end = pos;
    else {
      const i = d.indexOf(END_OF_DATA, pos);
      if (i >= 0) end = i + 1;
    }
    if (end >= 0) {
      if (end > pos) this.out.push(d.subarray(pos, end));
      this.ended = true;
      return end + 3;
    }
    this.out.push(d.subarray(pos, last + 1));
    if (last + 1 < d.length) this.carry = Buffer.from(d.subarray(last + 1));
    return -1;
  }

  /** The hot loop: walks each line only up to the wanted fields, then jumps to its end with indexOf. */
  private scanMatching(d: Buffer, pos: number): number {
    const len = d.length;
    const wanted = this.wanted;
    const lastField = wanted.length - 1;
    const { numbers, texts, integers } = this.want.keys!;
    const hasTexts = texts.size > 0;
    while (pos < len) {
      if (d[pos] === BACKSLASH) {
        if (pos + 2 >= len) break; // maybe the end marker: wait for the whole line
        if (d[pos + 1] === DOT) {
          this.ended = true;
          return pos + 3;
        }
      }
      let i = pos;
      let field = 0;
      let matched = false;
      let c = 0;
      for (;;) {
        if (wanted[field]) {
          const s = i;
          let v = 0;
          if (integers) {
            while (i < len && (c = d[i]!) >= 48 && c <= 57) {
              v = v * 10 + (c - 48);
              i++;
            }
          }
          const digitsEnd = i;
          while (i < len && (c = d[i]!) !== TAB && c !== NL) i++;
          if (i >= len) break;
          if (integers && digitsEnd === i && i > s && i - s <= 15) matched = numbers.has(v);
          else if (hasTexts) matched = texts.has(d.toString('latin1', s, i));
        } else {
          while (i < len && (c = d[i]!) !== TAB && c !== NL) i++;
          if (i >= len) break;
        }
        if (matched || c === NL || field === lastField) break;
        i++;
        field++;
      }
      if (i >= len) break; // the line goes on in the next chunk
      const nl = c === NL ? i : d.indexOf(NL, i);
      if (nl < 0) break;
      if (matched) this.out.push(d.subarray(pos, nl + 1));
      pos = nl + 1;
    }
    if (pos < len) this.carry = Buffer.from(d.subarray(pos));
    return -1;
  }
}

/** Parses `COPY schema.table (col, ...) FROM stdin;` as pg_dump writes it (identifiers quoted only when needed). */
export function parseCopyStatement(statement: string): { schema: string; table: string; columns: string[] } | undefined {
  let i = 0;
  const s = statement.trim();
  const ident = (): string | undefined => {
    if (s[i] === '"') {
      let out = '';
      for (i++; i < s.length; i++) {
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            out += '"';
            i++;
          } else {
            i++;
            return out;
          }
        } else out += s[i];
      }
      return undefined;
    }
    const m = /^[^\s".,()]+/.exec(s.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  if (!s.startsWith('COPY ')) return undefined;
  i = 5;
  const schema = ident();
  if (schema === undefined || s[i] !== '.') return undefined;
  i++;
  const table = ident();
  if (table === undefined) return undefined;
  const columns: string[] = [];
  if (s.startsWith(' (', i)) {
    i += 2;
    for (;;) {
      const column = ident();
      if (column === undefined) return undefined;
      columns.push(column);
      if (s.startsWith(', ', i)) i += 2;
      else if (s[i] === ')') {
        i++;
        break;
      } else return undefined;
    }
  }
  // A table without columns has an empty column list: "COPY public.t  FROM stdin;".
  const rest = s.slice(i);
  return rest === ' FROM stdin;' || (rest === '  FROM stdin;' && !columns.length) ? { schema, table, columns } : undefined;
}

// ───────────────────────────────────── Loading: psql COPY ─────────────────────────────────────

/** A psql running one command, reading its COPY data (or script) on stdin. */
class Psql {
  readonly proc: ChildProcessWithoutNullStreams;
  private readonly exit: Promise<number>;
  private stderr = '';

  constructor(url: string, args: string[], encoding: string | undefined) {
    const env: NodeJS.ProcessEnv = { ...libpqEnv(url), PGAPPNAME: 'lifeboat' };
    if (encoding) env.PGCLIENTENCODING = encoding;
    const proc = spawn(pgTool('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    proc.stdout.resume();
    proc.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    proc.stdin.on('error', () => undefined); // a dead psql shows in its exit code and message
    this.exit = new Promise((resolve) => {
      proc.on('error', (err) => {
        this.stderr += err.message;
        resolve(-1);
      });
      proc.on('close', (code) => resolve(code ?? 1));
    });
    this.proc = proc;
  }

  failure(what: string): Error | undefined {
    const code = this.proc.exitCode;
    return code === null || code === 0 ? undefined : this.error(what, code);
  }

  private error(what: string, code: number): Error {
    return new Error(`loading ${what} failed: ${this.stderr.trim() || `psql exited with ${code}`}`);
  }

  async end(what: string, last?: Buffer): Promise<void> {
    this.proc.stdin.end(last);
    const code = await this.exit;
    if (code !== 0) throw this.error(what, code);
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM');
  }
}

/** Kept rows of every sink that buffers, together: a pass loads them with one psql at its end. */
class SharedBuffer {
  bytes = 0;
  constructor(readonly limit: number) {}
}

/** Rows kept by key are few: buffered, up to this much for a pass, then streamed. */
const BUFFERED_ROWS_LIMIT = 64 << 20;

/**
 * One staging table's COPY data. A whole table streams into its own psql (`COPY ... FROM
 * STDIN`) from the first row. Rows kept by key are buffered instead, so a pass starts no process
 * while it reads the archive, and loads them all at its end with a single psql; past the shared
 * limit a buffering sink turns into a streaming one.
 */
class TableSink {
  private psql: Psql | undefined;
  private buffered: Buffer[] | undefined;

  constructor(
    private readonly url: string,
    readonly target: string,
    readonly columns: string[],
    readonly encoding: string | undefined,
    private readonly shared: SharedBuffer | undefined,
  ) {
    if (shared) this.buffered = [];
  }

  private get copy(): string {
    return `COPY ${this.target} (${this.columns.map(quote).join(', ')}) FROM STDIN`;
  }

  /** Writes COPY text; false when the caller should wait for drained(). */
  write(data: Buffer): boolean {
    if (this.buffered && this.shared) {
      if (this.shared.bytes + data.length <= this.shared.limit) {
        this.buffered.push(Buffer.from(data)); // a copy: the slice would keep a whole inflated chunk alive
        this.shared.bytes += data.length;
        return true;
      }
      const pending = this.buffered;
      this.buffered = undefined;
      this.stream().proc.stdin.write(Buffer.concat(pending));
    }
    return this.stream().proc.stdin.write(data);
  }

  private stream(): Psql {
    this.psql ??= new Psql(this.url, ['-c', this.copy], this.encoding);
    return this.psql;
  }

  drained(): Promise<void> {
    const stdin = this.psql?.proc.stdin;
    if (!stdin || !stdin.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        stdin.off('drain', done).off('close', done).off('error', done);
        resolve();
      };
      stdin.on('drain', done).on('close', done).on('error', done);
    });
  }

  /** The loader's error when it already stopped with one. */
  failure(): Error | undefined {
    return this.psql?.failure(`the staging table ${this.target}`);
  }

  /** Ends a streaming load; a buffering sink is loaded by loadBuffered. */
  async end(): Promise<void> {
    await this.psql?.end(`the staging table ${this.target}`);
  }

  /** The buffered rows as a COPY block of a psql script, or undefined when none (or streaming). */
  scriptBlock(): Buffer[] | undefined {
    if (!this.buffered?.length) return undefined;
    return [Buffer.from(`${this.copy};\n`), ...this.buffered, Buffer.from('\\.\n')];
  }

  kill(): void {
    this.psql?.kill();
  }
}

/** Loads what the buffering sinks hold with one psql running a script of COPY blocks. */
async function loadBuffered(url: string, sinks: TableSink[]): Promise<void> {
  const blocks = sinks.map((s) => [s, s.scriptBlock()] as const).filter((b): b is readonly [TableSink, Buffer[]] => b[1] !== undefined);
  if (!blocks.length) return;
  const psql = new Psql(url, ['-f', '-'], blocks[0]![0].encoding);
  await psql.end(`the staging tables ${blocks.map(([s]) => s.target).join(', ')}`, Buffer.concat(blocks.flatMap(([, b]) => b)));
}

// ───────────────────────────────────── One pass over a backup ─────────────────────────────────────

/** The archive's compressed data that may wait in the inflaters' queues; reading pauses above it. */
const MAX_QUEUED_BYTES = 128 << 20;
const FEED_BATCH_BYTES = 1 << 20;

/** Reads the archive once and loads the wanted rows of each wanted table into its staging table. */
async function stagePass(
  url: string,
  schema: string,
  source: Readable,
  wants: Want[],
  reader: 'auto' | 'pg_restore',
  onBytes: (n: number) => void,
): Promise<void> {
  const input = new ByteReader(source, onBytes);
  const sinks: TableSink[] = [];
  const shared = new SharedBuffer(BUFFERED_ROWS_LIMIT);
  const sinkFor = (filter: RowFilter, encoding: string | undefined) => {
    const sink = new TableSink(url, staging(schema, filter.want.table), filter.columns, encoding, filter.want.keepAll ? undefined : shared);
    sinks.push(sink);
    return sink;
  };
  try {
    const header = reader === 'auto' ? await readArchiveHeader(input) : undefined;
    if (header?.supported) await nativePass(input, header, wants, sinkFor);
    else await pgRestorePass(input, wants, sinkFor);
    input.close(); // the archive is read: do not hold the download while loading
    await loadBuffered(url, sinks);
  } catch (err) {
    for (const sink of sinks) sink.kill();
    throw err;
  } finally {
    input.close();
  }
}

type SinkFactory = (filter: RowFilter, encoding: string | undefined) => TableSink;

/** pg_restore --data-only as a script on stdout, split back into tables. */
async function pgRestorePass(input: ByteReader, wants: Want[], sinkFor: SinkFactory): Promise<void> {
  const byTable = new Map(wants.map((w) => [w.table, w]));
  const restore = spawn(pgTool('pg_restore'), ['--data-only', '--file=-', '--schema=public', ...wants.map((w) => `--table=${w.table}`)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  restore.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<number>((resolve) => {
    restore.on('error', (err) => {
      stderr += err.message;
      resolve(-1);
    });
    restore.on('close', (code) => resolve(code ?? 1));
  });
  // pg_restore stops reading once it has every table asked for: the closed pipe is then no error.
  restore.stdin.on('error', () => undefined);
  const feeding = (async () => {
    for await (const chunk of input.rest()) {
      if (restore.stdin.destroyed) return;
      if (!restore.stdin.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            restore.stdin.off('drain', done).off('close', done);
            resolve();
          };
          restore.stdin.on('drain', done).on('close', done);
        });
      }
    }
    restore.stdin.end();
  })();
  feeding.catch(() => undefined); // awaited below; a failed download must not be an unhandled rejection meanwhile

  const done: Promise<void>[] = [];
  let encoding: string | undefined;
  let current: { filter: RowFilter; sink: TableSink } | undefined;
  let carry: Buffer | null = null;
  const finish = (block: { filter: RowFilter; sink: TableSink }) => {
    const data = block.filter.take();
    if (data) block.sink.write(data);
    done.push(block.sink.end());
  };
  try {
    for await (const chunk of restore.stdout as AsyncIterable<Buffer>) {
      let pos = 0;
      while (pos < chunk.length) {
        if (current) {
          const end = current.filter.push(chunk, pos);
          const data = current.filter.take();
          if (data && !current.sink.write(data)) await current.sink.drained();
          if (end < 0) break;
          finish(current);
          current = undefined;
          pos = end;
          continue;
        }
        const nl = chunk.indexOf(NL, pos);
        if (nl < 0) {
          carry = carry ? Buffer.concat([carry, chunk.subarray(pos)]) : Buffer.from(chunk.subarray(pos));
          break;
        }
        const line = (carry ? Buffer.concat([carry, chunk.subarray(pos, nl)]) : chunk.subarray(pos, nl)).toString('utf8');
        carry = null;
        pos = nl + 1;
        const enc = /^SET client_encoding = '([A-Za-z0-9_]+)';$/.exec(line);
        if (enc) encoding = enc[1];
        const copy = line.startsWith('COPY ') ? parseCopyStatement(line) : undefined;
        if (copy) {
          const want = copy.schema === 'public' ? byTable.get(copy.table) : undefined;
          const filter = new RowFilter(
            want ?? { table: copy.table, columns: new Set(copy.columns), keepAll: false, fields: [], keys: new KeyMatcher([], false) },
            copy.columns,
          );
          current = { filter, sink: want ? sinkFor(filter, encoding) : new TableSink('', '', [], undefined, new SharedBuffer(0)) };
        }
      }
    }
    const code = await exited;
    await feeding;
    if (code !== 0) throw new Error(`pg_restore failed: ${stderr.trim() || `exit code ${code}`}`);
    if (current) throw new Error(`pg_restore's output ends inside the data of ${current.filter.want.table}`);
    await Promise.all(done);
  } catch (err) {
    restore.kill('SIGTERM');
    await Promise.allSettled(done);
    throw err;
  }
}

interface ArchiveHeader {
  supported: boolean;
  version: number;
  intSize: number;
  offSize: number;
  compressed: boolean;
}

const archiveVersion = (major: number, minor: number, rev = 0) => (major * 256 + minor) * 256 + rev;
const K_VERS_1_12 = archiveVersion(1, 12);
const K_VERS_1_14 = archiveVersion(1, 14);
const K_VERS_1_15 = archiveVersion(1, 15);
const K_VERS_1_16 = archiveVersion(1, 16);
const K_VERS_MAX = archiveVersion(1, 16, 255);
const BLK_DATA = 1;
const BLK_BLOBS = 3;

/**
 * The fixed start of a custom-format archive (pg_backup_archiver.c, ReadHead). Consumes it only
 * when this module can read the archive; otherwise leaves every byte for pg_restore.
 */
async function readArchiveHeader(input: ByteReader): Promise<ArchiveHeader> {
  await input.ensure(24);
  const b = input.peek(24);
  if (b.toString('latin1', 0, 5) !== 'PGDMP') throw new Error('the backup is not a pg_dump custom-format archive');
  const version = archiveVersion(b[5]!, b[6]!, b[7]!);
  const intSize = b[8]!;
  const offSize = b[9]!;
  const format = b[10]!;
  let compressed = false;
  let known =
    version >= K_VERS_1_12 && version <= K_VERS_MAX && format === 1 && intSize >= 1 && intSize <= 6 && offSize >= 1 && offSize <= 16;
  let length = 11;
  if (known && version >= K_VERS_1_15) {
    const algorithm = b[11]!; // 0 none, 1 gzip, 2 lz4, 3 zstd
    known = algorithm <= 1;
    compressed = algorithm === 1;
    length = 12;
  } else if (known) {
    let level = 0;
    for (let i = 0; i < intSize; i++) level += b[12 + i]! * 2 ** (8 * i);
    compressed = level !== 0; // -1 is zlib's default level
    length = 12 + intSize;
  }
  if (known) input.skipNow(length);
  return { supported: known, version, intSize, offSize, compressed };
}

/** Reads the rest of the header and the table of contents, then the data blocks, inflating only the wanted tables. */
async function nativePass(input: ByteReader, header: ArchiveHeader, wants: Want[], sinkFor: SinkFactory): Promise<void> {
  const { intSize, version } = header;
  const int = () => input.int(intSize);
  const str = () => input.str(intSize);
  for (let i = 0; i < 7; i++) await int(); // creation time
  await str(); // database name
  await str(); // server version
  await str(); // pg_dump version

  const byTable = new Map(wants.map((w) => [w.table, w]));
  const wanted = new Map<number, { want: Want; copy: string }>();
  let encoding: string | undefined;
  const entries = await int();
  for (let e = 0; e < entries; e++) {
    const dumpId = await int();
    await int(); // had a data dumper
    await str(); // catalog table oid
    await str(); // oid
    const tag = await str();
    const desc = await str();
    await int(); // section
    const defn = await str();
    await str(); // drop statement
    const copy = await str();
    const namespace = await str();
    await str(); // tablespace
    if (version >= K_VERS_1_14) await str(); // table access method
    if (version >= K_VERS_1_16) await int(); // relkind
    await str(); // owner
    await str(); // "false": WITH OIDS
    while ((await str()) !== null); // dependencies
    await input.ensure(1 + header.offSize);
    input.skipNow(1 + header.offSize); // data offset
    if (desc === 'ENCODING' && defn) encoding = /client_encoding = '([A-Za-z0-9_]+)'/.exec(defn)?.[1];
    const want = desc === 'TABLE DATA' && namespace === 'public' && tag ? byTable.get(tag) : undefined;
    if (want && copy) wanted.set(dumpId, { want, copy });
  }

  const running: TableInflater[] = [];
  const finished: Promise<void>[] = [];
  const progress = new Signal();
  const pool: Buffer[] = [];
  const fail = (err: unknown) => {
    for (const t of running) t.destroy();
    throw err;
  };
  try {
    // Data blocks until the end of the archive, or until every wanted table has been read.
    while (wanted.size > 0 && !(await input.atEnd())) {
      await input.ensure(1 + 1 + intSize);
      const type = input.byteNow();
      const dumpId = input.intNow(intSize);
      const entry = wanted.get(dumpId);
      if (type === BLK_DATA && entry) {
        wanted.delete(dumpId);
        const parsed = parseCopyStatement(entry.copy);
        if (!parsed) throw new Error(`cannot read the COPY statement of ${entry.want.table} in the archive: ${entry.copy}`);
        const filter = new RowFilter(entry.want, parsed.columns);
        const inflater = new TableInflater(filter, sinkFor(filter, encoding), header.compressed, progress, pool);
        running.push(inflater);
        finished.push(inflater.done);
        await forEachChunk(
          input,
          intSize,
          (slice) => inflater.feed(slice),
          async () => {
            while (queuedBytes(running) > MAX_QUEUED_BYTES) await progress.next();
          },
        );
        inflater.finish();
      } else if (type === BLK_DATA) {
        await forEachChunk(input, intSize, undefined);
      } else if (type === BLK_BLOBS) {
        // Large objects: [oid, data chunks]... then oid 0.
        while ((await int()) !== 0) await forEachChunk(input, intSize, undefined);
      } else {
        throw new Error(`unexpected block type ${type} in the archive (corrupt, or a format this reader does not know)`);
      }
    }
    await Promise.all(finished);
  } catch (err) {
    fail(err);
  }
}

/** Wakes whoever waits for the next event (here: an inflater made progress). */
class Signal {
  private waiters: (() => void)[] = [];
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  notify(): void {
    if (!this.waiters.length) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

function queuedBytes(inflaters: TableInflater[]): number {
  let n = 0;
  for (const t of inflaters) n += t.queued;
  return n;
}

/** A data block's chunks (length, bytes)... up to a zero length: handed to `feed`, or skipped undecompressed. */
async function forEachChunk(
  input: ByteReader,
  intSize: number,
  feed: ((slice: Buffer) => boolean) | undefined,
  wait?: () => Promise<void>,
): Promise<void> {
  for (;;) {
    const length = input.available >= 1 + intSize ? input.intNow(intSize) : await input.int(intSize);
    if (length === 0) return;
    if (length < 0) throw new Error('corrupt archive: negative block length');
    if (input.available >= length) {
      // The common case, without promises: the chunk is already buffered.
      if (feed ? feed(input.takeNow(length)) : (input.skipNow(length), false)) await wait?.();
    } else if (!feed) await input.skip(length);
    else if (await input.slices(length, feed)) await wait?.();
  }
}

/** One table's data: batches of compressed bytes into zlib (on the thread pool), its output through the row filter into the sink. */
class TableInflater {
  readonly done: Promise<void>;
  private readonly stream: zlib.Inflate | PassThrough;
  private batch: Buffer | undefined;
  private batchBytes = 0;

  constructor(
    filter: RowFilter,
    private readonly sink: TableSink,
    private readonly compressed: boolean,
    private readonly progress: Signal,
    private readonly pool: Buffer[],
  ) {
    this.stream = compressed ? zlib.createInflate({ chunkSize: 1 << 20 }) : new PassThrough();
    const stream = this.stream;
    this.done = new Promise<void>((resolve, reject) => {
      let failed = false;
      const failWith = (err: Error) => {
        if (failed) return;
        failed = true;
        stream.destroy();
        reject(err);
      };
      stream.on('close', () => progress.notify());
      stream.on('data', (chunk: Buffer) => {
        progress.notify();
        if (filter.ended) return; // blank lines after the end marker
        try {
          filter.push(chunk, 0);
        } catch (err) {
          failWith(err as Error);
          return;
        }
        const data = filter.take();
        const failure = sink.failure();
        if (failure) {
          failWith(failure);
          return;
        }
        if (data && !sink.write(data)) {
          stream.pause();
          void sink.drained().then(() => stream.resume());
        }
      });
      stream.on('error', (err) => failWith(new Error(`the archive's data of ${filter.want.table} cannot be read: ${err.message}`)));
      stream.on('end', () => {
        if (failed) return;
        if (!filter.ended || filter.leftover) {
          failWith(new Error(`the archive's data of ${filter.want.table} ends without its end marker (truncated backup?)`));
          return;
        }
        sink.end().then(resolve, failWith);
      });
    });
    this.done.catch(() => undefined); // awaited by the pass; a failure must not go unhandled meanwhile
  }

  get queued(): number {
    return this.stream.destroyed ? 0 : this.stream.writableLength;
  }

  /**
   * Copies compressed bytes into a buffer of the pool, written to zlib once full and returned to
   * the pool once zlib has consumed it. Copying at once (rather than keeping slices) lets the
   * stream's chunks die young: the archive's gigabytes are neither retained nor re-allocated.
   * Returns true when a buffer went to zlib (time to check the queue).
   */
  feed(slice: Buffer): boolean {
    let wrote = false;
    let from = 0;
    while (from < slice.length) {
      this.batch ??= this.pool.pop() ?? Buffer.allocUnsafe(FEED_BATCH_BYTES);
      const n = slice.copy(this.batch, this.batchBytes, from);
      this.batchBytes += n;
      from += n;
      if (this.batchBytes === this.batch.length) {
        this.flush();
        wrote = true;
      }
    }
    return wrote;
  }

  private flush(): void {
    const buffer = this.batch;
    if (!buffer || !this.batchBytes) return;
    this.stream.write(buffer.subarray(0, this.batchBytes), () => {
      // zlib has read it and writes its output elsewhere; a PassThrough hands this very buffer on
      // (rows of it may still wait in a pipe), so only zlib's input is reused.
      if (this.compressed) this.pool.push(buffer);
      this.progress.notify(); // consumed: the queue is shorter
    });
    this.batch = undefined;
    this.batchBytes = 0;
  }

  finish(): void {
    this.flush();
    this.stream.end();
  }

  destroy(): void {
    this.stream.destroy();
    this.sink.kill();
  }
}

/** Pulls bytes from a stream: small reads for the table of contents, slices (no copies) for data. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private bytesRead = 0;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(
    private readonly source: Readable,
    private readonly onBytes: (bytes: number) => void,
  ) {
    this.iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /** The rest of a chunk of which only the start was joined to a short remainder (see more). */
  private next: Buffer | undefined;

  private async pull(): Promise<Buffer | undefined> {
    if (this.next) {
      const next = this.next;
      this.next = undefined;
      return next;
    }
    const result = await this.iterator.next();
    if (result.done) return undefined;
    this.bytesRead += result.value.length;
    this.onBytes(this.bytesRead);
    return result.value;
  }

  /**
   * Makes more bytes available. A short remainder (a length field split between two chunks) is
   * joined with just enough of the next chunk, so chunks of data are never copied.
   */
  private async more(want = 0): Promise<boolean> {
    const chunk = await this.pull();
    if (!chunk) return false;
    const remainder = this.available;
    if (remainder === 0) this.buf = chunk;
    else {
      const take = Math.min(chunk.length, Math.max(want - remainder, 0) + 64);
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk.subarray(0, take)]);
      if (take < chunk.length) this.next = chunk.subarray(take);
    }
    this.pos = 0;
    return true;
  }

  async ensure(n: number): Promise<void> {
    while (this.available < n) {
      if (!(await this.more(n))) throw new Error('the archive ends early (a truncated or incomplete backup)');
    }
  }

  async atEnd(): Promise<boolean> {
    return this.available === 0 && !(await this.more());
  }

  peek(n: number): Buffer {
    return this.buf.subarray(this.pos, this.pos + n);
  }

  skipNow(n: number): void {
    this.pos += n;
  }

  takeNow(n: number): Buffer {
    const slice = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return slice;
  }

  byteNow(): number {
    return this.buf[this.pos++]!;
  }

  /** pg_dump's integer: a sign byte, then `intSize` bytes, least significant first. */
  intNow(intSize: number): number {
    const b = this.buf;
    const p = this.pos;
    let v = 0;
    for (let i = 0; i < intSize; i++) v += b[p + 1 + i]! * 2 ** (8 * i);
    this.pos = p + 1 + intSize;
    return b[p] ? -v : v;
  }

  async int(intSize: number): Promise<number> {
    if (this.available < 1 + intSize) await this.ensure(1 + intSize);
    return this.intNow(intSize);
  }

  async str(intSize: number): Promise<string | null> {
    const n = await this.int(intSize);
    if (n < 0) return null;
    await this.ensure(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Hands `n` bytes to `fn` as slices of the stream's chunks; true when any call returned true. */
  async slices(n: number, fn: (slice: Buffer) => boolean): Promise<boolean> {
    let any = false;
    while (n > 0) {
      if (this.available === 0 && !(await this.more())) throw new Error('the archive ends early (a truncated or incomplete backup)');
      const take = Math.min(n, this.available);
      if (fn(this.buf.subarray(this.pos, this.pos + take))) any = true;
      this.pos += take;
      n -= take;
    }
    return any;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      if (this.available === 0 && !(await this.more())) throw new Error('the archive ends early (a truncated or incomplete backup)');
      const take = Math.min(n, this.available);
      this.pos += take;
      n -= take;
    }
  }

  /** The unread bytes and the rest of the stream, for another reader. */
  rest(): Readable {
    const pending = this.buf.subarray(this.pos);
    const next = this.next;
    this.next = undefined;
    this.pos = this.buf.length;
    const iterator = this.iterator;
    const count = (chunk: Buffer) => {
      this.bytesRead += chunk.length;
      this.onBytes(this.bytesRead);
      return chunk;
    };
    return Readable.from(
      (async function* () {
        if (pending.length) yield pending;
        if (next) yield next;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield count(next.value);
        }
      })(),
      { objectMode: false },
    );
  }

  close(): void {
    this.source.destroy();
  }
}

// ─────────────────────────────── Comparing and applying ───────────────────────────────

export interface TableDiff {
  table: string;
  primaryKey: string;
  /** Staged rows absent from production (at most KEY_LIST_LIMIT listed; missingCount has them all). */
  missing: string[];
  missingCount: number;
  /** Staged rows whose production row differs, with the differing columns (at most KEY_LIST_LIMIT listed). */
  changed: { key: string; columns: string[] }[];
  changedCount: number;
  unchanged: number;
  /** Whole-table restores: production rows absent from the backup (the apply deletes them). */
  extra?: number;
}

interface StagedInfo {
  table: string;
  pk: string;
  /** Columns compared and written: production's columns that are stored (not generated) and staged. */
  columns: string[];
  prod: string;
  stage: string;
  identityAlways: Set<string>;
}

async function stagedInfo(client: pg.Client, schema: string, staged: StagedTable[]): Promise<StagedInfo[]> {
  assertSchemaName(schema);
  const out: StagedInfo[] = [];
  for (const s of staged) {
    const shape = await describeTable(client, s.table);
    if (shape.primaryKey !== s.primaryKey)
      throw new Error(`the primary key of ${s.table} is now ${shape.primaryKey}, not ${s.primaryKey}: stage again`);
    const { rows } = await client.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`,
      [schema, s.table],
    );
    if (!rows.length) throw new Error(`the staging table ${schema}.${s.table} does not exist: stage the records again`);
    const stagedColumns = new Set(rows.map((r) => r.name));
    const columns = shape.columns.filter((c) => !c.generated && stagedColumns.has(c.name));
    out.push({
      table: s.table,
      pk: shape.primaryKey,
      columns: columns.map((c) => c.name),
      prod: production(s.table),
      stage: staging(schema, s.table),
      identityAlways: new Set(columns.filter((c) => c.identityAlways).map((c) => c.name)),
    });
  }
  return out;
}

/** `(a.c1::text, ...) IS DISTINCT FROM (b.c1::text, ...)`: byte-exact row comparison, NULL-aware. */
function rowsDiffer(a: string, b: string, columns: string[]): string {
  if (!columns.length) return 'false';
  const side = (alias: string) => `(${columns.map((c) => `${alias}.${quote(c)}::text`).join(', ')})`;
  return columns.length === 1 ? `${side(a)} IS DISTINCT FROM ${side(b)}` : `ROW${side(a)} IS DISTINCT FROM ROW${side(b)}`;
}

/** Compares staged rows with production by primary key: missing rows, changed rows (and which columns), unchanged rows. */
export async function diffStaged(
  url: string,
  schema: string,
  staged: StagedTable[],
  options: { wholeTable?: boolean } = {},
): Promise<TableDiff[]> {
  return withClient(url, async (client) => {
    await client.query('SET statement_timeout = 0');
    const infos = await stagedInfo(client, schema, staged);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const diffs: TableDiff[] = [];
      for (const t of infos) {
        const pk = quote(t.pk);
        const compared = t.columns.filter((c) => c !== t.pk);
        const differ = rowsDiffer('s', 'p', compared);
        const { rows: counts } = await client.query<{ missing: string; changed: string; total: string }>(
          `SELECT count(*) FILTER (WHERE p.${pk} IS NULL) AS missing,
                  count(*) FILTER (WHERE p.${pk} IS NOT NULL AND ${differ}) AS changed,
                  count(*) AS total
             FROM ${t.stage} s LEFT JOIN ${t.prod} p ON p.${pk} = s.${pk}`,
        );
        const { rows: missing } = await client.query<{ k: string }>(
          `SELECT s.${pk}::text AS k FROM ${t.stage} s WHERE NOT EXISTS (SELECT 1 FROM ${t.prod} p WHERE p.${pk} = s.${pk}) ORDER BY s.${pk} LIMIT ${KEY_LIST_LIMIT}`,
        );
        const flags = compared.length
          ? `ARRAY[${compared.map((c) => `s.${quote(c)}::text IS DISTINCT FROM p.${quote(c)}::text`).join(', ')}]`
          : `'{}'::boolean[]`;
        const { rows: changed } = await client.query<{ k: string; flags: boolean[] }>(
          `SELECT s.${pk}::text AS k, ${flags} AS flags FROM ${t.stage} s JOIN ${t.prod} p ON p.${pk} = s.${pk} WHERE ${differ} ORDER BY s.${pk} LIMIT ${KEY_LIST_LIMIT}`,
        );
        const c = counts[0]!;
        const diff: TableDiff = {
          table: t.table,
          primaryKey: t.pk,
          missing: missing.map((r) => r.k),
          missingCount: Number(c.missing),
          changed: changed.map((r) => ({ key: r.k, columns: compared.filter((_, i) => r.flags[i]) })),
          changedCount: Number(c.changed),
          unchanged: Number(c.total) - Number(c.missing) - Number(c.changed),
        };
        if (options.wholeTable) {
          const { rows } = await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM ${t.prod} p WHERE NOT EXISTS (SELECT 1 FROM ${t.stage} s WHERE s.${pk} = p.${pk})`,
          );
          diff.extra = Number(rows[0]!.n);
        }
        diffs.push(diff);
      }
      return diffs;
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/**
 * The safety snapshot: the current production rows the apply may overwrite, as JSON lines per
 * table (to_jsonb of the row, in key order). For keys and filters, every production row sharing
 * a key with a staged row, changed or not (so rows changed between the snapshot and the apply
 * are covered); for a whole-table restore, the rows that differ and the rows the apply deletes.
 */
export async function snapshotRows(
  url: string,
  schema: string,
  staged: StagedTable[],
  options: { wholeTable?: boolean } = {},
): Promise<Record<string, string>> {
  return withClient(url, async (client) => {
    await client.query('SET statement_timeout = 0');
    const infos = await stagedInfo(client, schema, staged);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const out: Record<string, string> = {};
      for (const t of infos) {
        const pk = quote(t.pk);
        const sql = options.wholeTable
          ? `SELECT to_jsonb(p)::text AS line FROM ${t.prod} p LEFT JOIN ${t.stage} s ON s.${pk} = p.${pk}
              WHERE s.${pk} IS NULL OR ${rowsDiffer(
                's',
                'p',
                t.columns.filter((c) => c !== t.pk),
              )} ORDER BY p.${pk}`
          : `SELECT to_jsonb(p)::text AS line FROM ${t.prod} p WHERE EXISTS (SELECT 1 FROM ${t.stage} s WHERE s.${pk} = p.${pk}) ORDER BY p.${pk}`;
        const { rows } = await client.query<{ line: string }>(sql);
        out[t.table] = rows.map((r) => `${r.line}\n`).join('');
      }
      return out;
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/**
 * Applies the staged rows to production in one transaction, parents before children: inserts
 * the missing rows and updates the rows that differ (INSERT ... ON CONFLICT (pk) DO UPDATE ...
 * WHERE the row differs); a whole-table restore first deletes the production rows absent from
 * the backup (children's ON DELETE rules apply), under a lock that keeps writers out. Identity
 * and serial sequences are moved past the largest key. Running it again changes nothing and
 * returns zeros. Returns the rows inserted, updated and deleted per table.
 */
export async function applyStaged(
  url: string,
  schema: string,
  staged: StagedTable[],
  options: ApplyOptions = {},
): Promise<Record<string, AppliedCounts>> {
  return withClient(url, (client) => applyStagedOn(client, schema, staged, options));
}

export interface AppliedCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

export interface ApplyOptions {
  wholeTable?: boolean;
  onProgress?: () => void;
  /** Runs in the apply's transaction just before its COMMIT, with the result: a fence is written there. */
  beforeCommit?: (client: pg.Client, result: Record<string, AppliedCounts>) => Promise<void>;
}

/** applyStaged on a connection the caller holds (and may hold a lock on). */
export async function applyStagedOn(
  client: pg.Client,
  schema: string,
  staged: StagedTable[],
  options: ApplyOptions = {},
): Promise<Record<string, AppliedCounts>> {
  await client.query('SET statement_timeout = 0');
  const infos = await stagedInfo(client, schema, staged);
  const result: Record<string, AppliedCounts> = {};
  await client.query('BEGIN');
  try {
    if (options.wholeTable) {
      for (const t of [...infos].reverse()) {
        await client.query(`LOCK TABLE ${t.prod} IN SHARE ROW EXCLUSIVE MODE`);
        const pk = quote(t.pk);
        const { rowCount } = await client.query(
          `DELETE FROM ${t.prod} p WHERE NOT EXISTS (SELECT 1 FROM ${t.stage} s WHERE s.${pk} = p.${pk})`,
        );
        result[t.table] = { inserted: 0, updated: 0, deleted: rowCount ?? 0 };
        options.onProgress?.();
      }
    }
    for (const t of infos) {
      const pk = quote(t.pk);
      const list = t.columns.map(quote).join(', ');
      const settable = t.columns.filter((c) => c !== t.pk && !t.identityAlways.has(c));
      const onConflict = settable.length
        ? `DO UPDATE SET ${settable.map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`).join(', ')} WHERE ${rowsDiffer('p', 'EXCLUDED', settable)}`
        : 'DO NOTHING';
      // xmax is 0 on a row this statement inserted, the updating transaction's id on an updated one.
      const { rows } = await client.query<{ inserted: string; updated: string }>(
        `WITH written AS (
           INSERT INTO ${t.prod} AS p (${list}) OVERRIDING SYSTEM VALUE
           SELECT ${list} FROM ${t.stage}
           ON CONFLICT (${pk}) ${onConflict}
           RETURNING (p.xmax = 0) AS inserted)
         SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM written`,
      );
      const r = rows[0]!;
      result[t.table] = { inserted: Number(r.inserted), updated: Number(r.updated), deleted: result[t.table]?.deleted ?? 0 };
      await moveSequences(client, t);
      options.onProgress?.();
    }
    await options.beforeCommit?.(client, result);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Sets every serial or identity sequence of the table past the column's largest value, if it is not already. */
async function moveSequences(client: pg.Client, t: StagedInfo): Promise<void> {
  const { rows } = await client.query<{ column: string; seq: string }>(
    `SELECT a.attname AS column, pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) AS seq
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
    [t.table],
  );
  for (const { column, seq } of rows) {
    if (!seq) continue;
    await client.query(
      `SELECT setval($1::regclass, m) FROM (SELECT max(${quote(column)}) AS m FROM ${t.prod}) x
        WHERE m IS NOT NULL AND m > coalesce(pg_sequence_last_value($1::regclass), 0)`,
      [seq],
    );
  }
}

/** After the apply: the keys of staged rows that production does not hold identically (empty lists mean success). */
export async function compareWithStaged(url: string, schema: string, staged: StagedTable[]): Promise<Record<string, string[]>> {
  return withClient(url, async (client) => {
    await client.query('SET statement_timeout = 0');
    const infos = await stagedInfo(client, schema, staged);
    const out: Record<string, string[]> = {};
    for (const t of infos) {
      const pk = quote(t.pk);
      const { rows } = await client.query<{ k: string }>(
        `SELECT s.${pk}::text AS k FROM ${t.stage} s LEFT JOIN ${t.prod} p ON p.${pk} = s.${pk}
          WHERE p.${pk} IS NULL OR ${rowsDiffer(
            's',
            'p',
            t.columns.filter((c) => c !== t.pk),
          )} ORDER BY s.${pk} LIMIT ${KEY_LIST_LIMIT}`,
      );
      out[t.table] = rows.map((r) => r.k);
    }
    return out;
  });
}

/** Drops the staging schema and everything in it (nothing when it does not exist). */
export async function dropStaging(url: string, schema: string): Promise<void> {
  assertSchemaName(schema);
  await withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`));
}
