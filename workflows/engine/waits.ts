// Waiting for people: a human task (with its deadline, escalation or closing) and an approval gate
// (votes until enough distinct allowed approvers, or one rejection), each announced with its action
// and settled in place; in a drill, the drill's identity answers at once. The runbook checks for an
// abort before it calls these; an abort while one waits ends the wait.
import { ApplicationFailure, condition, patched, workflowInfo } from '@temporalio/workflow';
import type { AbortRequest, ApprovalRequest, Completion, RunContext, StepRecord } from '../../common/plans.js';
import type { NoticeAction } from '../../activities/notify/notifier.js';
import { FailureType } from '../../common/errors.js';
import { type Announcer, describeRequest } from './announcer.js';
import type { Inbox } from './inbox.js';
import { GateRejected, RunAborted } from './outcome.js';
import type { Timeline } from './timeline.js';
import type { OpenGate, OpenTask } from './validators.js';

export interface TaskOptions {
  deadlineMs?: number;
  choices?: string[];
  drillChoices?: string[];
}

/** How a wait for a person ended: their answer, or else the run's abort (the wait ends only when one is there). */
function endedBy<T>(answer: T | undefined, abort: AbortRequest | undefined): { answer: T } | { abort: AbortRequest } {
  if (answer !== undefined) return { answer };
  if (abort) return { abort };
  throw new Error('a wait for a person ended with neither an answer nor an abort');
}

export class PeopleWaits {
  constructor(
    private readonly context: RunContext,
    private readonly steps: Timeline,
    private readonly inbox: Inbox,
    private readonly announcer: Announcer,
  ) {}

  /** Waits for a person to say the task is done; past its deadline it escalates and keeps waiting. */
  async task(name: string, prompt: string, options: TaskOptions = {}): Promise<Completion> {
    return this.waitForTask(name, prompt, { ...options, atDeadline: 'escalate' });
  }

  /** A task nobody has to do: past its deadline it is closed as still open, and the run goes on without it. */
  async optionalTask(name: string, prompt: string, deadlineMs: number): Promise<Completion | undefined> {
    return this.waitForTask(name, prompt, { deadlineMs, atDeadline: 'close' });
  }

  private async waitForTask(name: string, prompt: string, options: TaskOptions & { atDeadline: 'escalate' }): Promise<Completion>;
  private async waitForTask(name: string, prompt: string, options: TaskOptions & { atDeadline: 'close' }): Promise<Completion | undefined>;
  private async waitForTask(
    name: string,
    prompt: string,
    options: TaskOptions & { atDeadline: 'escalate' | 'close' },
  ): Promise<Completion | undefined> {
    const record = this.steps.begin(name, 'human', 'waiting');
    const actAs = this.drillIdentity(record);
    if (actAs)
      return this.answeredByDrill(record, {
        task: name,
        by: actAs,
        note: 'answered by the drill',
        choices: options.drillChoices,
      });
    const deadline = options.deadlineMs !== undefined ? new Date(Date.now() + options.deadlineMs).toISOString() : undefined;
    const item = this.inbox.add<OpenTask>({ kind: 'human', name, prompt, since: record.startedAt, ...(deadline ? { deadline } : {}) });
    const action = (): NoticeAction => ({
      kind: 'task',
      workflowId: workflowInfo().workflowId,
      incidentId: this.context.incidentId,
      name,
      choices: options.choices,
    });
    const posted = await this.announcer.notify(
      'info',
      `Task waiting: ${name}`,
      `${prompt}${deadline ? `\nDue ${deadline}.` : ''}\nMark it done with the button or: lifeboat complete ${this.context.incidentId} --task ${name} --as <you> --note "…"`,
      { action: action() },
    );
    const settled = () => item.completion !== undefined || this.inbox.aborted !== undefined;
    if (options.deadlineMs !== undefined && !(await condition(settled, options.deadlineMs))) {
      if (options.atDeadline === 'close') {
        this.inbox.close(name);
        const detail = `still open at its deadline ${deadline}`;
        await this.announcer.notify('info', `Task closed unanswered: ${name}`, prompt, {
          action: { ...action(), settled: { outcome: 'expired', by: 'nobody', at: new Date().toISOString(), reason: detail } },
          replaces: posted,
        });
        this.steps.end(record, 'skipped', { detail });
        return undefined;
      }
      await this.announcer.notify('warning', `Task overdue: ${name}`, `"${name}" was due at ${deadline} and is still open. ${prompt}`);
      record.detail = `escalated at ${new Date().toISOString()}`;
    }
    await condition(settled);
    this.inbox.close(name);
    const ended = endedBy(item.completion, this.inbox.aborted);
    const settledAction: NoticeAction = {
      ...action(),
      settled: {
        outcome: 'answer' in ended ? 'done' : 'aborted',
        by: 'answer' in ended ? ended.answer.by : ended.abort.by,
        at: new Date().toISOString(),
        reason: item.completion?.note ?? this.inbox.aborted?.reason,
      },
    };
    await this.announcer.notify('info', 'answer' in ended ? `Task done: ${name}` : `Task aborted: ${name}`, prompt, {
      action: settledAction,
      replaces: posted,
    });
    if ('abort' in ended) {
      this.steps.end(record, 'aborted', { detail: ended.abort.reason });
      throw new RunAborted(ended.abort.reason);
    }
    this.steps.end(record, 'done', { actor: ended.answer.by, detail: ended.answer.note });
    return ended.answer;
  }

  /** Waits for `required` distinct allowed approvers, or one rejection; the request is updated in place as votes arrive. */
  async gate(name: string, request: ApprovalRequest, options: { required?: number } = {}): Promise<string[]> {
    const required = options.required ?? 1;
    const approvers = this.context.approvals.gates[name] ?? this.context.approvals.approvers;
    const record = this.steps.begin(name, 'approval', 'waiting');
    const actAs = this.drillIdentity(record);
    if (actAs) return [this.answeredByDrill(record, { task: name, by: actAs }).by];
    const item = this.inbox.add<OpenGate>({
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
      approvedBy: [...item.approvedBy],
    });
    const text = describeRequest(this.context, name, request, approvers, required);
    let posted = await this.announcer.notify('warning', `Approval needed: ${request.title}`, text, { action: action() });
    for (;;) {
      const seen = item.approvedBy.length;
      await condition(() => item.decided !== undefined || this.inbox.aborted !== undefined || item.approvedBy.length !== seen);
      if (item.decided || this.inbox.aborted) break;
      // A partial approval under the two-person rule: show who approved and how many are still needed.
      posted =
        (await this.announcer.notify('warning', `Approval needed: ${request.title}`, text, { action: action(), replaces: posted })) ??
        posted;
    }
    this.inbox.close(name);
    const ended = endedBy(item.decided, this.inbox.aborted);
    const outcome = 'abort' in ended ? 'aborted' : ended.answer.approved ? 'approved' : 'rejected';
    const by = 'abort' in ended ? ended.abort.by : ended.answer.approved ? item.approvedBy.join(', ') : ended.answer.by;
    const reason = 'abort' in ended ? ended.abort.reason : ended.answer.reason;
    await this.announcer.notify(
      outcome === 'approved' ? 'info' : 'warning',
      `${outcome.charAt(0).toUpperCase()}${outcome.slice(1)}: ${request.title}`,
      text,
      {
        action: { ...action(), settled: { outcome, by, at: new Date().toISOString(), reason } },
        replaces: posted,
      },
    );
    if ('abort' in ended) {
      this.steps.end(record, 'aborted', { detail: ended.abort.reason });
      throw new RunAborted(ended.abort.reason);
    }
    const decided = ended.answer;
    if (!decided.approved) {
      this.steps.end(record, 'rejected', { actor: decided.by, detail: decided.reason });
      throw new GateRejected(`${decided.by} rejected "${name}"${decided.reason ? `: ${decided.reason}` : ''}`);
    }
    this.steps.end(record, 'done', { actor: item.approvedBy.join(', '), detail: `approved by ${item.approvedBy.join(' and ')}` });
    return item.approvedBy;
  }

  /**
   * The identity that answers gates and tasks at once: only a drill has one. A plan started directly
   * with `actAs` but no test database would answer its own gates on production: it fails instead.
   */
  private drillIdentity(record: StepRecord): string | undefined {
    const { actAs, testDatabase } = this.context;
    if (actAs && !testDatabase && patched('act-as-only-in-drill')) {
      const message = `"${actAs}" may answer gates and tasks only in a drill (on its test database): declare an incident (lifeboat declare) and let the approvers answer, or run a drill (lifeboat drill)`;
      this.steps.end(record, 'failed', { detail: message });
      throw ApplicationFailure.create({ type: FailureType.approvalRefused, message, nonRetryable: true });
    }
    return actAs;
  }

  /** In a drill, the drill's identity answers gates and tasks at once, on the record. */
  private answeredByDrill(record: StepRecord, completion: Completion): Completion {
    this.steps.end(record, 'done', {
      actor: completion.by,
      detail: `answered by the drill as ${completion.by}${completion.choices?.length ? `: ${completion.choices.join(', ')}` : ''}`,
    });
    return completion;
  }
}
