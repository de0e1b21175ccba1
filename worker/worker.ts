// The worker process: registers the workflows and the activities built from the configuration.
import { type NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityContext } from '../activities/index.js';
import { workflowBundle } from './bundle.js';

export interface WorkerOptions extends ActivityContext {
  connection: NativeConnection;
  taskQueue?: string;
  workflowBundle?: WorkflowBundleOption;
}

export async function createWorker(options: WorkerOptions): Promise<Worker> {
  const { config } = options;
  return Worker.create({
    connection: options.connection,
    namespace: config.temporal.namespace,
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowBundle: options.workflowBundle ?? (await workflowBundle()),
    activities: createActivities(options),
    // Two cores: a dump and a restore at once is the most this machine should run.
    maxConcurrentActivityTaskExecutions: 4,
  });
}
