// The board's reads of Temporal for runs: Lifeboat's incidents and drills on its task queue (open
// ones and the most recent closed ones, by visibility), each open run's status query and its plan's,
// and the heartbeat details of the activity running now. A closed run never changes: it is read
// once and kept. Nothing here is called per viewer: only the poller calls it.
import { type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import type { Progress } from '../../common/backups.js';
import type { DrillResult } from '../../common/drills.js';
import type { RunStatus } from '../../common/plans.js';
import { currentStepSA, drillResultQuery, levelSA } from '../../workflows/messages.js';
import { SCHEDULED, runAndPlanStatus } from '../follow.js';
import { runResultOf } from '../run-result.js';
import { type ActivityProgress, type BoardRun, STALE_MS } from './snapshot.js';

const TYPES: Record<string, BoardRun['kind']> = { incidentWorkflow: 'incident', drillWorkflow: 'drill' };

/** How long the poll waits for a closed run's status (a query a worker must answer). */
const CLOSED_QUERY_MS = 10_000;

/** The promise's value, or undefined once `ms` have passed. */
function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const quoted = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export class RunReader {
  /** Closed runs, read once: by run id. */
  private readonly closed = new Map<string, BoardRun>();
  /** The last heartbeat seen of each workflow's activity: for the rate. */
  private readonly lastBeat = new Map<string, { bytes: number; at: number }>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly recent: number,
  ) {}

  /** Open runs (every one) and the `recent` newest closed ones, open first. */
  async read(now: number, problems: string[]): Promise<BoardRun[]> {
    const base = `TaskQueue = ${quoted(this.taskQueue)} AND (WorkflowType = 'incidentWorkflow' OR WorkflowType = 'drillWorkflow')`;
    const open = await this.list(`${base} AND ExecutionStatus = 'Running'`, Infinity);
    const closed = await this.list(`${base} AND ExecutionStatus != 'Running'`, this.recent);
    const runs = await Promise.all(open.map((wf) => this.openRun(wf, now, problems)));
    const ended = await Promise.all(closed.map((wf) => this.closedRun(wf, problems)));
    // Only what is still listed is kept: a board that runs for months holds `recent` closed runs, no more.
    const listed = new Set(closed.map((wf) => wf.runId));
    for (const key of this.closed.keys()) if (!listed.has(key)) this.closed.delete(key);
    const working = new Set(runs.flatMap((r) => [r.id, r.plan?.workflowId ?? '']));
    for (const key of this.lastBeat.keys()) if (!working.has(key)) this.lastBeat.delete(key);
    return [...runs, ...ended];
  }

  private async list(query: string, max: number): Promise<WorkflowExecutionInfo[]> {
    const found: WorkflowExecutionInfo[] = [];
    if (max <= 0) return found;
    for await (const wf of this.client.workflow.list({ query, pageSize: Math.min(100, Number.isFinite(max) ? max : 100) })) {
      found.push(wf);
      if (found.length >= max) break;
    }
    return found;
  }

  private base(wf: WorkflowExecutionInfo): BoardRun {
    const sa = wf.typedSearchAttributes;
    return {
      id: wf.workflowId,
      kind: TYPES[wf.type] ?? 'incident',
      open: wf.status.name === 'RUNNING',
      execution: wf.status.name.toLowerCase(),
      startedAt: wf.startTime.toISOString(),
      closedAt: wf.closeTime?.toISOString(),
      level: sa.get(levelSA) ?? undefined,
      currentStep: sa.get(currentStepSA) ?? undefined,
    };
  }

  /** The run's status and its plan's; before its first workflow task a run cannot answer yet. */
  private async statuses(id: string): Promise<{ status?: RunStatus; plan?: RunStatus }> {
    const { run: status, plan } = await runAndPlanStatus(this.client, this.client.workflow.getHandle(id));
    return { status, plan };
  }

  private async openRun(wf: WorkflowExecutionInfo, now: number, problems: string[]): Promise<BoardRun> {
    const run = { ...this.base(wf), ...(await this.statuses(wf.workflowId)) };
    if (!run.status) problems.push(`${run.id} does not answer its status query yet (no worker, or it has just started)`);
    // A drill's verdict is out before it ends (its improvements task may stay open for weeks).
    if (run.kind === 'drill' && run.status)
      run.drill = await this.client.workflow
        .getHandle(run.id)
        .query(drillResultQuery)
        .then((r) => r ?? undefined)
        .catch(() => undefined);
    // The plan's activity while the plan runs a step, else the run's own.
    const working = run.plan?.timeline.some((s) => s.status === 'running') ? run.plan.workflowId : run.id;
    run.progress = await this.progress(working, now).catch(() => undefined);
    return run;
  }

  private async closedRun(wf: WorkflowExecutionInfo, problems: string[]): Promise<BoardRun> {
    const key = wf.runId;
    const known = this.closed.get(key);
    if (known) return known;
    // A closed run answers queries only through a worker (it replays): with none, the poll does not wait for it.
    const read = await within(CLOSED_QUERY_MS, this.statuses(wf.workflowId));
    if (!read) problems.push(`${wf.workflowId} ended; its steps cannot be read without a worker (its report has them)`);
    const run: BoardRun = { ...this.base(wf), ...read };
    const handle = this.client.workflow.getHandle(wf.workflowId, wf.runId);
    try {
      if (run.kind === 'drill') run.drill = (await handle.result()) as DrillResult;
      else run.result = await runResultOf(handle);
    } catch (err) {
      // Terminated, timed out, or crashed: its execution status says how it ended.
      problems.push(`${run.id} ended ${run.execution} without a result: ${(err as Error).message}`);
    }
    this.closed.set(key, run);
    return run;
  }

  /** The running activity of a workflow, from its description's pending activities. */
  private async progress(workflowId: string, now: number): Promise<ActivityProgress | undefined> {
    const { raw } = await this.client.workflow.getHandle(workflowId).describe();
    const activity = raw.pendingActivities?.[0];
    if (!activity) return undefined;
    const payload = activity.heartbeatDetails?.payloads?.[0];
    const beat = payload ? defaultPayloadConverter.fromPayload<Progress>(payload) : undefined;
    const beatAt = optionalTsToMs(activity.lastHeartbeatTime);
    const waitingForWorker = activity.state === SCHEDULED;
    let rate: number | undefined;
    if (beat?.bytes !== undefined && beatAt !== undefined) {
      const last = this.lastBeat.get(workflowId);
      if (last && beatAt > last.at && beat.bytes >= last.bytes) rate = ((beat.bytes - last.bytes) * 1000) / (beatAt - last.at);
      if (!last || beatAt > last.at) this.lastBeat.set(workflowId, { bytes: beat.bytes, at: beatAt });
    }
    return {
      activity: activity.activityType?.name ?? 'activity',
      attempt: activity.attempt ?? 1,
      phase: beat?.phase,
      bytes: beat?.bytes,
      detail: beat?.detail,
      rate,
      lastHeartbeatAt: beatAt === undefined ? undefined : new Date(beatAt).toISOString(),
      stale: !waitingForWorker && beatAt !== undefined && now - beatAt > STALE_MS,
      waitingForWorker,
      lastFailure: activity.lastFailure?.message ?? undefined,
    };
  }
}
