// Finding the moment: which transactions deleted or changed rows of a table, read from the archived
// WAL. The segments come from the repository (`pgbackrest archive-get`, into a folder of the call's
// own, removed afterwards) and PostgreSQL's own pg_waldump decodes them; the table is known to the
// WAL by its file (tablespace/database/relfilenode). Heap DELETE, UPDATE and HOT_UPDATE records are
// grouped by transaction, with the time of its COMMIT record. The current segment is closed and
// archived first, so the last minutes are in it. A table rewritten since (TRUNCATE, VACUUM FULL,
// ALTER TABLE … TYPE) had another file before: its earlier changes are not found.
import { mkdtempSync, rmSync } from 'node:fs';
import type pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { heartbeatWhile } from '../heartbeat.js';
import { withClient } from '../postgres/connection.js';
import type { Resolver } from '../resolve.js';
import { physicalCatalog } from './backups.js';
import { chownToUser, pgProgramOutput, pgbackrest } from './run.js';
import { nextSegment } from './side-instance.js';
import { physicalTarget } from './target.js';

export interface TableChange {
  xid: string;
  committedAt: string;
  deleted: number;
  updated: number;
  /** Where its first change to the table is in the WAL. */
  lsn: string;
}

export interface TableChanges {
  table: string;
  /** tablespace/database/relfilenode, as the WAL names the table's file. */
  relation: string;
  fromSegment: string;
  toSegment: string;
  transactions: TableChange[];
  /** What could not be read (a missing segment), if anything. */
  note?: string;
}

/** Parses pg_waldump's lines: heap changes of `relation`, and commit times, grouped by transaction. */
export function parseWaldump(text: string, relation: string): TableChange[] {
  const byXid = new Map<string, { deleted: number; updated: number; lsn: string }>();
  const commits = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m =
      /^rmgr: (\w+)\s+len \(rec\/tot\):\s*\d+\/\s*\d+, tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev [0-9A-F/]+, desc: (\w+)(.*)$/.exec(
        line,
      );
    if (!m) continue;
    const [, rmgr, xid, lsn, op, rest] = m as unknown as [string, string, string, string, string, string];
    if (rmgr === 'Transaction' && op === 'COMMIT') {
      commits.set(xid, /^ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (\w+)/.exec(rest)?.slice(1).join(' ') ?? '');
    } else if (rmgr === 'Heap' && ['DELETE', 'UPDATE', 'HOT_UPDATE'].includes(op) && rest.includes(`rel ${relation} `)) {
      const entry = byXid.get(xid) ?? { deleted: 0, updated: 0, lsn };
      if (op === 'DELETE') entry.deleted++;
      else entry.updated++;
      byXid.set(xid, entry);
    }
  }
  return [...byXid.entries()]
    .filter(([xid]) => commits.has(xid))
    .map(([xid, e]) => ({ xid, committedAt: new Date(commits.get(xid)!.replace(' UTC', 'Z').replace(' ', 'T')).toISOString(), ...e }))
    .sort((a, b) => a.committedAt.localeCompare(b.committedAt));
}

/**
 * Closes the current WAL segment so the last minutes are in the archive, and waits (a minute at
 * most) until PostgreSQL reports it archived; returns its name.
 */
export async function archiveCurrentWal(c: pg.Client): Promise<string> {
  const switched = await c.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
  const wal = switched.rows[0]!.wal;
  for (let i = 0; i < 300; i++) {
    const done = await c.query<{ done: boolean }>('SELECT coalesce(last_archived_wal >= $1, false) AS done FROM pg_stat_archiver', [wal]);
    if (done.rows[0]!.done) break;
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return wal;
}

export async function findTableChanges(
  resolve: Resolver,
  input: { target: string; table: string; since?: string; until?: string },
): Promise<TableChanges> {
  const p = await physicalTarget(resolve, input.target);
  const url = resolve.databaseUrl(input.target);
  const [schema, name] = input.table.includes('.') ? input.table.split('.', 2) : ['public', input.table];
  const { relation, closed } = await withClient(url, async (c) => {
    const { rows } = await c.query<{ relation: string | null }>(
      `SELECT coalesce(nullif(c.reltablespace, 0), (SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default')) || '/' ||
              (SELECT oid FROM pg_database WHERE datname = current_database()) || '/' || pg_relation_filenode(c.oid) AS relation
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'`,
      [schema, name],
    );
    if (!rows[0]?.relation)
      throw refuse(`no table ${input.table} in the target's database (partitioned tables: name a partition)`, FailureType.input);
    return { relation: rows[0].relation, closed: await archiveCurrentWal(c) };
  });
  const catalog = await physicalCatalog(p);
  // From the WAL of the newest backup that ended before --since (or the oldest backup) to the newest archived segment.
  const since = input.since ? new Date(input.since).toISOString() : undefined;
  const base = (since && catalog.backups.filter((b) => b.stoppedAt <= since).at(-1)) || catalog.backups[0];
  if (!base || !catalog.walMax)
    throw refuse(`stanza "${p.settings.stanza}" has no backup and archived WAL to read yet`, FailureType.noUsableBackup);
  const last = catalog.walMax > closed ? catalog.walMax : closed;
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-wal-'));
  try {
    await chownToUser(p.runner.runAs, dir);
    let note: string | undefined;
    let segment = base.walStart;
    let fetched = '';
    await heartbeatWhile({ phase: `reading archived WAL of ${input.table}` }, async () => {
      for (;;) {
        const failed = await pgbackrest(p.runner, 'archive-get', [], [segment, join(dir, segment)]).then(
          () => undefined,
          (err: Error) => err,
        );
        if (failed) {
          note = `WAL segment ${segment} could not be read from the repository (${failed.message}): transactions after ${fetched || 'the backup'} are not listed`;
          break;
        }
        fetched = segment;
        if (segment.slice(8) >= last.slice(8)) break;
        segment = nextSegment(segment);
      }
    });
    if (!fetched) return { table: input.table, relation, fromSegment: base.walStart, toSegment: base.walStart, transactions: [], note };
    // pg_waldump ends with an error where the last segment's records end (a switched segment is padded): what it printed stands.
    const { stdout: text } = await pgProgramOutput(p.runner.runAs, 'pg_waldump', ['-p', dir, base.walStart, fetched]);
    const transactions = parseWaldump(text, relation).filter(
      (t) => (!since || t.committedAt >= since) && (!input.until || t.committedAt <= new Date(input.until).toISOString()),
    );
    return { table: input.table, relation, fromSegment: base.walStart, toSegment: fetched, transactions, ...(note ? { note } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
