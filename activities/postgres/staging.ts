// Staging: the rows a recovery brings back, chosen with SQL in a recovery copy of the backup (a
// PostgreSQL database holding it: recovery-copy.ts) and copied into a staging schema of the
// target, where they are compared with production and applied from (apply.ts).
//
//   planStaging     the selection checked against production: table, key tuples or filter, and
//                   the tables referencing it (selectionTree), several levels deep
//   stageSelection  the chosen rows (and their children's) selected in the copy, streamed into
//                   tables of the staging schema with COPY TO STDOUT | COPY FROM STDIN (copy-rows.ts):
//                   a whole table on its own, chosen rows of every table through one pair of psqls
//   dropStaging     the cleanup
//
// Guarantees:
// - Everything is validated before anything is created; staging twice gives the same result
//   (the staging schema is dropped and recreated).
// - Rows travel in COPY's text form between two PostgreSQL sessions with the same settings
//   (DateStyle ISO, IntervalStyle postgres, extra_float_digits 3, UTC, one client encoding), so
//   every built-in type comes back as the backup holds it.
// - Rows are chosen through the table as production names it: a partitioned table's rows come from
//   every partition, a child's through every foreign key reaching a chosen row.
import type pg from 'pg';
import { InputError } from '../../common/errors.js';
import { escapeIdentifier, withClient } from './connection.js';
import { type TableCopy, copyRows, copyTables } from './copy-rows.js';
import type { TableName } from './recovery-copy.js';
import { type Condition, checkConditions, checkFilterValues, conditionSql, keyTuplesOf } from './selection.js';
import { type TableNode, type TableShape, dataTables, describeTable, selectionTree } from './tables.js';

const quote = escapeIdentifier;

/** Lists of keys in results and messages stop here, so activity results stay small. */
export const KEY_LIST_LIMIT = 1000;
const SCHEMA_PATTERN = /^lifeboat_[a-z0-9_]{1,54}$/;

export function assertSchemaName(schema: string): void {
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new InputError(
      `"${schema}" cannot be a staging schema: expected lifeboat_<lowercase letters, digits, _> of at most 63 characters`,
    );
  }
}

// ─────────────────────────────────────── Keys in SQL ───────────────────────────────────────

/** A row's key as text: the value for a one-column key, the row form `(5,17)` for several. */
export const keyText = (alias: string, columns: string[]) =>
  columns.length === 1 ? `${alias}.${quote(columns[0]!)}::text` : `ROW(${columns.map((c) => `${alias}.${quote(c)}`).join(', ')})::text`;
/** `a.k1 = b.k1 AND a.k2 = b.k2`. */
export const keysEqual = (a: string, b: string, columns: string[], bColumns = columns) =>
  columns.map((c, i) => `${a}.${quote(c)} = ${b}.${quote(bColumns[i]!)}`).join(' AND ');
export const keyOrder = (alias: string, columns: string[]) => columns.map((c) => `${alias}.${quote(c)}`).join(', ');

// ──────────────────────────────────────── Planning ────────────────────────────────────────

export interface StagingRequest {
  /** The staging schema, e.g. lifeboat_staging_<incident>: must start with "lifeboat_" (it is dropped and recreated). */
  schema: string;
  table: string;
  /** Rows of `table` to bring back by the values of a one-column key. */
  keys?: string[];
  /** Or by key tuples, column → value (any key). */
  keyTuples?: Array<Record<string, unknown>>;
  /** Or: rows of the backup's `table` matching every condition. */
  filter?: Condition[];
  /** Or (L2): the whole table. */
  wholeTable?: boolean;
  /** With keys or a filter: also the rows of tables referencing the staged rows, several levels deep. */
  includeChildren?: boolean;
}

export interface StagingPlan {
  schema: string;
  /** The selected table first, then the tables referencing it (selectionTree). */
  tree: TableNode[];
  /** Key tuples in the key's column order, as PostgreSQL prints them. */
  keys?: string[][];
  filter?: Condition[];
  wholeTable?: boolean;
  /** The tables whose data the recovery copy must hold (partitions named one by one). */
  dataTables: TableName[];
}

/** The request checked against production (`client`): refused with an InputError before anything exists. */
export async function planStaging(client: pg.Client, request: StagingRequest): Promise<StagingPlan> {
  assertSchemaName(request.schema);
  const byKey = request.keys !== undefined || request.keyTuples !== undefined;
  const modes = [byKey, request.filter !== undefined, request.wholeTable === true].filter(Boolean).length;
  if (modes !== 1) throw new InputError('a staging plan names exactly one of: keys, a filter, or the whole table');
  const shape = await describeTable(client, request.table, { keyless: request.wholeTable ? 'allow' : 'refuse' });
  const keys = byKey ? await keyTuplesOf(client, shape, request.keys, request.keyTuples) : undefined;
  if (request.filter) {
    checkConditions(request.filter, shape);
    await checkFilterValues(client, shape, request.filter);
  }
  const tree = await selectionTree(client, shape, request.includeChildren === true && !request.wholeTable);
  const seen = new Set<string>();
  const tables: TableName[] = [];
  for (const node of tree) {
    for (const t of await dataTables(client, node.shape.oid)) {
      const id = JSON.stringify(t);
      if (seen.has(id)) continue;
      seen.add(id);
      tables.push(t);
    }
  }
  return { schema: request.schema, tree, keys, filter: request.filter, wholeTable: request.wholeTable, dataTables: tables };
}

// ──────────────────────────────────────── Staging ────────────────────────────────────────

export interface StagedTable {
  /** The table as Lifeboat names it: `table` in public, `schema.table` elsewhere. */
  table: string;
  /** The key's columns joined with ", " (the primary key, or a unique index standing in for it). */
  primaryKey: string;
  /** Rows staged. */
  rows: number;
  /** The staged keys as text (a row form such as (5,17) for several columns), in key order: at most KEY_LIST_LIMIT (see keysTruncated). */
  keys: string[];
  keysTruncated?: boolean;
  /** Keys mode, the chosen table: requested keys the backup does not hold. */
  notInBackup?: string[];
  /** The production table, quoted and schema-qualified (absent in results of older workers: public.<table>). */
  relation?: string;
  /** The staging table's name in the staging schema (absent: the table's name). */
  staging?: string;
  /** The key's columns (absent: primaryKey alone). */
  keyColumns?: string[];
  /**
   * A child without a key (L1): the foreign keys through which its rows reference staged parent
   * rows (each parent by its staging table); only rows referencing them are its rows to restore
   * (multiset.ts). Empty when the backup predates the table. Absent for a whole table (L2).
   */
  scope?: Array<{ staging: string; columns: string[]; refColumns: string[] }>;
}

/** Staging table names: the table's own name where it fits and is free, else t<n>. */
function stagingNames(tree: TableNode[]): string[] {
  const used = new Set(['lifeboat_fence']);
  return tree.map((node, i) => {
    const own = node.shape.table;
    const name = Buffer.byteLength(own) <= 63 && !used.has(own) ? own : `t${i}`;
    used.add(name);
    return name;
  });
}

/**
 * Stages what the plan names from the recovery copy at `copyUrl` into `plan.schema` of the target
 * at `url`. The rows are chosen in the copy, in a work schema of the same name (dropped after):
 * the selected rows, then each child table's rows referencing rows chosen before it (a table
 * referencing itself: until no more are found). Returns the staged tables in the plan's order.
 */
export async function stageSelection(
  url: string,
  copyUrl: string,
  plan: StagingPlan,
  onProgress: (phase: string) => void = () => undefined,
): Promise<StagedTable[]> {
  assertSchemaName(plan.schema);
  const { schema, tree } = plan;
  const work = quote(schema);
  const names = stagingNames(tree);
  const staged = (i: number) => `${quote(schema)}.${quote(names[i]!)}`;
  const root = tree[0]!.shape;

  return withClient(url, async (target) => {
    await target.query('SET statement_timeout = 0');
    const encoding = (await target.query<{ e: string }>('SHOW server_encoding')).rows[0]!.e;
    onProgress('choosing the rows in the recovery copy');
    // Columns written: production's stored ones that the backup has too; whether the backup has the table.
    const columns: string[][] = [];
    const present: boolean[] = [];
    await withClient(copyUrl, async (copy) => {
      await copy.query('SET statement_timeout = 0');
      for (const { shape } of tree) {
        const { rows } = await copy.query<{ name: string }>(
          `SELECT a.attname AS name FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
          [shape.relation],
        );
        const inCopy = new Set(rows.map((r) => r.name));
        present.push(rows.length > 0);
        columns.push(shape.columns.filter((c) => !c.generated && (inCopy.has(c.name) || !rows.length)).map((c) => c.name));
      }
      await target.query(
        [`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`, `CREATE SCHEMA ${quote(schema)}`]
          .concat(
            tree.map(
              ({ shape }, i) =>
                `CREATE TABLE ${staged(i)} AS SELECT ${columns[i]!.map(quote).join(', ')} FROM ${shape.relation} WITH NO DATA`,
            ),
          )
          .join(';\n'),
      );
      if (!plan.wholeTable) await copy.query(`DROP SCHEMA IF EXISTS ${work} CASCADE; CREATE SCHEMA ${work}`);
      try {
        const chosen = (i: number) => `${work}.${quote(`n${i}`)}`;
        const copies: Array<Omit<TableCopy, 'rows'> & { from: string; table: string }> = [];
        for (const [i, { shape, parents }] of tree.entries()) {
          if (!present[i]) continue; // the backup predates this table: nothing of it to bring back
          const list = columns[i]!.map(quote).join(', ');
          let source: string;
          if (plan.wholeTable) source = `SELECT ${list} FROM ${shape.rows}`;
          else {
            const params: unknown[] = [];
            let where: string;
            if (i === 0 && plan.keys) {
              const cols = shape.keyColumns;
              const types = cols.map((c) => shape.columns.find((x) => x.name === c)!.type);
              cols.forEach((_, n) => params.push(plan.keys!.map((t) => t[n])));
              where = `EXISTS (SELECT 1 FROM unnest(${cols.map((_, n) => `$${n + 1}::text[]`).join(', ')}) AS w(${cols.map((_, n) => `c${n}`).join(', ')})
                        WHERE ${cols.map((c, n) => `t.${quote(c)} = w.c${n}::${types[n]}`).join(' AND ')})`;
            } else if (i === 0) where = conditionSql(plan.filter!, 't', params);
            else
              where =
                linksSql(
                  parents.filter((p) => p.parent < i),
                  chosen,
                ) || 'false';
            await copy.query(`CREATE TABLE ${chosen(i)} AS SELECT * FROM ${shape.rows} AS t WHERE ${where}`, params);
            // A table referencing itself: the rows referencing chosen ones, until there are no more.
            const self = parents.filter((p) => p.parent === i);
            if (self.length) {
              for (;;) {
                const { rowCount } = await copy.query(
                  `INSERT INTO ${chosen(i)} SELECT * FROM ${shape.rows} AS t WHERE (${linksSql(self, chosen)})
                     AND NOT EXISTS (SELECT 1 FROM ${chosen(i)} AS s WHERE ${keysEqual('s', 't', shape.keyColumns)})`,
                );
                if (!rowCount) break;
              }
            }
            source = `SELECT ${list} FROM ${chosen(i)}`;
          }
          if (plan.wholeTable) {
            onProgress(`copying ${shape.table}`);
            await copyRows(copyUrl, source, url, `${staged(i)} (${list})`, encoding);
          } else copies.push({ select: source, into: `${staged(i)} (${list})`, from: chosen(i), table: shape.table });
        }
        if (copies.length) {
          const { rows } = await copy.query<Record<string, string>>(
            `SELECT ${copies.map((c, k) => `(SELECT count(*) FROM ${c.from}) AS ${quote(`n${k}`)}`).join(', ')}`,
          );
          await copyTables(
            copyUrl,
            copies.map((c, k) => ({ ...c, rows: Number(rows[0]![`n${k}`]) })),
            url,
            encoding,
            (c) => onProgress(`copying ${c.table}`),
          );
        }
      } finally {
        if (!plan.wholeTable) await copy.query(`DROP SCHEMA IF EXISTS ${work} CASCADE`).catch(() => undefined);
      }
    });

    onProgress('indexing the staged rows');
    // Every staged table's key (it makes the comparisons with production cheap; a whole table is
    // joined by hash anyway) and statistics, in one statement: one round trip, not two per table.
    await target.query(
      tree
        .flatMap(({ shape }, i) => [
          ...(plan.wholeTable || !shape.keyColumns.length
            ? []
            : [`ALTER TABLE ${staged(i)} ADD PRIMARY KEY (${shape.keyColumns.map(quote).join(', ')})`]),
          `ANALYZE ${staged(i)}`,
        ])
        .join(';\n'),
    );
    const out: StagedTable[] = [];
    for (const [i, { shape, parents }] of tree.entries()) {
      const table = staged(i);
      const cols = shape.keyColumns;
      const { rows: count } = await target.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      // A keyless table (whole-table restores only) has no keys to list.
      const { rows: listed } = cols.length
        ? await target.query<{ k: string }>(
            `SELECT ${keyText('s', cols)} AS k FROM ${table} s ORDER BY ${keyOrder('s', cols)} LIMIT ${KEY_LIST_LIMIT}`,
          )
        : { rows: [] };
      const rows = Number(count[0]!.n);
      out.push({
        table: shape.table,
        primaryKey: shape.primaryKey,
        rows,
        keys: listed.map((r) => r.k),
        ...(rows > listed.length && cols.length ? { keysTruncated: true } : {}),
        relation: shape.relation,
        staging: names[i]!,
        keyColumns: cols,
        // The links its rows were chosen through (a table without a key is never a parent: selectionTree).
        ...(!plan.wholeTable && !cols.length
          ? {
              scope: present[i]
                ? parents
                    .filter((p) => p.parent < i)
                    .map((p) => ({ staging: names[p.parent]!, columns: p.columns, refColumns: p.refColumns }))
                : [],
            }
          : {}),
      });
    }
    if (plan.keys) out[0]!.notInBackup = await notInBackup(target, staged(0), root, plan.keys);
    return out;
  });
}

/** `EXISTS` a chosen parent row each link's columns match, ORed. */
function linksSql(links: TableNode['parents'], chosen: (i: number) => string): string {
  return links
    .map((l) => `EXISTS (SELECT 1 FROM ${chosen(l.parent)} AS p WHERE ${keysEqual('t', 'p', l.columns, l.refColumns)})`)
    .join(' OR ');
}

/** The requested key tuples the staged rows do not hold, as keys print. */
async function notInBackup(client: pg.Client, table: string, shape: TableShape, keys: string[][]): Promise<string[] | undefined> {
  const cols = shape.keyColumns;
  const types = cols.map((c) => shape.columns.find((x) => x.name === c)!.type);
  const w = cols.map((_, n) => `w.c${n}::${types[n]}`);
  const { rows } = await client.query<{ k: string }>(
    `SELECT ${cols.length === 1 ? 'w.c0' : `ROW(${w.join(', ')})::text`} AS k
       FROM unnest(${cols.map((_, n) => `$${n + 1}::text[]`).join(', ')}) AS w(${cols.map((_, n) => `c${n}`).join(', ')})
      WHERE NOT EXISTS (SELECT 1 FROM ${table} s WHERE ${cols.map((c, n) => `s.${quote(c)} = ${w[n]}`).join(' AND ')})
      ORDER BY ${w.join(', ')} LIMIT ${KEY_LIST_LIMIT}`,
    cols.map((_, n) => keys.map((t) => t[n])),
  );
  return rows.length ? rows.map((r) => r.k) : undefined;
}

/** Drops the staging schema and everything in it (nothing when it does not exist). */
export async function dropStaging(url: string, schema: string): Promise<void> {
  assertSchemaName(schema);
  await withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`));
}
