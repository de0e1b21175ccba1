// Types and messages shared by workflows, activities and clients. Imports nothing with side
// effects, so the workflow bundle and the CLI can both use it.

export const TASK_QUEUE_DEFAULT = 'lifeboat';

/** A backup's manifest: written last, so a backup without one does not exist. */
export interface BackupManifest {
  id: string;
  target: string;
  store: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  serverVersion: string;
  pgDumpVersion: string;
  format: 'custom';
  compression: number;
  sizeBytes: number;
  sha256: string;
  /** Row counts of every user table, taken in the same snapshot as the dump. */
  tables: Record<string, number>;
  tags: string[];
  reason: string;
  lifeboatVersion: string;
}

export interface TableFingerprint {
  rows: number;
  /** Order-independent checksum of every row's content. */
  checksum: string;
}

export interface Finding {
  check: string;
  detail: string;
}

/** The verdict of a test restore, recorded beside the backup. */
export interface VerificationRecord {
  backupId: string;
  verifiedAt: string;
  result: 'passed' | 'failed';
  durationMs: number;
  tables: Record<string, TableFingerprint>;
  findings: Finding[];
}

export interface BackupSummary {
  manifest: BackupManifest;
  verification?: VerificationRecord;
}

export interface BackupInput {
  target: string;
  tags?: string[];
  reason?: string;
}

export interface VerifyInput {
  /** A backup id, or "latest" for the newest backup of the target. */
  backupId: string;
  target?: string;
}

export interface RetentionInput {
  target: string;
  dryRun: boolean;
}

export interface RetentionDecision {
  id: string;
  startedAt: string;
  keep: boolean;
  /** Why a backup is kept (daily, weekly, monthly, tagged, newest) or why it goes. */
  reasons: string[];
}

export interface RetentionResult {
  target: string;
  dryRun: boolean;
  decisions: RetentionDecision[];
  deleted: string[];
}

export interface FreshnessInput {
  target: string;
}

export interface FreshnessResult {
  target: string;
  newestVerifiedId?: string;
  ageMs?: number;
  maxAgeMs: number;
  fresh: boolean;
}

/** What a long activity reports in its heartbeats; the CLI shows it as progress. */
export interface Progress {
  phase: string;
  bytes?: number;
  detail?: string;
}

const ID_PATTERN = /^([a-z][a-z0-9_-]{0,39})-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** A backup id names its target and UTC start time, e.g. crm-20261122T020000Z. */
export function backupIdFor(target: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${target}-${stamp}`;
}

export interface ParsedBackupId {
  id: string;
  target: string;
  startedAt: Date;
  /** YYYY-MM-DD, the folder the backup lives in. */
  day: string;
}

export class BackupIdError extends Error {
  override name = 'BackupIdError';
}

/** Parses a backup id; anything else (path tricks included) is refused. */
export function parseBackupId(id: string): ParsedBackupId {
  const m = ID_PATTERN.exec(id);
  if (!m) {
    throw new BackupIdError(
      `"${id}" is not a backup id: expected <target>-<YYYYMMDD>T<HHMMSS>Z such as crm-20261122T020000Z (run "lifeboat backups" to list them)`,
    );
  }
  const [, target, y, mo, d, h, mi, s] = m as unknown as [string, string, string, string, string, string, string, string];
  const startedAt = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  // Date.UTC rolls invalid fields over (month 13, minute 60) and maps years 0-99 to 19xx: a real
  // time gives back exactly this id.
  if (Number.isNaN(startedAt.getTime()) || backupIdFor(target, startedAt) !== id) {
    throw new BackupIdError(`"${id}" is not a backup id: its date is not a real date`);
  }
  return { id, target, startedAt, day: `${y}-${mo}-${d}` };
}
