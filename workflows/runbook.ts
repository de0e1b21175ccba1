// The step engine: the small vocabulary every plan is written in — automated step, human task,
// approval gate, notification — with the timeline, the approvals' validators, abort at safe
// points, and the RTO clock. Deterministic: it runs inside workflows only.
import {
  CancellationScope,
  condition,
  isCancellation,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  type AbortRequest,
  type ApprovalRequest,
  type Completion,
  type Outcome,
  type RtoResult,
  type RtoStatus,
  type RunContext,
  type RunStatus,
  type StepKind,
  type StepRecord,
  type StepStatus,
  type Vote,
  type WaitingItem,
} from '../common/plans.js';
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
} from './messages.js';
import { notifications } from './proxies.js';
import type { Notice, NoticeAction } from '../activities/notify/notifier.js';

/** Thrown at a safe point once an abort was requested; plans clean up and end as "aborted". */
export class RunAborted extends Error {
  override name = 'RunAborted';
}

/** Thrown when an approver rejects a gate; plans end as "rejected" without changing anything. */
export class GateRejected extends Error {
  override name = 'GateRejected';
}

interface OpenItem extends WaitingItem {
  decided?: { approved: boolean; by: string; reason?: string };
  completion?: Completion;
}

/** A waiting item as clients see it, without the run's own bookkeeping. */
function publicView({ decided: _decided, completion: _completion, ...item }: OpenItem): WaitingItem {
  return item;
}

const progressIcons: Partial<Record<StepStatus, string>> = { running: '▶', done: '✅', failed: '❌', aborted: '⏹' };

const hours = (ms: number) => (ms >= 3_600_000 ? `${+(ms / 3_600_000).toFixed(1)} h` : `${Math.round(ms / 60_000)} min`);

export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  const h = Math.floor(abs / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = Math.round((abs % 60_000) / 1000);
  return (ms < 0 ? '-' : '') + (h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`);
}

export class Runbook {
  readonly timeline: StepRecord[] = [];
  private readonly open = new Map<string, OpenItem>();
  private abortRequest?: AbortRequest;
  private rtoStatus: RtoStatus = 'on-track';
  private clock?: { scope: CancellationScope; done: Promise<void> };
  /** The notifier's thread: a plan's comes from its parent; an incident's first notice starts one. */
  thread?: string;
  /** Set while notifications fail: step progress is then not posted, so a dead notifier costs no time. */
  private notifierDown = false;
  childWorkflowId?: string;
  /** A database a full restore created (L3/L4), until the plan ends. */
  newDatabase?: string;
  backupUsed?: { id: string; startedAt: string };
  outcome?: Outcome;
  rto?: RtoResult;

  /** Starts a run: its handlers, search attributes and (for the incident) the RTO clock. */
  constructor(
    readonly context: RunContext,
    options: { clock: boolean },
  ) {
    this.thread = context.thread;
    this.installHandlers();
    upsertSearchAttributes([
      { key: incidentIdSA, value: context.incidentId },
      { key: levelSA, value: context.level },
      { key: rtoStatusSA, value: this.rtoStatus },
    ]);
    if (options.clock) this.startClock();
  }

  get aborted(): AbortRequest | undefined {
    return this.abortRequest;
  }

  /** What the plan's activities work on: the target, or in a drill its test database. */
  get where(): { target: string; testDatabase?: string } {
    return { target: this.context.target, testDatabase: this.context.testDatabase };
  }

  status(): RunStatus {
    return {
      context: this.context,
      workflowId: workflowInfo().workflowId,
      timeline: this.timeline,
      waiting: this.pending().map(publicView),
      rtoStatus: this.rtoStatus,
      childWorkflowId: this.childWorkflowId,
      outcome: this.outcome,
      rto: this.rto,
      backupUsed: this.backupUsed,
    };
  }

  // ─── the vocabulary ───

  /** An automated step. Abort is honoured before it starts, never in the middle. */
  async step<T>(name: string, run: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    this.checkpoint();
    const record = this.begin(name, 'automated', 'running');
    const posted = await this.progress(record);
    try {
      const result = await run();
      this.end(record, 'done', { detail: describe?.(result) });
      await this.progress(record, posted);
      return result;
    } catch (err) {
      this.end(record, isCancellation(err) ? 'aborted' : 'failed', { detail: failureText(err) });
      if (!isCancellation(err)) await this.progress(record, posted);
      throw err;
    }
  }

  /** A clean-up step: runs even after an abort or a cancellation, and never throws. */
  async cleanup(name: string, run: () => Promise<unknown>): Promise<void> {
    const record = this.begin(name, 'automated', 'running');
    try {
      await CancellationScope.nonCancellable(run);
      this.end(record, 'done', {});
    } catch (err) {
      this.end(record, 'failed', { detail: failureText(err) });
    }
  }

  /** A step the plan decides not to run, kept on the timeline with the reason. */
  skip(name: string, why: string): void {
    const record = this.begin(name, 'automated', 'skipped');
    this.end(record, 'skipped', { detail: why });
  }

  /** Waits for a person to say the task is done; past its deadline it escalates and keeps waiting. */
  async task(
    name: string,
    prompt: string,
    options: { deadlineMs?: number; choices?: string[]; drillChoices?: string[] } = {},
  ): Promise<Completion> {
    return (await this.waitForTask(name, prompt, { ...options, atDeadline: 'escalate' }))!;
  }

  /** A task nobody has to do: past its deadline it is closed as still open, and the run goes on without it. */
  async optionalTask(name: string, prompt: string, deadlineMs: number): Promise<Completion | undefined> {
    return this.waitForTask(name, prompt, { deadlineMs, atDeadline: 'close' });
  }

  private async waitForTask(
    name: string,
    prompt: string,
    options: { deadlineMs?: number; choices?: string[]; drillChoices?: string[]; atDeadline: 'escalate' | 'close' },
  ): Promise<Completion | undefined> {
    this.checkpoint();
    const record = this.begin(name, 'human', 'waiting');
    if (this.context.actAs)
      return this.answeredByDrill(record, {
        task: name,
        by: this.context.actAs,
        note: 'answered by the drill',
        choices: options.drillChoices,
      });
    const item = this.openItem({ kind: 'human', name, prompt, since: record.startedAt });
    if (options.deadlineMs !== undefined) item.deadline = new Date(Date.now() + options.deadlineMs).toISOString();
    const action = (): NoticeAction => ({
      kind: 'task',
      workflowId: workflowInfo().workflowId,
      incidentId: this.context.incidentId,
      name,
      choices: options.choices,
    });
    const posted = await this.notify(
      'info',
      `Task waiting: ${name}`,
      `${prompt}${item.deadline ? `\nDue ${item.deadline}.` : ''}\nMark it done with the button or: lifeboat complete ${this.context.incidentId} --task ${name} --as <you> --note "…"`,
      { action: action() },
    );
    const settled = () => item.completion !== undefined || this.abortRequest !== undefined;
    if (options.deadlineMs !== undefined && !(await condition(settled, options.deadlineMs))) {
      if (options.atDeadline === 'close') {
        this.open.delete(name);
        const detail = `still open at its deadline ${item.deadline}`;
        await this.notify('info', `Task closed unanswered: ${name}`, prompt, {
          action: { ...action(), settled: { outcome: 'expired', by: 'nobody', at: new Date().toISOString(), reason: detail } },
          replaces: posted,
        });
        this.end(record, 'skipped', { detail });
        return undefined;
      }
      await this.notify('warning', `Task overdue: ${name}`, `"${name}" was due at ${item.deadline} and is still open. ${prompt}`);
      record.detail = `escalated at ${new Date().toISOString()}`;
    }
    await condition(settled);
    this.open.delete(name);
    const by = item.completion?.by ?? this.abortRequest!.by;
    const settledAction = {
      ...action(),
      settled: {
        outcome: item.completion ? ('done' as const) : ('aborted' as const),
        by,
        at: new Date().toISOString(),
        reason: item.completion?.note ?? this.abortRequest?.reason,
      },
    };
    await this.notify('info', item.completion ? `Task done: ${name}` : `Task aborted: ${name}`, prompt, {
      action: settledAction,
      replaces: posted,
    });
    if (!item.completion) {
      this.end(record, 'aborted', { detail: this.abortRequest?.reason });
      throw new RunAborted(this.abortRequest!.reason);
    }
    this.end(record, 'done', { actor: item.completion.by, detail: item.completion.note });
    return item.completion;
  }

  /** Waits for `required` distinct allowed approvers, or one rejection; the request is updated in place as votes arrive. */
  async gate(name: string, request: ApprovalRequest, options: { required?: number } = {}): Promise<string[]> {
    this.checkpoint();
    const required = options.required ?? 1;
    const approvers = this.context.approvals.gates[name] ?? this.context.approvals.approvers;
    const record = this.begin(name, 'approval', 'waiting');
    if (this.context.actAs) return [this.answeredByDrill(record, { task: name, by: this.context.actAs }).by];
    const item = this.openItem({
      kind: 'approval',
      name,
      prompt: request.title,
      since: record.startedAt,
      approvers,
      required,
      approvedBy: [],
      request,
    });
    const action = (): NoticeAction => ({
      kind: 'approval',
      workflowId: workflowInfo().workflowId,
      incidentId: this.context.incidentId,
      name,
      request,
      approvers,
      required,
      approvedBy: [...item.approvedBy!],
    });
    const text = describeRequest(this.context, name, request, approvers, required);
    let posted = await this.notify('warning', `Approval needed: ${request.title}`, text, { action: action() });
    for (;;) {
      const seen = item.approvedBy!.length;
      await condition(() => item.decided !== undefined || this.abortRequest !== undefined || item.approvedBy!.length !== seen);
      if (item.decided || this.abortRequest) break;
      // A partial approval under the two-person rule: show who approved and how many are still needed.
      posted = (await this.notify('warning', `Approval needed: ${request.title}`, text, { action: action(), replaces: posted })) ?? posted;
    }
    this.open.delete(name);
    const outcome = !item.decided ? 'aborted' : item.decided.approved ? 'approved' : 'rejected';
    const by = !item.decided ? this.abortRequest!.by : item.decided.approved ? item.approvedBy!.join(', ') : item.decided.by;
    const reason = item.decided?.reason ?? (item.decided ? undefined : this.abortRequest!.reason);
    await this.notify(
      outcome === 'approved' ? 'info' : 'warning',
      `${outcome[0]!.toUpperCase()}${outcome.slice(1)}: ${request.title}`,
      text,
      {
        action: { ...action(), settled: { outcome, by, at: new Date().toISOString(), reason } },
        replaces: posted,
      },
    );
    if (!item.decided) {
      this.end(record, 'aborted', { detail: this.abortRequest?.reason });
      throw new RunAborted(this.abortRequest!.reason);
    }
    if (!item.decided.approved) {
      this.end(record, 'rejected', { actor: item.decided.by, detail: item.decided.reason });
      throw new GateRejected(`${item.decided.by} rejected "${name}"${item.decided.reason ? `: ${item.decided.reason}` : ''}`);
    }
    this.end(record, 'done', { actor: item.approvedBy!.join(', '), detail: `approved by ${item.approvedBy!.join(' and ')}` });
    return item.approvedBy!;
  }

  /**
   * Tells people through the notifier, in the run's thread; returns the message's reference. A failed
   * notification is recorded on the timeline, never fatal.
   */
  async notify(
    severity: Notice['severity'],
    title: string,
    text: string,
    extra: Pick<Notice, 'action' | 'replaces'> = {},
  ): Promise<string | undefined> {
    try {
      const posted = await notifications.notify({
        severity,
        title: `[${this.context.incidentId} ${this.context.level}] ${title}`,
        text,
        thread: this.thread,
        ...extra,
      });
      this.notifierDown = false;
      this.thread ??= posted?.ref; // the run's first notice starts its thread
      return posted?.ref;
    } catch (err) {
      this.notifierDown = true;
      const record = this.begin(`notify: ${title}`, 'notification', 'failed');
      this.end(record, 'failed', { detail: `notification not delivered: ${failureText(err)}` });
      return undefined;
    }
  }

  /** A notification that is itself a step of the plan (e.g. "communicate to all users"). */
  async announce(name: string, severity: 'info' | 'warning' | 'critical', title: string, text: string): Promise<void> {
    this.checkpoint();
    const record = this.begin(name, 'notification', 'running');
    await this.notify(severity, title, text);
    this.end(record, 'done', { detail: title });
  }

  /** Throws RunAborted when an abort was requested: plans call it between steps. */
  checkpoint(): void {
    if (this.abortRequest) throw new RunAborted(this.abortRequest.reason);
  }

  /** Ends the run: stops the clock and records the RTO and RPO results. */
  async finish(outcome: Outcome): Promise<RtoResult> {
    this.outcome = outcome;
    if (this.clock) {
      this.clock.scope.cancel();
      await this.clock.done;
    }
    const declared = Date.parse(this.context.declaredAt);
    const actualMs = Date.now() - declared;
    const verdict = outcome === 'recovered' && actualMs <= this.context.rtoMs ? 'met' : 'missed';
    this.rto = {
      targetMs: this.context.rtoMs,
      deadline: new Date(declared + this.context.rtoMs).toISOString(),
      actualMs,
      marginMs: this.context.rtoMs - actualMs,
      verdict,
      rpoAchievedMs: this.backupUsed ? declared - Date.parse(this.backupUsed.startedAt) : undefined,
    };
    this.setRtoStatus(verdict);
    return this.rto;
  }

  // ─── internals ───

  /** Posts a step as it starts, and replaces that message when it ends; skipped while the notifier is down. */
  private async progress(record: StepRecord, posted?: string): Promise<string | undefined> {
    if (this.notifierDown) return undefined;
    const icon = progressIcons[record.status] ?? '•';
    const took = record.finishedAt ? ` (${formatDuration(Date.parse(record.finishedAt) - Date.parse(record.startedAt))})` : '';
    const text = record.status === 'running' ? 'started' : `${record.status}${took}${record.detail ? `: ${record.detail}` : ''}`;
    return this.notify(record.status === 'failed' ? 'warning' : 'info', `${icon} ${record.name}`, text, { replaces: posted });
  }

  /** In a drill, the drill's identity answers gates and tasks at once, on the record. */
  private answeredByDrill(record: StepRecord, completion: Completion): Completion {
    this.end(record, 'done', {
      actor: completion.by,
      detail: `answered by the drill as ${completion.by}${completion.choices?.length ? `: ${completion.choices.join(', ')}` : ''}`,
    });
    return completion;
  }

  private begin(name: string, kind: StepKind, status: StepRecord['status']): StepRecord {
    const record: StepRecord = { name, kind, status, startedAt: new Date().toISOString() };
    this.timeline.push(record);
    upsertSearchAttributes([{ key: currentStepSA, value: name }]);
    return record;
  }

  private end(record: StepRecord, status: StepRecord['status'], extra: { actor?: string; detail?: string }): void {
    record.status = status;
    record.finishedAt = new Date().toISOString();
    if (extra.actor) record.actor = extra.actor;
    if (extra.detail) record.detail = extra.detail;
  }

  private openItem(item: OpenItem): OpenItem {
    this.open.set(item.name, item);
    return item;
  }

  /** Gates and tasks still waiting for a person. */
  private pending(): OpenItem[] {
    return [...this.open.values()].filter((i) => !i.decided && !i.completion);
  }

  private waitingNames(): string {
    const names = this.pending().map((i) => `${i.kind === 'approval' ? 'gate' : 'task'} "${i.name}"`);
    return names.length ? names.join(', ') : 'nothing';
  }

  private pendingGate(vote: Vote): OpenItem {
    if (!vote.by?.trim()) throw new Error('say who you are (--as <name>)');
    const item = this.open.get(vote.gate);
    if (!item || item.kind !== 'approval' || item.decided) {
      throw new Error(`gate "${vote.gate}" is not waiting for a vote (this run is waiting for ${this.waitingNames()})`);
    }
    if (!item.approvers!.includes(vote.by)) {
      throw new Error(
        `${vote.by} may not decide gate "${vote.gate}" of an ${this.context.level} incident (allowed: ${item.approvers!.join(', ') || 'nobody is configured: add approvers to approvals.' + this.context.level})`,
      );
    }
    if (vote.by === this.context.declaredBy && !this.context.approvals.selfApproval) {
      throw new Error(`${vote.by} declared this incident and self-approval is off: another approver must decide`);
    }
    return item;
  }

  private installHandlers(): void {
    setHandler(statusQuery, () => this.status());
    setHandler(
      approveUpdate,
      (vote) => {
        const item = this.open.get(vote.gate)!;
        item.approvedBy!.push(vote.by);
        if (item.approvedBy!.length >= item.required!) item.decided = { approved: true, by: vote.by, reason: vote.reason };
        return item.decided ? null : publicView(item);
      },
      {
        validator: (vote) => {
          const item = this.pendingGate(vote);
          if (item.approvedBy!.includes(vote.by)) {
            throw new Error(
              `${vote.by} already approved "${vote.gate}": it needs ${item.required} distinct approvers (${item.approvedBy!.length} so far)`,
            );
          }
        },
      },
    );
    setHandler(
      rejectUpdate,
      (vote) => {
        this.open.get(vote.gate)!.decided = { approved: false, by: vote.by, reason: vote.reason };
      },
      { validator: (vote) => void this.pendingGate(vote) },
    );
    setHandler(
      completeUpdate,
      (completion) => {
        this.open.get(completion.task)!.completion = completion;
      },
      {
        validator: (completion) => {
          if (!completion.by?.trim()) throw new Error('say who you are (--as <name>)');
          const item = this.open.get(completion.task);
          if (!item || item.kind !== 'human' || item.completion) {
            throw new Error(`no task "${completion.task}" is waiting (this run is waiting for ${this.waitingNames()})`);
          }
        },
      },
    );
    setHandler(
      abortUpdate,
      (request) => {
        this.abortRequest = request;
      },
      {
        validator: (request) => {
          if (!request.by?.trim()) throw new Error('say who you are (--as <name>)');
          if (!request.reason?.trim()) throw new Error('an abort needs a reason (--reason "…")');
          if (this.outcome) throw new Error(`the run has already ended (${this.outcome})`);
          if (this.abortRequest) throw new Error(`an abort was already requested by ${this.abortRequest.by}`);
        },
      },
    );
  }

  private setRtoStatus(status: RtoStatus): void {
    this.rtoStatus = status;
    upsertSearchAttributes([{ key: rtoStatusSA, value: status }]);
  }

  /** Durable timers at 50 %, 80 % and 100 % of the RTO, counted from the declaration. */
  private startClock(): void {
    const declared = Date.parse(this.context.declaredAt);
    const { rtoMs, incidentId } = this.context;
    const marks: Array<[number, RtoStatus, 'warning' | 'critical']> = [
      [0.5, 'warning', 'warning'],
      [0.8, 'critical', 'warning'],
      [1, 'breached', 'critical'],
    ];
    const scope = new CancellationScope();
    const done = scope
      .run(async () => {
        for (const [fraction, status, severity] of marks) {
          const due = declared + fraction * rtoMs - Date.now();
          if (due > 0) await sleep(due);
          this.setRtoStatus(status);
          const elapsed = Date.now() - declared;
          const title = status === 'breached' ? `RTO BREACHED: ${hours(rtoMs)} passed` : `RTO ${fraction * 100} % used`;
          const record = this.begin(title, 'notification', 'done');
          this.end(record, 'done', { detail: `${formatDuration(elapsed)} since declaration, RTO ${hours(rtoMs)}` });
          await this.notify(
            severity,
            title,
            `${incidentId}: ${formatDuration(elapsed)} since the incident was declared; RTO ${hours(rtoMs)}, ${status === 'breached' ? 'exceeded' : `${formatDuration(declared + rtoMs - Date.now())} left`}.`,
          );
        }
      })
      .catch((err) => {
        if (!isCancellation(err)) throw err;
      });
    this.clock = { scope, done };
  }
}

export function failureText(err: unknown): string {
  let e = err as { cause?: unknown; message?: string } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

function describeRequest(context: RunContext, gate: string, r: ApprovalRequest, approvers: string[], required: number): string {
  const lines = [
    `${r.title} — database ${r.database}, tables ${r.tables.join(', ')}`,
    ...r.changes.map((c) => `• ${c}`),
    r.backup ? `Backup used: ${r.backup.id}, taken ${r.backup.startedAt} (${formatDuration(r.backup.ageMs)} old)` : undefined,
    r.dataLossWindowMs !== undefined
      ? `Data-loss window: ${formatDuration(r.dataLossWindowMs)} of changes before the incident will not come back`
      : undefined,
    r.snapshot ? `Safety snapshot of what will be overwritten: ${r.snapshot}` : undefined,
    `Needs ${required} approval(s) from: ${approvers.join(', ')}`,
    `lifeboat approve ${context.incidentId} --gate ${gate} --as <you>   |   lifeboat reject ${context.incidentId} --gate ${gate} --as <you> --reason "…"`,
  ];
  return lines.filter(Boolean).join('\n');
}

/** Turns an ended plan's error into its outcome. */
export function outcomeOf(err: unknown): { outcome: Outcome; detail: string } {
  if (err instanceof RunAborted) return { outcome: 'aborted', detail: `aborted: ${err.message}` };
  if (err instanceof GateRejected) return { outcome: 'rejected', detail: err.message };
  return { outcome: 'failed', detail: failureText(err) };
}
