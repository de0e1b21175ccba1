// The quarterly drill end to end on the real stack: the real plans run against an isolated test
// database, production's checksums never change, the test databases are always dropped (after a
// pass, a corrupt backup, a cancellation), and a test database that is production is refused.
import { WorkflowFailedError } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { fingerprints, userTables } from '../activities/postgres/inspect.js';
import { readReport } from '../activities/reports/report.js';
import { openStore } from '../activities/storage/open.js';
import { desiredSchedules } from '../client/schedules.js';
import type { LifeboatConfig } from '../config/config.js';
import { type DrillInput, type DrillResult } from '../common/drills.js';
import { drillIdFor, testDatabaseFor } from '../common/names.js';
import { currentStepSA, drillResultQuery, statusQuery } from '../workflows/messages.js';
import { type BackupManifest } from '../common/backups.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  runLifeboat,
  startTestWorker,
  testConfig,
  testConfigText,
  testEnv,
  uniqueName,
  damageStoredDump,
  answer,
  waitingNames,
} from './helpers.js';

const CRITICAL = `    criticalChecks:
      - name: claim a lead
        sql: UPDATE crm_leads SET assigned_agent_id = (SELECT min(id) FROM crm_agents) WHERE id = (SELECT min(id) FROM crm_leads) RETURNING id
      - name: log an activity
        sql: INSERT INTO crm_activities (lead_id, agent_id, kind, occurred_at) VALUES ((SELECT min(id) FROM crm_leads), (SELECT min(id) FROM crm_agents), 'call', now()) RETURNING id`;

const MAIN = '  improvements: true\n  improvementsDeadline: 2s\n  records: 5';

describe('the recovery drill', () => {
  let db: TestDatabase;
  const prefix = uniqueName('drill');
  const workers: TestWorker[] = [];
  let main: TestWorker;
  let config: LifeboatConfig;
  let backup: BackupManifest;

  const sums = () =>
    withClient(db.url, async (c) =>
      fingerprints(
        c,
        (await userTables(c)).filter((t) => !t.includes('.')),
      ),
    );
  const drillDatabases = (drillId: string) =>
    withClient(inject('pgAdminUrl'), async (c) =>
      (
        await c.query<{ n: string }>('SELECT datname AS n FROM pg_database WHERE starts_with(datname, $1)', [
          testDatabaseFor('crm', drillId),
        ])
      ).rows.map((r) => r.n),
    );
  const newDrillId = () => drillIdFor(new Date(), randomBytes(2).toString('hex'));
  const start = (worker: TestWorker, input: DrillInput & { drillId: string }) =>
    worker.client.workflow.start('drillWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: input.drillId,
      args: [{ requestedBy: 'test', ...input }],
    });
  const drill = async (worker: TestWorker, input: DrillInput & { drillId: string }): Promise<DrillResult> =>
    (await start(worker, input)).result();

  const drillConfig = (drill: string, taskQueue?: string) => ({ prefix, taskQueue, crmExtra: CRITICAL, extra: `drill:\n${drill}` });
  async function worker(drill: string, env: NodeJS.ProcessEnv = testEnv(db)): Promise<{ worker: TestWorker; config: LifeboatConfig }> {
    const cfg = testConfig(drillConfig(drill));
    const w = await startTestWorker(cfg, env);
    workers.push(w);
    return { worker: w, config: cfg };
  }

  beforeAll(async () => {
    db = await createCrmDatabase(300);
    ({ worker: main, config } = await worker(MAIN));
    const run = (type: string, args: unknown[]) =>
      main.client.workflow.execute(type, { taskQueue: main.taskQueue, workflowId: uniqueName(type), args });
    backup = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await run('verifyWorkflow', [{ backupId: backup.id }]);
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await db?.drop();
  });

  it('L1: deletes leads with their children in the test database, the real L1 plan brings them back within the RTO; production is untouched', async () => {
    const before = await sums();
    const drillId = newDrillId();
    const handle = await start(main, { drillId, level: 'L1' });
    // The verdict is known before the optional improvements task closes; a person may answer it.
    for (let i = 0; i < 600 && !(await handle.query(drillResultQuery).catch(() => undefined)); i++)
      await new Promise((ok) => setTimeout(ok, 200));
    const early = await handle.query(drillResultQuery);
    expect(early?.verdict).toBe('passed');
    await answer(handle, 'complete', { task: 'improvements', by: 'carol', note: 'shorten the staging step' }).catch(() => undefined);
    const result: DrillResult = await handle.result();

    expect(result.verdict, JSON.stringify(result.findings)).toBe('passed');
    expect(result.record).toMatchObject({
      level: 'L1',
      rtoVerdict: 'met',
      rpoVerdict: 'met',
      testDatabase: testDatabaseFor('crm', drillId),
      backup: { id: backup.id },
    });
    expect(result.record.scenario).toMatch(/^deleted crm_leads .*: rows gone 5 crm_leads/);
    expect(result.record.tables.map((t) => t.checksum)).toEqual(result.record.tables.map(() => 'match'));
    expect(result.record.criticalChecks).toEqual(['claim a lead', 'log an activity']);
    expect(await sums()).toEqual(before);
    expect(await drillDatabases(drillId)).toEqual([]);

    const store = openStore('main', config.stores.main!, testEnv(db));
    const report = await readReport(store, drillId);
    expect(report?.kind).toBe('drill');
    expect(report?.drill?.rtoVerdict).toBe('met');
    expect(report?.drill?.improvements).toMatch(/recorded by carol: shorten the staging step|still open/);
    expect(report?.result.rto?.verdict).toBe('met');
    const names = report!.result.timeline.map((s) => s.name);
    expect(names).toContain('execute: run the real L1 plan against the test database');
    expect(names).toContain('L1 · apply-restore');
    expect(report!.result.timeline.find((s) => s.name === 'L1 · apply-restore')).toMatchObject({ status: 'done', actor: 'lifeboat-drill' });
    expect(names.some((n) => n.startsWith('always: drop the test environment'))).toBe(true);
    // The comparison module found the recovered test database equal to the backup on every aspect it compares.
    expect(
      report!.result.timeline.find((s) => s.name.startsWith('verify: the recovered database equals the backup on every aspect')),
    ).toMatchObject({
      status: 'done',
      detail: 'no difference',
    });
    const svg = await store.getText(`reports/${drillId}/timeline.svg`);
    expect(svg).toContain('class="rto-deadline"');
    expect(svg).toContain('execute: run the real L1 plan');
    const markdown = await store.getText(`reports/${drillId}/report.md`);
    expect(markdown).toContain('## Drill verdict');
    expect(markdown).toContain('## Trend of drills');
  });

  it('L3: the test database starts empty, the plan restores into a new database, every table matches the verified checksums; both are dropped', async () => {
    const drillId = newDrillId();
    const result = await drill(main, { drillId, level: 'L3' });
    expect(result.verdict, JSON.stringify(result.findings)).toBe('passed');
    expect(result.record.recoveredDatabase).toMatch(new RegExp(`^${testDatabaseFor('crm', drillId)}_restored`));
    expect(result.record.tables).toHaveLength(6);
    expect(result.record.trend.length).toBeGreaterThanOrEqual(2);
    expect(result.record.improvements).toMatch(/still open at its deadline/);
    expect(await drillDatabases(drillId)).toEqual([]);
  });

  it('L4: the two-person data-loss gate is answered by the drill identity, the restore is audited; nothing stays', async () => {
    const drillId = newDrillId();
    const result = await drill(main, { drillId, level: 'L4' });
    expect(result.verdict, JSON.stringify(result.findings)).toBe('passed');
    expect(result.record.recoveredDatabase).toMatch(new RegExp(`^${testDatabaseFor('crm', drillId)}_restored`));
    expect(await drillDatabases(drillId)).toEqual([]);
  });

  it('a newest backup that no longer matches its checksum is passed over (and marked failed) with a finding; the drill still cleans up', async () => {
    const run = (type: string, args: unknown[]) =>
      main.client.workflow.execute(type, { taskQueue: main.taskQueue, workflowId: uniqueName(type), args });
    const newer = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await run('verifyWorkflow', [{ backupId: newer.id }]);
    await damageStoredDump(prefix, newer.id);

    const drillId = newDrillId();
    const result = await drill(main, { drillId, level: 'L3' });
    expect(result.findings).toContainEqual({
      check: 'backup checksum',
      detail: expect.stringContaining(`${newer.id} no longer matches its checksum`),
    });
    expect(result.record.backup?.id).toBe(backup.id);
    expect(result.verdict).toBe('passed');
    expect(await drillDatabases(drillId)).toEqual([]);
  });

  it('cancelled while its plan waits for a person (after restoring), it leaves no drill database behind', async () => {
    const { worker: human } = await worker('  approvals: human\n  improvements: false');
    const drillId = newDrillId();
    const handle = await start(human, { drillId, level: 'L3' });
    const plan = human.client.workflow.getHandle(`${drillId}-L3`);
    const waitFor = async (name: string) => {
      for (let i = 0; i < 600; i++) {
        const status = await plan.query(statusQuery).catch(() => undefined);
        if (status?.waiting.some((w) => w.name === name)) return;
        await new Promise((ok) => setTimeout(ok, 200));
      }
      throw new Error(`the plan never waited for ${name}`);
    };
    await waitFor('vendor-support');
    await answer(plan, 'complete', { task: 'vendor-support', by: 'carol', note: 'drill' });
    await waitFor('cut-over');
    expect((await drillDatabases(drillId)).length).toBe(2); // the test database and the one the plan restored into
    await handle.cancel();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(await drillDatabases(drillId)).toEqual([]);
    const report = await readReport(openStore('main', config.stores.main!, testEnv(db)), drillId);
    expect(report?.drill?.verdict).toBe('failed');
    expect(report?.findings).toContainEqual({ check: 'drill', detail: 'the drill was cancelled' });
  });

  it('a plan whose gate is rejected fails (its workflow FAILED) and the drill, reading its result, fails its verdict without an RTO "missed"', async () => {
    const { worker: human } = await worker('  approvals: human\n  improvements: false\napprovals:\n  L1: { approvers: [alice, bob] }');
    const drillId = newDrillId();
    const handle = await start(human, { drillId, level: 'L1' });
    const plan = human.client.workflow.getHandle(`${drillId}-L1`);
    await expect.poll(() => waitingNames(plan), { timeout: 120_000, interval: 200 }).toContain('apply-restore');
    await answer(plan, 'reject', { gate: 'apply-restore', by: 'bob', reason: 'rehearsing a rejection' });
    const result: DrillResult = await handle.result();
    expect(result.verdict).toBe('failed');
    expect(result.record.rtoVerdict).toBe('not achieved');
    expect(result.findings).toContainEqual({
      check: 'drill',
      detail: expect.stringMatching(/^the L1 plan ended rejected: bob rejected "apply-restore"/),
    });
    expect(result.findings.map((f) => f.check)).not.toContain('RTO');
    const planEnded = await plan.describe();
    expect(planEnded.status.name).toBe('FAILED');
    expect(planEnded.typedSearchAttributes.get(currentStepSA)).toBe('ended: rejected');
    // The drill itself worked: it completes with its verdict, its current step closed with it.
    const drillEnded = await handle.describe();
    expect(drillEnded.status.name).toBe('COMPLETED');
    expect(drillEnded.typedSearchAttributes.get(currentStepSA)).toBe('ended: failed');
    const report = await readReport(openStore('main', config.stores.main!, testEnv(db)), drillId);
    expect(report?.result).toMatchObject({ outcome: 'rejected', rto: { verdict: 'not-recovered' } });
    expect(report?.result.timeline.find((s) => s.name === 'execute: run the real L1 plan against the test database')?.status).toBe(
      'failed',
    );
    expect(await drillDatabases(drillId)).toEqual([]);
  });

  it('refuses a test database that resolves to production, before creating anything', async () => {
    const before = await sums();
    const { worker: refused } = await worker('  testUrlEnv: DRILL_TEST_URL\n  improvements: false', {
      ...testEnv(db),
      DRILL_TEST_URL: db.url,
    });
    const drillId = newDrillId();
    const result = await drill(refused, { drillId, level: 'L1' });
    expect(result.verdict).toBe('failed');
    expect(result.findings.find((f) => f.check === 'drill')?.detail).toMatch(/production/);
    expect(await drillDatabases(drillId)).toEqual([]);
    expect(await sums()).toEqual(before);
  });

  it('lifeboat drill run shows the steps and the verdict (exit 0), lifeboat drills lists the history; bad requests exit 2', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lifeboat-drill-')), 'lifeboat.yaml');
    writeFileSync(file, testConfigText(drillConfig(MAIN, main.taskQueue)));
    const env = { ...process.env, ...testEnv(db), LIFEBOAT_CONFIG: file };
    const ran = await runLifeboat(['drill', 'run', '--level', 'L2', '--as', 'carol'], env);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toMatch(/✔ execute: simulate the loss \(truncate-table\)/);
    expect(ran.stderr).toMatch(/^ {6}✔ restore: apply crm_activities in one transaction/m); // the plan's steps, indented under the drill's
    expect(ran.stdout).toMatch(/✔ L2 drill drill-\S+ of crm: PASSED/);
    expect(ran.stdout).toMatch(/report {8}: reports\/drill-\S+\/report\.json/);
    expect(ran.stdout).toMatch(/recovery time : .* of 4 h \([\d.]+ %\) — RTO met/);

    const listed = await runLifeboat(['drills'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/date \(UTC\)\s+drill\s+level\s+recovery time vs RTO/);
    expect(listed.stdout).toMatch(/L2\s+.* of 4 h .*PASSED/);

    const refused = await runLifeboat(['drill', 'run', '--level', 'L3', '--scenario', 'delete-rows'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/the L3 plan does not mend a "delete-rows" scenario/);
  });

  it("the scheduled drill (no id, no level given) runs with the configuration's level and makes its own drill id", async () => {
    const scheduleId = uniqueName('lifeboat-drill-test');
    const desired = desiredSchedules({ ...config, temporal: { ...config.temporal, taskQueue: main.taskQueue } }, 'drill')[0]!;
    const schedule = await main.client.schedule.create({ ...desired, scheduleId, state: { paused: true } });
    try {
      await schedule.trigger();
      let workflowId: string | undefined;
      for (let i = 0; i < 100 && !workflowId; i++) {
        const action = (await schedule.describe()).info.recentActions[0]?.action;
        workflowId = action?.type === 'startWorkflow' ? action.workflow.workflowId : undefined;
        if (!workflowId) await new Promise((ok) => setTimeout(ok, 200));
      }
      const result: DrillResult = await main.client.workflow.getHandle(workflowId!).result();
      expect(result.drillId).toMatch(/^drill-\d{8}-\d{6}-[a-z0-9]{4}$/);
      expect(result.record.level).toBe('L3'); // drill.level's default
      expect(result.verdict, JSON.stringify(result.findings)).toBe('passed');
      expect(await drillDatabases(result.drillId)).toEqual([]);
    } finally {
      await schedule.delete();
    }
  });
});
