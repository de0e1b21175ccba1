// Orphan side instances are swept: a plan terminated while its side instance runs never cleans up,
// so the sweep (as a worker starts, before every restore to a moment, and on the side-sweep schedule) asks Temporal about the
// run each side folder records as its owner, stops the instance of a closed run and removes its
// folder, and leaves alone the instance of a run still going.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { sweepSideInstances } from '../activities/pgbackrest/activities.js';
import type { SweepEntry } from '../activities/pgbackrest/sweep.js';
import { createResolver } from '../activities/resolve.js';
import { abort } from '../client/incidents.js';
import { instanceIdFor } from '../common/names.js';
import type { RunResult } from '../common/plans.js';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { createWorker } from '../worker/worker.js';
import { as, uniqueName, waitingFor } from './helpers.js';
import { declareOn, useArchivingCluster } from './pitr-cluster.js';

/** Whether a process runs (signal 0 reaches it; EPERM: it runs as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('orphan side instances', () => {
  const suite = useArchivingCluster('pitrsweep', 40, 'approvals:\n  L1: { approvers: [alice, bob, carol] }');
  const sideFolder = (incidentId: string) => join(suite.c.server.pgbackrest!.dir, 'side', instanceIdFor(incidentId));
  const postmaster = (incidentId: string) =>
    Number(readFileSync(join(sideFolder(incidentId), 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);

  /** An L1 at `goodAt` of `keys`, waiting at its approval with its side instance running. */
  const waitingL1 = async (summary: string, keys: string[], goodAt: string) => {
    const { input, handle } = await declareOn(suite.worker, 'L1', summary, {
      record: { table: 'crm_leads', keys, goodBefore: new Date().toISOString() },
      moment: { kind: 'time', time: goodAt },
    });
    await waitingFor(suite.worker.client.workflow.getHandle(`${input.incidentId}-L1`), 'apply-restore');
    return { input, handle };
  };

  it('stops and removes the side instance of a terminated plan, and leaves the one of a running plan alone', async () => {
    await suite.c.fullBackup();
    const keys = (await suite.c.sql<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 2')).map((r) => r.id);
    const goodAt = (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    await suite.c.sql('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [keys]);
    await suite.c.archiveNow();

    const orphan = await waitingL1('terminated mid-incident', keys.slice(0, 1), goodAt);
    const live = await waitingL1('still waiting for its approval', keys.slice(1), goodAt);
    // The owner record names the plan's run, written before the restore ran.
    const plan = suite.worker.client.workflow.getHandle(`${orphan.input.incidentId}-L1`);
    const owner = JSON.parse(readFileSync(join(sideFolder(orphan.input.incidentId), 'owner.json'), 'utf8')) as Record<string, string>;
    expect(owner).toMatchObject({ workflowId: plan.workflowId, runId: (await plan.describe()).runId, workflowType: 'level1Workflow' });
    const [orphanPid, livePid] = [postmaster(orphan.input.incidentId), postmaster(live.input.incidentId)];
    expect(alive(orphanPid) && alive(livePid)).toBe(true);

    // Terminated: no clean-up step ever runs (the incident's plan goes with it, by the parent-close policy).
    await orphan.handle.terminate('an operator terminated the incident');
    await expect.poll(async () => (await plan.describe()).status.name, { timeout: 60_000 }).toBe('TERMINATED');
    expect(existsSync(sideFolder(orphan.input.incidentId))).toBe(true);

    const lines: string[] = [];
    const swept = await sweepSideInstances(createResolver(suite.c.config, suite.c.env), suite.worker.client, {
      info: (line) => lines.push(line),
      warn: (line) => lines.push(line),
    });
    expect([...swept].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [
        { id: instanceIdFor(orphan.input.incidentId), action: 'removed', why: expect.stringContaining('is no longer running') },
        { id: instanceIdFor(live.input.incidentId), action: 'kept', why: expect.stringContaining('is running') },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(lines.join('\n')).toContain(`${instanceIdFor(orphan.input.incidentId)}: removed, workflow ${plan.workflowId}`);
    expect(existsSync(sideFolder(orphan.input.incidentId))).toBe(false);
    await expect.poll(() => alive(orphanPid), { timeout: 60_000 }).toBe(false);
    expect(alive(livePid)).toBe(true);
    expect(existsSync(join(sideFolder(live.input.incidentId), 'data', 'postmaster.pid'))).toBe(true);

    // The running plan ends as any: its own clean-up removes its instance.
    await abort(suite.worker.client, live.input.incidentId, { ...as('carol'), reason: 'test over' });
    expect(((await live.handle.result()) as RunResult).outcome).toBe('aborted');
    expect(existsSync(sideFolder(live.input.incidentId))).toBe(false);
    await expect.poll(() => alive(livePid), { timeout: 60_000 }).toBe(false);
  }, 600_000);

  it('a restore to a moment first sweeps what a terminated plan left, and so do the side-sweep schedule and a worker as it starts', async () => {
    const keys = (await suite.c.sql<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 3 OFFSET 5')).map((r) => r.id);
    const goodAt = (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    await suite.c.sql('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [keys]);
    await suite.c.archiveNow();
    const terminated = async (summary: string, key: string) => {
      const { input, handle } = await waitingL1(summary, [key], goodAt);
      const pid = postmaster(input.incidentId);
      await handle.terminate('terminated by the test');
      const plan = suite.worker.client.workflow.getHandle(`${input.incidentId}-L1`);
      await expect.poll(async () => (await plan.describe()).status.name, { timeout: 60_000 }).toBe('TERMINATED');
      return { folder: sideFolder(input.incidentId), pid };
    };

    const first = await terminated('left behind, then a restore to a moment', keys[0]!);
    // The next plan's restore sweeps before it restores: the orphan is gone by the time it waits for approval.
    const second = await terminated('left behind, then the hourly sweep', keys[1]!);
    expect(existsSync(first.folder)).toBe(false);
    await expect.poll(() => alive(first.pid), { timeout: 60_000 }).toBe(false);
    expect(existsSync(second.folder)).toBe(true);

    // The side-sweep schedule's workflow (started here as the schedule starts it) sweeps with no restore to come.
    const swept = (await suite.worker.client.workflow.execute('sideSweepWorkflow', {
      taskQueue: suite.worker.taskQueue,
      workflowId: uniqueName('side-sweep'),
      args: [{ target: 'crm' }],
    })) as SweepEntry[];
    expect(swept).toEqual([{ id: basename(second.folder), action: 'removed', why: expect.stringContaining('is no longer running') }]);
    expect(existsSync(second.folder)).toBe(false);
    await expect.poll(() => alive(second.pid), { timeout: 60_000 }).toBe(false);

    const third = await terminated('left behind, then a worker starting', keys[2]!);
    expect(existsSync(third.folder)).toBe(true);
    // A worker starting (createWorker, as `lifeboat worker` does; on a task queue of its own, so it takes none of the suite's work) sweeps.
    const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    const worker = await createWorker({
      config: suite.c.config,
      env: suite.c.env,
      connection,
      taskQueue: uniqueName('sweep'),
      workflowBundle: { codePath: inject('workflowBundlePath') },
      notifier: new ConsoleNotifier(() => undefined),
    });
    const running = worker.run();
    try {
      await expect.poll(() => existsSync(third.folder), { timeout: 120_000 }).toBe(false);
      await expect.poll(() => alive(third.pid), { timeout: 60_000 }).toBe(false);
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
    }
  }, 600_000);
});
