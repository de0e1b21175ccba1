// Starting work on the worker from a command: a worker must be seen polling the task queue first
// (none: exit 1 at once, saying how to start one); then the workflow is followed to its result.
import type { LifeboatConfig } from '../../config/config.js';
import { connectClient, follow } from '../follow.js';
import { requireWorker } from '../worker-check.js';

/** A workflow id's suffix: the start time, so each run of a command is its own workflow. */
const stamp = () => new Date().toISOString().replace(/[-:.]/g, '');

/**
 * Starts `type` on the worker's task queue once a worker is seen polling it (none: exit 1 at once),
 * as `<id>-<time>`, and follows it to its result.
 */
export async function runOnWorker<W extends (input: never) => Promise<unknown>>(
  cfg: LifeboatConfig,
  type: string,
  id: string,
  input: Parameters<W>[0],
  label: string,
): Promise<Awaited<ReturnType<W>>> {
  const client = await connectClient(cfg);
  await requireWorker(client, cfg);
  const handle = await client.workflow.start(type, { taskQueue: cfg.temporal.taskQueue, workflowId: `${id}-${stamp()}`, args: [input] });
  return follow<Awaited<ReturnType<W>>>(handle, label);
}
