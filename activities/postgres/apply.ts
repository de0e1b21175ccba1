// Staged rows against production: what an apply would change (diffStaged), what it overwrites
// (snapshotRows), the apply itself (applyStaged), and the check after it (compareWithStaged).
// Rows are matched by the table's key (any number of columns) and compared on their columns'
// text forms (`col::text`), so "equal" means equal to the byte, like the fingerprints.
//
// Guarantees:
// - An apply is one transaction: every staged row is inserted or reverted, or nothing is.
// - The application's triggers do not touch restored rows: the upserts run with
//   session_replication_role = replica for the transaction (or, where the role may not set it,
//   with the tables' enabled user triggers disabled inside the transaction and enabled again
//   before it commits), so a BEFORE UPDATE trigger stamping updated_at leaves the backup's value;
//   the foreign keys the triggers would have checked are checked by the apply before it commits.
// - Identity columns are written with OVERRIDING SYSTEM VALUE, generated columns never; serial and
//   identity sequences are moved past the largest key.
// - A table's own rows only: an inheritance child (INHERITS) is a table of its own, never read or
//   deleted through its parent. A table without a key is a multiset of rows (multiset.ts): the
//   whole table in an L2; in an L1 (a child of the restored rows) only its rows referencing them,
//   the table locked against writers for the apply's transaction so that those are the backup's
//   at the commit.
import type pg from 'pg';
import { escapeIdentifier, withClient } from './connection.js';
import { applyMultiset, compareMultiset, diffMultiset, inScope, snapshotMultiset } from './multiset.js';
import { type StagedInfo, stagedInfo } from './staged-info.js';
import { type StagedTable, KEY_LIST_LIMIT, keyOrder, keyText, keysEqual } from './staging.js';

const quote = escapeIdentifier;

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
  /**
   * Whole-table restores: production rows absent from the backup (the apply deletes them); a child
   * without a key (L1): the copies of its rows in scope beyond the backup's (deleted too).
   */
  extra?: number;
}

/** `(a.c1::text, ...) IS DISTINCT FROM (b.c1::text, ...)`: byte-exact row comparison, NULL-aware. */
function rowsDiffer(a: string, b: string, columns: string[]): string {
  if (!columns.length) return 'false';
  const side = (alias: string) => `(${columns.map((c) => `${alias}.${quote(c)}::text`).join(', ')})`;
  return columns.length === 1 ? `${side(a)} IS DISTINCT FROM ${side(b)}` : `ROW${side(a)} IS DISTINCT FROM ROW${side(b)}`;
}

const notKey = (t: StagedInfo) => t.columns.filter((c) => !t.keys.includes(c));
/** Production holds no row of this key (key columns are NOT NULL). */
const absent = (alias: string, t: StagedInfo) => `${alias}.${quote(t.keys[0]!)} IS NULL`;

/** Compares staged rows with production by key: missing rows, changed rows (and which columns), unchanged rows. */
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
        if (!t.keys.length) {
          const m = await diffMultiset(client, t);
          const diff = { table: t.table, primaryKey: '', missing: m.missingRows, missingCount: m.missing, changed: [], changedCount: 0 };
          // A whole table's or a child's copies beyond the backup's: the apply deletes them, so the approver sees them.
          diffs.push({ ...diff, unchanged: m.unchanged, ...(options.wholeTable || t.scope ? { extra: m.extra } : {}) });
          continue;
        }
        const on = keysEqual('p', 's', t.keys);
        const compared = notKey(t);
        const differ = rowsDiffer('s', 'p', compared);
        const { rows: counts } = await client.query<{ missing: string; changed: string; total: string }>(
          `SELECT count(*) FILTER (WHERE ${absent('p', t)}) AS missing,
                  count(*) FILTER (WHERE NOT ${absent('p', t)} AND ${differ}) AS changed,
                  count(*) AS total
             FROM ${t.stage} s LEFT JOIN ${t.rows} p ON ${on}`,
        );
        const { rows: missing } = await client.query<{ k: string }>(
          `SELECT ${keyText('s', t.keys)} AS k FROM ${t.stage} s WHERE NOT EXISTS (SELECT 1 FROM ${t.rows} p WHERE ${on})
            ORDER BY ${keyOrder('s', t.keys)} LIMIT ${KEY_LIST_LIMIT}`,
        );
        const flags = compared.length
          ? `ARRAY[${compared.map((c) => `s.${quote(c)}::text IS DISTINCT FROM p.${quote(c)}::text`).join(', ')}]`
          : `'{}'::boolean[]`;
        const { rows: changed } = await client.query<{ k: string; flags: boolean[] }>(
          `SELECT ${keyText('s', t.keys)} AS k, ${flags} AS flags FROM ${t.stage} s JOIN ${t.rows} p ON ${on} WHERE ${differ}
            ORDER BY ${keyOrder('s', t.keys)} LIMIT ${KEY_LIST_LIMIT}`,
        );
        const c = counts[0]!;
        const diff: TableDiff = {
          table: t.table,
          primaryKey: t.keys.join(', '),
          missing: missing.map((r) => r.k),
          missingCount: Number(c.missing),
          changed: changed.map((r) => ({ key: r.k, columns: compared.filter((_, i) => r.flags[i]) })),
          changedCount: Number(c.changed),
          unchanged: Number(c.total) - Number(c.missing) - Number(c.changed),
        };
        if (options.wholeTable) {
          const { rows } = await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM ${t.rows} p WHERE NOT EXISTS (SELECT 1 FROM ${t.stage} s WHERE ${on})`,
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
        if (!t.keys.length) {
          out[t.table] = await snapshotMultiset(client, t);
          continue;
        }
        const on = keysEqual('p', 's', t.keys);
        const sql = options.wholeTable
          ? `SELECT to_jsonb(p)::text AS line FROM ${t.rows} p LEFT JOIN ${t.stage} s ON ${on}
              WHERE ${absent('s', t)} OR ${rowsDiffer('s', 'p', notKey(t))} ORDER BY ${keyOrder('p', t.keys)}`
          : `SELECT to_jsonb(p)::text AS line FROM ${t.rows} p WHERE EXISTS (SELECT 1 FROM ${t.stage} s WHERE ${on}) ORDER BY ${keyOrder('p', t.keys)}`;
        const { rows } = await client.query<{ line: string }>(sql);
        out[t.table] = rows.map((r) => `${r.line}\n`).join('');
      }
      return out;
    } finally {
      await client.query('ROLLBACK');
    }
  });
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

/**
 * Applies the staged rows to production in one transaction, parents before children: inserts
 * the missing rows and updates the rows that differ (INSERT ... ON CONFLICT (key) DO UPDATE ...
 * WHERE the row differs), with the application's triggers off (see the header); a whole-table
 * restore first deletes the production rows absent from the backup (children's ON DELETE rules
 * apply), under a lock that keeps writers out. Running it again changes nothing and returns
 * zeros. Returns the rows inserted, updated and deleted per table.
 */
export async function applyStaged(
  url: string,
  schema: string,
  staged: StagedTable[],
  options: ApplyOptions = {},
): Promise<Record<string, AppliedCounts>> {
  return withClient(url, (client) => applyStagedOn(client, schema, staged, options));
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
        if (!t.keys.length) continue; // a multiset: applied below
        const { rowCount } = await client.query(
          `DELETE FROM ${t.rows} p WHERE NOT EXISTS (SELECT 1 FROM ${t.stage} s WHERE ${keysEqual('p', 's', t.keys)})`,
        );
        result[t.table] = { inserted: 0, updated: 0, deleted: rowCount ?? 0 };
        options.onProgress?.();
      }
    } else {
      for (const t of infos.filter((x) => !x.keys.length)) {
        // Never the whole table in an L1: a staged table without a key must name its scope.
        if (!t.scope) throw new Error(`${t.table} has no key and was staged without the rows it belongs to: stage again`);
        // Its rows in scope must be the backup's at the commit: no writer adds a copy in between.
        await client.query(`LOCK TABLE ${t.prod} IN SHARE ROW EXCLUSIVE MODE`);
      }
    }
    const enableAgain = await triggersOff(client, infos);
    for (const t of infos) {
      if (!t.keys.length) {
        result[t.table] = { updated: 0, ...(await applyMultiset(client, t)) };
        options.onProgress?.();
        continue;
      }
      const list = t.columns.map(quote).join(', ');
      const settable = notKey(t).filter((c) => !t.identityAlways.has(c));
      const onConflict = settable.length
        ? `DO UPDATE SET ${settable.map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`).join(', ')} WHERE ${rowsDiffer('p', 'EXCLUDED', settable)}`
        : 'DO NOTHING';
      // xmax is 0 on a row this statement inserted, the updating transaction's id on an updated one.
      const { rows } = await client.query<{ inserted: string; updated: string }>(
        `WITH written AS (
           INSERT INTO ${t.prod} AS p (${list}) OVERRIDING SYSTEM VALUE
           SELECT ${list} FROM ${t.stage}
           ON CONFLICT (${t.keys.map(quote).join(', ')}) ${onConflict}
           RETURNING (p.xmax = 0) AS inserted)
         SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM written`,
      );
      const r = rows[0]!;
      result[t.table] = { inserted: Number(r.inserted), updated: Number(r.updated), deleted: result[t.table]?.deleted ?? 0 };
      await moveSequences(client, t);
      options.onProgress?.();
    }
    await enableAgain();
    await checkForeignKeys(client, infos);
    await options.beforeCommit?.(client, result);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Turns the application's triggers off for the rest of the transaction: session_replication_role
 * = replica where the role may set it; otherwise each enabled user trigger of the staged tables
 * (and their partitions) is disabled now and enabled again by the function returned, before the
 * COMMIT (ALTER TABLE is transactional, and its lock keeps other sessions from ever seeing them off).
 */
async function triggersOff(client: pg.Client, infos: StagedInfo[]): Promise<() => Promise<void>> {
  await client.query('SAVEPOINT lifeboat_triggers');
  try {
    await client.query('SET LOCAL session_replication_role = replica');
    return async () => {
      await client.query('SET LOCAL session_replication_role = origin');
    };
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err; // insufficient_privilege: the other way
    await client.query('ROLLBACK TO SAVEPOINT lifeboat_triggers');
  }
  const { rows } = await client.query<{ relation: string; name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS relation, t.tgname AS name
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal AND t.tgenabled = 'O'
        AND t.tgrelid IN (SELECT relid FROM unnest($1::oid[]) AS r(oid), LATERAL (SELECT r.oid AS relid UNION SELECT relid FROM pg_partition_tree(r.oid)) x)`,
    [infos.map((t) => t.oid)],
  );
  for (const t of rows) await client.query(`ALTER TABLE ${t.relation} DISABLE TRIGGER ${quote(t.name)}`);
  return async () => {
    for (const t of rows) await client.query(`ALTER TABLE ${t.relation} ENABLE TRIGGER ${quote(t.name)}`);
  };
}

/**
 * The foreign-key checks the apply's triggers did not make: every staged row's references (from
 * the table, or from the partition it lands in) must find their row. Refuses, so the transaction
 * rolls back, naming the constraint.
 */
async function checkForeignKeys(client: pg.Client, infos: StagedInfo[]): Promise<void> {
  const problems: string[] = [];
  for (const t of infos) {
    const { rows: fks } = await client.query<{ name: string; rel: string; ref: string; cols: string[]; refcols: string[] }>(
      `SELECT k.conname AS name, k.conrelid::regclass::text AS rel, k.confrelid::regclass::text AS ref,
              array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY x(num, ord) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.num ORDER BY x.ord) AS cols,
              array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY x(num, ord) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.num ORDER BY x.ord) AS refcols
         FROM pg_constraint k
        WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid IN (SELECT $1::oid UNION SELECT relid FROM pg_partition_tree($1))`,
      [t.oid],
    );
    for (const fk of fks) {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${fk.rel} c
          WHERE ${t.keys.length ? `EXISTS (SELECT 1 FROM ${t.stage} s WHERE ${keysEqual('c', 's', t.keys)})` : inScope('c', t)}
            AND ${fk.cols.map((col) => `c.${quote(col)} IS NOT NULL`).join(' AND ')}
            AND NOT EXISTS (SELECT 1 FROM ${fk.ref} r WHERE ${keysEqual('c', 'r', fk.cols, fk.refcols)})`,
      );
      const n = Number(rows[0]!.n);
      if (n) problems.push(`${n} restored ${t.table} row(s) reference rows of ${fk.ref} that do not exist (foreign key ${fk.name})`);
    }
  }
  if (problems.length)
    throw new Error(
      `the apply was rolled back: ${problems.join('; ')}; restore the referenced rows first (or choose them, with --children, from their table)`,
    );
}

/** Sets every serial or identity sequence of the table past the column's largest value, if it is not already. */
async function moveSequences(client: pg.Client, t: StagedInfo): Promise<void> {
  const { rows } = await client.query<{ column: string; seq: string }>(
    `SELECT a.attname AS column, pg_get_serial_sequence($2, a.attname) AS seq
       FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
    [t.oid, t.prod],
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

/**
 * After the apply: the keys of staged rows that production does not hold identically (empty lists
 * mean success); for a table without a key, the rows held a different number of times.
 */
export async function compareWithStaged(url: string, schema: string, staged: StagedTable[]): Promise<Record<string, string[]>> {
  return withClient(url, async (client) => {
    await client.query('SET statement_timeout = 0');
    const infos = await stagedInfo(client, schema, staged);
    const out: Record<string, string[]> = {};
    for (const t of infos) {
      if (!t.keys.length) {
        out[t.table] = await compareMultiset(client, t);
        continue;
      }
      const { rows } = await client.query<{ k: string }>(
        `SELECT ${keyText('s', t.keys)} AS k FROM ${t.stage} s LEFT JOIN ${t.rows} p ON ${keysEqual('p', 's', t.keys)}
          WHERE ${absent('p', t)} OR ${rowsDiffer('s', 'p', notKey(t))} ORDER BY ${keyOrder('s', t.keys)} LIMIT ${KEY_LIST_LIMIT}`,
      );
      out[t.table] = rows.map((r) => r.k);
    }
    return out;
  });
}
