// What the board knows at one moment: everything its pages and event streams show, read by the
// poller (poller.ts) from Temporal and the store. Pages render from a snapshot only, so however
// many people watch, Temporal and the store are read once per interval. Types and pure views.
import type { DrillResult, TrendRow } from '../../common/drills.js';
import type { RunResult, RunStatus } from '../../common/plans.js';

/** What the running activity reports in its heartbeats (activities/heartbeat.ts), and how fresh that is. */
export interface ActivityProgress {
  activity: string;
  attempt: number;
  phase?: string;
  bytes?: number;
  detail?: string;
  /** Bytes per second between the last two heartbeats this board saw. */
  rate?: number;
  lastHeartbeatAt?: string;
  /** No heartbeat for longer than STALE_MS while the activity runs. */
  stale: boolean;
  /** Scheduled and taken by no worker (yet, or again after a failed attempt). */
  waitingForWorker: boolean;
  lastFailure?: string;
}

/** A heartbeat older than this, of an activity that heartbeats, is flagged: its worker may be gone. */
export const STALE_MS = 30_000;

export interface BoardRun {
  /** The incident's or drill's workflow id (its incident or drill id). */
  id: string;
  kind: 'incident' | 'drill';
  open: boolean;
  /** The workflow execution's status, lower case: running, completed, failed, terminated, … */
  execution: string;
  startedAt: string;
  closedAt?: string;
  level?: string;
  currentStep?: string;
  /** The run's own status (its query), and its plan's once one runs. */
  status?: RunStatus;
  plan?: RunStatus;
  /** An incident's result once closed. */
  result?: RunResult;
  /** A drill's result once closed (or its verdict once published). */
  drill?: DrillResult;
  progress?: ActivityProgress;
}

export interface TargetView {
  name: string;
  store: string;
  newestVerified?: { id: string; startedAt: string };
  maxAgeMs: number;
  /** Why the store could not be read, when it could not. */
  storeProblem?: string;
  /** Next run time of the target's schedules (lifeboat-<kind>-<target>), ISO. */
  next: { backup?: string; verify?: string; drill?: string };
  /** The drills of this target, oldest first. */
  drills: TrendRow[];
}

export interface Snapshot {
  /** Increases with every poll: the id of the event streams' messages. */
  seq: number;
  /** When the snapshot was read (epoch ms): clocks on the pages count to it. */
  now: number;
  runs: BoardRun[];
  targets: TargetView[];
  /** Ids that have a report in the store. */
  reports: string[];
  /** What could not be read in the last poll (shown on the overview, never hidden). */
  problems: string[];
}

export const emptySnapshot = (): Snapshot => ({ seq: 0, now: Date.now(), runs: [], targets: [], reports: [], problems: [] });

/** The RTO clock of a run at `now`: the band its colour and label show. */
export interface RtoView {
  declaredAt: string;
  rtoMs: number;
  deadline: number;
  elapsedMs: number;
  leftMs: number;
  /** Share of the RTO used, 0.42 = 42 %. */
  share: number;
  band: 'ok' | 'warning' | 'critical' | 'breached';
  label: string;
}

/** Counts from the declaration, like the plan's RTO clock (workflows/engine/rto-clock.ts): bands at 50 %, 80 % and 100 %. */
export function rtoView(status: RunStatus, now: number): RtoView {
  const { declaredAt, rtoMs } = status.context;
  const declared = Date.parse(declaredAt);
  const elapsedMs = Math.max(0, now - declared);
  const share = elapsedMs / rtoMs;
  const band = share >= 1 ? 'breached' : share >= 0.8 ? 'critical' : share >= 0.5 ? 'warning' : 'ok';
  const label = { ok: 'on track', warning: 'warning: over 50 % used', critical: 'critical: over 80 % used', breached: 'RTO breached' }[
    band
  ];
  return { declaredAt, rtoMs, deadline: declared + rtoMs, elapsedMs, leftMs: declared + rtoMs - now, share, band, label };
}

/** The run whose clock counts: an incident's own; a drill's plan, timed from the simulated loss (the drill itself has none). */
export const clockedRun = (run: BoardRun): RunStatus | undefined => (run.kind === 'drill' ? run.plan : run.status);

/** What the run and its plan wait for, plan first. */
export const waitingOf = (run: BoardRun) => [...(run.plan?.waiting ?? []), ...(run.status?.waiting ?? [])];

/** The step running or waiting now, plan first (its steps are the detail of the incident's). */
export function currentStep(run: BoardRun): string | undefined {
  for (const status of [run.plan, run.status]) {
    const open = status?.timeline.filter((s) => s.status === 'running' || s.status === 'waiting').at(-1);
    if (open) return open.name;
  }
  return run.currentStep;
}
