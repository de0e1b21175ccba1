// Worker Versioning on the real dev server: an incident started on version A keeps running on
// version A's worker after version B becomes current (PINNED), while new runs go to B; the build
// id defaults to the workflow bundle's hash. B is made current with the very command the README's
// rollout gives, `temporal worker deployment set-current-version`.
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { decodeVersioningBehavior } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { abort, incidentInput } from '../client/incidents.js';
import { venvTool } from '../client/stack/processes.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import { buildIdFor } from '../worker/versioning.js';
import { createWorker } from '../worker/worker.js';
import { type RunResult } from '../common/plans.js';
import { type TestDatabase, createCrmDatabase, testConfig, testConfigText, testEnv, uniqueName, waitingNames, as } from './helpers.js';

describe('worker versioning', () => {
  let db: TestDatabase;
  let base: LifeboatConfig;
  let connection: Connection;
  let client: Client;
  const deployment = uniqueName('lifeboat');
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    db = await createCrmDatabase(100);
    base = testConfig({ prefix: uniqueName('versioning') });
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection });
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await connection?.close();
    await db?.drop();
  });

  /** A worker of the deployment as `lifeboat worker` makes one, with the given build id. */
  async function startVersion(buildId: string, makeCurrent: 'when-none' | 'never'): Promise<void> {
    const config: LifeboatConfig = { ...base, temporal: { ...base.temporal, versioning: { deployment, buildId, makeCurrent } } };
    const native = await NativeConnection.connect({ address: inject('temporalAddress') });
    const worker = await createWorker({
      config,
      env: testEnv(db),
      connection: native,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      notifier: new ConsoleNotifier(() => undefined),
    });
    const running = worker.run();
    stops.push(async () => (worker.shutdown(), await running, await native.close()));
  }

  const described = () =>
    connection.workflowService.describeWorkerDeployment({ namespace: 'default', deploymentName: deployment }).then(
      (r) => r.workerDeploymentInfo,
      () => undefined,
    );
  const current = async () => (await described())?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
  /** The task queues (name and type) a version's workers poll, as the server knows them. */
  const queuesOf = async (buildId: string) =>
    (
      await connection.workflowService
        .describeWorkerDeploymentVersion({ namespace: 'default', deploymentVersion: { deploymentName: deployment, buildId } })
        .then(
          (r) => r.workerDeploymentVersionInfo?.taskQueueInfos ?? [],
          () => [],
        )
    )
      .map((q) => `${q.name}/${q.type}`)
      .sort();
  const knownVersions = async () => ((await described())?.versionSummaries ?? []).map((v) => v.deploymentVersion?.buildId);
  /** The build id of the worker that completed each workflow task, with the task's time. */
  const taskVersions = async (handle: WorkflowHandle) =>
    ((await handle.fetchHistory()).events ?? [])
      .filter((e) => e.workflowTaskCompletedEventAttributes)
      .map((e) => ({
        buildId: e.workflowTaskCompletedEventAttributes!.deploymentVersion?.buildId,
        at: Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6),
      }));
  const pinnedTo = async (handle: WorkflowHandle) => {
    const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
    return { behavior: decodeVersioningBehavior(info?.behavior), buildId: info?.deploymentVersion?.buildId };
  };

  it('is off unless temporal.versioning is configured; makeCurrent defaults to when-none; bad names are refused with the field', () => {
    expect(base.temporal.versioning).toBeUndefined();
    const withVersioning = (yaml: string) =>
      testConfigText({ prefix: 'p', taskQueue: 'lifeboat' }).replace('  taskQueue: lifeboat\n', `  taskQueue: lifeboat\n${yaml}`);
    expect(parseConfig(withVersioning('  versioning: {}\n'), 'x', {}).temporal.versioning).toEqual({ makeCurrent: 'when-none' });
    expect(() => parseConfig(withVersioning('  versioning: { deployment: "a.b" }\n'), 'x', {})).toThrow(
      /temporal\.versioning\.deployment: expected a deployment name/,
    );
    expect(() => parseConfig(withVersioning('  versioning: { makeCurrent: sometimes }\n'), 'x', {})).toThrow(
      /temporal\.versioning\.makeCurrent/,
    );
  });

  it('derives the build id from the workflow bundle’s hash', () => {
    const codePath = inject('workflowBundlePath');
    expect(buildIdFor({ codePath })).toBe(basename(codePath, '.js'));
    expect(buildIdFor({ codePath })).toMatch(/^workflows-[0-9a-f]{16}$/);
  });

  it('keeps an incident started on version A on A after B becomes current, and sends new runs to B', async () => {
    // A first worker makes its version current by itself: no manual step.
    await startVersion('A', 'when-none');
    await expect.poll(current, { timeout: 60_000, interval: 200 }).toBe('A');

    const input = incidentInput({ target: 'crm', summary: 'a 72-hour incident', declaredBy: 'carol', level: 'L3', options: {} });
    const incident = await client.workflow.start('incidentWorkflow', {
      taskQueue: base.temporal.taskQueue,
      workflowId: input.incidentId,
      args: [input],
    });
    const plan = client.workflow.getHandle(`${input.incidentId}-L3`);
    await expect.poll(() => waitingNames(plan), { timeout: 60_000, interval: 200 }).toContain('vendor-support');

    // The rollout: B polls (and does not promote itself), then the operator makes it current.
    await startVersion('B', 'never');
    await expect.poll(knownVersions, { timeout: 60_000, interval: 200 }).toContain('B');
    // The server refuses to make B current until B polls every task queue A does (workflow and activity).
    await expect.poll(async () => queuesOf('B'), { timeout: 60_000, interval: 200 }).toEqual(await queuesOf('A'));
    expect(await current()).toBe('A');
    const switchedAt = Date.now();
    await promisify(execFile)(venvTool('temporal'), [
      'worker',
      'deployment',
      'set-current-version',
      '--address',
      inject('temporalAddress'),
      '--deployment-name',
      deployment,
      '--build-id',
      'B',
      '--yes',
    ]);
    expect(await current()).toBe('B');

    // A new run goes to B.
    const fresh = await client.workflow.start('backupWorkflow', {
      taskQueue: base.temporal.taskQueue,
      workflowId: uniqueName('backup'),
      args: [{ target: 'crm' }],
    });
    await fresh.result();
    expect(await pinnedTo(fresh)).toEqual({ behavior: 'PINNED', buildId: 'B' });
    expect(new Set((await taskVersions(fresh)).map((t) => t.buildId))).toEqual(new Set(['B']));

    // The incident and its plan go on after the switch, on A only.
    await abort(client, input.incidentId, { ...as('carol'), reason: 'versioning test over' });
    expect(((await incident.result()) as RunResult).outcome).toBe('aborted');
    for (const run of [incident, plan]) {
      expect(await pinnedTo(run)).toEqual({ behavior: 'PINNED', buildId: 'A' });
      const tasks = await taskVersions(run);
      expect(
        tasks.some((t) => t.at >= switchedAt - 1_000),
        `${run.workflowId} ran no workflow task after B became current`,
      ).toBe(true);
      expect(new Set(tasks.map((t) => t.buildId)), run.workflowId).toEqual(new Set(['A']));
    }
  });
});
