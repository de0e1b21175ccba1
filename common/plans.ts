// Incidents and recovery plans: levels, the run's context, its timeline, the people's messages
// (votes, completions, aborts), the RTO result and what a plan returns. Types and constants only.
import type { TableFingerprint } from './backups.js';
import type { Moment } from './moments.js';
import type { Decision, Proof, ProofPolicy } from './proof.js';

/** What plan activities work on: a target's production database, or (drills) a test database standing in for it. */
export interface TargetRef {
  target: string;
  testDatabase?: string;
}

export type Level = 'L1' | 'L2' | 'L3' | 'L4';

/** The DR document's immediate answers, from which a level is triaged. */
export interface TriageAnswers {
  recordsAffected?: number;
  featureUnavailable?: boolean;
  systemDown?: boolean;
  dataLost?: boolean;
}

/** Who may approve what, from the worker's configuration when the run starts (RunPolicy). */
export interface ApprovalPolicy {
  /** Approvers of every gate of this level. */
  approvers: string[];
  /** Gate-specific lists, replacing `approvers` for that gate. */
  gates: Record<string, string[]>;
  /** Whether the person who declared the incident may approve its gates. */
  selfApproval: boolean;
  /**
   * Who may prove what (people's SSH keys, receivers that sign for Slack users), from the worker's
   * configuration. When present, every vote, completion and abort must carry a proof that verifies.
   */
  proof?: ProofPolicy;
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
  /** Every answer people gave this step (votes, the completion, an abort that arrived while it ran), as accepted. */
  decisions?: DecisionRecord[];
}

/** An accepted answer, on the record for an audit: who, when, what they wrote, and the key that proved them. */
export interface DecisionRecord {
  decision: Decision;
  by: string;
  /** When the run accepted it. */
  at: string;
  /** The reason or note. */
  text?: string;
  /** The key's fingerprint ("SHA256:…"), when the run's policy asks for proofs. */
  fingerprint?: string;
  /** The receiver's user id, when a receiver (Slack) signed for the person. */
  via?: string;
  signedAt?: string;
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
  /** The voter's signature over this vote (common/proof.ts): decision "approve" or "reject". */
  proof?: Proof;
}

export interface Completion {
  task: string;
  by: string;
  note?: string;
  /** Options the task offers (e.g. "rollback", "restore" when confirming an L2's cause). */
  choices?: string[];
  /** The person's signature over this completion: decision "complete", text the note. */
  proof?: Proof;
}

export interface AbortRequest {
  by: string;
  reason: string;
  /** The person's signature over this abort: item "run", decision "abort", text the reason. */
  proof?: Proof;
}

interface WaitingBase {
  name: string;
  prompt: string;
  since: string;
}

/** An approval gate waiting for votes: who may vote, how many distinct approvals are needed, who approved so far. */
export interface ApprovalItem extends WaitingBase {
  kind: 'approval';
  approvers: string[];
  required: number;
  approvedBy: string[];
  request: ApprovalRequest;
  deadline?: never;
}

/** A human task waiting to be marked done; the approval fields are absent, so code holding either kind may read them. */
export interface TaskItem extends WaitingBase {
  kind: 'human';
  deadline?: string;
  approvers?: never;
  required?: never;
  approvedBy?: never;
  request?: never;
}

/** A gate or task a run waits on, as clients see it in the status query. */
export type WaitingItem = ApprovalItem | TaskItem;

/** While the clock runs, how much of the RTO is used; once the run ended, its verdict. */
export type RtoStatus = 'on-track' | 'warning' | 'critical' | 'breached' | RtoVerdict;

/**
 * Met or missed: the run recovered, within the RTO or after it. A run that did not recover (failed,
 * rejected, aborted) has no recovery time to judge: "not-recovered". Results recorded before that
 * verdict existed say "missed" for such runs; common/rto.ts reads them by their outcome.
 */
export type RtoVerdict = 'met' | 'missed' | 'not-recovered';

export interface RtoResult {
  targetMs: number;
  deadline: string;
  /** From the declaration to the run's end: the recovery time when it recovered. */
  actualMs: number;
  /** The deadline minus the run's end: a margin only for a run that recovered. */
  marginMs: number;
  verdict: RtoVerdict;
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
  /** The restore points made before the run's destructive steps (physical targets). */
  restorePoints?: RestorePointRecord[];
  /** Where the recovered data now is, when not the target's own database (L3/L4 restore into a new one). */
  database?: string;
  /** The recovered database's tables as the plan's own verification measured them (L3/L4; at a moment, only in runs begun before it counted them). */
  fingerprints?: Record<string, TableFingerprint>;
  /** L3/L4 at a moment: each table's rows as the plan's verification counted them. */
  tableRows?: Record<string, number>;
  /** L3/L4 at a moment: the cluster recovered into a new data directory, kept running for the cut-over. */
  recoveredCluster?: RecoveredClusterRef;
  /** Changes committed to the target before a plan that did not recover stopped (they stay applied). */
  committed?: string[];
}

/** Where a cluster recovered to a moment runs (on the database server), and what it holds. */
export interface RecoveredClusterRef {
  host: string;
  port: number;
  dataDir: string;
  database: string;
  /** The moment its data is as of. */
  recoveredTo: string;
}

/** L1: which records to bring back, and from before when. */
export interface RecordSelection {
  /** The table: `table` in public, `schema.table` elsewhere (or as SQL writes it: `billing."Invoices"`); a partitioned table's parent. */
  table: string;
  /** Values of a one-column key of the rows to bring back, or `keyTuples`, or `filter` expressions such as "status=lost". */
  keys?: string[];
  /** Keys of any shape, one per row: column → value, every column of the table's key (`--key customer_id=5,order_id=17`). */
  keyTuples?: Array<Record<string, string>>;
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
  /**
   * L1: the rows as they were at this moment, from a point-in-time restore (pgBackRest) instead of a
   * logical backup; L3/L4: the whole cluster recovered to it into a new data directory.
   */
  moment?: Moment;
  /** The target has physical backups (pgBackRest): a restore point is made before each destructive step. */
  physical?: boolean;
}

/** A restore point made before a destructive step: `declare --before-restore-point <name>` undoes the step. */
export interface RestorePointRecord {
  step: string;
  name: string;
  lsn: string;
  createdAt: string;
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
  /**
   * Runs started before the worker owned the policy carried the client's RTOs and approvers here;
   * newer clients leave them out and the run reads the worker's (RunPolicy).
   */
  rtoMs?: Record<Level, number>;
  approvals?: Record<Level, ApprovalPolicy>;
  freezeWrites?: boolean;
  options: PlanOptions;
}

/** The RTO targets and approval policies of every level, from the worker's configuration, read when a run starts. */
export interface RunPolicy {
  rtoMs: Record<Level, number>;
  approvals: Record<Level, ApprovalPolicy>;
}

export const L1_RECORD_LIMIT = 10;

/** The refusal of an L1 of more records than the DR document's L1 covers: one home for its words. */
export function tooManyRecords(count: number, table: string, how = 'are affected'): string {
  return `${count} ${table} rows ${how}: more than ${L1_RECORD_LIMIT} records is not an L1 — declare an L2 (table restore), or ask an approver to allow it with --override-record-limit`;
}

/**
 * The refusal of a selection that names more records by key (values and tuples together) than an
 * L1 may restore without an override; undefined when it may go on (a filter is counted once staged).
 */
export function recordLimitRefusal(selection: RecordSelection): string | undefined {
  const named = (selection.keys?.length ?? 0) + (selection.keyTuples?.length ?? 0);
  return named > L1_RECORD_LIMIT && !selection.overrideRecordLimit ? tooManyRecords(named, selection.table, 'are named') : undefined;
}
