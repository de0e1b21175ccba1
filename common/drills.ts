// The quarterly drill: its input, the settings fixed when it starts, and what it records. Types
// and constants only.
import type { TableFingerprint } from './backups.js';
import type { Level } from './plans.js';
import type { ProofPolicy } from './proof.js';

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
  /** When people answer (drill.approvals "human") and people are enrolled: the keys that prove them. */
  proof?: ProofPolicy;
  improvementsDeadlineMs?: number;
  /** drill.pointInTime: also rehearse a point-in-time recovery (physical targets; writes marker rows on production). */
  pointInTime?: boolean;
}

/** The point-in-time rehearsal's verdict: markers deleted on production brought back by an L1 at the moment before. */
export interface PointInTimeRehearsal {
  verdict: 'passed' | 'failed' | 'skipped';
  detail: string;
  /** The moment the L1 recovered to (just before the deleting transaction's commit). */
  recoveredTo?: string;
  /** The deletion's end minus the moment recovered to: the data a recovery to that moment loses. */
  rpoAchievedMs?: number;
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
  /** "not achieved": the plan did not recover, so there is no recovery time to hold against the RTO. */
  rtoVerdict: 'met' | 'missed' | 'not achieved' | 'not measured';
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
  /** With drill.pointInTime: the point-in-time rehearsal. */
  pointInTime?: PointInTimeRehearsal;
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
