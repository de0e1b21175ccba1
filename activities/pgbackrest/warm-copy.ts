// The warm copy of a stanza: its newest physical backup restored ahead of time below
// physical.configDir/warm/<stanza>/ (data/ and the record warm.json), replayed to consistency and
// left shut down IN RECOVERY (recovery_target = immediate, recovery_target_action = shutdown), so an
// L3/L4 at a later moment only replays the WAL since the backup (warm-claim.ts). Guarantees:
// - preparing it is a test restore of the backup: it must reach consistency, or it fails naming why;
// - it never archives (--archive-mode=off), runs on its own port only while prepared, and is stopped after;
// - it is prepared in a folder of its own and published by a rename once its record is written: a
//   copy without a record is half-prepared and is redone (a retried activity, a worker that died),
//   never used, and two preparations at once never share a folder (the newer backup's copy wins);
// - the disk keeps a margin (`diskRoom`): otherwise it is skipped with the reason, the backup unharmed.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FailureType } from '../../common/errors.js';
import { bytes as formatBytes } from '../../common/sizes.js';
import { formatDuration } from '../../common/time.js';
import { refuse } from '../failure.js';
import { heartbeatWhile } from '../heartbeat.js';
import { type PhysicalBackup, physicalCatalog } from './backups.js';
import { chownToUser, pgProgram, pgProgramOutput, pgbackrest, stopCopy } from './run.js';
import { timelineOf } from './archive-span.js';
import { freePort } from './ports.js';
import type { PhysicalTarget } from './target.js';

export const WARM_RECORD = 'warm.json';

/** What warm.json holds: the copy is complete and in recovery at the end of backup `label`. */
export interface WarmRecord {
  stanza: string;
  label: string;
  /** When the backup stopped: the copy can recover to any moment after it. */
  stoppedAt: string;
  systemId: string;
  timeline: number;
  /** The cluster's size (the backup's), for the disk margin of the next preparation. */
  size: number;
  preparedAt: string;
}

export type WarmCopyOutcome =
  | ({ status: 'prepared'; note: string; delta: boolean; restoreMs: number; startMs: number } & WarmRecord)
  | { status: 'skipped'; note: string };

export function warmFolder(p: PhysicalTarget): string {
  return join(p.config.configDir, 'warm', p.settings.stanza);
}

export function readWarmRecord(folder: string): WarmRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(folder, WARM_RECORD), 'utf8')) as Partial<WarmRecord>;
    return typeof r.label === 'string' && typeof r.stoppedAt === 'string' && typeof r.systemId === 'string' ? (r as WarmRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The warm copy as `pitr backups` shows it: its record, or why there is none. */
export interface WarmState {
  record?: WarmRecord;
  note: string;
}

export function warmState(p: PhysicalTarget): WarmState {
  const folder = warmFolder(p);
  if (!p.config.warmCopy) return { note: 'off (physical.warmCopy: false)' };
  const record = readWarmRecord(folder);
  if (record) return { record, note: `backup ${record.label}, in recovery, prepared at ${record.preparedAt}` };
  const preparing = stagingFolders(p).map((f) => f.slice(folder.length + '.next-'.length));
  if (preparing.length) return { note: `being prepared from backup ${preparing.join(', ')}` };
  if (existsSync(join(folder, 'data'))) return { note: 'half-prepared (no record): the next physical backup redoes it' };
  return { note: 'none: the next physical backup prepares one (or lifeboat pitr warm)' };
}

export interface ControlData {
  state: string;
  systemId: string;
  timeline: number;
}

/** pg_controldata's view of a data directory: its state, system identifier and timeline. */
export async function controlData(p: PhysicalTarget, data: string): Promise<ControlData> {
  const text = await pgProgram(p.runner.runAs, 'pg_controldata', ['-D', data]);
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    state: field('Database cluster state'),
    systemId: field('Database system identifier'),
    timeline: Number(field("Latest checkpoint's TimeLineID")),
  };
}

/**
 * Room for a copy of `size` bytes on the filesystem of `dir`: after it (less what an older copy
 * there frees), at least 10 % of the filesystem stays free, and the copy gets 10 % headroom.
 */
export function diskRoom(dir: string, size: number, freed: number): { ok: boolean; text: string } {
  const fs = statfsSync(dir);
  const total = fs.blocks * fs.bsize;
  const available = fs.bavail * fs.bsize + freed;
  const needed = Math.ceil(size * 1.1 + total * 0.1);
  return {
    ok: available >= needed,
    text: `${formatBytes(available)} available for a ${formatBytes(size)} copy (needs ${formatBytes(needed)}: the copy and 10 % more, and 10 % of the filesystem's ${formatBytes(total)} left free)`,
  };
}

/** Restores `backup` into `data` (a delta over an earlier copy when there is one), to stop and shut down at consistency. */
async function restoreWarm(p: PhysicalTarget, backup: PhysicalBackup, data: string): Promise<boolean> {
  const options = [`--pg1-path=${data}`, `--set=${backup.label}`, '--type=immediate', '--target-action=shutdown', '--archive-mode=off'];
  if (existsSync(join(data, 'PG_VERSION'))) {
    const delta = await pgbackrest(p.runner, 'restore', [...options, '--delta']).then(
      () => true,
      () => false,
    );
    if (delta) return true;
  }
  rmSync(data, { recursive: true, force: true });
  await pgbackrest(p.runner, 'restore', options);
  return false;
}

/** Starts the restored copy: it replays to consistency and shuts itself down, still in recovery. */
async function replayToConsistency(p: PhysicalTarget, folder: string, data: string, backup: PhysicalBackup): Promise<ControlData> {
  const port = await freePort();
  const log = join(folder, 'server.log');
  rmSync(log, { force: true });
  // No Unix socket: nothing connects, and the folder's path may be too long for one (107 bytes).
  const options = `-p ${port} -k '' -c listen_addresses=127.0.0.1 -c archive_mode=off -c hot_standby=off -c cluster_name=lifeboat-warm-${p.settings.stanza}`;
  // pg_ctl reports "could not start server" once recovery_target_action = shutdown stops it: its state says how it ended.
  await pgProgramOutput(p.runner.runAs, 'pg_ctl', ['-D', data, '-o', options, '-l', log, '-w', '-t', '86400', 'start'], p.runner.env);
  for (let i = 0; existsSync(join(data, 'postmaster.pid')); i++) {
    if (i > 600) await stopCopy(p.runner.runAs, data);
    await new Promise((ok) => setTimeout(ok, 200));
  }
  const control = await controlData(p, data);
  const tail = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-5).join(' | ') : 'no server log');
  if (control.state !== 'shut down in recovery')
    throw refuse(
      `the test restore of physical backup ${backup.label} did not stop in recovery at consistency (cluster state "${control.state}"): ${tail()}`,
      FailureType.verification,
    );
  if (control.timeline !== timelineOf(backup.walStart))
    throw refuse(
      `the test restore of physical backup ${backup.label} ended on timeline ${control.timeline}, not the backup's ${timelineOf(backup.walStart)}`,
      FailureType.verification,
    );
  return control;
}

/** Stops an instance of a folder, if one runs there, and removes the folder. */
async function removeFolder(p: PhysicalTarget, folder: string): Promise<void> {
  await stopCopy(p.runner.runAs, join(folder, 'data'));
  rmSync(folder, { recursive: true, force: true });
}

/** When a backup started, from its label (`20261201-010524F`, `…F_20261201-041000I`), comparable as text; also of a folder named after one. */
const labelTime = (label: string) => label.slice(-16, -1);

/** The folders where copies of the stanza are being prepared: `<stanza>.next-<backup label>` beside the published one. */
function stagingFolders(p: PhysicalTarget): string[] {
  const root = dirname(warmFolder(p));
  const prefix = `${p.settings.stanza}.next-`;
  return existsSync(root)
    ? readdirSync(root)
        .filter((name) => name.startsWith(prefix))
        .map((name) => join(root, name))
    : [];
}

/**
 * Prepares the stanza's warm copy from backup `label` (the newest when absent), unless
 * physical.warmCopy is off or the disk lacks room: then skipped, with the reason. The copy is
 * made in a folder of its own (`<stanza>.next-<label>`, the published copy moved there first so
 * that --delta reuses it) and published by a rename once its record is written: two preparations
 * at once (a full backup's and an incremental's) never write into one folder, the newer backup's
 * copy wins, and an incident only ever finds a complete copy.
 */
export async function prepareWarmCopy(p: PhysicalTarget, label?: string): Promise<WarmCopyOutcome> {
  if (!p.config.warmCopy) return { status: 'skipped', note: 'no warm copy: physical.warmCopy is false' };
  const catalog = await physicalCatalog(p);
  const backup = label ? catalog.backups.find((b) => b.label === label) : catalog.backups.at(-1);
  if (!backup)
    return {
      status: 'skipped',
      note: label ? `no warm copy: backup ${label} is no longer in the repository` : 'no warm copy: the stanza has no backup',
    };
  const published = warmFolder(p);
  const folder = `${published}.next-${backup.label}`;
  // A copy whose backup retention expired may lack the WAL after it: gone, whatever comes next.
  const stale = readWarmRecord(published);
  if (stale && !catalog.backups.some((b) => b.label === stale.label)) await removeFolder(p, published);
  // Preparations of older backups (a worker that died, or one this backup overtakes) are dropped; a retry of this one redoes its folder.
  for (const other of stagingFolders(p)) if (labelTime(other) < labelTime(backup.label)) await removeFolder(p, other);
  mkdirSync(dirname(published), { recursive: true, mode: 0o711 });
  const earlier = readWarmRecord(published) ?? readWarmRecord(folder);
  const room = diskRoom(dirname(published), backup.size, existsSync(join(published, 'data')) ? (earlier?.size ?? 0) : 0);
  if (!room.ok) return { status: 'skipped', note: `no warm copy of backup ${backup.label}: ${room.text}` };
  if (!existsSync(folder)) {
    try {
      renameSync(published, folder);
    } catch {
      mkdirSync(folder, { mode: 0o711 });
    }
  }
  // From here until it is published, the copy has no record: half-prepared, never used.
  rmSync(join(folder, WARM_RECORD), { force: true });
  const data = join(folder, 'data');
  await stopCopy(p.runner.runAs, data);
  await chownToUser(p.runner.runAs, folder);
  let t = Date.now();
  const delta = await heartbeatWhile({ phase: `pgbackrest restore of ${backup.label} into the warm copy` }, () =>
    restoreWarm(p, backup, data),
  );
  const restoreMs = Date.now() - t;
  t = Date.now();
  const control = await heartbeatWhile({ phase: 'warm copy: replaying to consistency' }, () =>
    replayToConsistency(p, folder, data, backup),
  );
  const startMs = Date.now() - t;
  const record: WarmRecord = {
    stanza: p.settings.stanza,
    label: backup.label,
    stoppedAt: backup.stoppedAt,
    systemId: control.systemId,
    timeline: control.timeline,
    size: backup.size,
    preparedAt: new Date().toISOString(),
  };
  writeFileSync(join(folder, WARM_RECORD), `${JSON.stringify(record, null, 2)}\n`);
  const newer = readWarmRecord(published);
  if (newer && labelTime(newer.label) > labelTime(backup.label)) {
    await removeFolder(p, folder);
    return {
      status: 'skipped',
      note: `the warm copy of backup ${backup.label} was dropped: the newer backup ${newer.label}'s copy is in place`,
    };
  }
  await removeFolder(p, published);
  renameSync(folder, published);
  const how = delta ? 'pgbackrest restore --delta over the previous copy' : 'pgbackrest restore';
  return {
    status: 'prepared',
    ...record,
    delta,
    restoreMs,
    startMs,
    note: `warm copy of backup ${backup.label} prepared in ${published} (${how} ${formatDuration(restoreMs)}, replayed to consistency and shut down in recovery in ${formatDuration(startMs)}: the backup restores)`,
  };
}

/** Stops and removes the stanza's warm copy and any being prepared; false when there was none. */
export async function removeWarmCopy(p: PhysicalTarget): Promise<boolean> {
  const folders = [warmFolder(p), ...stagingFolders(p)].filter((f) => existsSync(f));
  for (const folder of folders) await removeFolder(p, folder);
  return folders.length > 0;
}
