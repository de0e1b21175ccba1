// A table without a key (no primary key, no unique index on NOT NULL columns: a log table, say)
// restored whole (L2), or as a child of restored rows (L1): its rows cannot be matched one by one,
// so they are a multiset, each row known by its text form (`ROW(col::text, …)::text`, NULL and ''
// told apart), and a row held three times in the backup comes back three times.
//
// Guarantees:
// - The apply changes only the difference: for each distinct row, the copies production holds
//   beyond the backup's count are deleted and the copies it lacks are inserted; a row held as
//   often as in the backup is not touched. Afterwards the rows in scope equal the backup's as a
//   multiset.
// - The scope: the whole table (L2), or (L1, StagedInfo.scope) the rows referencing a staged
//   parent's rows through one of the child's foreign keys, on every column of it, in production
//   and in the staged rows alike. A row with a NULL in those columns references nothing and is
//   out of scope, as is a row referencing any other parent: neither is ever touched.
// - Everything runs in the caller's transaction (apply.ts holds the lock and the triggers off).
import type pg from 'pg';
import { escapeIdentifier } from './connection.js';
import type { StagedInfo } from './staged-info.js';

const quote = escapeIdentifier;

/**
 * Rows listed in diffs and check results: by a digest of their text, never their values (a key is
 * an identifier; a keyless row's values are the table's content, which stays out of workflow
 * history), and at most this many, so activity results stay small.
 */
const ROW_LIST_LIMIT = 100;

/** A row's text form over the compared columns. */
const rowText = (alias: string, columns: string[]) => `ROW(${columns.map((c) => `${alias}.${quote(c)}::text`).join(', ')})::text`;

/**
 * The rows of `alias` (production's or the staged ones) in the table's scope, as a condition:
 * true for a whole table, else referencing a staged parent row through a link (`=` on every
 * column, so a NULL matches nothing).
 */
export function inScope(alias: string, t: StagedInfo): string {
  if (!t.scope) return 'true';
  if (!t.scope.length) return 'false';
  return t.scope
    .map(
      (l) =>
        `EXISTS (SELECT 1 FROM ${l.stage} lifeboat_parent WHERE ${l.columns
          .map((c, i) => `${alias}.${quote(c)} = lifeboat_parent.${quote(l.refColumns[i]!)}`)
          .join(' AND ')})`,
    )
    .join(' OR ');
}

/** ` WHERE <in scope>` for a scoped table, nothing for a whole one (the L2's statements unchanged). */
const scoped = (alias: string, t: StagedInfo) => (t.scope ? ` WHERE ${inScope(alias, t)}` : '');

/** Each distinct row of `from` in the table's scope with how many times it is there. */
const counted = (from: string, t: StagedInfo) =>
  `SELECT ${rowText('x', t.columns)} AS r, count(*) AS n FROM ${from} x${scoped('x', t)} GROUP BY 1`;

/** Distinct rows with their count in the backup (s) and in production (p). */
const bothSides = (t: StagedInfo) =>
  `SELECT coalesce(s.r, p.r) AS r, coalesce(s.n, 0) AS s, coalesce(p.n, 0) AS p
     FROM (${counted(t.stage, t)}) s FULL JOIN (${counted(t.rows, t)}) p ON p.r = s.r`;

export interface MultisetDiff {
  /** Row copies the backup holds that production lacks. */
  missing: number;
  /** Row copies production holds beyond the backup's. */
  extra: number;
  /** Row copies held by both. */
  unchanged: number;
  /** Some missing rows, by digest (md5:…), in text order. */
  missingRows: string[];
}

export async function diffMultiset(client: pg.Client, t: StagedInfo): Promise<MultisetDiff> {
  const { rows } = await client.query<{ missing: string; extra: string; unchanged: string }>(
    `SELECT coalesce(sum(greatest(s - p, 0)), 0) AS missing, coalesce(sum(greatest(p - s, 0)), 0) AS extra,
            coalesce(sum(least(s, p)), 0) AS unchanged FROM (${bothSides(t)}) d`,
  );
  const r = rows[0]!;
  return {
    missing: Number(r.missing),
    extra: Number(r.extra),
    unchanged: Number(r.unchanged),
    missingRows: await differing(client, t, 's > p'),
  };
}

/** Digests of the rows whose two counts stand in `relation`, in text order, at most ROW_LIST_LIMIT. */
async function differing(client: pg.Client, t: StagedInfo, relation: string): Promise<string[]> {
  const { rows } = await client.query<{ r: string }>(
    `SELECT 'md5:' || left(md5(r), 12) AS r FROM (${bothSides(t)}) d WHERE ${relation} ORDER BY d.r LIMIT ${ROW_LIST_LIMIT}`,
  );
  return rows.map((x) => x.r);
}

/** The production rows the apply deletes (copies beyond the backup's count), as JSON lines. */
export async function snapshotMultiset(client: pg.Client, t: StagedInfo): Promise<string> {
  const { rows } = await client.query<{ line: string }>(
    `SELECT (to_jsonb(x) - '{lifeboat_tableoid,lifeboat_ctid,lifeboat_r,lifeboat_n}'::text[])::text AS line FROM ${surplus(t)} ORDER BY x.lifeboat_r`,
  );
  return rows.map((r) => `${r.line}\n`).join('');
}

/**
 * Production's row copies beyond the backup's count for that row (`x`, with its tableoid and
 * ctid), as a FROM clause. Which copies of equal rows go is immaterial: they are equal.
 */
const surplus = (t: StagedInfo) =>
  `(SELECT y.*, y.tableoid AS lifeboat_tableoid, y.ctid AS lifeboat_ctid, ${rowText('y', t.columns)} AS lifeboat_r,
           row_number() OVER (PARTITION BY ${rowText('y', t.columns)}) AS lifeboat_n FROM ${t.rows} y${scoped('y', t)}) x
     LEFT JOIN (${counted(t.stage, t)}) s ON s.r = x.lifeboat_r
    WHERE x.lifeboat_n > coalesce(s.n, 0)`;

/** Makes production's rows in scope the backup's multiset; returns the copies deleted and inserted. */
export async function applyMultiset(client: pg.Client, t: StagedInfo): Promise<{ deleted: number; inserted: number }> {
  const list = t.columns.map(quote).join(', ');
  // A row is found by (tableoid, ctid): a ctid alone repeats across partitions.
  const { rowCount: deleted } = await client.query(
    `DELETE FROM ${t.rows} d WHERE (d.tableoid, d.ctid) IN (SELECT lifeboat_tableoid, lifeboat_ctid FROM ${surplus(t)})`,
  );
  // After the delete production holds at most the backup's count of each row: insert the rest.
  const { rowCount: inserted } = await client.query(
    `INSERT INTO ${t.prod} (${list}) OVERRIDING SYSTEM VALUE
     SELECT ${list} FROM (SELECT s.*, ${rowText('s', t.columns)} AS lifeboat_r,
                                 row_number() OVER (PARTITION BY ${rowText('s', t.columns)}) AS lifeboat_n FROM ${t.stage} s${scoped('s', t)}) x
       LEFT JOIN (${counted(t.rows, t)}) p ON p.r = x.lifeboat_r
      WHERE x.lifeboat_n > coalesce(p.n, 0)`,
  );
  return { deleted: deleted ?? 0, inserted: inserted ?? 0 };
}

/** After the apply: rows whose count differs between the backup and production, by digest (empty: equal). */
export async function compareMultiset(client: pg.Client, t: StagedInfo): Promise<string[]> {
  return differing(client, t, 's <> p');
}
