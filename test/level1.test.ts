// L1 end to end on the real stack: deleted leads (with their activities, notes and reminders)
// and changed rows come back exactly, every other row stays as it was, approvals are enforced,
// a rejection changes nothing, an abort leaves nothing staged, and a worker killed during the
// apply gives the same database once another worker finishes it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { readReport } from '../activities/reports/report.js';
import { openStore } from '../activities/storage/open.js';
import { abort, incidentInput } from '../client/incidents.js';
import { REPO_ROOT } from '../client/stack/processes.js';
import { parseConfig } from '../config/config.js';
import type { LifeboatConfig } from '../config/config.js';
import { type RunResult, type RunStatus } from '../common/plans.js';
import { statusQuery } from '../workflows/messages.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  startTestWorker,
  testConfigText,
  testEnv,
  uniqueName,
  waitingNames,
  as,
  answer,
  observed,
  explainRun,
  runResultOf,
  holdLock,
  lockWaiters,
  tableSums as sumsOf,
} from './helpers.js';

describe('L1 record-level restore', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let configFile: string;
  let worker: TestWorker;
  let connection: Connection;
  let client: Client;
  /** Workflows that ran to their end, replayed at the end of the file. */
  const finished: string[] = [];
  let pristine: Record<string, { rows: number; checksum: string }>;
  let deleted: string[];
  let changed: string[];

  const tableSums = () => sumsOf(db.url);
  const stagingSchemas = () =>
    withClient(db.url, async (c) =>
      (await c.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'lifeboat_staging_%'")).rows.map((r) => r.n),
    );

  beforeAll(async () => {
    db = await createCrmDatabase(400);
    const text = testConfigText({
      prefix: uniqueName('l1'),
      extra: 'approvals:\n  L1: { approvers: [alice, bob, carol] }',
    });
    configFile = join(mkdtempSync(join(tmpdir(), 'lifeboat-l1-')), 'lifeboat.yaml');
    writeFileSync(configFile, text);
    config = parseConfig(text, configFile, {});
    worker = await startTestWorker(config, testEnv(db));
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection });
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    const manifest = (await run('backupWorkflow', [{ target: 'crm' }])) as { id: string };
    await run('verifyWorkflow', [{ backupId: manifest.id }]);
    pristine = await tableSums();
  });

  afterAll(async () => {
    await worker?.stop();
    await connection?.close();
    await db?.drop();
  });

  /** Deletes five leads (their children cascade away) and changes two others. */
  async function damage(): Promise<void> {
    await withClient(db.url, async (c) => {
      const ids = (await c.query<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 7 OFFSET 100')).rows.map((r) => r.id);
      deleted = ids.slice(0, 5);
      changed = ids.slice(5);
      await c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [deleted]);
      await c.query(
        `UPDATE crm_leads SET status = 'lost', preferences = preferences || '{"vip": true}', budget_max = budget_max + 1 WHERE id = ANY($1::bigint[])`,
        [changed],
      );
    });
  }

  async function declareL1(
    extra: { keys?: string[]; children?: boolean } = {},
  ): Promise<{ id: string; handle: WorkflowHandle; plan: WorkflowHandle }> {
    const input = incidentInput({
      target: 'crm',
      summary: 'a bad script deleted 5 leads and changed 2',
      declaredBy: 'carol',
      level: 'L1',
      options: {
        record: {
          table: 'crm_leads',
          keys: extra.keys ?? [...deleted, ...changed],
          includeChildren: extra.children ?? true,
          goodBefore: new Date().toISOString(),
        },
      },
    });
    const handle = await client.workflow.start('incidentWorkflow', {
      taskQueue: config.temporal.taskQueue,
      workflowId: input.incidentId,
      args: [input],
    });
    return { id: input.incidentId, handle, plan: client.workflow.getHandle(`${input.incidentId}-L1`) };
  }

  const waitingFor = async (handle: WorkflowHandle, name: string, timeout = 60_000): Promise<RunStatus> => {
    await expect.poll(() => waitingNames(handle), { timeout, interval: 200 }).toContain(name);
    return handle.query(statusQuery);
  };

  it('brings back exactly the deleted leads with their children and reverts the changed ones, touching nothing else', async () => {
    await damage();
    const damaged = await tableSums();
    expect(damaged.crm_leads!.rows).toBe(pristine.crm_leads!.rows - 5);
    expect(damaged.crm_activities!.rows).toBeLessThan(pristine.crm_activities!.rows);

    const { id, handle, plan } = await declareL1();
    finished.push(id, `${id}-L1`);
    const status = await waitingFor(plan, 'apply-restore');
    const request = status.waiting[0]!.request!;
    expect(request.changes.find((c) => c.startsWith('crm_leads:'))).toContain('insert 5 missing row(s)');
    expect(request.changes.find((c) => c.startsWith('crm_leads:'))).toContain('revert 2 changed row(s)');
    expect(request.snapshot).toContain(`incidents/${id}/snapshot/`);
    expect(request.backup?.id).toMatch(/^crm-/);
    expect(status.waiting[0]!.approvers).toEqual(['alice', 'bob', 'carol']);

    // The validators refuse at once, with the reason, and leave no trace.
    const vote = (by: string, gate = 'apply-restore') => answer(plan, 'approve', { gate, by });
    await expect(vote('mallory')).rejects.toMatchObject({
      cause: {
        message: expect.stringMatching(/mallory may not decide gate "apply-restore" of an L1 incident \(allowed: alice, bob, carol\)/),
      },
    });
    await expect(vote('carol')).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/carol declared this incident and self-approval is off/) },
    });
    await expect(vote('alice', 'drop-everything')).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/gate "drop-everything" is not waiting/) },
    });
    expect(await tableSums()).toEqual(damaged);

    await vote('alice');
    await waitingFor(handle, 'review');
    await answer(handle, 'complete', { task: 'review', by: 'carol', note: 'script fixed' });
    const result = (await handle.result()) as RunResult;
    expect(result.outcome).toBe('recovered');
    expect(await tableSums()).toEqual(pristine);
    expect(await stagingSchemas()).toEqual([]);
    expect(result.rto).toMatchObject({ targetMs: 3_600_000, verdict: 'met' });
    expect(result.rto!.rpoAchievedMs).toBeGreaterThan(0);
    // A target without physical backups: no restore point, no step for one, none in the result or the request.
    expect(result.timeline.filter((e) => /restore point/.test(e.name))).toEqual([]);
    expect(result.restorePoints).toBeUndefined();
    expect(request.changes.filter((line) => line.startsWith('undo:'))).toEqual([]);

    const report = await readReport(openStore('main', config.stores.main!, testEnv(db)), id);
    expect(report?.result.outcome).toBe('recovered');
    expect([...result.reportKeys!].sort()).toEqual([`reports/${id}/report.json`, `reports/${id}/report.md`, `reports/${id}/timeline.svg`]);

    // Only what may run long goes through the task queue: the compare, snapshot, verification and
    // clean-up, and the incident's policy and report, ran as local activities (markers in history).
    const scheduled = async (h: WorkflowHandle) =>
      ((await h.fetchHistory()).events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(await scheduled(plan)).toEqual(['chooseBackup', 'stageRecords', 'applyRecords']);
    expect(await scheduled(handle)).toEqual([]);
  });

  it('changes nothing when the approver rejects, and keeps the safety snapshot', async () => {
    await damage();
    const damaged = await tableSums();
    const { id, handle, plan } = await declareL1();
    finished.push(id, `${id}-L1`);
    await waitingFor(plan, 'apply-restore');
    await answer(plan, 'reject', { gate: 'apply-restore', by: 'bob', reason: 'wrong backup' });
    const result = await runResultOf(handle);
    expect(result.outcome).toBe('rejected');
    // A rejected run fails, the plan and the incident alike: the Web UI shows it red.
    expect((await handle.describe()).status.name).toBe('FAILED');
    expect((await plan.describe()).status.name).toBe('FAILED');
    expect(result.detail).toContain('bob rejected "apply-restore": wrong backup');
    expect(await tableSums()).toEqual(damaged);
    expect(await stagingSchemas()).toEqual([]);
    const snapshot = await openStore('main', config.stores.main!, testEnv(db)).getText(`incidents/${id}/snapshot/crm_leads.jsonl`);
    expect(snapshot!.trim().split('\n')).toHaveLength(2); // the two changed leads as they are now
    await restorePristine();
  });

  it('stops at a safe point on abort and leaves nothing staged', async () => {
    await damage();
    const damaged = await tableSums();
    const { id, handle, plan } = await declareL1();
    await waitingFor(plan, 'apply-restore');
    await abort(client, id, { ...as('carol'), reason: 'wrong incident' });
    const result = (await handle.result()) as RunResult;
    expect(result.outcome).toBe('aborted');
    expect(await tableSums()).toEqual(damaged);
    expect(await stagingSchemas()).toEqual([]);
    await expect(abort(client, id, { ...as('carol'), reason: 'again' })).rejects.toThrow(`incident ${id} has already ended (aborted)`);
    await restorePristine();
  });

  it('refuses bad selections before anything runs', async () => {
    const refused = async (keys: string[] | undefined, table = 'crm_leads', filter?: string[]) => {
      const input = incidentInput({
        target: 'crm',
        summary: 'bad input',
        declaredBy: 'carol',
        level: 'L1',
        options: { record: { table, keys, filter, goodBefore: new Date().toISOString() } },
      });
      const handle = await client.workflow.start('incidentWorkflow', {
        taskQueue: config.temporal.taskQueue,
        workflowId: input.incidentId,
        args: [input],
      });
      const result = await runResultOf(handle);
      expect(result.outcome).toBe('failed');
      expect((await handle.describe()).status.name).toBe('FAILED');
      expect(await stagingSchemas()).toEqual([]);
      return result.detail;
    };
    const before = await tableSums();
    expect(await refused(['1; DROP TABLE crm_leads'])).toMatch(/not a valid/i);
    expect(await refused(['1 OR 1=1'])).toMatch(/not a valid/i);
    expect(await refused(['1'], 'crm_nope')).toMatch(/crm_nope/);
    expect(await refused(undefined, 'crm_leads', ['hello'])).toMatch(/filter/i);
    expect(await refused(undefined, 'crm_leads', ['no_such_column=1'])).toMatch(/no_such_column/);
    expect(await refused(Array.from({ length: 11 }, (_, i) => String(i + 1)))).toContain('declare an L2');
    expect(await tableSums()).toEqual(before);
  });

  it('gives the same database when the worker dies during the apply and another one finishes it', async () => {
    await damage();
    await worker.stop(); // only the worker below, then its successor, serve this task queue
    const { handle, plan } = await declareL1();
    let dying: ChildProcess | undefined = spawn(join(REPO_ROOT, 'bin/lifeboat'), ['--config', configFile, 'worker'], {
      env: { ...process.env, ...testEnv(db) },
      stdio: 'ignore',
      detached: true,
    });
    try {
      await waitingFor(plan, 'apply-restore');
      // Hold a lock on a row the apply must update, so the worker is killed in the middle of it.
      const locker = await holdLock(db.url, 'SELECT 1 FROM crm_leads WHERE id = $1 FOR UPDATE', [changed[0]]);
      await answer(plan, 'approve', { gate: 'apply-restore', by: 'bob' });
      await expect
        .poll(async () => (await plan.describe()).raw.pendingActivities?.map((a) => a.activityType?.name) ?? [], {
          timeout: 60_000,
          interval: 200,
        })
        .toContain('applyRecords');
      await expect.poll(() => lockWaiters(db.url), { timeout: 30_000, interval: 100 }).toBeGreaterThan(0);
      process.kill(-dying.pid!, 'SIGKILL');
      dying = undefined;
      await locker.release();

      worker = await startTestWorker(config, testEnv(db));
      // The killed attempt is retried only after its heartbeat times out (30 s), then the apply,
      // its check and the plan's end follow: on a loaded machine that outlasts the usual bound.
      await waitingFor(handle, 'review', 180_000).catch(async (err: Error) => {
        // What the incident and its plan were doing when the wait gave up.
        throw new Error(`${err.message}\n${await explainRun(handle)}\n${await explainRun(plan)}`, { cause: err });
      });
      await answer(handle, 'complete', { task: 'review', by: 'carol' });
      expect(((await handle.result()) as RunResult).outcome).toBe('recovered');
      expect(await tableSums()).toEqual(pristine);
    } finally {
      if (dying) process.kill(-dying.pid!, 'SIGKILL');
    }
    observed(
      'worker SIGKILLed mid-apply (L1)',
      'killed while the apply waited on a row lock; the retry on a new worker applied it; every table equals the pristine sums',
    );
  }, 300_000);

  it('replays its recorded histories without non-determinism', async () => {
    expect(finished.length).toBeGreaterThan(0);
    for (const workflowId of finished) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, workflowId).catch(
        (err: Error) => {
          // Kept for reading: a history this run made that does not replay.
          const file = join(inject('logDir'), `unreplayable-${workflowId}.json`);
          writeFileSync(file, JSON.stringify(historyToJSON(history), null, 1));
          throw new Error(`${err.message} (history in ${file})`, { cause: err });
        },
      );
    }
  });

  /** Puts production back as it was before `damage`, through another L1. */
  async function restorePristine(): Promise<void> {
    const { handle, plan } = await declareL1();
    await waitingFor(plan, 'apply-restore');
    await answer(plan, 'approve', { gate: 'apply-restore', by: 'alice' });
    await waitingFor(handle, 'review');
    await answer(handle, 'complete', { task: 'review', by: 'carol' });
    await handle.result();
    expect(await tableSums()).toEqual(pristine);
  }
});
