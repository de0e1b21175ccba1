// A side instance: the target's cluster restored by pgBackRest to a moment into a data directory of
// its own (below physical.configDir/side/<id>), started on a free loopback port, and waited for
// until recovery reached its target and the instance is promoted. A recovered cluster (L3/L4 at a
// moment, recovered-cluster.ts) is made by the same machinery below physical.configDir/recovered/<id>,
// and kept running after the plan for the cut-over; it starts from the stanza's warm copy when one
// can reach the moment (warm-claim.ts), with only the WAL since its backup left to replay. Guarantees:
// - it never archives: restored with --archive-mode=off, so a promoted side instance never pushes
//   WAL (or a new timeline's history) into the production stanza;
// - the folder is its record: a retried restore (a worker that crashed) first stops and removes
//   what an earlier attempt left under the same id, and `removeSideInstance` always can;
// - a moment it cannot reach fails with the reason named (an archive gap and its missing segment,
//   or no commit after the target) and the newest moment the archive does reach.
import { ApplicationFailure } from '@temporalio/common';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { heartbeatWhile } from '../heartbeat.js';
import { physicalCatalog } from './backups.js';
import { type Moment, describeMoment, momentTime } from '../../common/moments.js';
import { archivePath, onPath, startingBackupOnPath } from './archive-span.js';
import { restoreOptions } from './moment.js';
import { freePort } from './ports.js';
import { claimWarmCopy } from './warm-claim.js';
import { formatDuration } from '../../common/time.js';
import { chownToUser, pgProgram, pgbackrest, stopCopy } from './run.js';
import { type SideFolders, type SideOwner, writeOwner } from './sweep.js';
import type { PhysicalTarget } from './target.js';

export interface SideInstance {
  id: string;
  dataDir: string;
  port: number;
  /** The commit time of the last transaction the instance replayed: the data is as of this moment. */
  recoveredTo: string;
  /** PostgreSQL's own words for where recovery stopped. */
  stoppedAt: string;
  /** How long its parts took: reading the repository's catalogue, `pgbackrest restore` (claiming the warm copy), recovery until promoted. */
  took?: { catalogMs: number; restoreMs: number; recoveryMs: number };
  /** Where the data came from, in words: the warm copy of a backup, or the pgbackrest restore and its figures. */
  source?: string;
}

/** What an instance is for, and the folder below physical.configDir it lives in: a side instance is removed when its plan ends, a recovered cluster is kept once handed over. */
export type InstanceKind = 'side' | 'recovered';

export function instanceFolder(p: PhysicalTarget, kind: InstanceKind, id: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,47}$/.test(id))
    throw refuse(
      `"${id}" is not a ${kind === 'side' ? 'side instance' : 'recovered cluster'} id (lower-case letters, digits and "-")`,
      FailureType.input,
    );
  return join(p.config.configDir, kind, id);
}

export function sideFolder(p: PhysicalTarget, id: string): string {
  return instanceFolder(p, 'side', id);
}

/** Stops the instance (immediately: it is a copy) and removes its folder; nothing there is fine. */
export async function removeSide(p: PhysicalTarget, id: string): Promise<boolean> {
  return removeInstance(p, 'side', id);
}

export async function removeInstance(p: PhysicalTarget, kind: InstanceKind, id: string): Promise<boolean> {
  const dir = instanceFolder(p, kind, id);
  if (!existsSync(dir)) return false;
  await stopCopy(p.runner.runAs, join(dir, 'data'));
  rmSync(dir, { recursive: true, force: true });
  return true;
}

const segmentPattern = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

/** The WAL segment after `segment` (16 MB segments: 256 per log id). */
export function nextSegment(segment: string): string {
  const [, tli, log, seg] = segmentPattern.exec(segment) ?? [];
  if (!tli) return segment;
  const n = parseInt(seg!, 16) + 1;
  const hex = (v: number) => v.toString(16).toUpperCase().padStart(8, '0');
  return n > 0xff ? `${tli}${hex(parseInt(log!, 16) + 1)}${hex(0)}` : `${tli}${log}${hex(n)}`;
}

/** Why recovery did not reach the moment, from the server's log and the repository's WAL range. */
export function diagnose(log: string, moment: Moment, walMax: string | undefined): { message: string; newestReachable?: string } {
  const restored = [...log.matchAll(/restored log file "([0-9A-F]{24})" from archive/g)].map((m) => m[1]!);
  const newestReachable = /last completed transaction was at log time (.+)/.exec(log)?.[1]?.trim();
  const reach = newestReachable
    ? `the newest moment the archive reaches is ${newestReachable}`
    : 'the archive holds no transaction after the backup';
  if (/recovery ended before configured recovery target was reached/.test(log)) {
    const last = restored.at(-1);
    const missing = last && nextSegment(last);
    if (missing && walMax && missing.slice(8) <= walMax.slice(8))
      return {
        message: `archive gap: WAL segment ${missing} is missing from the repository (which holds segments up to ${walMax}), so recovery stopped after ${last} before reaching ${describeMoment(moment)}; ${reach}`,
        newestReachable,
      };
    return {
      message: `recovery ended before configured recovery target was reached: no transaction committed after ${describeMoment(moment)} is in the archive (it ends at ${walMax ?? 'no segment'}); ${reach}. Pick that moment or an earlier one`,
      newestReachable,
    };
  }
  const fatal = log.split('\n').filter((line) => /FATAL|PANIC|ERROR/.test(line));
  return {
    message: `the restored instance did not recover to ${describeMoment(moment)}: ${(fatal.length ? fatal : log.split('\n')).slice(-5).join(' | ')}`,
    newestReachable,
  };
}

export async function running(p: PhysicalTarget, data: string): Promise<boolean> {
  return pgProgram(p.runner.runAs, 'pg_ctl', ['-D', data, 'status']).then(
    () => true,
    () => false,
  );
}

/** The promoted server's last replayed commit time; undefined while it still recovers or cannot be reached. */
async function promoted(port: number, user: string | undefined, password: string | undefined) {
  const client = new pg.Client({ host: '127.0.0.1', port, user: user ?? 'postgres', password, database: 'postgres' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ recovering: boolean; at: Date | null }>(
      'SELECT pg_is_in_recovery() AS recovering, pg_last_xact_replay_timestamp() AS at',
    );
    return rows[0]!.recovering ? undefined : { at: rows[0]!.at };
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Waits until the server on `data` (listening on `port`) is promoted; undefined when it stopped first (recovery ended short). */
export async function waitForPromotion(p: PhysicalTarget, data: string, port: number): Promise<{ at: Date | null } | undefined> {
  return heartbeatWhile({ phase: 'recovering to the moment' }, async () => {
    for (;;) {
      const state = await promoted(port, p.settings.pgUser, p.runner.env.PGPASSWORD);
      if (state) return state;
      if (!(await running(p, data))) return undefined;
      await new Promise((ok) => setTimeout(ok, 300));
    }
  });
}

/** A server log's text; empty when there is none yet. */
export const readLog = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');

/**
 * Where recovery ended, from the server's log: stopped at the target, the data holds every commit
 * before the time, transaction or restore point it names; otherwise it is as of the last
 * transaction replayed (`lastReplayed`), or `fallback` (the backup's end) without one.
 */
export function recoveryEnd(log: string, lastReplayed: Date | null, fallback: string): { recoveredTo: string; stoppedAt: string } {
  const stop = /recovery stopping [^\n]*?, time ([^\n]+)/.exec(log);
  return {
    recoveredTo: stop ? pgTime(stop[1]!) : (lastReplayed?.toISOString() ?? fallback),
    stoppedAt: stop?.[0] ?? /last completed transaction was at log time [^\n]*/.exec(log)?.[0] ?? 'end of the archive',
  };
}

/**
 * The side folders below a target's physical.configDir, for the sweep of orphans (sweep.ts). The
 * target itself (a connection to its server) is resolved only when there is one to remove.
 */
export function sideFolders(configDir: string, physical: () => Promise<PhysicalTarget>): SideFolders {
  return { root: join(configDir, 'side'), remove: async (id) => removeSide(await physical(), id) };
}

export async function restoreSide(p: PhysicalTarget, id: string, moment: Moment, owner?: SideOwner): Promise<SideInstance> {
  return restoreInstance(p, 'side', id, moment, owner);
}

/**
 * Restores, starts and waits for an instance of `kind`. A recovered cluster gets its own settings
 * written into postgresql.auto.conf too (port, sockets, name), so a restart by hand keeps them.
 */
export async function restoreInstance(
  p: PhysicalTarget,
  kind: InstanceKind,
  id: string,
  moment: Moment,
  owner?: SideOwner,
): Promise<SideInstance> {
  const dir = instanceFolder(p, kind, id);
  await removeInstance(p, kind, id);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  // Recorded before anything runs there: a plan that never comes back leaves an instance the sweep can place.
  if (owner) writeOwner(dir, owner);
  await chownToUser(p.runner.runAs, dir);
  const data = join(dir, 'data');
  let t = Date.now();
  // A recovered cluster starts from the warm copy when one can reach the moment (warm-claim.ts): only the WAL since its backup is left to replay.
  const warm = kind === 'recovered' ? await claimWarmCopy(p, moment, dir) : undefined;
  const claimMs = Date.now() - t;
  const cold = warm?.claimed ? undefined : await coldRestore(p, data, moment);
  t = Date.now();
  const port = await freePort();
  const log = join(dir, 'server.log');
  // hot_standby off: the copy takes no query until it is promoted, and needs none of production's
  // connection settings (a standby must match max_connections and the like, read from wherever production sets them).
  const settings = { port, unix_socket_directories: dir, listen_addresses: '127.0.0.1', cluster_name: `lifeboat-${kind}-${id}` };
  if (kind === 'recovered') keepSettings(data, settings);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c archive_mode=off -c hot_standby=off -c cluster_name=${settings.cluster_name}`;
  const started = await heartbeatWhile({ phase: `recovering to ${describeMoment(moment)}` }, () =>
    pgProgram(p.runner.runAs, 'pg_ctl', ['-D', data, '-o', options, '-l', log, '-w', '-t', '86400', 'start'], p.runner.env).then(
      () => true,
      () => false,
    ),
  );
  const unreachable = async () => {
    const walMax = (cold?.catalog ?? (await physicalCatalog(p).catch(() => undefined)))?.walMax;
    const { message, newestReachable } = diagnose(readLog(log), moment, walMax);
    return ApplicationFailure.create({ message, type: FailureType.recoveryTarget, nonRetryable: true, details: [{ newestReachable }] });
  };
  if (!started) throw await unreachable();
  const result = await waitForPromotion(p, data, port);
  if (!result) throw await unreachable();
  const recoveryMs = Date.now() - t;
  const took = cold
    ? { catalogMs: cold.catalogMs, restoreMs: cold.restoreMs, recoveryMs }
    : { catalogMs: 0, restoreMs: claimMs, recoveryMs };
  const source = warm?.claimed
    ? `from the warm copy of backup ${warm.record.label} prepared at ${warm.record.preparedAt} (claimed in ${formatDuration(claimMs)}), recovery ${formatDuration(recoveryMs)}`
    : `catalogue ${formatDuration(took.catalogMs)}, pgbackrest restore ${formatDuration(took.restoreMs)}, recovery ${formatDuration(recoveryMs)}${warm ? ` (not from the warm copy: ${warm.why})` : ''}`;
  const backupEnd = warm?.claimed ? warm.record.stoppedAt : cold!.backupEnd;
  return { id, dataDir: data, port, ...recoveryEnd(readLog(log), result.at, backupEnd), took, source };
}

/** `pgbackrest restore` of the cluster to the moment into `data`, from the newest backup that ended before it. */
async function coldRestore(p: PhysicalTarget, data: string, moment: Moment) {
  let t = Date.now();
  const catalog = await physicalCatalog(p);
  const catalogMs = Date.now() - t;
  t = Date.now();
  const before = momentTime(moment);
  if (!catalog.backups.length)
    throw refuse(
      `stanza "${p.settings.stanza}" has no physical backup to restore from: take one first (lifeboat backup --physical full)`,
      FailureType.noUsableBackup,
    );
  // Chosen here rather than by pgBackRest: only a backup on the newest timeline's path can start a
  // recovery along it (archive-span.ts; after an in-place restore, the safety backup left on the old
  // timeline cannot), and for a restore point or a transaction it would take the newest backup.
  const path = await archivePath(p);
  const set = startingBackupOnPath(path, catalog.backups, before);
  if (!set)
    throw refuse(
      `no physical backup of stanza "${p.settings.stanza}" on its timeline ${path.timeline}'s history ended before ${describeMoment(moment)}: the earliest moment it can reach is ${catalog.backups.find((b) => onPath(path, b))?.stoppedAt ?? 'none (take a full backup: lifeboat pitr backup --type full)'}, the end of its oldest backup there`,
      FailureType.recoveryTarget,
    );
  await heartbeatWhile({ phase: `pgbackrest restore to ${describeMoment(moment)}` }, () =>
    pgbackrest(p.runner, 'restore', [`--pg1-path=${data}`, `--set=${set.label}`, ...restoreOptions(moment)]),
  );
  return { catalog, catalogMs, restoreMs: Date.now() - t, backupEnd: set.stoppedAt };
}

/**
 * Appends the instance's own settings to postgresql.auto.conf (read last, so they win over the
 * production settings the restore copied): a kept cluster restarted by hand comes back on its port.
 * pgBackRest already wrote archive_mode = 'off' there (--archive-mode=off).
 */
function keepSettings(data: string, settings: Record<string, string | number>): void {
  const lines = Object.entries(settings).map(([name, value]) => `${name} = '${String(value).replace(/'/g, "''")}'`);
  appendFileSync(join(data, 'postgresql.auto.conf'), `# lifeboat: this recovered cluster's own settings\n${lines.join('\n')}\n`);
}

/** A time as PostgreSQL's log writes it (2026-11-30 15:02:00.123456+00), in ISO 8601. */
function pgTime(text: string): string {
  return new Date(
    text
      .trim()
      .replace(' ', 'T')
      .replace(/([+-]\d\d)$/, '$1:00'),
  ).toISOString();
}
