// How a plan ends when it does not recover: the two ways people stop it (an abort, a rejected
// gate), the text and outcome any other error turns into, and the failure a run that failed or was
// rejected ends its workflow execution with (its RunResult as the details, read back by a parent
// here and by clients in client/run-result.ts). Pure: plans and the engine share it.
import { ApplicationFailure, ChildWorkflowFailure } from '@temporalio/common';
import { RUN_FAILURE_TYPES, runFailureType } from '../../common/errors.js';
import type { Outcome, RunResult } from '../../common/plans.js';

/** Thrown at a safe point once an abort was requested; plans clean up and end as "aborted". */
export class RunAborted extends Error {
  override name = 'RunAborted';
}

/** Thrown when an approver rejects a gate; plans end as "rejected" without changing anything. */
export class GateRejected extends Error {
  override name = 'GateRejected';
}

/** The innermost cause's message: what actually went wrong, without Temporal's wrapping. */
export function failureText(err: unknown): string {
  let e = err as { cause?: unknown; message?: string } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

/**
 * Turns an ended plan's error into its outcome. Changes the run had already committed stay
 * applied: the detail says so, so an abort that came after an apply never reads as "nothing done".
 */
export function outcomeOf(err: unknown, committed: readonly string[] = []): { outcome: Outcome; detail: string; committed?: string[] } {
  const ended =
    err instanceof RunAborted
      ? { outcome: 'aborted' as const, detail: `aborted: ${err.message}` }
      : err instanceof GateRejected
        ? { outcome: 'rejected' as const, detail: err.message }
        : { outcome: 'failed' as const, detail: failureText(err) };
  if (!committed.length) return ended;
  return {
    ...ended,
    detail: `${ended.detail} — already applied before that, and staying applied: ${committed.join('; ')}`,
    committed: [...committed],
  };
}

/** The failure a run with this result ends its workflow execution with; undefined when it completes (recovered, aborted). */
export function runFailure(result: RunResult): ApplicationFailure | undefined {
  const type = runFailureType(result.outcome);
  if (!type) return undefined;
  return ApplicationFailure.create({ type, message: `${result.outcome}: ${result.detail}`, nonRetryable: true, details: [result] });
}

/** The result a child plan that failed or was rejected carries in its failure; any other error is thrown again. */
export function planResultOf(err: unknown): RunResult {
  const cause = err instanceof ChildWorkflowFailure ? err.cause : undefined;
  const result = cause instanceof ApplicationFailure && RUN_FAILURE_TYPES.includes(cause.type ?? '') ? cause.details?.[0] : undefined;
  if (typeof result !== 'object' || result === null) throw err;
  return result as RunResult;
}
