// The RTO clock and human-task escalation, with time skipping: each level's warnings at 50 % and
// 80 % and its breach at 100 % fire at exactly those instants after the declaration.
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import type { Notice } from '../activities/notify/notifier.js';
import { abort, incidentInput } from '../client/incidents.js';
import { venvTool } from '../client/stack/processes.js';
import type { LifeboatConfig } from '../config/config.js';
import { type Level, type RunResult, type RunStatus } from '../common/plans.js';
import { SEARCH_ATTRIBUTES, statusQuery } from '../workflows/messages.js';
import { type TestDatabase, type TestWorker, createCrmDatabase, startTestWorker, testConfig, testEnv, uniqueName, as } from './helpers.js';

const HOUR = 3_600_000;
const RTO: Record<Level, number> = { L1: HOUR, L2: 4 * HOUR, L3: 24 * HOUR, L4: 72 * HOUR };

describe('RTO clock (time skipping)', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let devWorker: TestWorker;
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const notices: Notice[] = [];

  beforeAll(async () => {
    db = await createCrmDatabase(50);
    config = testConfig({
      prefix: uniqueName('rto'),
      extra: 'approvals: { L1: { approvers: [alice, bob] }, L4: { approvers: [alice, bob] } }',
    });
    // L1 needs a verified backup to stage from: taken on the dev server, in the same store.
    devWorker = await startTestWorker(config, testEnv(db));
    const start = (type: string, args: unknown[]) =>
      devWorker.client.workflow.execute(type, { taskQueue: devWorker.taskQueue, workflowId: uniqueName(type), args });
    const manifest = (await start('backupWorkflow', [{ target: 'crm' }])) as { id: string };
    await start('verifyWorkflow', [{ backupId: manifest.id }]);

    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: venvTool('temporal-test-server') } },
    });
    // The time-skipping server knows no custom search attributes until told (2 = KEYWORD).
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, 2])),
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: createActivities({ config, env: testEnv(db), notifier: { notify: async (n) => (notices.push(n), {}) } }),
    });
    running = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    await devWorker?.stop();
    await db?.drop();
  });

  /** Starts an incident declared at the test server's current time, and waits until its plan waits on a person. */
  async function declare(level: Level): Promise<{ handle: WorkflowHandle; declaredAt: number; id: string }> {
    const declaredAt = await env.currentTimeMs();
    const input = incidentInput(
      {
        target: 'crm',
        summary: `${level} clock test`,
        declaredBy: 'carol',
        declaredAt: new Date(declaredAt).toISOString(),
        level,
        options: level === 'L1' ? { record: { table: 'crm_leads', keys: ['1', '2'], goodBefore: new Date(declaredAt).toISOString() } } : {},
      },
      declaredAt,
    );
    const handle = await env.client.workflow.start('incidentWorkflow', {
      taskQueue: config.temporal.taskQueue,
      workflowId: input.incidentId,
      args: [input],
    });
    const plan = env.client.workflow.getHandle(`${input.incidentId}-${level}`);
    await expect
      .poll(
        () =>
          plan.query(statusQuery).then(
            (s) => s.waiting.length,
            () => 0,
          ),
        { timeout: 60_000, interval: 200 },
      )
      .toBeGreaterThan(0);
    return { handle, declaredAt, id: input.incidentId };
  }

  /** Each clock mark with how long after the declaration it fired, in workflow time. */
  const clockMarks = (status: RunStatus, declaredAt: number) =>
    status.timeline.filter((s) => s.name.startsWith('RTO')).map((s) => ({ name: s.name, at: Date.parse(s.startedAt) - declaredAt }));

  // A timer fires at its instant; the workflow task that records it may start a moment later.
  const firedAt = (ms: number) => expect.toSatisfy((at: number) => at >= ms && at < ms + 30_000, `within 30 s after ${ms} ms`);

  for (const level of ['L1', 'L2', 'L3', 'L4'] as const) {
    it(`${level}: warns at 50 % and 80 % and raises the breach at 100 % of ${RTO[level] / HOUR} h`, async () => {
      const { handle, declaredAt, id } = await declare(level);
      const rto = RTO[level];

      // To a second before the 50 % mark, counted from the declaration (declaring took some time already).
      await env.sleep(declaredAt + rto * 0.5 - 1_000 - (await env.currentTimeMs()));
      expect(clockMarks(await handle.query(statusQuery), declaredAt)).toEqual([]);

      await env.sleep(rto * 0.5 + 2_000);
      const status = await handle.query(statusQuery);
      expect(clockMarks(status, declaredAt)).toEqual([
        { name: 'RTO 50 % used', at: firedAt(rto * 0.5) },
        { name: 'RTO 80 % used', at: firedAt(rto * 0.8) },
        { name: `RTO BREACHED: ${rto / HOUR} h passed`, at: firedAt(rto) },
      ]);
      expect(status.rtoStatus).toBe('breached');
      const mine = notices.filter((n) => n.title.includes(id) && n.title.includes('RTO'));
      expect(mine.map((n) => n.severity)).toEqual(['warning', 'warning', 'critical']);

      // Abort ends the run cleanly.
      await abort(env.client, id, { ...as('carol'), reason: 'test over', signedAt: new Date(await env.currentTimeMs()) });
      const result = (await handle.result()) as RunResult;
      expect(result.outcome).toBe('aborted');
      expect(result.rto).toMatchObject({ targetMs: rto, verdict: 'not-recovered' });
    });
  }

  it('escalates an overdue human task at its deadline and keeps waiting', async () => {
    const { handle, id } = await declare('L3');
    const plan = env.client.workflow.getHandle(`${id}-L3`);
    const taskStarted = Date.parse((await plan.query(statusQuery)).waiting[0]!.since);
    await env.sleep(31 * 60_000);
    const overdue = notices.filter((n) => n.title.includes(id) && n.title.includes('Task overdue: vendor-support'));
    expect(overdue).toHaveLength(1);
    const status = await plan.query(statusQuery);
    expect(status.waiting.map((w) => w.name)).toEqual(['vendor-support']);
    expect(Date.parse(status.waiting[0]!.deadline!) - taskStarted).toBe(30 * 60_000);
    const escalated = status.timeline.find((s) => s.name === 'vendor-support')!.detail!;
    expect(Date.parse(escalated.replace('escalated at ', '')) - taskStarted).toEqual(firedAt(30 * 60_000));
    await abort(env.client, id, { ...as('carol'), reason: 'test over', signedAt: new Date(await env.currentTimeMs()) });
    expect(((await handle.result()) as RunResult).outcome).toBe('aborted');
  });
});
