// An in-place physical restore (L3/L4 declared --in-place at a moment, after a safety backup and an
// approval): production stopped, its own data directory restored by `pgbackrest restore --delta` to
// the moment with archiving left on, production started again as it was started (its postmaster.opts,
// the runner's environment for archive_command), and waited for until promoted. Guarantees:
// - refused with production untouched when the moment cannot be reached from what the repository
//   holds (no backup, a moment before the oldest backup's end or not in the past, an archive gap
//   after the backup it starts from); before the stop, a commit and a WAL switch put the moment's
//   end and the undo point into the archive;
// - never twice for one approval: state.json (in-place-state.ts) records each phase before its work,
//   and a retried activity that finds production started again only waits for its promotion: writes
//   made since are never overwritten by a second restore;
// - a moment recovery cannot reach fails naming the gap and the newest reachable moment, and says
//   that production is down and exactly how to bring it back (the undo point, the safety backup).
import { ApplicationFailure } from '@temporalio/common';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FailureType } from '../../common/errors.js';
import { type InPlaceUndo, type Moment, describeMoment, inPlaceUndo, momentTime } from '../../common/moments.js';
import { refuse } from '../failure.js';
import { heartbeatWhile } from '../heartbeat.js';
import { databaseName, withServer } from '../postgres/connection.js';
import { runTool } from '../postgres/tool.js';
import type { Resolver } from '../resolve.js';
import { type PhysicalBackup, physicalCatalog } from './backups.js';
import {
  type InPlaceState,
  type Production,
  inPlaceFolder,
  postmasterOptions,
  productionAtRest,
  readState,
  recordProduction,
  writeState,
} from './in-place-state.js';
import { type ArchivePath, archivePath, firstMissingSegment, startingBackupOnPath, timelineOf } from './archive-span.js';
import { restoreOptions } from './moment.js';
import { chownToUser, pgProgram, pgbackrest } from './run.js';
import { diagnose, readLog, recoveryEnd, running, waitForPromotion } from './side-instance.js';
import type { PhysicalTarget } from './target.js';
import { removeWarmCopy } from './warm-copy.js';

export interface InPlaceRestore {
  /** The application's database (production's, restored). */
  database: string;
  dataDir: string;
  port: number;
  /** The commit time of the last transaction recovery replayed: production's data is as of this moment. */
  recoveredTo: string;
  /** PostgreSQL's own words for where recovery stopped. */
  stoppedAt: string;
  /** The timeline production writes on now (a new one, from its promotion). */
  timeline: number;
  /** The backup set restored from (absent: pgBackRest's own choice, the newest). */
  set?: string;
  /** Set when a retry found production already restored and started by an earlier attempt: it only waited for it. */
  alreadyRestored?: string;
}

export interface InPlaceInput {
  id: string;
  moment: Moment;
  /** The restore point made just before the step, and the safety backup's label: named by a failure as the way back. */
  undo: InPlaceUndo;
}

/** A safety backup of production as it is now: incremental when a full exists (pgBackRest takes a full otherwise), annotated with the incident. */
export async function safetyBackup(p: PhysicalTarget, incidentId: string): Promise<PhysicalBackup> {
  await heartbeatWhile({ phase: 'pgbackrest incr backup (safety backup)' }, () =>
    pgbackrest(p.runner, 'backup', ['--type=incr', `--annotation=lifeboat-incident=${incidentId}`]),
  );
  return (await physicalCatalog(p)).backups.at(-1)!;
}

export async function restoreInPlace(resolve: Resolver, p: PhysicalTarget, input: InPlaceInput): Promise<InPlaceRestore> {
  const dir = inPlaceFolder(p, input.id);
  let state = readState(dir);
  const resumed =
    state?.phase === 'started' ? `already restored and started by an earlier attempt at ${state.at}: not restored again` : undefined;
  if (!state) state = writeState(dir, await prepare(resolve, p, input.moment), 'stopping');
  const set = state.set;
  // As the data directory's owner as recorded: with production down, the target's resolution cannot read it.
  const runner = { ...p.runner, runAs: state.runAs };
  p = { ...p, runner };
  const log = join(dir, 'server.log');
  let walMax: string | undefined;
  // Retryable: the record says production is stopped and not restored, so a retry restores it (an S3 store back up).
  const down = (why: string) => ApplicationFailure.retryable(`${why}. ${productionDown(p, state!, input)}`, FailureType.recovery);

  if (state.phase === 'stopping') {
    if (await running(p, state.pgPath)) await heartbeatWhile({ phase: 'stopping production' }, () => stopProduction(p, state!));
    // A service manager that restarts what stops (Restart=always) would bring it back: the restore must not run under it.
    if (await running(p, state.pgPath))
      throw refuse(
        `production (${state.pgPath}) still runs after it was stopped: set physical.stopCommand to how its service manager stops it; nothing was restored`,
        FailureType.recovery,
      );
    state = writeState(dir, state, 'stopped');
  }
  if (state.phase === 'stopped') {
    // Lifeboat stopped it and has not started it: a running server was started by someone else, and may hold new writes.
    if (await running(p, state.pgPath))
      throw refuse(
        `production (${state.pgPath}) was started again after Lifeboat stopped it for this restore, which did not run: nothing was restored. Stop it (pg_ctl stop -D ${state.pgPath}) and declare again, or keep it as it is`,
        FailureType.recovery,
      );
    walMax = (await physicalCatalog(p)).walMax;
    const options = ['--delta', `--pg1-path=${state.pgPath}`, ...(set ? [`--set=${set}`] : []), ...inPlaceOptions(input.moment)];
    await heartbeatWhile({ phase: `pgbackrest restore --delta to ${describeMoment(input.moment)}` }, () =>
      pgbackrest(runner, 'restore', options),
    ).catch((err: Error) => {
      throw down(`pgbackrest restore failed: ${err.message}`);
    });
    // The warm copy was prepared on the timeline production has just left: it could not follow the new one.
    await removeWarmCopy(p);
    state = writeState(dir, state, 'restored');
  }
  if (state.phase === 'restored') {
    await chownToUser(state.runAs, dir);
    const started = await heartbeatWhile(
      { phase: `recovering to ${describeMoment(input.moment)}` },
      async () => (await running(p, state!.pgPath)) || startProduction(p, state!, log),
    );
    state = writeState(dir, state, 'started');
    if (!started) throw unreachable(readLog(log), p, state, input, walMax);
  }
  const result = await waitForPromotion(p, state.pgPath, state.port);
  if (!result) throw unreachable(readLog(log), p, state, input, walMax);
  return {
    database: databaseName(resolve.databaseUrl(p.target)),
    dataDir: state.pgPath,
    port: state.port,
    ...recoveryEnd(readLog(log), result.at, state.at),
    timeline: await currentTimeline(resolve, p),
    ...(set ? { set } : {}),
    ...(resumed ? { alreadyRestored: resumed } : {}),
  };
}

/**
 * What the restore needs of production before stopping it, and the backup it starts from (its label
 * as `set`), refusing with production untouched what cannot work. Production down (a restore that
 * failed, being undone; a crash): how it ran, as recorded then or read where it rests (in-place-state.ts).
 */
async function prepare(resolve: Resolver, p: PhysicalTarget, moment: Moment): Promise<Production & { set?: string }> {
  const { backups } = await physicalCatalog(p);
  const oldest = backups[0];
  if (!oldest)
    throw refuse(
      `stanza "${p.settings.stanza}" has no physical backup to restore from: take one first (lifeboat pitr backup --type full); production is untouched`,
      FailureType.noUsableBackup,
    );
  if (moment.kind === 'time' && Date.parse(moment.time) < Date.parse(oldest.stoppedAt))
    throw refuse(
      `${describeMoment(moment)} is before the end of the oldest physical backup (${oldest.stoppedAt}), the earliest moment the archive can reach; production is untouched`,
      FailureType.recoveryTarget,
    );
  const url = resolve.databaseUrl(p.target);
  const facts = await withServer(url, async (c) => {
    const { rows } = await c.query<{ pgPath: string; port: number; now: Date }>(
      `SELECT current_setting('data_directory') AS "pgPath", current_setting('port')::int AS port, clock_timestamp() AS now`,
    );
    return rows[0]!;
  }).catch(() => undefined);
  const readPath = () => heartbeatWhile({ phase: 'reading the WAL archive' }, () => archivePath(p));
  // Down (crashed, or stopped by a restore that failed): there is no WAL to close, and the archive holds what it holds.
  if (!facts) return { ...(await productionAtRest(p)), set: startingBackup(p, moment, backups, await readPath())?.label };
  if (moment.kind === 'time' && Date.parse(moment.time) >= facts.now.getTime())
    throw refuse(
      `${describeMoment(moment)} is not in the past (the server's clock reads ${facts.now.toISOString()}): nothing committed after it can end recovery there; production is untouched`,
      FailureType.recoveryTarget,
    );
  // The archive read once, after the current segment is in it: the backup recovery starts from, and the segments it needs.
  const last = await archiveCurrentSegment(url);
  const path = await readPath();
  const from = startingBackup(p, moment, backups, path);
  // Along the newest timeline, every segment from the backup's start on must be there, the undo point's included.
  if (from && moment.kind !== 'restore-point') {
    const missing = firstMissingSegment(path, from.walStart, last);
    if (missing)
      throw refuse(
        `archive gap: WAL segment ${missing} is missing from the repository of stanza "${p.settings.stanza}" (needed from backup ${from.label}, which starts at ${from.walStart}, to ${last}), so neither ${describeMoment(moment)} nor an undo point after the gap can be relied on; production is untouched. Recover into a new data directory instead (drop --in-place) to learn the newest moment the archive reaches, and take a full backup (lifeboat pitr backup --type full)`,
        FailureType.recoveryTarget,
      );
  }
  const opts = join(facts.pgPath, 'postmaster.opts');
  const production = {
    pgPath: facts.pgPath,
    port: facts.port,
    options: existsSync(opts) ? postmasterOptions(readFileSync(opts, 'utf8')) : '',
    runAs: p.runner.runAs,
  };
  recordProduction(p, production);
  return { ...production, set: from?.label };
}

/**
 * The backup recovery to the moment starts from. A time or a transaction: the newest on the newest
 * timeline's path that ended before the moment's time (pgBackRest would take the newest that ended
 * before it, even one an earlier in-place restore left behind on the old timeline). A restore point:
 * the newest that ended before it was made when that is known (searched on that backup's timeline),
 * else pgBackRest's choice, the newest.
 */
function startingBackup(p: PhysicalTarget, moment: Moment, backups: PhysicalBackup[], path: ArchivePath): PhysicalBackup | undefined {
  const known = momentTime(moment);
  const before = known ? backups.filter((b) => b.stoppedAt < new Date(known).toISOString()) : backups;
  if (moment.kind === 'restore-point') return known ? before.at(-1) : undefined;
  const chosen = startingBackupOnPath(path, before);
  if (!chosen)
    throw refuse(
      `no physical backup of stanza "${p.settings.stanza}" on timeline ${path.timeline}'s history ended before ${describeMoment(moment)} (${before.length} ended before it on timelines an in-place restore left); production is untouched. Take a full backup (lifeboat pitr backup --type full) for later moments, or give an earlier one`,
      FailureType.recoveryTarget,
    );
  return chosen;
}

/**
 * Closes production's current WAL segment and waits until it is archived; returns its name. A
 * commit first (an xid, no data): recovery to a time stops at the first commit after it.
 */
async function archiveCurrentSegment(url: string): Promise<string> {
  return heartbeatWhile({ phase: 'archiving the current WAL segment' }, () =>
    withServer(url, async (c) => {
      await c.query('SELECT pg_current_xact_id()');
      const { rows } = await c.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
      const wal = rows[0]!.wal;
      const deadline = Date.now() + 10 * 60_000;
      for (;;) {
        const { rows: archiver } = await c.query<{ done: boolean; failed: string | null }>(
          'SELECT coalesce(last_archived_wal >= $1, false) AS done, last_failed_wal AS failed FROM pg_stat_archiver',
          [wal],
        );
        if (archiver[0]!.done) return wal;
        if (Date.now() > deadline)
          throw refuse(
            `WAL segment ${wal} was not archived within 10 minutes (last failed: ${archiver[0]!.failed ?? 'none'}): fix archiving (lifeboat pitr wal) before an in-place restore; production is untouched`,
            FailureType.recovery,
          );
        await new Promise((ok) => setTimeout(ok, 200));
      }
    }),
  );
}

/**
 * Archiving stays on: production goes on archiving on its new timeline. A restore point is looked for
 * on the timeline of the backup restored ('current'): the undo point of an earlier in-place restore
 * lies on the old timeline, which the newer one left before it (recovery would follow 'latest' away).
 */
function inPlaceOptions(moment: Moment): string[] {
  return [...restoreOptions(moment, 'preserve'), ...(moment.kind === 'restore-point' ? ['--target-timeline=current'] : [])];
}

/** Stops production: its physical.stopCommand, or pg_ctl stop -m fast as the data directory's owner. */
async function stopProduction(p: PhysicalTarget, state: InPlaceState): Promise<void> {
  const command = p.config.stopCommand;
  if (command) return runTool(command[0]!, command.slice(1), { env: commandEnv({}), name: 'physical.stopCommand' });
  await pgProgram(state.runAs, 'pg_ctl', ['-D', state.pgPath, '-m', 'fast', '-w', '-t', '3600', 'stop']);
}

/**
 * Starts production again, in recovery to the moment; false when it did not come up. Its
 * physical.startCommand, or pg_ctl with the command line postmaster.opts held and `log` as its log.
 * The environment carries pgBackRest's S3 keys: production's archive_command and restore_command need them.
 */
async function startProduction(p: PhysicalTarget, state: InPlaceState, log: string): Promise<boolean> {
  const command = p.config.startCommand;
  const started = command
    ? runTool(command[0]!, command.slice(1), { env: commandEnv(p.runner.env), name: 'physical.startCommand' })
    : pgProgram(state.runAs, 'pg_ctl', ['-D', state.pgPath, '-o', state.options, '-l', log, '-w', '-t', '86400', 'start'], p.runner.env);
  return started.then(
    () => true,
    () => false,
  );
}

/** A configured command's environment: enough to find programs, and the given variables. */
function commandEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...extra };
}

/** The timeline production writes on now. */
async function currentTimeline(resolve: Resolver, p: PhysicalTarget): Promise<number> {
  return withServer(resolve.databaseUrl(p.target), async (c) => {
    const { rows } = await c.query<{ wal: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS wal');
    return timelineOf(rows[0]!.wal);
  });
}

/** Recovery did not reach the moment: why (side-instance.ts's diagnosis), that production is down, and the way back. */
function unreachable(log: string, p: PhysicalTarget, state: InPlaceState, input: InPlaceInput, walMax?: string): ApplicationFailure {
  const { message, newestReachable } = diagnose(log, input.moment, walMax);
  return ApplicationFailure.create({
    message: `${message}. ${productionDown(p, state, input)}`,
    type: FailureType.recoveryTarget,
    nonRetryable: true,
    details: [{ newestReachable }],
  });
}

function productionDown(p: PhysicalTarget, state: InPlaceState, input: InPlaceInput): string {
  const log = p.config.startCommand ? 'where its service manager writes it' : join(inPlaceFolder(p, input.id), 'server.log');
  return `Production is DOWN: its data directory ${state.pgPath} was restored for that moment and its server is stopped (log: ${log}). ${inPlaceUndo(p.target, input.undo)}`;
}
