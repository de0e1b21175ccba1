// The incident commander's side: declare, follow, approve, complete, abort, list, report.
import {
  type Client,
  type WorkflowHandle,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { LifeboatConfig } from '../config/config.js';
import {
  type IncidentInput,
  type Level,
  type PlanOptions,
  type RecordSelection,
  recordLimitRefusal,
  type RunStatus,
  type StepRecord,
  type TriageAnswers,
  type Vote,
  type WaitingItem,
} from '../common/plans.js';
import { FailureType, InputError } from '../common/errors.js';
import { rpoSummary, rtoSummary } from '../common/rto.js';
import { formatDuration } from '../common/time.js';
import {
  abortUpdate,
  approveUpdate,
  completeUpdate,
  currentStepSA,
  incidentIdSA,
  levelSA,
  rejectUpdate,
  rtoStatusSA,
  statusQuery,
} from '../workflows/messages.js';
import { assertIncidentId } from '../common/names.js';
import type { checkSelectionWorkflow, incidentWorkflow } from '../workflows/index.js';
import { triage } from '../workflows/triage.js';
import { CliError } from './cli-process.js';
import { incidentStatus } from './incident-status.js';
import { runResultOf } from './run-result.js';
import { table } from './format.js';
import { answerTo } from './sign.js';

export function whoAmI(given?: string): string {
  return given ?? process.env.LIFEBOAT_USER ?? userInfo().username;
}

function newIncidentId(at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `inc-${stamp}-${randomBytes(2).toString('hex')}`;
}

export interface DeclareRequest {
  target: string;
  summary: string;
  declaredBy: string;
  declaredAt?: string;
  level?: Level;
  triage?: TriageAnswers;
  freezeWrites?: boolean;
  options: PlanOptions;
}

/**
 * The incident's input. RTOs and approvers are not sent: the run takes them from the worker's
 * configuration, so the client's (`_config`, kept for callers) cannot change who approves.
 */
export function incidentInput(request: DeclareRequest, now = Date.now()): IncidentInput {
  if (!request.summary.trim()) throw new InputError('an incident needs a summary (--summary "what happened")');
  const declaredAt = request.declaredAt ?? new Date(now).toISOString();
  if (Number.isNaN(Date.parse(declaredAt)) || Date.parse(declaredAt) > now + 60_000) {
    throw new InputError(`--declared-at "${request.declaredAt}" is not a past ISO time such as 2026-11-22T09:15:00Z`);
  }
  if (!request.level && !Object.values(request.triage ?? {}).some((v) => v !== undefined && v !== false)) {
    throw new InputError('give the level (--level L1..L4) or the triage answers (--records N, --feature-down, --system-down, --data-lost)');
  }
  return {
    incidentId: newIncidentId(new Date(now)),
    target: request.target,
    summary: request.summary,
    declaredBy: request.declaredBy,
    declaredAt: new Date(declaredAt).toISOString(),
    level: request.level,
    triage: request.triage,
    freezeWrites: request.freezeWrites,
    options: request.options,
  };
}

export async function declare(client: Client, config: LifeboatConfig, input: IncidentInput): Promise<void> {
  const { record } = input.options;
  // An L1 (declared, or by triage) of more records than an L1 covers is refused before anything starts.
  const triaged = Object.values(input.triage ?? {}).some((v) => v !== undefined && v !== false);
  const level = input.level ?? (triaged ? triage(input.triage!).level : undefined);
  const refusal = level === 'L1' && record ? recordLimitRefusal(record) : undefined;
  if (refusal) throw new InputError(`${refusal} — nothing was declared`);
  if (record) await checkSelection(client, config, input.target, record);
  await client.workflow.start<typeof incidentWorkflow>('incidentWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId: input.incidentId,
    args: [input],
    typedSearchAttributes: [
      { key: incidentIdSA, value: input.incidentId },
      { key: levelSA, value: input.level ?? 'triage' },
    ],
  });
}

/** Refuses (InputError: exit 2) records that cannot be chosen as given, before anything is declared. */
async function checkSelection(client: Client, config: LifeboatConfig, target: string, selection: RecordSelection): Promise<void> {
  try {
    await client.workflow.execute<typeof checkSelectionWorkflow>('checkSelectionWorkflow', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `check-selection-${randomBytes(6).toString('hex')}`,
      args: [{ target, selection }],
      // A worker answers in seconds; none polling must not hang the declaration.
      workflowExecutionTimeout: '2m',
    });
  } catch (err) {
    // The activity's refusal, however Temporal wrapped it (a local activity's and a remote one's differ).
    let cause: unknown = err instanceof WorkflowFailedError ? err.cause : undefined;
    const refusal = (e: unknown): e is ApplicationFailure =>
      e instanceof ApplicationFailure && (e.type === FailureType.input || e.type === FailureType.config);
    while (cause instanceof Error && !refusal(cause)) cause = cause.cause;
    if (refusal(cause)) {
      throw new InputError(`${cause.message} — nothing was declared`);
    }
    throw err;
  }
}

/** The run (plan or incident) where a named gate or task is waiting, or the only one waiting; `runs` ends with the incident. */
function findWaiting(runs: RunStatus[], kind: WaitingItem['kind'], name: string | undefined): { run: RunStatus; item: WaitingItem } {
  const candidates = runs.flatMap((run) => run.waiting.filter((w) => w.kind === kind).map((item) => ({ run, item })));
  const what = kind === 'approval' ? 'gate' : 'task';
  if (!candidates.length) {
    // Nothing of this kind waits: say what the incident is doing instead.
    const incident = runs[runs.length - 1]!;
    if (incident.outcome)
      throw new CliError(`incident ${incident.context.incidentId} has already ended (${incident.outcome}): no ${what} is waiting`, 1);
    const others = runs.flatMap((r) => r.waiting).map((w) => `${w.kind === 'approval' ? 'gate' : 'task'} "${w.name}"`);
    throw new CliError(
      `no ${what}${name ? ` "${name}"` : ''} is waiting: the incident is waiting for ${others.join(', ') || 'nothing (a step is running: see lifeboat status)'}`,
      1,
    );
  }
  if (name) {
    const found = candidates.find((c) => c.item.name === name);
    if (found) return found;
  } else if (candidates.length === 1) return candidates[0]!;
  const open = candidates.map((c) => c.item.name).join(', ') || 'none';
  throw new CliError(
    name ? `no ${what} "${name}" is waiting (waiting ${what}s: ${open})` : `name the ${what} (--${what} …): waiting ${what}s: ${open}`,
    1,
  );
}

async function sendUpdate<A>(run: () => Promise<A>): Promise<A> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new CliError(`refused: ${err.cause?.message ?? err.message}`, 1);
    throw err;
  }
}

/** Who answers, and the key file that signs for them (client/sign.ts keyFileFor). */
export interface Answerer {
  by: string;
  keyFile: string;
  /** The moment the answer is signed, when not now: a time-skipping test's clock. */
  signedAt?: Date;
}

export async function vote(
  client: Client,
  incidentId: string,
  decision: 'approve' | 'reject',
  vote: Answerer & { gate?: string; reason?: string },
): Promise<string> {
  const { incident, plan } = await incidentStatus(client, incidentId);
  const { run, item } = findWaiting(
    [plan, incident].filter((r): r is RunStatus => !!r),
    'approval',
    vote.gate,
  );
  const { by, reason } = vote;
  const { handle, proof } = await answerTo(client.workflow, run.workflowId, { item: item.name, decision, by, text: reason }, vote.keyFile);
  const args: [Vote] = [{ gate: item.name, by, reason, proof }];
  if (decision === 'reject') {
    await sendUpdate(() => handle.executeUpdate(rejectUpdate, { args }));
    return `✔ ${by} rejected "${item.name}": nothing is changed; the plan stops`;
  }
  const remaining = await sendUpdate(() => handle.executeUpdate(approveUpdate, { args }));
  return remaining
    ? `✔ ${by} approved "${item.name}" (${remaining.approvedBy!.length} of ${remaining.required}); still needs ${remaining.required! - remaining.approvedBy!.length} more from: ${remaining.approvers!.filter((a) => !remaining.approvedBy!.includes(a)).join(', ')}`
    : `✔ ${by} approved "${item.name}": the plan goes on`;
}

export async function complete(
  client: Client,
  incidentId: string,
  completion: Answerer & { task?: string; note?: string; choices?: string[] },
): Promise<string> {
  const { incident, plan } = await incidentStatus(client, incidentId);
  const { run, item } = findWaiting(
    [plan, incident].filter((r): r is RunStatus => !!r),
    'human',
    completion.task,
  );
  const { by, note, choices, keyFile } = completion;
  const { handle, proof } = await answerTo(
    client.workflow,
    run.workflowId,
    { item: item.name, decision: 'complete', by, text: note },
    keyFile,
  );
  await sendUpdate(() => handle.executeUpdate(completeUpdate, { args: [{ task: item.name, by, note, choices, proof }] }));
  return `✔ task "${item.name}" done by ${by}`;
}

/** How a closed run ended, as its result says (completed or failed alike), else as its execution closed. */
async function endedAs(handle: WorkflowHandle, closedAs: string): Promise<string> {
  return runResultOf(handle).then(
    (r) => r.outcome,
    () => closedAs.toLowerCase(),
  );
}

/**
 * The run an abort reaches now: the plan while its execution runs, else the incident while its
 * execution runs and it has not finished (waiting on its review, say). A plan's status never
 * carries an outcome (only the incident measures one), so whether it can still act is read from
 * its execution, not its status.
 */
async function abortTarget(client: Client, incidentId: string): Promise<string> {
  assertIncidentId(incidentId);
  const incident = client.workflow.getHandle(incidentId);
  const described = await incident.describe().catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no incident ${incidentId} (run "lifeboat list")`, 2);
    throw err;
  });
  const ended = (outcome: string) => new CliError(`incident ${incidentId} has already ended (${outcome})`, 1);
  if (described.status.name !== 'RUNNING') throw ended(await endedAs(incident, described.status.name));
  const status = await incident.query(statusQuery);
  if (status.outcome) throw ended(status.outcome);
  if (!status.childWorkflowId) return incidentId;
  const plan = await client.workflow
    .getHandle(status.childWorkflowId)
    .describe()
    .catch(() => undefined);
  return plan?.status.name === 'RUNNING' ? status.childWorkflowId : incidentId;
}

/**
 * Asks the run to stop at its next safe point: the plan while one runs (the incident then ends
 * as aborted on its own), otherwise the incident itself. A plan that ends between the look and
 * the abort is looked at again, so the abort goes to the incident instead.
 */
export async function abort(client: Client, incidentId: string, request: Answerer & { reason: string }): Promise<string> {
  const { by, reason, keyFile, signedAt } = request;
  for (let attempt = 1; ; attempt++) {
    const workflowId = await abortTarget(client, incidentId);
    try {
      const { handle, proof } = await answerTo(
        client.workflow,
        workflowId,
        { item: 'run', decision: 'abort', by, text: reason },
        keyFile,
        signedAt,
      );
      await sendUpdate(() => handle.executeUpdate(abortUpdate, { args: [{ by, reason, proof }] }));
      return `✔ abort requested by ${by}: the run stops at its next safe point and removes what it staged`;
    } catch (err) {
      // "workflow execution already completed": the run closed meanwhile; the next look finds who is left.
      if (!(err instanceof WorkflowNotFoundError) || attempt >= 3) throw err;
    }
  }
}

function stepRows(steps: StepRecord[], indent: string): string[][] {
  return steps.map((s) => [
    `${indent}${s.name}`,
    s.kind,
    s.status,
    s.startedAt.slice(11, 19),
    s.finishedAt ? formatDuration(Date.parse(s.finishedAt) - Date.parse(s.startedAt)) : '…',
    s.actor ?? '',
    (s.detail ?? '').replace(/\s+/g, ' ').slice(0, 90),
  ]);
}

/** The incident's RTO in one line: the clock while it runs; once it ended, as its report says it (common/rto.ts). */
export function rtoLine(incident: RunStatus, now = Date.now()): string {
  const c = incident.context;
  const declared = Date.parse(c.declaredAt);
  const deadline = declared + c.rtoMs;
  const { rto, outcome } = incident;
  if (rto && outcome) {
    const rpo = rpoSummary(rto, outcome);
    return `${rtoSummary(rto, outcome)}${rpo ? `; ${rpo}` : ''}`;
  }
  return `RTO clock: ${formatDuration(now - declared)} of ${formatDuration(c.rtoMs)} used, ${formatDuration(deadline - now)} left (deadline ${new Date(deadline).toISOString()}) — ${incident.rtoStatus}`;
}

/** The exact commands that answer a waiting gate (approve, reject) or task (complete). */
export function answerCommands(incidentId: string, w: WaitingItem): string[] {
  return w.kind === 'approval'
    ? [
        `lifeboat approve ${incidentId} --gate ${w.name} --as <you>`,
        `lifeboat reject ${incidentId} --gate ${w.name} --as <you> --reason "…"`,
      ]
    : [`lifeboat complete ${incidentId} --task ${w.name} --as <you> --note "…"`];
}

/** The screen `lifeboat status` shows: who declared what, the RTO clock, the timeline, who is awaited. */
export function renderStatus({ incident, plan }: { incident: RunStatus; plan?: RunStatus }, now = Date.now()): string {
  const c = incident.context;
  const lines = [
    `${c.incidentId}  ${c.level}  target ${c.target}  — ${c.summary}`,
    `declared by ${c.declaredBy} at ${c.declaredAt}`,
    rtoLine(incident, now),
    '',
    table(
      ['step', 'kind', 'status', 'started', 'took', 'by', 'detail'],
      [...stepRows(incident.timeline, ''), ...(plan ? stepRows(plan.timeline, '  ') : [])],
    ),
  ];
  const waiting = [...(plan?.waiting ?? []), ...incident.waiting];
  for (const w of waiting) {
    lines.push('');
    if (w.kind === 'approval') {
      lines.push(`⏸ waiting for approval of "${w.name}": ${w.prompt}`);
      lines.push(
        `  needs ${w.required} of: ${w.approvers!.join(', ')}${w.approvedBy!.length ? ` (approved so far: ${w.approvedBy!.join(', ')})` : ''}`,
      );
      for (const change of w.request?.changes ?? []) lines.push(`  • ${change}`);
      lines.push(`  → lifeboat approve ${c.incidentId} --gate ${w.name} --as <you>   (or reject … --reason "…")`);
    } else {
      lines.push(`⏸ waiting for task "${w.name}": ${w.prompt}${w.deadline ? ` (due ${w.deadline})` : ''}`);
      lines.push(`  → ${answerCommands(c.incidentId, w)[0]}`);
    }
  }
  if (incident.outcome) lines.push('', `outcome: ${incident.outcome}`);
  return lines.join('\n');
}

/** An incident as `lifeboat list` shows it, from its search attributes (client/status-json.ts listJson). */
export interface IncidentRow {
  incidentId: string;
  level: string | null;
  /** The workflow execution's status: running, completed, failed, terminated, … */
  state: string;
  rtoStatus: string | null;
  currentStep: string | null;
  startedAt: string;
}

export async function listIncidents(client: Client, all: boolean): Promise<IncidentRow[]> {
  const rows: IncidentRow[] = [];
  const query = `WorkflowType = 'incidentWorkflow'${all ? '' : " AND ExecutionStatus = 'Running'"}`;
  const text = (v: unknown) => (v === undefined || v === null ? null : String(v));
  for await (const wf of client.workflow.list({ query })) {
    const sa = wf.typedSearchAttributes;
    rows.push({
      incidentId: wf.workflowId,
      level: text(sa.get(levelSA)),
      state: wf.status.name.toLowerCase(),
      rtoStatus: text(sa.get(rtoStatusSA)),
      currentStep: text(sa.get(currentStepSA)),
      startedAt: wf.startTime.toISOString(),
    });
  }
  return rows;
}

export function renderIncidents(rows: IncidentRow[], all: boolean): string {
  if (!rows.length) return all ? 'no incidents yet' : 'no open incidents (--all lists ended ones too)';
  return table(
    ['incident', 'level', 'state', 'RTO', 'current step', 'started (UTC)'],
    rows.map((r) => [
      r.incidentId,
      r.level ?? '?',
      r.state,
      r.rtoStatus ?? '-',
      r.currentStep ?? '-',
      r.startedAt.slice(0, 19).replace('T', ' '),
    ]),
  );
}
