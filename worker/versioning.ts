// Worker Versioning (Temporal Worker Deployments), on when `temporal.versioning` is configured.
//
// Guarantees:
// - The version's build id is the workflow bundle's hash (worker/bundle.ts keys each bundle by
//   the workflow sources and the locked SDK): the same workflow code is the same version, and
//   any change to it is a new one. `temporal.versioning.buildId` overrides it.
// - Every workflow is PINNED: a run (a 72-hour incident, its plan) finishes on the worker version
//   it started on; only new runs go to the deployment's current version.
// - `makeCurrent: when-none` (the default) makes this version current only when the deployment
//   has none yet (a first start, `lifeboat dev`), so nothing needs a manual step; a rollout makes
//   a new version current with `temporal worker deployment set-current-version` (README,
//   "Operations"). `always` makes each new worker current as soon as it polls; `never` leaves it
//   to the operator.
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { type NativeConnection, Runtime, type Worker, type WorkerDeploymentOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { LifeboatConfig } from '../config/config.js';

export type VersioningConfig = NonNullable<LifeboatConfig['temporal']['versioning']>;

/** `workflows-<hash>`: the hash in the bundle's file name, or of its code for a bundle built elsewhere. */
export function buildIdFor(bundle: WorkflowBundleOption): string {
  if ('code' in bundle) return `workflows-${createHash('sha256').update(bundle.code).digest('hex').slice(0, 16)}`;
  const named = /^(workflows-[0-9a-f]{16})\.js$/.exec(basename(bundle.codePath));
  return named ? named[1]! : `workflows-${createHash('sha256').update(readFileSync(bundle.codePath)).digest('hex').slice(0, 16)}`;
}

export function deploymentVersion(config: LifeboatConfig, bundle: WorkflowBundleOption): WorkerDeploymentVersion | undefined {
  const versioning = config.temporal.versioning;
  if (!versioning) return undefined;
  return { deploymentName: versioning.deployment ?? config.temporal.taskQueue, buildId: versioning.buildId ?? buildIdFor(bundle) };
}

export function deploymentOptions(version: WorkerDeploymentVersion): WorkerDeploymentOptions {
  return { useWorkerVersioning: true, version, defaultVersioningBehavior: 'PINNED' };
}

/**
 * Once the server has seen this worker's pollers, makes its version current as `makeCurrent`
 * asks. Runs beside the worker and ends with it; a failure is logged, never thrown.
 */
export function makeCurrentWhenPolling(
  connection: NativeConnection,
  worker: Worker,
  namespace: string,
  version: WorkerDeploymentVersion,
  makeCurrent: VersioningConfig['makeCurrent'],
): Promise<void> {
  if (makeCurrent === 'never') return Promise.resolve();
  const logger = Runtime.instance().logger;
  const alive = () => ['INITIALIZED', 'RUNNING'].includes(worker.getState());
  const { deploymentName, buildId } = version;
  const attempt = async (): Promise<boolean> => {
    const described = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName }).catch(() => undefined);
    const info = described?.workerDeploymentInfo;
    // Until its pollers reach the server, the version (or the whole deployment) is unknown.
    if (!info?.versionSummaries?.some((v) => v.deploymentVersion?.buildId === buildId)) return false;
    const current = info.routingConfig?.currentDeploymentVersion?.buildId;
    if (current === buildId || (makeCurrent === 'when-none' && current)) return true;
    // The conflict token refuses the change if another worker changed the deployment meanwhile: look again.
    await connection.workflowService.setWorkerDeploymentCurrentVersion({
      namespace,
      deploymentName,
      buildId,
      conflictToken: described!.conflictToken,
      identity: `lifeboat worker ${buildId}`,
    });
    logger.info(`worker deployment ${deploymentName}: version ${buildId} is now current`);
    return true;
  };
  return (async () => {
    while (alive()) {
      const done = await attempt().catch(
        (err: Error) => (
          logger.warn(`worker deployment ${deploymentName}: making ${buildId} current failed, retrying: ${err.message}`),
          false
        ),
      );
      if (done) return;
      // unref: a worker that is never run must not keep its process alive through this loop.
      await new Promise((ok) => setTimeout(ok, 500).unref());
    }
  })();
}
