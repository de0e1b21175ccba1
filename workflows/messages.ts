// Types and messages shared by workflows, activities and clients. Imports nothing with side
// effects, so the workflow bundle and the CLI can both use it.
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';

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
  /** Set when only these tables were dumped (a safety snapshot before a table restore). */
  onlyTables?: string[];
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
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${target}-${stamp}`;
}

export interface ParsedBackupId {
  id: string;
  target: string;
  startedAt: Date;
  /** YYYY-MM-DD, the folder the backup lives in. */
  day: string;
}

/** Input refused before anything runs; the CLI exits 2 on it. */
export class InputError extends Error {
  override name = 'InputError';
}

export class BackupIdError extends InputError {
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

// ───────────────────────────── Incidents and recovery plans ─────────────────────────────

export type Level = 'L1' | 'L2' | 'L3' | 'L4';
export const LEVELS: readonly Level[] = ['L1', 'L2', 'L3', 'L4'];

/** The DR document's immediate answers, from which a level is triaged. */
export interface TriageAnswers {
  recordsAffected?: number;
  featureUnavailable?: boolean;
  systemDown?: boolean;
  dataLost?: boolean;
}

/** Who may approve what, taken from the configuration when the incident is declared. */
export interface ApprovalPolicy {
  /** Approvers of every gate of this level. */
  approvers: string[];
  /** Gate-specific lists, replacing `approvers` for that gate. */
  gates: Record<string, string[]>;
  /** Whether the person who declared the incident may approve its gates. */
  selfApproval: boolean;
}

export interface RunContext {
  incidentId: string;
  level: Level;
  target: string;
  summary: string;
  declaredBy: string;
  /** ISO time the incident was declared: the RTO clock starts here, maybe before the run. */
  declaredAt: string;
  rtoMs: number;
  approvals: ApprovalPolicy;
  /** The notifier's thread this run posts into (a plan posts into its incident's or drill's thread). */
  thread?: string;
  /**
   * Drills only: the plan works on this isolated test database (named lifeboat_drill_…, on the
   * drill's test server) instead of the target's production database.
   */
  testDatabase?: string;
  /** Drills only: gates and tasks are answered at once by this identity instead of waiting for people. */
  actAs?: string;
}

export type StepKind = 'automated' | 'human' | 'approval' | 'notification';
export type StepStatus = 'running' | 'waiting' | 'done' | 'failed' | 'rejected' | 'skipped' | 'aborted';

export interface StepRecord {
  name: string;
  kind: StepKind;
  status: StepStatus;
  startedAt: string;
  finishedAt?: string;
  actor?: string;
  detail?: string;
}

/** What an approver is shown: exactly what will change, and what protects it. */
export interface ApprovalRequest {
  title: string;
  database: string;
  tables: string[];
  /** Rows that will be written, by table, and any further effect in words. */
  changes: string[];
  backup?: { id: string; startedAt: string; ageMs: number };
  /** Data written after this backup and before the incident is lost: incident time − backup time. */
  dataLossWindowMs?: number;
  snapshot?: string;
}

export interface Vote {
  gate: string;
  by: string;
  reason?: string;
}

export interface Completion {
  task: string;
  by: string;
  note?: string;
  /** Options the task offers (e.g. "rollback", "restore" when confirming an L2's cause). */
  choices?: string[];
}

export interface AbortRequest {
  by: string;
  reason: string;
}

export interface WaitingItem {
  kind: 'approval' | 'human';
  name: string;
  prompt: string;
  since: string;
  /** For approvals: who may vote, how many distinct approvals are needed, who approved so far. */
  approvers?: string[];
  required?: number;
  approvedBy?: string[];
  request?: ApprovalRequest;
  deadline?: string;
}

export type RtoStatus = 'on-track' | 'warning' | 'critical' | 'breached' | 'met' | 'missed';

export interface RtoResult {
  targetMs: number;
  deadline: string;
  actualMs: number;
  marginMs: number;
  verdict: 'met' | 'missed';
  /** Incident time minus the time of the backup used, when a backup was used. */
  rpoAchievedMs?: number;
}

export type Outcome = 'recovered' | 'rejected' | 'aborted' | 'failed';

export interface RunStatus {
  context: RunContext;
  workflowId: string;
  timeline: StepRecord[];
  waiting: WaitingItem[];
  rtoStatus: RtoStatus;
  /** The plan running as a child of the incident, to which its approvals are sent. */
  childWorkflowId?: string;
  outcome?: Outcome;
  rto?: RtoResult;
  backupUsed?: { id: string; startedAt: string };
}

/** What a finished plan (or incident) leaves: its outcome and everything needed for the report. */
export interface RunResult {
  outcome: Outcome;
  detail: string;
  timeline: StepRecord[];
  backupUsed?: { id: string; startedAt: string };
  rto?: RtoResult;
  reportKeys?: string[];
  /** Where the recovered data now is, when not the target's own database (L3/L4 restore into a new one). */
  database?: string;
  /** The recovered database's tables as the plan's own verification measured them (L3/L4). */
  fingerprints?: Record<string, TableFingerprint>;
}

export const approveUpdate = defineUpdate<WaitingItem | null, [Vote]>('approve');
export const rejectUpdate = defineUpdate<void, [Vote]>('reject');
export const completeUpdate = defineUpdate<void, [Completion]>('complete');
export const abortUpdate = defineUpdate<void, [AbortRequest]>('abort');
export const statusQuery = defineQuery<RunStatus>('status');

export const incidentIdSA = defineSearchAttributeKey('LifeboatIncidentId', SearchAttributeType.KEYWORD);
export const levelSA = defineSearchAttributeKey('LifeboatLevel', SearchAttributeType.KEYWORD);
export const currentStepSA = defineSearchAttributeKey('LifeboatCurrentStep', SearchAttributeType.KEYWORD);
export const rtoStatusSA = defineSearchAttributeKey('LifeboatRtoStatus', SearchAttributeType.KEYWORD);
/** The search attributes the server must know; `lifeboat dev` and the test harness register them. */
export const SEARCH_ATTRIBUTES = [incidentIdSA, levelSA, currentStepSA, rtoStatusSA];

// Drills run the same plans, so their gates and tasks are answered the same way.
const RUN_ID = /^(inc|drill)-\d{8}-\d{6}-[a-z0-9]{4}$/;

/** An incident id, or a drill's: both name a run whose gates and tasks people answer. */
export function assertIncidentId(id: string): void {
  if (!RUN_ID.test(id))
    throw new InputError(
      `"${id}" is not an incident id: expected inc-YYYYMMDD-HHMMSS-xxxx, or drill-YYYYMMDD-HHMMSS-xxxx for a drill (run "lifeboat list" or "lifeboat drills")`,
    );
}

/** L1: which records to bring back, and from before when. */
export interface RecordSelection {
  table: string;
  /** Primary-key values of the rows to bring back, or `filter` expressions such as "status=lost". */
  keys?: string[];
  filter?: string[];
  /** Also bring back rows of tables referencing these (a lead's activities, notes, reminders). */
  includeChildren?: boolean;
  /** ISO time before which the data was good: the backup used is the newest verified one before it. */
  goodBefore: string;
  /** More than 10 records is an L2; with this an approver may still allow an L1. */
  overrideRecordLimit?: boolean;
}

export interface PlanOptions {
  record?: RecordSelection;
  /** L2: the table that may need restoring. */
  table?: string;
  /** L3: restore into the production database itself instead of a new one. */
  inPlace?: boolean;
}

export interface PlanInput {
  context: RunContext;
  options: PlanOptions;
}

export interface IncidentInput {
  incidentId: string;
  target: string;
  summary: string;
  declaredBy: string;
  declaredAt: string;
  level?: Level;
  triage?: TriageAnswers;
  /** From the configuration at declaration: RTO and approvers of every level. */
  rtoMs: Record<Level, number>;
  approvals: Record<Level, ApprovalPolicy>;
  freezeWrites?: boolean;
  options: PlanOptions;
}

export const L1_RECORD_LIMIT = 10;

// ───────────────────────────── The quarterly drill ─────────────────────────────

/** What a drill does to its test database before the real plan runs. */
export type ScenarioKind = 'delete-rows' | 'truncate-table' | 'lose-database';

/** The scenario each level rehearses: the plan must be able to mend it. */
export const SCENARIO_OF: Record<Level, ScenarioKind> = {
  L1: 'delete-rows',
  L2: 'truncate-table',
  L3: 'lose-database',
  L4: 'lose-database',
};

export interface DrillInput {
  /** drill-YYYYMMDD-HHMMSS-xxxx; made from the start time when absent (scheduled drills). */
  drillId?: string;
  /** Default: drill.target, or the only configured target. */
  target?: string;
  /** Default: drill.level. */
  level?: Level;
  /** Default: the level's scenario, with drill.records and drill.table. */
  scenario?: { kind?: ScenarioKind; records?: number; table?: string };
  /** Who started it ("schedule" for the quarterly one). */
  requestedBy?: string;
}

/** Everything a drill needs from the worker's configuration, fixed when it starts. */
export interface DrillSettings {
  target: string;
  level: Level;
  scenario: { kind: ScenarioKind; records: number; table?: string };
  rtoMs: number;
  rpoMs: number;
  /** Set unless drill.approvals is "human": the plan's gates and tasks are answered by this identity. */
  actAs?: string;
  approvers: string[];
  gates: Record<string, string[]>;
  selfApproval: boolean;
  improvementsDeadlineMs?: number;
}

/** The backup a drill recovers from, and the reference every table is compared with afterwards. */
export interface DrillBackup {
  backup: { id: string; startedAt: string };
  /** Row counts of the manifest. */
  manifestTables: Record<string, number>;
  /** Per-table fingerprints recorded when the backup was verified. */
  verified: Record<string, TableFingerprint>;
  /** Newer backups passed over, and why (a checksum that no longer verifies). */
  skipped: { id: string; reason: string }[];
}

export interface TableCheck {
  table: string;
  rows?: number;
  expectedRows?: number;
  checksum: 'match' | 'differs' | 'missing' | 'no reference';
}

/** What `lifeboat drills` lists and the trend table is made of; stored in the drill's report. */
export interface DrillRecord {
  drillId: string;
  target: string;
  level: Level;
  scenario: string;
  verdict: 'passed' | 'failed';
  /** When the scenario ended: "the incident" started then. */
  declaredAt?: string;
  recoveryMs?: number;
  rtoMs: number;
  rtoVerdict: 'met' | 'missed' | 'not measured';
  rpoMs: number;
  rpoAchievedMs?: number;
  rpoVerdict: 'met' | 'missed' | 'not measured';
  backup?: { id: string; startedAt: string };
  testDatabase: string;
  /** Where the plan left the recovered data (the test database, or the new one an L3/L4 restored into). */
  recoveredDatabase?: string;
  tables: TableCheck[];
  criticalChecks: string[];
  improvements: string;
  /** Earlier drills of the target and this one, oldest first. */
  trend: TrendRow[];
}

export interface TrendRow {
  /** 2026-Q1 */
  quarter: string;
  drillId: string;
  date: string;
  level: Level;
  recoveryMs?: number;
  rtoMs: number;
  verdict: 'passed' | 'failed';
}

export interface DrillResult {
  drillId: string;
  verdict: 'passed' | 'failed';
  record: DrillRecord;
  findings: { check: string; detail: string }[];
  reportKeys?: string[];
}

/** The drill's verdict as soon as it is known (the optional improvements task may still be open). */
export const drillResultQuery = defineQuery<DrillResult | undefined>('drillResult');

const DRILL_ID = /^drill-\d{8}-\d{6}-[a-z0-9]{4}$/;

/** drill-YYYYMMDD-HHMMSS-xxxx, from a UTC time and four lower-case letters or digits. */
export function drillIdFor(at: Date, suffix: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `drill-${stamp}-${suffix}`;
}

export function assertDrillId(id: string): void {
  if (!DRILL_ID.test(id)) throw new InputError(`"${id}" is not a drill id: expected drill-YYYYMMDD-HHMMSS-xxxx (run "lifeboat drills")`);
}

/** The isolated test database of a drill: lifeboat_drill_<target>_<drill time and suffix>, within PostgreSQL's 63 bytes. */
export function testDatabaseFor(target: string, drillId: string): string {
  const short = drillId.replace(/^drill-/, '').replace(/-/g, '_');
  return `lifeboat_drill_${target.replace(/[^a-z0-9]/g, '_').slice(0, 24)}_${short}`;
}
