// Backups: what a backup leaves (manifest, verification) and the inputs and results of the
// backup, verification, retention and freshness workflows. Types only.

/** One privilege granted on an object, as PostgreSQL's aclexplode() lists it ("PUBLIC" for everyone). */
export interface Grant {
  grantee: string;
  privilege: string;
  grantor: string;
  grantable: boolean;
}

/** Who owns an object of the database and what it grants (null: the built-in defaults, nothing granted explicitly). */
export interface ObjectPrivileges {
  owner: string;
  grants: Grant[] | null;
}

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
  /** Set when only these tables were dumped (a safety snapshot before a table restore). */
  onlyTables?: string[];
  /**
   * Owners and grants of every schema, relation and routine, read in the dump's snapshot (whole
   * backups only; absent from backups taken before Lifeboat recorded them).
   */
  privileges?: Record<string, ObjectPrivileges>;
  /**
   * The owner of the dumped database (whole backups only; absent from older ones). A dump does not
   * carry the database itself: a restore that has to create it (the database was dropped) makes it
   * this role's, so the schema public (owned by pg_database_owner) is the application's again.
   */
  databaseOwner?: string;
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
  /** In a verify run's result: the alarm that could not be delivered, and why (the verification stands). */
  undeliveredNotice?: string;
}

export interface BackupSummary {
  manifest: BackupManifest;
  verification?: VerificationRecord;
}

/** A manifest found in the store that cannot be used (truncated, foreign, unsigned…): listed, never chosen. */
export interface DamagedBackup {
  /** The folder's name: a backup id, unless the object is foreign. */
  id: string;
  /** Its key in the store, to find or remove it. */
  key: string;
  reason: string;
}

/** A backup a plan passed over when choosing, and why (damaged, failed its checksum, refused by the policy). */
export interface SkippedBackup {
  id: string;
  reason: string;
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
  /** The alarm that could not be delivered, and why (the check's outcome stands). */
  undeliveredNotice?: string;
}

/** What a long activity reports in its heartbeats; the CLI shows it as progress. */
export interface Progress {
  phase: string;
  bytes?: number;
  detail?: string;
}
