// How a plan ends when it does not recover: the two ways people stop it (an abort, a rejected
// gate), and the text and outcome any other error turns into. Pure: plans and the engine share it.
import type { Outcome } from '../../common/plans.js';

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
