// Fences: a destructive step (an in-place restore, an apply, a code rollback) runs at most once per
// approval, however often Temporal retries it. A crash of the worker or of the Temporal server
// leaves an attempt whose end nobody saw; the server times it out and schedules the next, which may
// start while the first still runs or after it committed. So every attempt first finds out whether
// an earlier one finished, from a fence the step records where its change is:
// - in the target, in the very transaction that commits the change (activities/postgres/fence.ts):
//   the fence exists if and only if the change was committed;
// - in the store, around a hook, which no transaction can hold (below): written before it runs and
//   completed after, so a retry that finds it started but never finished refuses to guess.
//
// Guarantees:
// - The fence key is the step's scheduling: workflow id, run id and activity id. Temporal's retries
//   of one scheduled activity share its activity id; a gate is approved once per run and its step is
//   scheduled once after it, so one key is one approval. A new approval (another run, or a step
//   scheduled again after a new gate) is a new key and may change the target again.
// - A retry that finds the fence returns the first attempt's result, marked "already applied by
//   attempt N at …", and changes nothing.
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { FailureType } from '../common/errors.js';
import { refuse } from './failure.js';
import type { BackupStore } from './storage/store.js';

export interface Fence {
  /** workflowId/runId/activityId, each part URI-encoded: no spaces, quotes of SQL or line breaks. */
  key: string;
  /** This attempt's number (Temporal's, from 1). */
  attempt: number;
}

/** What a fence found in the target or the store says: which attempt applied the change, and when. */
export interface Applied {
  attempt: number;
  at: string;
}

/** The fence of the activity running now. */
export function currentFence(): Fence {
  const { workflowExecution: run, activityId, attempt } = Context.current().info;
  // Lifeboat's activities all run for a workflow; one started on its own has only its own id.
  const parts = run ? [run.workflowId, run.runId, activityId] : [activityId];
  return { key: parts.map(encodeURIComponent).join('/'), attempt };
}

/** The note a retry puts in its result when it finds the fence: the timeline shows it. */
export function alreadyApplied(applied: Applied): string {
  return `already applied by attempt ${applied.attempt} at ${applied.at}; this attempt changed nothing`;
}

interface StoredFence<T> extends Applied {
  key: string;
  step: string;
  /** 'started' before the step runs; 'done' (with its result) or 'failed' (it reported failure, so it may run again) after. */
  state: 'started' | 'done' | 'failed';
  result?: T;
}

/**
 * Runs `step` (which no transaction can hold, e.g. a hook) at most once per fence, recording the
 * fence in the store under `folder`: a retry after a finished run returns its result; a retry that
 * finds it started but not finished (its worker or the server died meanwhile, so it may have run)
 * refuses, non-retryably, with `unfinished`'s message. A step that reports failure (`failed` says
 * so of its result) may run again: it is retryable by design, and did not make its change.
 * The store has no compare-and-set: two attempts at once could both start. Temporal starts another
 * attempt only after the first failed or timed out, long after the fence was written.
 */
export async function onceInStore<T extends object>(
  store: BackupStore,
  folder: string,
  step: string,
  run: () => Promise<T>,
  options: { failed: (result: T) => boolean; unfinished: (started: Applied) => string },
): Promise<T & { alreadyApplied?: string }> {
  const fence = currentFence();
  const key = `${folder}/fences/${createHash('sha256').update(fence.key).digest('hex').slice(0, 32)}.json`;
  const text = await store.getText(key);
  const earlier = text === undefined ? undefined : (JSON.parse(text) as StoredFence<T>);
  if (earlier?.state === 'done' && earlier.result) return { ...earlier.result, alreadyApplied: alreadyApplied(earlier) };
  if (earlier?.state === 'started') throw refuse(options.unfinished(earlier), FailureType.unfinished);
  const write = (record: StoredFence<T>) => store.putText(key, `${JSON.stringify(record, null, 2)}\n`);
  const started: StoredFence<T> = { key: fence.key, step, attempt: fence.attempt, at: new Date().toISOString(), state: 'started' };
  await write(started);
  // Whatever throws from here leaves the fence started: the step may have run.
  const result = await run();
  await write({ ...started, state: options.failed(result) ? 'failed' : 'done', at: new Date().toISOString(), result });
  return result;
}
