// The worker process: registers the workflows and the activities built from the configuration.
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createActivities, type ActivityContext } from '../activities/index.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

// The sources import './x.js' as Node's ESM resolution asks; webpack must find the .ts behind it.
const resolveTypeScript = (config: Parameters<NonNullable<Parameters<typeof bundleWorkflowCode>[0]['webpackConfigHook']>>[0]) => {
  config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
  return config;
};

/** Bundles the workflow code once; tests and the demo reuse the bundle across workers. */
export async function bundleWorkflows(): Promise<WorkflowBundleOption> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, webpackConfigHook: resolveTypeScript, logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string) {
    console.warn(message);
  },
  error(message: string) {
    console.error(message);
  },
};

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
    workflowBundle: options.workflowBundle ?? (await bundleWorkflows()),
    activities: createActivities(options),
    // Two cores: a dump and a restore at once is the most this machine should run.
    maxConcurrentActivityTaskExecutions: 4,
  });
}
