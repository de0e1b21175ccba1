// The validators of the people's Updates (approve, reject, complete, abort): pure functions that
// decide whether a message may enter the run's history. A refusal throws the reason and what to do
// next, and leaves no trace in the history; an accepted message is applied by the inbox's handlers.
// Everything they look at is an argument — the open item, the run's policy, the message, what the
// run waits for — so they are tested without Temporal. proveAnswer checks the answer's signature
// against the run it is for (AnswerScope) and the worker's keys, deterministically (common/proof.ts).
import type { AbortRequest, ApprovalItem, Completion, Outcome, RunContext, TaskItem, Vote, WaitingItem } from '../../common/plans.js';
import { type Decision, type Proof, type ProvenAnswer, checkProof, digestOf } from '../../common/proof.js';

/** A gate while the run holds it: the waiting item and, once enough votes or a rejection came, the decision. */
export type OpenGate = ApprovalItem & { decided?: { approved: boolean; by: string; reason?: string } };
/** A task while the run holds it: the waiting item and, once done, its completion. */
export type OpenTask = TaskItem & { completion?: Completion };
export type OpenItem = OpenGate | OpenTask;

/** What a vote is checked against, as recorded at the run's start: the level, who declared it, the approval policy. */
export type VotePolicy = Pick<RunContext, 'level' | 'declaredBy' | 'approvals'>;

/** Whether the run still waits on the item (a decided gate or a done task is about to close). */
export function isPending(item: OpenItem): boolean {
  return item.kind === 'approval' ? !item.decided : !item.completion;
}

/** What the run waits for, as refusals name it: `gate "apply-restore", task "review"`. */
function waitingFor(waiting: readonly WaitingItem[]): string {
  const names = waiting.map((i) => `${i.kind === 'approval' ? 'gate' : 'task'} "${i.name}"`);
  return names.length ? names.join(', ') : 'nothing';
}

function requireName(by: string | undefined): void {
  if (!by?.trim()) throw new Error('say who you are (--as <name>)');
}

/** An approval or a rejection: the gate must wait for a vote, and the voter be allowed to cast it. Returns the gate. */
export function validateVote(item: OpenItem | undefined, policy: VotePolicy, vote: Vote, waiting: readonly WaitingItem[]): OpenGate {
  requireName(vote.by);
  if (!item || item.kind !== 'approval' || item.decided) {
    throw new Error(`gate "${vote.gate}" is not waiting for a vote (this run is waiting for ${waitingFor(waiting)})`);
  }
  if (!item.approvers.includes(vote.by)) {
    throw new Error(
      `${vote.by} may not decide gate "${vote.gate}" of an ${policy.level} incident (allowed: ${item.approvers.join(', ') || 'nobody is configured: add approvers to approvals.' + policy.level})`,
    );
  }
  if (vote.by === policy.declaredBy && !policy.approvals.selfApproval) {
    throw new Error(`${vote.by} declared this incident and self-approval is off: another approver must decide`);
  }
  return item;
}

/** An approval: a valid vote, and not the same person's second one (the two-person rule counts distinct approvers). */
export function validateApproval(item: OpenItem | undefined, policy: VotePolicy, vote: Vote, waiting: readonly WaitingItem[]): void {
  const gate = validateVote(item, policy, vote, waiting);
  if (gate.approvedBy.includes(vote.by)) {
    throw new Error(
      `${vote.by} already approved "${vote.gate}": it needs ${gate.required} distinct approvers (${gate.approvedBy.length} so far)`,
    );
  }
}

/** A completion: someone named, for a task that is waiting. */
export function validateCompletion(item: OpenItem | undefined, completion: Completion, waiting: readonly WaitingItem[]): void {
  requireName(completion.by);
  if (!item || item.kind !== 'human' || item.completion) {
    throw new Error(`no task "${completion.task}" is waiting (this run is waiting for ${waitingFor(waiting)})`);
  }
}

/** An abort: someone named, with a reason, while the run is still going and no abort is pending. */
export function validateAbort(run: { outcome?: Outcome; aborted?: AbortRequest }, request: AbortRequest): void {
  requireName(request.by);
  if (!request.reason?.trim()) throw new Error('an abort needs a reason (--reason "…")');
  if (run.outcome) throw new Error(`the run has already ended (${run.outcome})`);
  if (run.aborted) throw new Error(`an abort was already requested by ${run.aborted.by}`);
}

/** The run a proof must be bound to, and the workflow's clock that judges its age. */
export interface AnswerScope {
  namespace: string;
  workflowId: string;
  runId: string;
  nowMs: number;
}

/** An answer as it is signed: the item ("run" for an abort), the decision, who, the reason or note, and the proof. */
export interface Answer {
  item: string;
  decision: Decision;
  by: string;
  text?: string;
  proof?: Proof;
}

/**
 * Who proved the answer and by which key; throws the reason when the proof is missing, stale, for
 * something else or by someone else. Every run's policy asks for proofs; only a run started before
 * answers were proven (its recorded policy has none) answers undefined and goes on as it began.
 */
export function proveAnswer(policy: VotePolicy, scope: AnswerScope, answer: Answer): ProvenAnswer | undefined {
  if (!policy.approvals.proof) return undefined;
  const { namespace, workflowId, runId, nowMs } = scope;
  const { item, decision, by } = answer;
  const expected = { namespace, workflowId, runId, item, decision, by, textDigest: digestOf(answer.text) };
  return checkProof(answer.proof, expected, policy.approvals.proof, nowMs);
}
