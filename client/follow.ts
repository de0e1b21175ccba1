// Starting a workflow from the CLI and following it: the phase and bytes its running activity
// reports in heartbeats, then the result or the cause of failure.
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import type { LifeboatConfig } from '../config/config.js';
import type { Progress } from '../common/backups.js';
import type { RunStatus } from '../common/plans.js';
import { statusQuery } from '../workflows/messages.js';
import { formatDuration } from '../common/time.js';
import { CliError, registerConnection } from './cli-process.js';
import { bytes } from '../common/sizes.js';

export async function connectClient(config: LifeboatConfig): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5s' });
    registerConnection(connection);
    return new Client({ connection, namespace: config.temporal.namespace });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message} (start it with "lifeboat dev", or set TEMPORAL_ADDRESS)`,
      1,
    );
  }
}

/**
 * A run's status and its child plan's, as far as they can be read now: before a run's first
 * workflow task, or while a worker is busy, a query fails, and the caller looks again later.
 */
export async function runAndPlanStatus(client: Client, handle: WorkflowHandle): Promise<{ run?: RunStatus; plan?: RunStatus }> {
  const run = await handle.query(statusQuery).catch(() => undefined);
  const plan = run?.childWorkflowId ? await tryStatus(client, run.childWorkflowId) : undefined;
  return { run, plan };
}

/** A run's status, or undefined while it cannot answer (not started yet, its worker busy). */
export const tryStatus = (client: Client, id: string): Promise<RunStatus | undefined> =>
  client.workflow
    .getHandle(id)
    .query(statusQuery)
    .catch(() => undefined);

/**
 * What actually went wrong: the innermost cause, past Temporal's wrappers ("Activity task failed"),
 * but not past a message that already quotes its cause with more context ("cannot connect to
 * postgres at …: connect ECONNREFUSED" says more than "connect ECONNREFUSED").
 */
export function rootCause(err: unknown): string {
  let e = err as { cause?: unknown; message?: string } | undefined;
  while (e?.cause) {
    const inner = e.cause as typeof e;
    if (inner?.message && e.message?.includes(inner.message)) break;
    e = inner;
  }
  return e?.message ?? String(err);
}

/** What describe() says of a run's pending work: the parts progressOf reads. */
type PendingWork = Pick<Awaited<ReturnType<WorkflowHandle['describe']>>['raw'], 'pendingActivities' | 'pendingWorkflowTask'>;

/** temporal.api.enums.v1: an activity or a workflow task scheduled and taken by no worker yet. */
export const SCHEDULED = 1;

/**
 * The progress line of a run: what its running activity reports in heartbeats. Work that is
 * scheduled but taken by no worker reads "waiting for a worker", never an attempt count, so
 * nothing looks as if it ran; a retry that waits for its time says when it comes.
 */
export function progressOf(pending: PendingWork, now = Date.now()): string | undefined {
  const activity = pending.pendingActivities?.[0];
  if (!activity) return pending.pendingWorkflowTask?.state === SCHEDULED ? 'waiting for a worker' : undefined;
  const name = activity.activityType?.name ?? 'working';
  const attempt = activity.attempt ?? 1;
  if (activity.state === SCHEDULED) {
    const nextAt = optionalTsToMs(activity.nextAttemptScheduleTime);
    const failed = activity.lastFailure?.message ? `: ${activity.lastFailure.message}` : '';
    if (nextAt !== undefined && nextAt > now) return `${name} failed${failed}; attempt ${attempt} in ${formatDuration(nextAt - now)}`;
    return `waiting for a worker (${name}${attempt > 1 ? `, after a failed attempt${failed}` : ''})`;
  }
  const payload = activity.heartbeatDetails?.payloads?.[0];
  const progress = payload ? defaultPayloadConverter.fromPayload<Progress>(payload) : undefined;
  const retry = attempt > 1 ? ` (attempt ${attempt})` : '';
  return progress ? `${progress.phase}${progress.bytes !== undefined ? ` ${bytes(progress.bytes)}` : ''}${retry}` : `${name}${retry}`;
}

async function currentProgress(handle: WorkflowHandle): Promise<string | undefined> {
  return progressOf((await handle.describe()).raw);
}

/** Waits for the workflow's result, printing progress to stderr while it runs. */
export async function follow<R>(
  handle: WorkflowHandle & { result(): Promise<R> },
  label: string,
  out: NodeJS.WriteStream = process.stderr,
): Promise<R> {
  const started = Date.now();
  let last = '';
  const tty = out.isTTY;
  const timer = setInterval(() => {
    currentProgress(handle)
      .then((p) => {
        const line = `${label}: ${p ?? 'starting'} · ${formatDuration(Date.now() - started)}`;
        if (tty) out.write(`\r\x1b[K${line}`);
        else if (p && p !== last) out.write(`${line}\n`);
        last = p ?? last;
      })
      .catch(() => undefined);
  }, 1000);
  try {
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new CliError(`${label} failed: ${rootCause(err)}`, 1);
    throw err;
  } finally {
    clearInterval(timer);
    if (tty) out.write('\r\x1b[K');
  }
}
