// Reads what a database holds: row counts, order-independent table checksums, integrity checks.
//
// Every row is counted once: the tables counted and fingerprinted are those that store rows, plain
// tables and partitions (relkind 'r'). A partitioned table stores none of its own and a count of it
// is its partitions' rows again, so it is left out: manifests, verifications, comparisons and every
// total made of them list partitions, as L1 and L2 restore them. Backups taken before this list a
// partitioned table beside its partitions; comparisons read its count as its partitions' sum
// (partitionLeaves, partitionedRows). A table that others inherit from (INHERITS, not partitions)
// is counted and fingerprinted with its own rows only (FROM ONLY): each child is a table of its
// own. Backups taken before this counted such a parent with its children's rows; comparisons read
// those as the parent's family's sum (inheritanceFamilies).
import type pg from 'pg';
import { queryReadOnly } from './configured-sql.js';
import type { Finding, TableFingerprint } from '../../common/backups.js';
import { escapeIdentifier, withClient } from './connection.js';

const tableName = (c: string, n: string) =>
  `CASE WHEN ${n}.nspname = 'public' THEN ${c}.relname ELSE ${n}.nspname || '.' || ${c}.relname END`;
const TABLE_NAME = tableName('c', 'n');
const USER_SCHEMA = (n: string) => `${n}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${n}.nspname NOT LIKE 'pg_toast%'`;
const USER_TABLES = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND ${USER_SCHEMA('n')}`;

/** Every user table that stores rows (partitions, not the partitioned tables), as schema-qualified names when outside public. */
export async function userTables(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(`SELECT ${TABLE_NAME} AS name ${USER_TABLES} ORDER BY 1`);
  return rows.map((r) => r.name);
}

/** A table as Lifeboat names it (`table` in public, `schema.table` elsewhere, as spelt) quoted for SQL. */
export function quoteTable(name: string): string {
  const dot = name.indexOf('.');
  return dot > 0 ? `${escapeIdentifier(name.slice(0, dot))}.${escapeIdentifier(name.slice(dot + 1))}` : escapeIdentifier(name);
}

/** Every partitioned table (sub-partitioned ones too) and the partitions that store its rows, at any depth. */
export async function partitionLeaves(client: pg.Client): Promise<Record<string, string[]>> {
  const { rows } = await client.query<{ parent: string; leaf: string }>(
    `SELECT ${TABLE_NAME} AS parent, ${tableName('l', 'ln')} AS leaf
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL pg_partition_tree(c.oid) t
       JOIN pg_class l ON l.oid = t.relid JOIN pg_namespace ln ON ln.oid = l.relnamespace
      WHERE c.relkind = 'p' AND t.isleaf AND l.relkind = 'r' AND ${USER_SCHEMA('n')} ORDER BY 1, 2`,
  );
  const leaves: Record<string, string[]> = {};
  for (const { parent, leaf } of rows) (leaves[parent] ??= []).push(leaf);
  return leaves;
}

/**
 * Every table that others inherit from (INHERITS, not partitioning) and its family: itself and
 * every table inheriting from it, at any depth; partitionedRows of it gives the rows a backup
 * taken before parents were counted alone lists for the parent.
 */
export async function inheritanceFamilies(client: pg.Client): Promise<Record<string, string[]>> {
  const { rows } = await client.query<{ parent: string; member: string }>(
    `WITH RECURSIVE family(root, member) AS (
       SELECT i.inhparent, i.inhparent FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'r'
       UNION SELECT f.root, i.inhrelid FROM family f JOIN pg_inherits i ON i.inhparent = f.member)
     SELECT ${TABLE_NAME} AS parent, ${tableName('m', 'mn')} AS member
       FROM family f JOIN pg_class c ON c.oid = f.root JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class m ON m.oid = f.member JOIN pg_namespace mn ON mn.oid = m.relnamespace
      WHERE m.relkind = 'r' AND ${USER_SCHEMA('n')} ORDER BY 1, 2`,
  );
  const families: Record<string, string[]> = {};
  for (const { parent, member } of rows) (families[parent] ??= []).push(member);
  return families;
}

/**
 * Each partitioned table's rows as a backup taken before partitions were counted alone lists them:
 * the sum of its partitions' in `found` (the counts or fingerprints of the tables that store rows).
 */
export function partitionedRows(
  leaves: Record<string, string[]>,
  found: Record<string, number | { rows: number } | undefined>,
): Record<string, number> {
  const rows = (leaf: string) => {
    const f = found[leaf];
    return typeof f === 'number' ? f : (f?.rows ?? 0);
  };
  return Object.fromEntries(Object.entries(leaves).map(([parent, parts]) => [parent, parts.reduce((sum, leaf) => sum + rows(leaf), 0)]));
}

export async function rowCounts(client: pg.Client, tables: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${quoteTable(table)}`);
    counts[table] = Number(rows[0]!.n);
  }
  return counts;
}

/**
 * How a table's checksum is computed. Both are order-independent sums of a 64-bit hash of every
 * row, with the row count, so equal content gives equal fingerprints:
 * - "record" (checksums "r:<rows>:<sum>"): PostgreSQL's own hash of the row's values
 *   (hash_record_extended), about 2.4 times faster than "text" because no row is turned into text;
 *   it needs a hash function for every column type (json, point or xml columns have none).
 * - "text" (checksums "<rows>:<sum>"): the hash of each row's text form; any table can be read so,
 *   and records written before "record" existed use it.
 */
export type FingerprintFormat = 'record' | 'text';

const ROW_HASH: Record<FingerprintFormat, string> = { record: 'hash_record_extended(t, 0)', text: 'hashtextextended(t::text, 0)' };

function checksumOf(format: FingerprintFormat, rows: bigint | string, sum: bigint | string): string {
  return `${format === 'record' ? 'r:' : ''}${rows}:${sum}`;
}

/** The format a stored checksum was computed in, so a comparison computes the same. */
export function formatOf(checksum: string): FingerprintFormat {
  return checksum.startsWith('r:') ? 'record' : 'text';
}

/** The "text" fingerprint of one table, on one connection: what tests compare before and after. */
export async function fingerprint(client: pg.Client, table: string): Promise<TableFingerprint> {
  const { rows } = await client.query<{ n: string; s: string | null }>(
    `SELECT count(*) AS n, sum(${ROW_HASH.text}::numeric)::text AS s FROM ONLY ${quoteTable(table)} AS t`,
  );
  const row = rows[0]!;
  return { rows: Number(row.n), checksum: checksumOf('text', row.n, row.s ?? '0') };
}

/** Whether every column type of the table has an extended hash function ("record" format possible). */
async function recordHashable(client: pg.Client, table: string): Promise<boolean> {
  // Inside the caller's snapshot transaction: a savepoint keeps a refusal from aborting it.
  await client.query('SAVEPOINT lifeboat_probe');
  try {
    // A row of NULLs still makes PostgreSQL look up every column type's hash function.
    await client.query(`SELECT hash_record_extended(r, 0) FROM (SELECT (NULL::${quoteTable(table)}).*) AS r`);
    return true;
  } catch {
    return false;
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT lifeboat_probe');
  }
}

export async function fingerprints(client: pg.Client, tables: string[]): Promise<Record<string, TableFingerprint>> {
  const out: Record<string, TableFingerprint> = {};
  for (const table of tables) out[table] = await fingerprint(client, table);
  return out;
}

/** Connections `fingerprintDatabase` reads on: the hashing is CPU-bound in the server, one core per connection. */
export const FINGERPRINT_CONNECTIONS = 2;
/** A table larger than this many blocks (8 KiB each) is read in pieces, so the connections share big tables. */
const MIN_PIECE_BLOCKS = 1024;

/** A block range of a table (`to` undefined: to its end), or all of it (both undefined). */
interface Piece {
  table: string;
  blocks: number;
  from?: number;
  to?: number;
}

/**
 * Splits the tables into pieces of roughly equal size, largest first: tables of `blocks` blocks
 * become ranges of block numbers (the last one open, so pages added since the size was read are
 * included); small tables stay whole.
 */
function pieces(tables: Array<{ name: string; blocks: number; heap: boolean }>, connections: number): Piece[] {
  const total = tables.reduce((n, t) => n + t.blocks, 0);
  const size = Math.max(MIN_PIECE_BLOCKS, Math.ceil(total / (connections * 4)));
  const out: Piece[] = [];
  for (const t of tables) {
    const count = t.heap ? Math.ceil(t.blocks / size) : 1;
    if (count <= 1) {
      out.push({ table: t.name, blocks: t.blocks });
      continue;
    }
    for (let i = 0; i < count; i++) {
      out.push({
        table: t.name,
        blocks: Math.min(size, t.blocks - i * size),
        from: i === 0 ? undefined : i * size,
        to: i === count - 1 ? undefined : (i + 1) * size,
      });
    }
  }
  return out.sort((a, b) => b.blocks - a.blocks);
}

/**
 * Fingerprints of every user table of the database at `url` (those `include` accepts), read on
 * FINGERPRINT_CONNECTIONS connections that share one snapshot, so the whole database is seen at a
 * single moment. Large tables are read in block ranges on both connections; the parts' counts and
 * hash sums add up to what one pass over the table gives. A table is read in the format of its
 * fingerprint in `like` (to compare with a stored one), else in "record" format where it can be.
 */
export async function fingerprintDatabase(
  url: string,
  options: { include?: (table: string) => boolean; like?: Record<string, TableFingerprint> } = {},
): Promise<Record<string, TableFingerprint>> {
  return withClient(url, async (first) => {
    await first.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const snapshot = (await first.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
      const { rows } = await first.query<{ name: string; blocks: string; heap: boolean }>(
        `SELECT ${TABLE_NAME} AS name, pg_relation_size(c.oid) / current_setting('block_size')::int AS blocks, c.relkind = 'r' AS heap
           ${USER_TABLES} ORDER BY 1`,
      );
      const tables = rows
        .filter((t) => options.include?.(t.name) ?? true)
        .map((t) => ({ name: t.name, blocks: Number(t.blocks), heap: t.heap }));
      const formats = new Map<string, FingerprintFormat>();
      for (const t of tables) {
        const like = options.like?.[t.name];
        formats.set(t.name, like ? formatOf(like.checksum) : (await recordHashable(first, t.name)) ? 'record' : 'text');
      }
      const sums = new Map(tables.map((t) => [t.name, { rows: 0n, sum: 0n }]));
      const queue = pieces(tables, FINGERPRINT_CONNECTIONS);
      const work = async (client: pg.Client) => {
        try {
          for (let piece = queue.shift(); piece; piece = queue.shift()) {
            const range = [
              piece.from !== undefined && `t.ctid >= '(${piece.from},0)'::tid`,
              piece.to !== undefined && `t.ctid < '(${piece.to},0)'::tid`,
            ].filter(Boolean);
            const {
              rows: [row],
            } = await client.query<{ n: string; s: string | null }>(
              `SELECT count(*) AS n, sum(${ROW_HASH[formats.get(piece.table)!]}::numeric)::text AS s FROM ONLY ${quoteTable(piece.table)} AS t${range.length ? ` WHERE ${range.join(' AND ')}` : ''}`,
            );
            const total = sums.get(piece.table)!;
            total.rows += BigInt(row!.n);
            total.sum += BigInt(row!.s ?? '0');
          }
        } catch (err) {
          queue.length = 0; // the other connections stop too
          throw err;
        }
      };
      const others = Array.from({ length: FINGERPRINT_CONNECTIONS - 1 }, () =>
        withClient(url, async (client) => {
          await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          try {
            await client.query(`SET TRANSACTION SNAPSHOT ${client.escapeLiteral(snapshot)}`);
            await work(client);
          } finally {
            await client.query('ROLLBACK').catch(() => undefined);
          }
        }),
      );
      const settled = await Promise.allSettled([work(first), ...others]);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      return Object.fromEntries(
        tables.map((t) => {
          const { rows: n, sum } = sums.get(t.name)!;
          return [t.name, { rows: Number(n), checksum: checksumOf(formats.get(t.name)!, n, sum) }];
        }),
      );
    } finally {
      await first.query('ROLLBACK').catch(() => undefined);
    }
  });
}

export interface IntegrityCheck {
  name: string;
  sql: string;
  /** The check limited to restored rows of `table` ($1: their keys as text[]). */
  restoredRows?: { table: string; sql: string };
}

/** The keys of the rows an L1 restored, by table, when every one is known: what `restoredRows` checks are given. */
export type RestoredKeys = Record<string, string[]>;

/**
 * integrityFindings on `connections` sessions of the database at `url` at once (each check is a scan
 * of its own, CPU-bound in the server), findings in the checks' order.
 */
export async function integrityFindingsAt(
  url: string,
  checks: IntegrityCheck[],
  restored?: RestoredKeys,
  connections = FINGERPRINT_CONNECTIONS,
): Promise<Finding[]> {
  const queue = checks.map((check, i) => ({ check, i }));
  const found: Finding[][] = checks.map(() => []);
  await Promise.all(
    Array.from({ length: Math.min(connections, checks.length) }, () =>
      withClient(url, async (c) => {
        for (let next = queue.shift(); next; next = queue.shift()) found[next.i] = await integrityFindings(c, [next.check], restored);
      }),
    ),
  );
  return found.flat();
}

/**
 * Runs each check as one read-only statement; a count above zero, or a check that fails to run, is a
 * finding. With `restored` (an L1's restored keys), a check with a `restoredRows` form for a table
 * the L1 restored rows of runs that form, on those rows only.
 */
export async function integrityFindings(client: pg.Client, checks: IntegrityCheck[], restored?: RestoredKeys): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const check of checks) {
    const keys = check.restoredRows && restored?.[check.restoredRows.table];
    try {
      const rows = keys?.length ? await queryReadOnly(client, check.restoredRows!.sql, [keys]) : await queryReadOnly(client, check.sql);
      const count = Number(Object.values(rows[0] ?? {})[0] ?? 0);
      const among = keys?.length ? ` among the ${keys.length} restored ${check.restoredRows!.table} row(s)` : '';
      if (count > 0) findings.push({ check: check.name, detail: `${count} offending row(s)${among}` });
    } catch (err) {
      findings.push({
        check: check.name,
        detail: `the check failed to run: ${(err as Error).message} (an integrity check is one read-only statement: fix its sql in the configuration)`,
      });
    }
  }
  return findings;
}
