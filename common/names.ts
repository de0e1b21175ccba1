// Every derived name Lifeboat makes or accepts: backup ids and their store keys, incident and
// drill ids, plan workflow ids, drill, staging and restored database names. They are safety
// boundaries (a name decides which database is touched, which key is read), so they live together
// and anything else is refused.
import { BackupIdError, InputError } from './errors.js';
import type { Level } from './plans.js';

// The optional suffix tells apart backups of one target started in the same second; ids made
// before it existed have none and stay valid.
const ID_PATTERN = /^([a-z][a-z0-9_-]{0,39})-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-([a-z0-9]{4,12}))?$/;

/** A backup id names its target and UTC start time, and a suffix unique to the run that takes it: crm-20261122T020000Z-3fa9c1. */
export function backupIdFor(target: string, at: Date, suffix?: string): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${target}-${stamp}${suffix === undefined ? '' : `-${suffix}`}`;
}

/** A backup id suffix from a Temporal run id (a UUID): the same on every attempt of the run, distinct between runs. */
export function backupSuffixOf(runId: string): string {
  return runId
    .replace(/[^a-z0-9]/gi, '')
    .slice(-6)
    .toLowerCase();
}

export interface ParsedBackupId {
  id: string;
  target: string;
  startedAt: Date;
  /** YYYY-MM-DD, the folder the backup lives in. */
  day: string;
}

/** Parses a backup id; anything else (path tricks included) is refused. */
export function parseBackupId(id: string): ParsedBackupId {
  const m = ID_PATTERN.exec(id);
  if (!m) {
    throw new BackupIdError(
      `"${id}" is not a backup id: expected <target>-<YYYYMMDD>T<HHMMSS>Z such as crm-20261122T020000Z, or with a run suffix such as crm-20261122T020000Z-3fa9c1 (run "lifeboat backups" to list them)`,
    );
  }
  const [, target, y, mo, d, h, mi, s, suffix] = m as unknown as [string, string, string, string, string, string, string, string, string?];
  const startedAt = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  // Date.UTC rolls invalid fields over (month 13, minute 60) and maps years 0-99 to 19xx: a real
  // time gives back exactly this id.
  if (Number.isNaN(startedAt.getTime()) || backupIdFor(target, startedAt, suffix) !== id) {
    throw new BackupIdError(`"${id}" is not a backup id: its date is not a real date`);
  }
  return { id, target, startedAt, day: `${y}-${mo}-${d}` };
}

const DUMP_FILE = 'backup.dump';

/** The folder a backup lives in: <target>/daily/<YYYY-MM-DD>/<id>. */
export function backupFolder(id: string): string {
  const { target, day } = parseBackupId(id);
  return `${target}/daily/${day}/${id}`;
}

export function dumpKey(id: string): string {
  return `${backupFolder(id)}/${DUMP_FILE}`;
}

// Drills run the same plans, so their gates and tasks are answered the same way.
const RUN_ID = /^(inc|drill)-\d{8}-\d{6}-[a-z0-9]{4}$/;

/** An incident id, or a drill's: both name a run whose gates and tasks people answer. */
export function assertIncidentId(id: string): void {
  if (!RUN_ID.test(id))
    throw new InputError(
      `"${id}" is not an incident id: expected inc-YYYYMMDD-HHMMSS-xxxx, or drill-YYYYMMDD-HHMMSS-xxxx for a drill (run "lifeboat list" or "lifeboat drills")`,
    );
}

/** The child plan's workflow id of an incident or a drill: derived, so clients find where approvals go. */
export function planWorkflowId(incidentId: string, level: Level): string {
  return `${incidentId}-${level}`;
}

/** drill-YYYYMMDD-HHMMSS-xxxx, from a UTC time and four lower-case letters or digits. */
export function drillIdFor(at: Date, suffix: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `drill-${stamp}-${suffix}`;
}

/** The isolated test database of a drill: lifeboat_drill_<target>_<drill time and suffix>, within PostgreSQL's 63 bytes. */
export function testDatabaseFor(target: string, drillId: string): string {
  const short = drillId.replace(/^drill-/, '').replace(/-/g, '_');
  return `lifeboat_drill_${target.replace(/[^a-z0-9]/g, '_').slice(0, 24)}_${short}`;
}

/** One staging schema per incident, in the target database; dropped at the end of the plan. */
export function stagingSchema(incidentId: string): string {
  return `lifeboat_staging_${incidentId.replace(/[^a-z0-9]/g, '_')}`;
}

/** The recovery copy an incident's staging restores the tables it needs into (on the verification server), within 63 bytes. */
export function recoveryCopyName(incidentId: string): string {
  return `lifeboat_copy_${incidentId.replace(/[^a-z0-9]/g, '_')}`.slice(0, 63);
}

/** The recovery copy a passed verification keeps of a backup (replaced by the next one's), within 63 bytes. */
export function keptCopyName(backupId: string): string {
  return `lifeboat_recovery_${backupId.replace(/[^a-z0-9]/g, '_')}`.slice(0, 63);
}

/**
 * The scratch database a verification restores into: the same on every attempt of one run, so a
 * retry replaces it, and distinct between runs, so two verifications of one backup id (two
 * backups taken in the same second) never drop each other's.
 */
export function verifyDatabaseFor(backupId: string, runId: string): string {
  const run = runId
    .replace(/[^a-z0-9]/gi, '')
    .slice(-8)
    .toLowerCase();
  return `lifeboat_verify_${run}_${backupId.replace(/[^a-z0-9]/g, '_')}`.slice(0, 63);
}

/** The new database a full restore creates beside `base` (the target's database), within PostgreSQL's 63 bytes. */
export function restoredDatabaseName(base: string, incidentId: string): string {
  return `${base}_restored_${incidentId.replace(/^inc-/, '').replace(/[^a-z0-9]/g, '_')}`.slice(0, 63);
}

/**
 * The restore point Lifeboat creates before a destructive step: `lifeboat-<incident>-<step>`, in the
 * characters a `--before-restore-point` accepts, cut to PostgreSQL's 63 bytes. The same on every
 * attempt, so a retried creation names the same moment.
 */
export function restorePointName(incidentId: string, step: string): string {
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
  return `lifeboat-${slug(incidentId)}-${slug(step)}`.slice(0, 63).replace(/-$/, '');
}

/** An incident's side instance or recovered cluster (its folder's name below physical.configDir): lower case, digits and "-", at most 48. */
export function instanceIdFor(incidentId: string): string {
  return incidentId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 48);
}

/**
 * The one table a point-in-time drill writes on production (drill.pointInTime, opt-in): marker rows
 * keyed `<drill id>-<n>`, each drill removing its own at its end.
 */
export const DRILL_MARKER_TABLE = 'lifeboat_drill_markers';
