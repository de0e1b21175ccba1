// The inbox: the gates and tasks a run waits on, and the handlers of the Updates people send it
// (approve, reject, complete, abort). Every Update passes its validator first (./validators.ts): a
// refused one leaves no trace in the history and reaches its sender as a non-retryable
// ApprovalRefused failure with the reason. When the run's policy asks for proofs, each answer's
// signature is checked there too. An accepted one only records the answer here (and, through
// `onDecision`, on the record with the key that proved it); the step waiting on it (the runbook's
// gate or task) wakes up and acts on it.
import { ApplicationFailure, setHandler, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../../common/errors.js';
import type { AbortRequest, ApprovalItem, Completion, DecisionRecord, Outcome, Vote, WaitingItem } from '../../common/plans.js';
import { signerOf } from '../../common/sshsig.js';
import { abortUpdate, approveUpdate, completeUpdate, rejectUpdate } from '../messages.js';
import {
  type OpenGate,
  type OpenItem,
  type OpenTask,
  type Answer,
  type VotePolicy,
  isPending,
  proveAnswer,
  validateAbort,
  validateApproval,
  validateCompletion,
  validateVote,
} from './validators.js';

/** A gate as clients see it, without the run's own bookkeeping. */
function gateView({ decided: _decided, ...gate }: OpenGate): ApprovalItem {
  return gate;
}

/** A waiting item as clients see it, without the run's own bookkeeping. */
function publicView(item: OpenItem): WaitingItem {
  if (item.kind === 'approval') return gateView(item);
  const { completion: _completion, ...task } = item;
  return task;
}

/** Runs a validator; its refusal reaches the sender as a typed, non-retryable failure with the reason. */
function refuseFailing(validate: () => void): void {
  try {
    validate();
  } catch (err) {
    throw ApplicationFailure.create({ type: FailureType.approvalRefused, message: (err as Error).message, nonRetryable: true });
  }
}

/** Where a decision is recorded: the gate's or task's name, or none for an abort (the step it interrupts). */
export type DecisionSink = (item: string | undefined, decision: DecisionRecord) => void;

export class Inbox {
  private readonly open = new Map<string, OpenItem>();
  private abortRequest?: AbortRequest;

  /** Installs the Update handlers; `outcome` tells whether the run has ended (an abort then comes too late). */
  constructor(
    private readonly policy: VotePolicy,
    private readonly outcome: () => Outcome | undefined,
    private readonly onDecision: DecisionSink,
  ) {
    this.installHandlers();
  }

  /** The abort someone requested, if any. */
  get aborted(): AbortRequest | undefined {
    return this.abortRequest;
  }

  /** Starts waiting on a gate or task; the same object collects the answers. */
  add<T extends OpenItem>(item: T): T {
    this.open.set(item.name, item);
    return item;
  }

  /** Stops waiting on it: later Updates for it are refused. */
  close(name: string): void {
    this.open.delete(name);
  }

  /** Gates and tasks still waiting for a person, as clients see them. */
  waiting(): WaitingItem[] {
    return [...this.open.values()].filter(isPending).map(publicView);
  }

  /** The open item an accepted Update is for (its validator made sure it is of that kind). */
  private item<K extends OpenItem['kind']>(name: string, kind: K): Extract<OpenItem, { kind: K }> {
    const item = this.open.get(name);
    if (item?.kind !== kind) throw new Error(`no ${kind} item "${name}" is open`);
    return item as Extract<OpenItem, { kind: K }>;
  }

  /** Checks the answer's proof against this run, now: in the validator only, so it never runs on replay. */
  private prove(answer: Answer): void {
    const { namespace, workflowId, runId } = workflowInfo();
    proveAnswer(this.policy, { namespace, workflowId, runId, nowMs: Date.now() }, answer);
  }

  /**
   * Puts an accepted answer on the record, with the key that proved it. The validator checked the
   * proof; the handler only reads the signing key from it, which gives the same record on replay,
   * wherever and whenever the history is replayed.
   */
  private record(answer: Answer): void {
    const proven =
      this.policy.approvals.proof && answer.proof ? { fingerprint: signerOf(answer.proof.signature), via: answer.proof.via } : undefined;
    this.onDecision(answer.decision === 'abort' ? undefined : answer.item, {
      decision: answer.decision,
      by: answer.by,
      at: new Date().toISOString(),
      ...(answer.text ? { text: answer.text } : {}),
      ...(proven ? { fingerprint: proven.fingerprint, signedAt: answer.proof!.signedAt } : {}),
      ...(proven?.via ? { via: proven.via } : {}),
    });
  }

  private installHandlers(): void {
    const approval = (vote: Vote, decision: 'approve' | 'reject'): Answer => ({
      item: vote.gate,
      decision,
      by: vote.by,
      text: vote.reason,
      proof: vote.proof,
    });
    const completion = (c: Completion): Answer => ({ item: c.task, decision: 'complete', by: c.by, text: c.note, proof: c.proof });
    const abort = (r: AbortRequest): Answer => ({ item: 'run', decision: 'abort', by: r.by, text: r.reason, proof: r.proof });
    setHandler(
      approveUpdate,
      (vote) => {
        const gate: OpenGate = this.item(vote.gate, 'approval');
        gate.approvedBy.push(vote.by);
        this.record(approval(vote, 'approve'));
        if (gate.approvedBy.length >= gate.required) gate.decided = { approved: true, by: vote.by, reason: vote.reason };
        return gate.decided ? null : gateView(gate);
      },
      {
        validator: (vote) =>
          refuseFailing(() => {
            validateApproval(this.open.get(vote.gate), this.policy, vote, this.waiting());
            this.prove(approval(vote, 'approve'));
          }),
      },
    );
    setHandler(
      rejectUpdate,
      (vote) => {
        this.item(vote.gate, 'approval').decided = { approved: false, by: vote.by, reason: vote.reason };
        this.record(approval(vote, 'reject'));
      },
      {
        validator: (vote) =>
          refuseFailing(() => {
            validateVote(this.open.get(vote.gate), this.policy, vote, this.waiting());
            this.prove(approval(vote, 'reject'));
          }),
      },
    );
    setHandler(
      completeUpdate,
      (c) => {
        const task: OpenTask = this.item(c.task, 'human');
        task.completion = c;
        this.record(completion(c));
      },
      {
        validator: (c) =>
          refuseFailing(() => {
            validateCompletion(this.open.get(c.task), c, this.waiting());
            this.prove(completion(c));
          }),
      },
    );
    setHandler(
      abortUpdate,
      (request) => {
        this.abortRequest = request;
        this.record(abort(request));
      },
      {
        validator: (request) =>
          refuseFailing(() => {
            validateAbort({ outcome: this.outcome(), aborted: this.abortRequest }, request);
            this.prove(abort(request));
          }),
      },
    );
  }
}
