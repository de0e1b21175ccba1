// A recovery run's result, as every client reads it. A run that recovered or was aborted completes
// with its RunResult; one that failed or was rejected fails its workflow execution (red in the Web
// UI) with the RunResult as the failure's details (common/errors.ts runFailureType). One reader, so
// no client takes such a run for a crash, nor a crash for a run's result.
import { type WorkflowHandle, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { RUN_FAILURE_TYPES } from '../common/errors.js';
import type { RunResult } from '../common/plans.js';

/** The RunResult a failed or rejected run's failure carries; undefined for any other error. */
export function runResultIn(err: unknown): RunResult | undefined {
  const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
  if (!(cause instanceof ApplicationFailure) || !RUN_FAILURE_TYPES.includes(cause.type ?? '')) return undefined;
  const result = cause.details?.[0];
  return typeof result === 'object' && result !== null ? (result as RunResult) : undefined;
}

/** Waits for an incident's or a plan's end and returns its result, whether its workflow completed or failed. */
export async function runResultOf(handle: WorkflowHandle): Promise<RunResult> {
  try {
    return (await handle.result()) as RunResult;
  } catch (err) {
    const result = runResultIn(err);
    if (result) return result;
    throw err;
  }
}
