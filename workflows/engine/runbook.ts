// The step engine's vocabulary, which every plan is written in: automated step, human task, approval
// gate, notification, clean-up — each on the timeline, abortable at safe points (between steps, never
// in the middle of one). It composes the parts of a run: the timeline, the announcer (notices and
// step progress), the inbox (gates and tasks waiting for people, with the Updates' validators) and,
// for an incident, the RTO clock. Deterministic: it runs inside workflows only.
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  AbortRequest,
  ApprovalRequest,
  Completion,
  DecisionRecord,
  Outcome,
  PlanOptions,
  RestorePointRecord,
  RtoResult,
  RtoStatus,
  RunContext,
  RunResult,
  RunStatus,
  StepRecord,
  TargetRef,
} from '../../common/plans.js';
import { FailureType } from '../../common/errors.js';
import { restorePointName } from '../../common/names.js';
import { quick } from '../proxies.js';
import { incidentIdSA, levelSA, rtoStatusSA, statusQuery } from '../messages.js';
import { Announcer } from './announcer.js';
import { Inbox } from './inbox.js';
import { RunAborted, failureText, runFailure } from './outcome.js';
import { type RtoClock, measureRto, startRtoClock } from './rto-clock.js';
import { Timeline } from './timeline.js';
import { PeopleWaits, type TaskOptions } from './waits.js';

/** What a plan has learned that clients follow in the status query; the plan keeps them, and shows them with `show`. */
export interface PlanFacts {
  backupUsed?: RunResult['backupUsed'];
  /** The plan running as a child, to which its approvals are sent. */
  childWorkflowId?: string;
  /** A drill's simulated incident began here (after the scenario), not at the drill's start. */
  declaredAt?: string;
}

/**
 * Runs begun before a failed or rejected run failed its workflow execution (and before the current
 * step was closed and "not-recovered" was a verdict) replay as they ran: everything this changed
 * is behind this patch. It is asked once, as a run starts: asked at the end, after a local activity
 * (a notice) whose result a replay may deliver a workflow task earlier than the run saw it, the
 * replay would not find the marker where it looks and fail (seen in tests, SDK 1.24).
 */
const FAILURE_VISIBLE = 'failure-visible';

/**
 * Asks this run's end patch now: a run that starts with a local activity (the incident's policy)
 * asks it before that, as every patch must be (README), rather than when its Runbook is built.
 * The answer is kept: the Runbook's own ask returns the same.
 */
export function askEndPatchEarly(): void {
  patched(FAILURE_VISIBLE);
}

/**
 * An L1 plan's short steps (compare, snapshot, describe, verify, clean up) run as local
 * activities from this version on; runs begun before keep the remote ones they recorded.
 */
const L1_QUICK_STEPS_LOCAL = 'l1-quick-steps-local';

/**
 * The runbook of a level's plan. A plan runs only as the child of an incident or a drill, which read
 * the worker's policy and hand it down: a plan started directly by a client would otherwise bring
 * its own approvers and keys, so it is refused before it does anything.
 */
export function planRunbook(context: RunContext, options: PlanOptions = {}): Runbook {
  if (!workflowInfo().parent && patched('plans-only-as-children')) {
    throw ApplicationFailure.create({
      type: FailureType.approvalRefused,
      message: `an ${context.level} plan runs only inside an incident or a drill, whose worker sets its approvers: declare an incident (lifeboat declare) or run a drill (lifeboat drill run)`,
      nonRetryable: true,
    });
  }
  // Asked here, before the plan's first local activity: a patch first asked right after a local
  // activity's result can be missed on replay when that result and the patch marker were recorded
  // in different workflow tasks (seen under load: the plan then cannot move to another worker).
  return new Runbook(context, {
    clock: false,
    heavyChoice: patched('choose-backup-heavy-at-start'),
    checksDroppedDatabase: !context.testDatabase && patched('no-snapshot-of-a-dropped-database'),
    // A drill's test database is disposable, and not where the target's WAL is archived.
    restorePoints: options.physical === true && !context.testDatabase && patched('restore-point-before-destructive'),
    localQuickSteps: context.level === 'L1' && patched(L1_QUICK_STEPS_LOCAL),
    // Runs begun before an in-place restore to a moment was offered refused it: they replay that refusal.
    inPlaceAtMoment: options.inPlace === true && options.moment !== undefined && patched('in-place-at-moment'),
    // Runs begun before a recovered cluster's verification only counted its tables fingerprinted them too.
    countsRecoveredTables: options.moment !== undefined && patched('recovered-tables-counted'),
  });
}

export class Runbook {
  private readonly steps = new Timeline();
  private readonly announcer: Announcer;
  private readonly inbox: Inbox;
  private readonly waits: PeopleWaits;
  private readonly clock?: RtoClock;
  private rtoStatus: RtoStatus = 'on-track';
  private facts: PlanFacts = {};
  private outcome?: Outcome;
  private rto?: RtoResult;
  /** Whether this run ends as FAILURE_VISIBLE says (false: a run begun before, replaying). */
  private readonly endsVisibly: boolean;
  /** Changes this run committed to the target, with their step's detail: the outcome names them whatever follows. */
  readonly committed: string[] = [];
  /** The restore points made before destructive steps, in order. */
  readonly restorePoints: RestorePointRecord[] = [];

  /** Starts a run: its handlers, search attributes and (for the incident) the RTO clock. */
  /** The backup choice checksums on the heavy profile (asked at the plan's start; see planRunbook). */
  readonly heavyChoice: boolean;
  /** An in-place restore first looks whether the database still exists, and skips the snapshot of one that was dropped. */
  readonly checksDroppedDatabase: boolean;
  /** A physical target: each destructive step is preceded by a restore point (asked at the plan's start; see planRunbook). */
  readonly makesRestorePoints: boolean;
  /** The plan's short steps run as local activities (asked at the plan's start; see planRunbook). */
  readonly localQuickSteps: boolean;
  /** L3/L4 --in-place at a moment restore production itself (asked at the plan's start; see planRunbook). */
  readonly inPlaceAtMoment: boolean;
  /** At a moment, `verify all tables` counts the recovered tables and runs the integrity checks, without checksums (see planRunbook). */
  readonly countsRecoveredTables: boolean;

  constructor(
    readonly context: RunContext,
    options: {
      clock: boolean;
      heavyChoice?: boolean;
      checksDroppedDatabase?: boolean;
      restorePoints?: boolean;
      localQuickSteps?: boolean;
      inPlaceAtMoment?: boolean;
      countsRecoveredTables?: boolean;
    },
  ) {
    this.inPlaceAtMoment = options.inPlaceAtMoment ?? false;
    this.countsRecoveredTables = options.countsRecoveredTables ?? false;
    this.heavyChoice = options.heavyChoice ?? false;
    this.localQuickSteps = options.localQuickSteps ?? false;
    this.checksDroppedDatabase = options.checksDroppedDatabase ?? false;
    this.makesRestorePoints = options.restorePoints ?? false;
    this.announcer = new Announcer(context, this.steps);
    this.inbox = new Inbox(
      context,
      () => this.outcome,
      (item, decision) => this.recordDecision(item, decision),
    );
    this.waits = new PeopleWaits(context, this.steps, this.inbox, this.announcer);
    this.endsVisibly = patched(FAILURE_VISIBLE);
    setHandler(statusQuery, () => this.status());
    upsertSearchAttributes([
      { key: incidentIdSA, value: context.incidentId },
      { key: levelSA, value: context.level },
      { key: rtoStatusSA, value: this.rtoStatus },
    ]);
    if (options.clock)
      this.clock = startRtoClock(context, {
        timeline: this.steps,
        announcer: this.announcer,
        setStatus: (status) => this.setRtoStatus(status),
      });
  }

  get timeline(): StepRecord[] {
    return this.steps.records;
  }

  /** The notifier's thread: child plans post into it. */
  get thread(): string | undefined {
    return this.announcer.thread;
  }

  get aborted(): AbortRequest | undefined {
    return this.inbox.aborted;
  }

  /** What the plan's activities work on: the target, or in a drill its test database. */
  get where(): TargetRef {
    return { target: this.context.target, testDatabase: this.context.testDatabase };
  }

  /** Shows what the plan has learned (the backup it uses, its child plan) in the status query. */
  show(facts: PlanFacts): void {
    this.facts = { ...this.facts, ...facts };
  }

  status(): RunStatus {
    const { declaredAt, childWorkflowId, backupUsed } = this.facts;
    return {
      context: declaredAt ? { ...this.context, declaredAt } : this.context,
      workflowId: workflowInfo().workflowId,
      timeline: this.steps.records,
      waiting: this.inbox.waiting(),
      rtoStatus: this.rtoStatus,
      childWorkflowId,
      outcome: this.outcome,
      rto: this.rto,
      backupUsed,
    };
  }

  /** An automated step. Abort is honoured before it starts, never in the middle. */
  async step<T>(name: string, run: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    this.checkpoint();
    const record = this.steps.begin(name, 'automated', 'running');
    const posted = await this.announcer.progress(record);
    try {
      const result = await run();
      this.steps.end(record, 'done', { detail: describe?.(result) });
      await this.announcer.progress(record, posted);
      return result;
    } catch (err) {
      this.steps.end(record, isCancellation(err) ? 'aborted' : 'failed', { detail: failureText(err) });
      if (!isCancellation(err)) await this.announcer.progress(record, posted);
      throw err;
    }
  }

  /**
   * A step whose success commits a change to the target (an apply, an in-place restore, a code
   * rollback). Once it is done the change stays, so an abort or a failure after it reports it. On a
   * physical target a restore point is made first, so the step can be undone to the second.
   */
  async commit<T>(name: string, run: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    if (this.makesRestorePoints) {
      const point = await this.step(
        `undo point: restore point before "${name}"`,
        () => quick.createRestorePoint({ target: this.context.target, name: restorePointName(this.context.incidentId, name) }),
        (p) => `${p.name} at ${p.lsn} (${p.createdAt}): ${undoCommand(this.context.target, p.name)}`,
      );
      this.restorePoints.push({ step: name, ...point });
    }
    const result = await this.step(name, run, describe);
    const detail = describe?.(result);
    this.committed.push(detail ? `${name} (${detail})` : name);
    return result;
  }

  /** A clean-up step: runs even after an abort or a cancellation, and never throws. */
  async cleanup(name: string, run: () => Promise<unknown>): Promise<void> {
    const record = this.steps.begin(name, 'automated', 'running');
    try {
      await CancellationScope.nonCancellable(run);
      this.steps.end(record, 'done', {});
    } catch (err) {
      this.steps.end(record, 'failed', { detail: failureText(err) });
    }
  }

  /** A step the plan decides not to run, kept on the timeline with the reason. */
  skip(name: string, why: string): void {
    const record = this.steps.begin(name, 'automated', 'skipped');
    this.steps.end(record, 'skipped', { detail: why });
  }

  /** Waits for a person to say the task is done; past its deadline it escalates and keeps waiting. */
  async task(name: string, prompt: string, options: TaskOptions = {}): Promise<Completion> {
    this.checkpoint();
    return this.waits.task(name, prompt, options);
  }

  /** A task nobody has to do: past its deadline it is closed as still open, and the run goes on without it. */
  async optionalTask(name: string, prompt: string, deadlineMs: number): Promise<Completion | undefined> {
    this.checkpoint();
    return this.waits.optionalTask(name, prompt, deadlineMs);
  }

  /** Waits for `required` distinct allowed approvers, or one rejection; the request is updated in place as votes arrive. */
  async gate(name: string, request: ApprovalRequest, options: { required?: number } = {}): Promise<string[]> {
    this.checkpoint();
    return this.waits.gate(name, request, options);
  }

  /**
   * Tells people through the notifier, in the run's thread; returns the message's reference. A failed
   * notification is recorded on the timeline, never fatal.
   */
  notify(...notice: Parameters<Announcer['notify']>): Promise<string | undefined> {
    return this.announcer.notify(...notice);
  }

  /** A notification that is itself a step of the plan (e.g. "communicate to all users"). */
  async announce(name: string, severity: 'info' | 'warning' | 'critical', title: string, text: string): Promise<void> {
    this.checkpoint();
    const record = this.steps.begin(name, 'notification', 'running');
    await this.notify(severity, title, text);
    this.steps.end(record, 'done', { detail: title });
  }

  /** Throws RunAborted when an abort was requested: plans call it between steps. */
  checkpoint(): void {
    const abort = this.inbox.aborted;
    if (abort) throw new RunAborted(abort.reason);
  }

  /**
   * Ends the run: stops the clock and records the RTO and RPO results, from the backup the plan used
   * and (a drill) the moment its simulated incident began.
   */
  async finish(outcome: Outcome, facts: Pick<PlanFacts, 'backupUsed' | 'declaredAt'> = {}): Promise<RtoResult> {
    this.outcome = outcome;
    if (this.clock) await this.clock.stop();
    const rto = measureRto(this.context, outcome, facts);
    // Older runs upserted "missed" as the RTO status of a run that did not recover.
    this.rto = rto.verdict === 'not-recovered' && !this.endsVisibly ? { ...rto, verdict: 'missed' } : rto;
    this.setRtoStatus(this.rto.verdict);
    return this.rto;
  }

  /** The run has ended (a drill, with its verdict): the current step search attribute says so. */
  close(how: string): void {
    if (this.endsVisibly) this.steps.close(how);
  }

  /**
   * The run's last act, after its report: closes the current step and, when the run failed or was
   * rejected, fails its workflow execution with the result as the failure's details, so the Web UI
   * shows it red and clients still read the result (client/run-result.ts). Returns the result of a
   * run that completes (recovered, aborted: common/errors.ts runFailureType says why).
   */
  end(result: RunResult): RunResult {
    if (this.restorePoints.length) result = { ...result, restorePoints: this.restorePoints };
    this.close(result.outcome);
    const failure = this.endsVisibly ? runFailure(result) : undefined;
    if (failure) throw failure;
    return result;
  }

  /** For an approval request: how the destructive step that follows it can be undone (physical targets only). */
  undoNote(step: string): string[] {
    if (!this.makesRestorePoints) return [];
    const name = restorePointName(this.context.incidentId, step);
    return [`undo: restore point ${name} is made just before this step; ${undoCommand(this.context.target, name)}`];
  }

  /** Puts an accepted answer on the step it answers, or (an abort) on the step it interrupts. */
  private recordDecision(item: string | undefined, decision: DecisionRecord): void {
    const records = this.steps.records;
    const record = item === undefined ? records[records.length - 1] : [...records].reverse().find((r) => r.name === item);
    if (record) (record.decisions ??= []).push(decision);
  }

  private setRtoStatus(status: RtoStatus): void {
    this.rtoStatus = status;
    upsertSearchAttributes([{ key: rtoStatusSA, value: status }]);
  }
}

/** The command that brings back rows as they were at a restore point. */
function undoCommand(target: string, point: string): string {
  return `lifeboat declare --level L1 --target ${target} --table … --keys … --before-restore-point ${point}`;
}
