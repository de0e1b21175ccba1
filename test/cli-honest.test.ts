// The CLI tells the truth at every moment of a run (issue 14): an abort reaches the run that can
// still act on it (the plan, then the incident on its review, then nobody: "already ended"); a
// command ends when its answer is known (a drill's verdict, while its workflow still waits); a
// command that starts work with no worker polling says so at once, and progress never shows an
// attempt count for work nobody runs; `server prepare` readies a bare Temporal server, once.
// bin/lifeboat runs in a process of its own against the suite's Temporal, PostgreSQL and S3, with a
// worker on the configuration's task queue.
import { Connection } from '@temporalio/client';
import { msNumberToTs } from '@temporalio/common/lib/time.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import type { LifeboatConfig } from '../config/config.js';
import { progressOf, rootCause } from '../client/follow.js';
import { listJsonSchema, statusJsonSchema } from '../client/status-json.js';
import { SEARCH_ATTRIBUTES, statusQuery } from '../workflows/messages.js';
import { type TemporalServer, startTemporal } from '../client/stack/temporal.js';
import {
  type CliRun,
  type TestDatabase,
  type TestWorker,
  answer,
  backupAndVerify,
  cliEnv,
  createCrmDatabase,
  runLifeboat,
  runResultOf,
  startL1Incident,
  startTestWorker,
  testConfigText,
  testEnv,
  uniqueName,
  waitingNames,
  writeTestConfig,
} from './helpers.js';

describe('the CLI at every moment of a run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-honest-'));
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let config: LifeboatConfig;
  let configFile: string;
  let worker: TestWorker;
  /** Leads a bad script deleted; each L1 brings back some of them. */
  let lost: string[];

  const lifeboat = (...args: string[]): Promise<CliRun> => runLifeboat(['--config', configFile, ...args], env);
  const closedAs = async (id: string) => (await worker.client.workflow.getHandle(id).describe()).status.name;

  beforeAll(async () => {
    db = await createCrmDatabase(120);
    env = cliEnv(db);
    delete env.LIFEBOAT_USER;
    ({ configFile, config } = writeTestConfig(
      dir,
      { prefix: uniqueName('cli-honest'), taskQueue: uniqueName('cli-honest'), extra: 'approvals:\n  L1: { approvers: [alice, bob] }' },
      env,
    ));
    worker = await startTestWorker(config, testEnv(db));
    await backupAndVerify(worker);
    lost = await withClient(db.url, async (c) =>
      (
        await c.query<{ id: string }>(
          'DELETE FROM crm_leads WHERE id IN (SELECT id FROM crm_leads ORDER BY id LIMIT 4 OFFSET 5) RETURNING id::text',
        )
      ).rows.map((r) => r.id),
    );
    expect(lost).toHaveLength(4);
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('abort reaches the plan while it runs: the incident ends aborted', async () => {
    const { incidentId, plan } = await startL1Incident(worker, config, lost.slice(0, 2), 'abort while the plan waits');
    await expect.poll(() => waitingNames(plan), { timeout: 90_000, interval: 300 }).toEqual(['apply-restore']);

    const abort = await lifeboat('abort', incidentId, '--as', 'carol', '--reason', 'wrong leads');
    expect(abort.stderr).toBe('');
    expect(abort.code).toBe(0);
    expect(abort.stdout).toMatch(/^✔ abort requested by carol: /);
    expect((await runResultOf(worker.client.workflow.getHandle(incidentId))).outcome).toBe('aborted');
  }, 150_000);

  it('abort reaches the incident once its plan has ended and it waits on its review, then says "already ended"', async () => {
    const { incidentId, incident, plan } = await startL1Incident(worker, config, lost.slice(2), 'abort during the review');
    await expect.poll(() => waitingNames(plan), { timeout: 90_000, interval: 300 }).toEqual(['apply-restore']);
    await answer(plan, 'approve', { gate: 'apply-restore', by: 'alice' });
    await expect.poll(() => waitingNames(incident), { timeout: 90_000, interval: 300 }).toEqual(['review']);
    expect(await closedAs(plan.workflowId)).toBe('COMPLETED');

    const abort = await lifeboat('abort', incidentId, '--as', 'carol', '--reason', 'no review for this one');
    expect(abort.stderr).toBe('');
    expect(abort.code).toBe(0);
    expect(abort.stdout).toMatch(/^✔ abort requested by carol: /);

    // The plan had recovered the rows: the incident ends recovered, its review aborted.
    const result = await runResultOf(incident);
    expect(result.outcome).toBe('recovered');
    const status = await incident.query(statusQuery);
    expect(status.timeline.find((s) => s.name === 'review')).toMatchObject({ status: 'aborted', detail: 'no review for this one' });

    const again = await lifeboat('abort', incidentId, '--as', 'carol', '--reason', 'again');
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(`✖ incident ${incidentId} has already ended (recovered)\n`);
  }, 180_000);

  it('status --json and list --json print their documented shapes, while the incident waits and once it ended', async () => {
    const { incidentId, incident, plan } = await startL1Incident(worker, config, lost.slice(0, 2), 'status as JSON');
    await expect.poll(() => waitingNames(plan), { timeout: 90_000, interval: 300 }).toEqual(['apply-restore']);

    const waiting = await lifeboat('status', incidentId, '--json');
    expect(waiting.stderr).toBe('');
    expect(waiting.code).toBe(0);
    const open = statusJsonSchema.parse(JSON.parse(waiting.stdout));
    expect(open).toMatchObject({
      incidentId,
      planWorkflowId: plan.workflowId,
      context: { level: 'L1', target: 'crm', declaredBy: 'carol', summary: 'status as JSON' },
      state: 'running',
      rto: { targetMs: 3_600_000, status: 'on-track', verdict: null, marginMs: null },
      outcome: null,
      votes: [],
      databasesCreated: [],
      reportKeys: [],
    });
    expect(open.rto.leftMs).toBeGreaterThan(0);
    expect(open.rto.text).toMatch(/^RTO clock: .* of 1 h used/);
    expect(open.waiting).toEqual([
      expect.objectContaining({
        run: 'plan',
        workflowId: plan.workflowId,
        kind: 'approval',
        name: 'apply-restore',
        allowed: ['alice', 'bob'],
        required: 1,
        approvedBy: [],
        commands: [
          `lifeboat approve ${incidentId} --gate apply-restore --as <you>`,
          `lifeboat reject ${incidentId} --gate apply-restore --as <you> --reason "…"`,
        ],
      }),
    ]);
    expect(open.waiting[0]!.changes[0]).toMatch(/^crm_leads: insert 2 missing row\(s\)/);
    expect(open.timeline.find((s) => s.name === 'apply-restore')).toMatchObject({ run: 'plan', kind: 'approval', status: 'waiting' });

    await answer(plan, 'approve', { gate: 'apply-restore', by: 'alice', reason: 'looks right' });
    await expect.poll(() => waitingNames(incident), { timeout: 90_000, interval: 300 }).toEqual(['review']);
    const reviewing = statusJsonSchema.parse(JSON.parse((await lifeboat('status', incidentId, '--json')).stdout));
    expect(reviewing.waiting).toEqual([
      expect.objectContaining({
        run: 'incident',
        kind: 'task',
        name: 'review',
        allowed: null,
        commands: [`lifeboat complete ${incidentId} --task review --as <you> --note "…"`],
      }),
    ]);
    await answer(incident, 'complete', { task: 'review', by: 'carol', note: 'reviewed' });
    await runResultOf(incident);

    const end = await lifeboat('status', incidentId, '--json');
    expect(end.code).toBe(0);
    const ended = statusJsonSchema.parse(JSON.parse(end.stdout));
    expect(ended).toMatchObject({
      state: 'ended',
      outcome: 'recovered',
      waiting: [],
      rto: { status: 'met', verdict: 'met', leftMs: null },
    });
    expect(ended.detail).toMatch(/^\d+ rows restored from crm-/);
    expect(ended.rto.marginMs).toBeGreaterThan(0);
    expect(ended.reportKeys.length).toBeGreaterThan(0);
    expect(ended.backupUsed?.id).toMatch(/^crm-/);
    expect(ended.votes).toEqual([
      expect.objectContaining({
        run: 'incident',
        step: 'review',
        decision: 'complete',
        by: 'carol',
        text: 'reviewed',
        fingerprint: expect.stringMatching(/^SHA256:/),
      }),
      expect.objectContaining({
        run: 'plan',
        step: 'apply-restore',
        decision: 'approve',
        by: 'alice',
        text: 'looks right',
        fingerprint: expect.stringMatching(/^SHA256:/),
      }),
    ]);

    const watchAndJson = await lifeboat('status', incidentId, '--json', '--watch');
    expect(watchAndJson.code).toBe(2);

    await expect
      .poll(
        async () => {
          const list = await lifeboat('list', '--all', '--json');
          return list.code === 0 ? listJsonSchema.parse(JSON.parse(list.stdout)).find((r) => r.incidentId === incidentId) : list.stderr;
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toMatchObject({ incidentId, level: 'L1', state: 'completed', rtoStatus: 'met', currentStep: 'ended: recovered' });
    const running = await lifeboat('list', '--json');
    expect(running.code).toBe(0);
    expect(listJsonSchema.parse(JSON.parse(running.stdout)).map((r) => r.incidentId)).not.toContain(incidentId);
  }, 240_000);

  it('drill run exits with its verdict while the drill still waits on its improvements task', async () => {
    const run = await lifeboat('drill', 'run', '--level', 'L1', '--records', '2', '--as', 'carol');
    expect(run.code, run.stderr).toBe(0);
    const drillId = /^✔ L1 drill (drill-\S+) of crm: PASSED$/m.exec(run.stdout)?.[1];
    expect(drillId, run.stdout).toBeDefined();
    expect(run.stdout).toContain(`improvements  : open — lifeboat complete ${drillId} --task improvements`);
    // The command ended; the drill did not: it waits for its improvements for two weeks.
    const drill = worker.client.workflow.getHandle(drillId!);
    expect(await closedAs(drillId!)).toBe('RUNNING');
    expect(await waitingNames(drill)).toEqual(['improvements']);
    await answer(drill, 'complete', { task: 'improvements', by: 'carol', note: 'none' });
    await drill.result();
  }, 120_000);

  it('refuses at once (exit 1) to start work no worker would take, saying how to start one, and starts nothing', async () => {
    const taskQueue = uniqueName('nobody-polls');
    const lonely = join(dir, 'nobody.yaml');
    writeFileSync(lonely, testConfigText({ prefix: uniqueName('nobody'), taskQueue, temporalAddress: '${TEMPORAL_ADDRESS}' }));
    const refusal = `✖ no worker polls task queue "${taskQueue}" (namespace default on ${inject('temporalAddress')}; no workflow or activity tasks would run): nothing was started. Start one with "lifeboat worker" (same configuration), or "make demo" for the whole demo stack\n`;
    for (const args of [
      ['backup'],
      ['verify', 'latest'],
      ['declare', '--level', 'L3', '--summary', 'nobody home', '--as', 'carol'],
      ['drill', 'run', '--level', 'L1'],
    ]) {
      const run = await runLifeboat(['--config', lonely, ...args], env);
      expect(run.stderr, args.join(' ')).toBe(refusal);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stdout).toBe('');
    }
    const started = await worker.client.workflow.count(`TaskQueue = '${taskQueue}'`);
    expect(started.count).toBe(0);
  }, 120_000);

  it('a failure reads as its innermost cause past wrappers, but not past a message that already quotes its cause', () => {
    const econn = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const said = new Error('cannot connect to postgres at 127.0.0.1:1/crm: connect ECONNREFUSED 127.0.0.1:1', { cause: econn });
    expect(rootCause(new Error('Workflow execution failed', { cause: new Error('Activity task failed', { cause: said }) }))).toBe(
      said.message,
    );
    expect(rootCause(new Error('Workflow execution failed', { cause: new Error('Activity task failed', { cause: econn }) }))).toBe(
      econn.message,
    );
  });

  it('progress says "waiting for a worker" for work nobody has taken, an attempt count only for work that runs', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const activity = { activityType: { name: 'backupDatabase' } };
    expect(progressOf({ pendingWorkflowTask: { state: 1 } }, now)).toBe('waiting for a worker');
    expect(progressOf({ pendingWorkflowTask: { state: 2 } }, now)).toBeUndefined();
    expect(progressOf({ pendingActivities: [{ ...activity, state: 1, attempt: 1 }] }, now)).toBe('waiting for a worker (backupDatabase)');
    expect(
      progressOf(
        { pendingActivities: [{ ...activity, state: 1, attempt: 2, lastFailure: { message: 'activity Heartbeat timeout' } }] },
        now,
      ),
    ).toBe('waiting for a worker (backupDatabase, after a failed attempt: activity Heartbeat timeout)');
    expect(
      progressOf(
        {
          pendingActivities: [
            {
              ...activity,
              state: 1,
              attempt: 3,
              lastFailure: { message: 'connection refused' },
              nextAttemptScheduleTime: msNumberToTs(now + 30_000),
            },
          ],
        },
        now,
      ),
    ).toBe('backupDatabase failed: connection refused; attempt 3 in 30 s');
    expect(progressOf({ pendingActivities: [{ ...activity, state: 2, attempt: 2 }] }, now)).toBe('backupDatabase (attempt 2)');
    expect(progressOf({ pendingActivities: [{ ...activity, state: 2, attempt: 1 }] }, now)).toBe('backupDatabase');
  });
});

describe('lifeboat server prepare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-prepare-'));
  let temporal: TemporalServer;
  let configFile: string;
  const namespace = uniqueName('lifeboat-prep').replace(/_/g, '-');

  beforeAll(async () => {
    // A bare server, as a real one is before Lifeboat's first run: no namespace of ours, no search attributes.
    temporal = await startTemporal(join(inject('logDir'), `temporal-${namespace}.log`), { ui: false, searchAttributes: false });
    configFile = join(dir, 'lifeboat.yaml');
    const text = testConfigText({ prefix: namespace, temporalAddress: temporal.address });
    writeFileSync(configFile, text.replace(/^temporal:\n/, `temporal:\n  namespace: ${namespace}\n`));
  }, 120_000);

  afterAll(async () => {
    await temporal?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the namespace and Lifeboat's search attributes, then finds nothing to do", async () => {
    const env = { ...process.env, LIFEBOAT_KEYS_DIR: inject('keysDir') };
    const names = SEARCH_ATTRIBUTES.map((k) => k.name);
    const first = await runLifeboat(['--config', configFile, 'server', 'prepare'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      [
        `✔ namespace "${namespace}" created (closed runs kept 30 d)`,
        ...names.map((n) => `✔ search attribute ${n} (KEYWORD) added`),
        `✔ Temporal at ${temporal.address} is ready for Lifeboat (namespace "${namespace}")`,
        '',
      ].join('\n'),
    );

    const second = await runLifeboat(['--config', configFile, 'server', 'prepare'], env);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(
      [
        `✔ namespace "${namespace}" exists`,
        ...names.map((n) => `✔ search attribute ${n} (KEYWORD) exists`),
        `nothing to do: Temporal at ${temporal.address} was already ready for Lifeboat (namespace "${namespace}")`,
        '',
      ].join('\n'),
    );

    // The server says so too.
    const connection = await Connection.connect({ address: temporal.address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(names));
    } finally {
      await connection.close();
    }
  }, 180_000);
});
