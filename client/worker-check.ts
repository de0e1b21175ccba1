// Before a command starts work, is anyone there to do it? Temporal's description of the task
// queue lists the workers that polled it lately, by task type: a run needs both its workflow tasks
// and its activities taken. With none, the command says so at once instead of waiting for ever.
// Guarantees: nothing is started when the check refuses; a worker that stopped in the last few
// minutes still counts (the server keeps a poller listed for up to 5 minutes), so the check never
// refuses while a worker is there, and follow() says "waiting for a worker" in that gap.
import type { Client } from '@temporalio/client';
import type { LifeboatConfig } from '../config/config.js';
import { CliError } from './cli-process.js';

/** temporal.api.enums.v1: TASK_QUEUE_KIND_NORMAL, and the task queue types a Lifeboat worker polls. */
const NORMAL_KIND = 1;
const TASK_TYPES = { workflow: 1, activity: 2 } as const;

/** The task types of the queue that no worker polls (empty: a worker is there for everything). */
export async function unpolledTaskTypes(client: Client, taskQueue: string): Promise<string[]> {
  const missing: string[] = [];
  for (const [name, taskQueueType] of Object.entries(TASK_TYPES)) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue, kind: NORMAL_KIND },
      taskQueueType,
    });
    if (!pollers?.length) missing.push(name);
  }
  return missing;
}

/** Refuses (exit 1) to start work nobody would do, with how to start a worker. */
export async function requireWorker(client: Client, config: LifeboatConfig): Promise<void> {
  const { taskQueue, address, namespace } = config.temporal;
  const missing = await unpolledTaskTypes(client, taskQueue);
  if (!missing.length) return;
  throw new CliError(
    `no worker polls task queue "${taskQueue}" (namespace ${namespace} on ${address}; no ${missing.join(' or ')} tasks would run): nothing was started. Start one with "lifeboat worker" (same configuration), or "make demo" for the whole demo stack`,
    1,
  );
}
