// The inbox: the gates and tasks a run waits on, and the handlers of the Updates people send it
// (approve, reject, complete, abort). Every Update passes its validator first (./validators.ts): a
// refused one leaves no trace in the history. An accepted one only records the answer here; the
// step waiting on it (the runbook's gate or task) wakes up and acts on it.
import { setHandler } from '@temporalio/workflow';
import type { AbortRequest, ApprovalItem, Outcome, WaitingItem } from '../../common/plans.js';
import { abortUpdate, approveUpdate, completeUpdate, rejectUpdate } from '../messages.js';
import {
  type OpenGate,
  type OpenItem,
  type OpenTask,
  type VotePolicy,
  isPending,
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

export class Inbox {
  private readonly open = new Map<string, OpenItem>();
  private abortRequest?: AbortRequest;

  /** Installs the Update handlers; `outcome` tells whether the run has ended (an abort then comes too late). */
  constructor(
    private readonly policy: VotePolicy,
    private readonly outcome: () => Outcome | undefined,
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

  private installHandlers(): void {
    setHandler(
      approveUpdate,
      (vote) => {
        const gate: OpenGate = this.item(vote.gate, 'approval');
        gate.approvedBy.push(vote.by);
        if (gate.approvedBy.length >= gate.required) gate.decided = { approved: true, by: vote.by, reason: vote.reason };
        return gate.decided ? null : gateView(gate);
      },
      { validator: (vote) => validateApproval(this.open.get(vote.gate), this.policy, vote, this.waiting()) },
    );
    setHandler(
      rejectUpdate,
      (vote) => {
        this.item(vote.gate, 'approval').decided = { approved: false, by: vote.by, reason: vote.reason };
      },
      { validator: (vote) => void validateVote(this.open.get(vote.gate), this.policy, vote, this.waiting()) },
    );
    setHandler(
      completeUpdate,
      (completion) => {
        const task: OpenTask = this.item(completion.task, 'human');
        task.completion = completion;
      },
      { validator: (completion) => validateCompletion(this.open.get(completion.task), completion, this.waiting()) },
    );
    setHandler(
      abortUpdate,
      (request) => {
        this.abortRequest = request;
      },
      { validator: (request) => validateAbort({ outcome: this.outcome(), aborted: this.abortRequest }, request) },
    );
  }
}
