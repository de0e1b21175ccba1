// The worker process: registers the workflows and the activities built from the configuration,
// as a version of a Worker Deployment when `temporal.versioning` is configured (worker/versioning.ts).
import { Client } from '@temporalio/client';
import { type NativeConnection, Runtime, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityContext } from '../activities/index.js';
import { sweepSideInstances } from '../activities/pgbackrest/activities.js';
import { createResolver } from '../activities/resolve.js';
import { workflowBundle } from './bundle.js';
import { deploymentOptions, deploymentVersion, makeCurrentWhenPolling } from './versioning.js';

export interface WorkerOptions extends ActivityContext {
  connection: NativeConnection;
  taskQueue?: string;
  workflowBundle?: WorkflowBundleOption;
}

export async function createWorker(options: WorkerOptions): Promise<Worker> {
  const { config } = options;
  const bundle = options.workflowBundle ?? (await workflowBundle());
  const version = deploymentVersion(config, bundle);
  const worker = await Worker.create({
    connection: options.connection,
    namespace: config.temporal.namespace,
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowBundle: bundle,
    activities: createActivities(options),
    // Two cores: a dump and a restore at once is the most this machine should run.
    maxConcurrentActivityTaskExecutions: 4,
    ...(version ? { workerDeploymentOptions: deploymentOptions(version) } : {}),
  });
  // Side instances left by plans that ended while no worker ran (terminated, a worker gone for good) are stopped and removed.
  void sweepSideInstances(
    createResolver(config, options.env ?? process.env),
    new Client({ connection: options.connection, namespace: config.temporal.namespace }),
    Runtime.instance().logger,
  );
  if (version)
    void makeCurrentWhenPolling(options.connection, worker, config.temporal.namespace, version, config.temporal.versioning!.makeCurrent);
  return worker;
}
