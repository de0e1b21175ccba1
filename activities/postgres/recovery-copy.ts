// Recovery copies: real PostgreSQL copies of a backup that rows (L1) and tables (L2) are read from
// with SQL. Two kinds, both on the verification server:
// - kept: a verification's restore of a backup that passed, kept (renamed, its comment saying whose
//   backup it holds) until the verification of a newer backup of the target replaces it;
// - made for one selection, when the chosen backup has no kept copy: the backup restored into a
//   scratch database with only the rows that selection can need. PostgreSQL's pg_restore does the
//   reading: `pg_restore -l` lists the archive's table of contents, the list keeps every
//   definition (schemas, types, functions, tables: whatever the tables' columns need) and the data
//   of the wanted tables only, and `pg_restore -L` restores that list without the post-data section
//   (indexes, constraints, triggers), which a copy queried once does not need.
//
// Guarantees:
// - A target has at most one kept copy per store, of the newest backup verified; it is found by the
//   backup's id (and store) recorded in its comment, never by its (shortened) name.
// - The data restored is exactly the wanted tables' (their partitions are named one by one: a
//   partitioned table has no data of its own in an archive); nothing else is loaded.
// - The list is PostgreSQL's, only filtered: entries keep pg_restore's order and dependencies.
import { writeFile } from 'node:fs/promises';
import type pg from 'pg';
import { keptCopyName } from '../../common/names.js';
import { NO_SUCH_DATABASE, escapeIdentifier, escapeLiteral, libpqEnv, pgTool, withClient, withDatabase } from './connection.js';
import { privilegeFlags } from './restore.js';
import { runTool, startTool } from './tool.js';

/** SQLSTATE admin_shutdown: the session was terminated (by DROP DATABASE … WITH (FORCE), say). */
const ADMIN_SHUTDOWN = '57P01';

export interface TableName {
  schema: string;
  name: string;
}

/** The archive's table of contents, as `pg_restore -l` prints it. */
async function archiveList(file: string, signal?: AbortSignal): Promise<string> {
  const tool = startTool(pgTool('pg_restore'), ['--list', file], { env: process.env, stdout: 'pipe', signal });
  const chunks: Buffer[] = [];
  for await (const chunk of tool.stdout!) chunks.push(chunk as Buffer);
  await tool.done;
  return Buffer.concat(chunks).toString('utf8');
}

/** Entries of the data section that are never a selection's rows. */
const OTHER_DATA = /^(BLOBS|BLOB DATA|LARGE OBJECT|SEQUENCE SET) /;

/**
 * The list with the data of `tables` only: every other `TABLE DATA` entry (and large objects) is
 * commented out, as pg_restore's documentation suggests for -L. An entry reads
 * `<id>; <catalog oid> <oid> TABLE DATA <schema> <name> <owner>`, unquoted: a table whose name
 * begins like a wanted one's followed by a space may come along too, which costs time only (rows
 * are chosen by table afterwards); a wanted table's data is never left out.
 */
export function keepDataOf(list: string, tables: TableName[]): { list: string; kept: number } {
  const wanted = tables.map((t) => `TABLE DATA ${t.schema} ${t.name} `);
  let kept = 0;
  const lines = list.split('\n').map((line) => {
    const entry = /^\d+; \d+ \d+ (.*)$/.exec(line)?.[1];
    if (entry === undefined) return line;
    if (entry.startsWith('TABLE DATA ')) {
      if (wanted.some((w) => entry.startsWith(w))) {
        kept++;
        return line;
      }
      return `;${line}`;
    }
    return OTHER_DATA.test(entry) ? `;${line}` : line;
  });
  return { list: lines.join('\n'), kept };
}

/**
 * Restores from the archive `file` into the empty database `database` (on the server of
 * `serverUrl`) everything but the tables' rows: every definition (indexes, constraints and
 * triggers too), sequence values, materialized views refreshed. What a database is, without its
 * rows: a reference to compare a restore's definitions with, at the cost of the schema alone.
 */
export async function restoreDefinitions(
  serverUrl: string,
  database: string,
  file: string,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const list = (await archiveList(file, options.signal))
    .split('\n')
    .map((line) => (/^\d+; \d+ \d+ (TABLE DATA|BLOBS|BLOB DATA|LARGE OBJECT) /.test(line) ? `;${line}` : line))
    .join('\n');
  const listFile = `${file}.definitions.list`;
  await writeFile(listFile, list);
  await runTool(
    pgTool('pg_restore'),
    [`--use-list=${listFile}`, ...privilegeFlags('drop'), '--exit-on-error', '--no-password', `--dbname=${database}`, file],
    { env: libpqEnv(withDatabase(serverUrl, database)), signal: options.signal },
  );
}

/**
 * Restores from the archive `file` into the empty database `database` (on the server of
 * `serverUrl`) the definitions and the data of `tables` only, with `jobs` parallel jobs. Returns
 * how many of the wanted tables the archive held data for.
 */
export async function restoreTables(
  serverUrl: string,
  database: string,
  file: string,
  tables: TableName[],
  options: { jobs: number; signal?: AbortSignal },
): Promise<number> {
  const { list, kept } = keepDataOf(await archiveList(file, options.signal), tables);
  const listFile = `${file}.list`;
  await writeFile(listFile, list);
  await runTool(
    pgTool('pg_restore'),
    [
      `--jobs=${options.jobs}`,
      '--section=pre-data',
      '--section=data',
      `--use-list=${listFile}`,
      ...privilegeFlags('drop'),
      '--exit-on-error',
      '--no-password',
      `--dbname=${database}`,
      file,
    ],
    { env: libpqEnv(withDatabase(serverUrl, database)), signal: options.signal },
  );
  return kept;
}

// ─────────────────────────────── Kept copies: a verification's restore ───────────────────────────────

/** What a kept copy's database comment records: whose backup it holds. */
interface KeptCopy {
  lifeboat: 'recovery-copy';
  target: string;
  /**
   * The store the backup is in (its location): two configurations may each have a target of the same
   * name on one verification server, and neither replaces the other's copy. Absent on copies kept
   * before it was recorded: those belong to any store.
   */
  store?: string;
  backup: string;
  startedAt: string;
}

/** Whether a kept copy is of the backups of `target` in `store` (any store's when it is not given). */
const ofBackups = (k: KeptCopy, target: string, store: string | undefined) =>
  k.target === target && (store === undefined || k.store === undefined || k.store === store);

async function keptCopies(client: pg.Client): Promise<Array<KeptCopy & { database: string }>> {
  const { rows } = await client.query<{ database: string; comment: string | null }>(
    `SELECT datname AS database, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE 'lifeboat\\_recovery\\_%'`,
  );
  return rows.flatMap((r) => {
    try {
      const c = JSON.parse(r.comment ?? '') as KeptCopy;
      return c.lifeboat === 'recovery-copy' ? [{ ...c, database: r.database }] : [];
    } catch {
      return [];
    }
  });
}

/** The database holding the kept recovery copy of `target`'s backup `backupId` (in `store`) on the server, if there is one. */
export async function findKeptCopy(serverUrl: string, target: string, backupId: string, store?: string): Promise<string | undefined> {
  return withClient(
    serverUrl,
    async (c) => (await keptCopies(c)).find((k) => ofBackups(k, target, store) && k.backup === backupId)?.database,
  );
}

/**
 * Whether an error says the database read from was dropped under the reader (its sessions
 * terminated by DROP DATABASE … WITH (FORCE), or gone at connect), through pg or psql.
 */
export function copyLost(err: unknown): boolean {
  for (let e = err as { code?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === ADMIN_SHUTDOWN || e.code === NO_SUCH_DATABASE) return true;
    if (/terminating connection due to administrator command|database "[^"]+" does not exist/.test(e.message ?? '')) return true;
  }
  return false;
}

/** Drops the kept recovery copy of `backupId`, when there is one; returns its name. */
export async function dropKeptCopy(serverUrl: string, target: string, backupId: string): Promise<string | undefined> {
  const kept = await findKeptCopy(serverUrl, target, backupId);
  if (kept) await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(kept)} WITH (FORCE)`));
  return kept;
}

/**
 * Keeps the verified restore `database` as the recovery copy of backup `copy.backup`: renamed
 * (keptCopyName), its comment recording target, store, backup and time, and the older kept copy of
 * the same target and store dropped. A copy of an older backup than the one kept is dropped
 * instead. Safe to run twice. Returns whether it was kept.
 */
export async function keepAsRecoveryCopy(
  serverUrl: string,
  database: string,
  copy: Omit<KeptCopy, 'lifeboat' | 'store'> & { store: string },
): Promise<boolean> {
  const name = keptCopyName(copy.backup);
  return withClient(serverUrl, async (c) => {
    const kept = (await keptCopies(c)).filter((k) => ofBackups(k, copy.target, copy.store));
    const drop = (db: string) => c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(db)} WITH (FORCE)`);
    if (kept.some((k) => k.startedAt > copy.startedAt)) {
      await drop(database);
      return false;
    }
    const exists = async (db: string) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rows.length > 0;
    if (await exists(database)) {
      if (name !== database) {
        await drop(name);
        // The verification's sessions are gone; autovacuum may still be in it, and a rename needs it alone.
        for (let attempt = 1; ; attempt++) {
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
            database,
          ]);
          try {
            await c.query(`ALTER DATABASE ${escapeIdentifier(database)} RENAME TO ${escapeIdentifier(name)}`);
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== '55006' || attempt === 10) throw err; // object_in_use
          }
        }
      }
    } else if (!(await exists(name))) throw new Error(`the verified database ${database} is gone: nothing to keep`);
    await c.query(
      `COMMENT ON DATABASE ${escapeIdentifier(name)} IS ${escapeLiteral(JSON.stringify({ lifeboat: 'recovery-copy', ...copy }))}`,
    );
    for (const k of kept) if (k.database !== name) await drop(k.database);
    return true;
  });
}
