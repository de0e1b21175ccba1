// A destructive step runs at most once per approval. Worker-level: the in-place restore, the apply
// and the rollback hook, called again for the same fence (Temporal's retry of one scheduled step),
// find the first attempt's fence, say so and change nothing, so production's later writes stay; a
// second attempt started while the first still runs waits for it, then does not run. End to end: an
// L3 in-place restore whose Temporal server is SIGKILLed during the restore and restarted on the
// same database file and ports completes after one approval, and production is replaced once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HookResult } from '../activities/hooks/hooks.js';
import { type Activities, createActivities } from '../activities/index.js';
import { escapeIdentifier, withClient, withDatabase } from '../activities/postgres/connection.js';
import { findKeptCopy, keepAsRecoveryCopy } from '../activities/postgres/recovery-copy.js';
import { incidentInput } from '../client/incidents.js';
import { type TemporalServer, startTemporal } from '../client/stack/temporal.js';
import { FailureType } from '../common/errors.js';
import type { RunResult } from '../common/plans.js';
import type { LifeboatConfig } from '../config/config.js';
import {
  type TestDatabase,
  type TestWorker,
  backupAndVerify,
  createCrmDatabase,
  driveIncident,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  waitingNames,
  answer,
  observed,
  highestAttempt,
  holdLock,
  lockWaiters,
  tableSums,
} from './helpers.js';

const sql = (db: TestDatabase, text: string, params: unknown[] = []) => withClient(db.url, (c) => c.query(text, params));
const databaseComment = async (db: TestDatabase) =>
  (await sql(db, `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = current_database()`)).rows[0]
    .c as string;
const fenceLines = async (db: TestDatabase) =>
  ((await databaseComment(db)) ?? '').split('\n').filter((l) => l.startsWith('lifeboat-fence '));
/** One scheduled step of one run: Temporal's attempts of it share the fence. */
const newStep = () => ({ workflowId: uniqueName('wf'), runId: randomBytes(8).toString('hex'), activityId: String(1 + randomBytes(1)[0]!) });
type Step = ReturnType<typeof newStep>;

/** An attempt of `step` in the activity context; `beats` collects its heartbeats' details. */
function attempt(step: Step, n: number, beats: Array<{ phase?: string }> = []): MockActivityEnvironment {
  const env = new MockActivityEnvironment({
    workflowExecution: { workflowId: step.workflowId, runId: step.runId },
    activityId: step.activityId,
    attempt: n,
  });
  env.on('heartbeat', (detail: { phase?: string }) => beats.push(detail));
  return env;
}

/** Runs an activity in `env`, typed as the activity is. */
function within<F extends (...args: never[]) => Promise<unknown>>(
  env: MockActivityEnvironment,
  fn: F,
  ...args: Parameters<F>
): ReturnType<F> {
  return env.run(fn as unknown as (...a: unknown[]) => Promise<unknown>, ...(args as unknown[])) as ReturnType<F>;
}

/** A promise whose rejection is kept for a later await, not reported as unhandled meanwhile. */
function later<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

describe('fences at the worker: a retried destructive step changes production once', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let activities: Activities;
  let backupId: string;
  let pristine: Awaited<ReturnType<typeof tableSums>>;
  const hookLog = join(mkdtempSync(join(tmpdir(), 'lifeboat-fence-')), 'rollbacks.log');

  beforeAll(async () => {
    db = await createCrmDatabase(150);
    config = testConfig({
      prefix: uniqueName('fence'),
      crmExtra: '    hooks: { rollback: roll-back }',
      extra: `hooks:
  roll-back: { type: command, command: [sh, -c, 'echo "rolled back $LIFEBOAT_INCIDENT_ID" >> ${hookLog}; sleep "$ROLLBACK_SLEEP"'], env: [ROLLBACK_SLEEP], timeout: 5m }`,
    });
    worker = await startTestWorker(config, testEnv(db));
    backupId = await backupAndVerify(worker);
    pristine = await tableSums(db.url);
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  const restoreInPlace = (env: MockActivityEnvironment) =>
    within(env, activities.restoreDatabase, { target: 'crm', backupId, incidentId: uniqueName('inc') });
  const setup = (env: NodeJS.ProcessEnv = {}) =>
    (activities = createActivities({ config, env: { ...testEnv(db), PATH: process.env.PATH, ROLLBACK_SLEEP: '0', ...env } }));

  it('restores in place once: a retry after the commit finds the fence, says so, and leaves later writes alone', async () => {
    setup();
    await sql(db, `COMMENT ON DATABASE ${db.name} IS 'CRM production (owner: sales-ops)'`);
    await sql(db, 'DELETE FROM crm_reminders'); // the incident
    const step = newStep();
    const first = await restoreInPlace(attempt(step, 1));
    expect(first).toEqual({ database: db.name, tables: Object.keys(pristine).length });
    expect(await tableSums(db.url)).toEqual(pristine);

    // Production moves on once the restore has committed; then Temporal retries the step.
    await sql(db, `UPDATE crm_leads SET first_name = first_name || ' (edited after the restore)' WHERE id = 1`);
    const edited = await tableSums(db.url);
    const second = await restoreInPlace(attempt(step, 2));
    expect(second).toMatchObject({ database: db.name, tables: first.tables });
    expect(second.alreadyApplied).toMatch(/^already applied by attempt 1 at \d{4}-\d\d-\d\dT[\d:.]+Z; this attempt changed nothing$/);
    expect(await tableSums(db.url)).toEqual(edited);

    // The fence is a marked line of the database's comment: the comment's own text stays.
    const comment = (await databaseComment(db)).split('\n');
    expect(comment[0]).toBe('CRM production (owner: sales-ops)');
    expect(await fenceLines(db)).toEqual([expect.stringMatching(/^lifeboat-fence \S+ restored by attempt 1 at /)]);

    // Another approval is another scheduled step, with a fence of its own: it restores again.
    const again = await restoreInPlace(attempt(newStep(), 1));
    expect(again.alreadyApplied).toBeUndefined();
    expect(await tableSums(db.url)).toEqual(pristine);
    expect(await fenceLines(db)).toHaveLength(2);
  });

  it('a second restore attempt started while the first still runs waits for it, then returns without restoring', async () => {
    setup();
    await sql(db, 'DELETE FROM crm_reminders');
    // The first attempt's restore stops inside its transaction until this lock goes.
    const lock = await holdLock(db.url, 'LOCK TABLE crm_reminders IN ACCESS SHARE MODE');
    const step = newStep();
    const firstBeats: Array<{ phase?: string }> = [];
    const secondBeats: Array<{ phase?: string }> = [];
    const first = later(restoreInPlace(attempt(step, 1, firstBeats)));
    await expect.poll(() => lockWaiters(db.url, { kind: 'relation' }), { timeout: 60_000 }).toBe(1);
    const second = later(restoreInPlace(attempt(step, 2, secondBeats)));
    await expect.poll(() => lockWaiters(db.url, { kind: 'advisory' }), { timeout: 60_000 }).toBe(1);
    // One restore session in the database: the first attempt's psql.
    expect(
      Number(
        (await sql(db, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'psql'"))
          .rows[0].n,
      ),
    ).toBe(1);
    await lock.release();

    const [a, b] = await Promise.all([first, second]);
    expect(a.alreadyApplied).toBeUndefined();
    expect(b).toMatchObject({ database: a.database, tables: a.tables });
    expect(b.alreadyApplied).toMatch(/^already applied by attempt 1 at /);
    // The second attempt waited, heartbeating, and never read the backup.
    const phases = secondBeats.map((d) => d.phase);
    expect(phases).toContain('waiting for an earlier attempt to finish');
    expect(phases).not.toContain('checksumming');
    expect(phases).not.toContain('restoring');
    expect(firstBeats.map((d) => d.phase)).toContain('checksumming');
    expect(await tableSums(db.url)).toEqual(pristine);
  });

  /** Damages three leads (two deleted with their children, one changed) and stages them from the backup. */
  async function stageDamagedLeads(incidentId: string) {
    const ids = (await sql(db, 'SELECT id::text FROM crm_leads ORDER BY id LIMIT 3 OFFSET 40')).rows.map((r: { id: string }) => r.id);
    await sql(db, 'DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [ids.slice(0, 2)]);
    await sql(db, `UPDATE crm_leads SET status = 'lost', first_name = 'Damaged' WHERE id = $1`, [ids[2]]);
    const staged = await within(attempt(newStep(), 1), activities.stageRecords, {
      incidentId,
      target: 'crm',
      backupId,
      selection: { table: 'crm_leads', keys: ids, includeChildren: true, goodBefore: new Date().toISOString() },
    });
    return { ids, staged, input: { incidentId, target: 'crm', staged } };
  }

  it('applies staged records once: a retry after the commit returns the first result, marked, and leaves later writes alone', async () => {
    setup();
    const incidentId = uniqueName('inc');
    const { ids, input } = await stageDamagedLeads(incidentId);
    const step = newStep();
    const first = await within(attempt(step, 1), activities.applyRecords, input);
    expect(first.crm_leads).toEqual({ inserted: 2, updated: 1, deleted: 0 });
    expect(await tableSums(db.url)).toEqual(pristine);

    const original = (await sql(db, 'SELECT first_name FROM crm_leads WHERE id = $1', [ids[2]])).rows[0].first_name as string;
    await sql(db, `UPDATE crm_leads SET first_name = 'Edited after the apply' WHERE id = $1`, [ids[2]]);
    const edited = await tableSums(db.url);
    const second = await within(attempt(step, 2), activities.applyRecords, input);
    const note = expect.stringMatching(/^already applied by attempt 1 at .+; this attempt changed nothing$/);
    expect(second).toEqual(Object.fromEntries(Object.entries(first).map(([t, c]) => [t, { ...c, alreadyApplied: note }])));
    expect(await tableSums(db.url)).toEqual(edited);

    await sql(db, 'UPDATE crm_leads SET first_name = $2 WHERE id = $1', [ids[2], original]);
    await within(attempt(newStep(), 1), activities.dropStaging, { incidentId, target: 'crm' });
    expect(await tableSums(db.url)).toEqual(pristine);
  });

  it('a second apply attempt started while the first still runs waits for it, then returns without applying', async () => {
    setup();
    const incidentId = uniqueName('inc');
    const { ids, input } = await stageDamagedLeads(incidentId);
    // The first attempt's apply waits for this row lock inside its transaction.
    const lock = await holdLock(db.url, 'SELECT 1 FROM crm_leads WHERE id = $1 FOR UPDATE', [ids[2]]);
    const step = newStep();
    const secondBeats: Array<{ phase?: string }> = [];
    const first = later(within(attempt(step, 1), activities.applyRecords, input));
    await expect.poll(() => lockWaiters(db.url, { kind: 'transactionid' }), { timeout: 60_000 }).toBe(1);
    const second = later(within(attempt(step, 2, secondBeats), activities.applyRecords, input));
    await expect.poll(() => lockWaiters(db.url, { kind: 'advisory' }), { timeout: 60_000 }).toBe(1);
    await lock.release();

    const [a, b] = await Promise.all([first, second]);
    expect(a.crm_leads).toEqual({ inserted: 2, updated: 1, deleted: 0 });
    expect(b.crm_leads).toEqual({ ...a.crm_leads, alreadyApplied: expect.stringMatching(/^already applied by attempt 1 at /) });
    expect(secondBeats.map((d) => d.phase)).toContain('waiting for an earlier attempt to finish');
    expect(await tableSums(db.url)).toEqual(pristine);
    await within(attempt(newStep(), 1), activities.dropStaging, { incidentId, target: 'crm' });
  });

  it('runs the rollback hook once, and refuses to run it again after an attempt that never reported back', async () => {
    setup();
    const runs = () => readFileSync(hookLog, 'utf8').trim().split('\n');
    const rollback = (env: MockActivityEnvironment, incidentId: string) =>
      within(env, activities.runTargetHook, { incidentId, target: 'crm', role: 'rollback' }) as Promise<
        HookResult & { alreadyApplied?: string }
      >;

    const step = newStep();
    const first = await rollback(attempt(step, 1), 'inc-once');
    expect(first.ok).toBe(true);
    const second = await rollback(attempt(step, 2), 'inc-once');
    expect(second).toMatchObject({
      hook: 'roll-back',
      ok: true,
      alreadyApplied: expect.stringMatching(/^already applied by attempt 1 at /),
    });
    expect(runs()).toEqual(['rolled back inc-once']);

    // An attempt that stops in the middle of the hook (here: cancelled) leaves the fence started.
    setup({ ROLLBACK_SLEEP: '300' });
    const crashed = newStep();
    const dying = attempt(crashed, 1);
    const stopped = later(rollback(dying, 'inc-crash'));
    await expect.poll(runs, { timeout: 30_000 }).toContain('rolled back inc-crash');
    dying.cancel();
    await expect(stopped).rejects.toThrow();
    setup();
    const refused = await rollback(attempt(crashed, 2), 'inc-crash').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: FailureType.unfinished, nonRetryable: true });
    expect((refused as Error).message).toMatch(/started by attempt 1 at .* may have run/);
    expect((refused as Error).message).toContain('Check the deployment of crm');
    expect(runs()).toEqual(['rolled back inc-once', 'rolled back inc-crash']);
  });

  it("stages from the dump when a newer backup's verification drops the kept recovery copy while it is read", async () => {
    setup();
    const admin = inject('pgAdminUrl');
    const fresh = await backupAndVerify(worker);
    const kept = await findKeptCopy(admin, 'crm', fresh);
    expect(kept).toBeDefined();
    const copyUrl = withDatabase(admin, kept!);
    // Staging waits on this lock in the copy; the copy is then dropped under it, as keepAsRecoveryCopy drops an older one.
    const lock = await holdLock(copyUrl, 'LOCK TABLE crm_leads IN ACCESS EXCLUSIVE MODE');
    const incidentId = uniqueName('inc');
    const ids = (await sql(db, 'SELECT id::text FROM crm_leads ORDER BY id LIMIT 3 OFFSET 60')).rows.map((r: { id: string }) => r.id);
    const selection = { table: 'crm_leads', keys: ids, includeChildren: true, goodBefore: new Date().toISOString() };
    const staging = later(
      within(attempt(newStep(), 1), activities.stageRecords, { incidentId, target: 'crm', backupId: fresh, selection }),
    );
    await expect.poll(() => lockWaiters(copyUrl), { timeout: 60_000 }).toBeGreaterThan(0);
    await withClient(admin, (c) => c.query(`DROP DATABASE ${escapeIdentifier(kept!)} WITH (FORCE)`));
    await lock.release();
    const staged = await staging;
    // The same rows as production holds (nothing was damaged), read from the dump instead.
    const children = await sql(db, 'SELECT count(*)::int AS n FROM crm_activities WHERE lead_id = ANY($1::bigint[])', [ids]);
    expect(staged.find((t) => t.table === 'crm_leads')?.rows).toBe(3);
    expect(staged.find((t) => t.table === 'crm_activities')?.rows).toBe(children.rows[0].n);
    expect(await findKeptCopy(admin, 'crm', fresh)).toBeUndefined();
    await within(attempt(newStep(), 1), activities.dropStaging, { incidentId, target: 'crm' });
  });
});

describe('kept recovery copies', () => {
  it('are kept per target and store: a verification in another store does not replace a copy, one in the same store does', async () => {
    const admin = inject('pgAdminUrl');
    const target = uniqueName('owner');
    const keep = async (store: string, backup: string, minute: number) => {
      const database = uniqueName('verified');
      await withClient(admin, (c) => c.query(`CREATE DATABASE ${escapeIdentifier(database)}`));
      return keepAsRecoveryCopy(admin, database, { target, store, backup, startedAt: `2026-12-01T00:${minute}:00.000Z` });
    };
    const [a, b] = ['s3://lifeboat-backups/team-a at https://s3.example', 's3://lifeboat-backups/team-b at https://s3.example'];
    const [a1, b1, a2] = [uniqueName('a1'), uniqueName('b1'), uniqueName('a2')];
    expect(await keep(a, a1, 10)).toBe(true);
    // Team b's newer backup of its own target of the same name: team a's copy stays.
    expect(await keep(b, b1, 20)).toBe(true);
    expect(await findKeptCopy(admin, target, a1, a)).toBeDefined();
    expect(await findKeptCopy(admin, target, b1, b)).toBeDefined();
    expect(await findKeptCopy(admin, target, b1, a)).toBeUndefined();
    // Team a's newer backup replaces team a's copy only.
    expect(await keep(a, a2, 30)).toBe(true);
    expect(await findKeptCopy(admin, target, a1, a)).toBeUndefined();
    expect(await findKeptCopy(admin, target, a2, a)).toBeDefined();
    const remaining = [await findKeptCopy(admin, target, b1, b), await findKeptCopy(admin, target, a2, a)];
    expect(remaining.every(Boolean)).toBe(true);
    await withClient(admin, async (c) => {
      for (const db of remaining) await c.query(`DROP DATABASE ${escapeIdentifier(db!)} WITH (FORCE)`);
    });
  });
});

describe('an in-place L3 whose Temporal server is killed during the restore', () => {
  let temporal: TemporalServer;
  let db: TestDatabase;
  let worker: TestWorker;
  let pristine: Awaited<ReturnType<typeof tableSums>>;

  beforeAll(async () => {
    // A Temporal server of this file's own: the suite's is not the one to kill.
    temporal = await startTemporal(join(inject('logDir'), `temporal-${uniqueName('fence')}.log`), { ui: false });
    db = await createCrmDatabase(200);
    const config = testConfig({
      prefix: uniqueName('fence-l3'),
      temporalAddress: temporal.address,
      extra: 'approvals:\n  L3: { approvers: [alice, bob] }',
    });
    worker = await startTestWorker(config, testEnv(db), { temporalAddress: temporal.address });
    await backupAndVerify(worker);
    pristine = await tableSums(db.url);
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.stop();
    await db?.drop();
  });

  it('completes after one approval, and production is replaced once', async () => {
    await sql(db, 'DELETE FROM crm_reminders'); // the outage
    const input = incidentInput({ target: 'crm', summary: 'reminders lost', declaredBy: 'carol', level: 'L3', options: { inPlace: true } });
    const { client } = worker;
    await client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    const plan = client.workflow.getHandle(`${input.incidentId}-L3`);
    await expect.poll(() => waitingNames(plan), { timeout: 60_000 }).toContain('vendor-support');
    await answer(plan, 'complete', { task: 'vendor-support', by: 'carol', note: 'VEND-7' });
    await expect.poll(() => waitingNames(plan), { timeout: 120_000 }).toContain('restore-in-place');

    // The restore will stop inside its transaction on this lock: attempt 1 is at work when the server dies.
    const lock = await holdLock(db.url, 'LOCK TABLE crm_reminders IN ACCESS SHARE MODE');
    await answer(plan, 'approve', { gate: 'restore-in-place', by: 'alice' });
    await expect.poll(() => lockWaiters(db.url, { kind: 'relation' }), { timeout: 120_000 }).toBe(1);
    await temporal.kill();
    await temporal.restart();

    // Attempt 1 sends no heartbeat while it waits: the restarted server times it out and starts
    // attempt 2, which waits for attempt 1's fence lock instead of restoring beside it.
    const restoreAttempt = () =>
      plan.describe().then(
        (d) => d.raw.pendingActivities?.find((a) => a.activityType?.name === 'restoreDatabase')?.attempt ?? 0,
        () => 0,
      );
    await expect.poll(restoreAttempt, { timeout: 180_000, interval: 500 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => lockWaiters(db.url, { kind: 'advisory' }), { timeout: 60_000 }).toBe(1);
    await lock.release();

    // Whichever attempt committed, production's writes after that commit stay.
    await expect.poll(() => fenceLines(db), { timeout: 120_000 }).toHaveLength(1);
    await sql(db, `COMMENT ON TABLE crm_leads IS 'written after the restore committed'`);
    const result: RunResult = await driveIncident(client, input.incidentId, {
      'resume-read-only': { complete: { by: 'carol' } },
      'resume-internal-users': { complete: { by: 'carol' } },
      'resume-all-users': { complete: { by: 'carol' } },
      'post-mortem': { complete: { by: 'carol' } },
    });
    expect(result.outcome).toBe('recovered');
    expect(await tableSums(db.url)).toEqual(pristine);
    expect((await sql(db, `SELECT obj_description('crm_leads'::regclass, 'pg_class') AS c`)).rows[0].c).toBe(
      'written after the restore committed',
    );
    const fences = await fenceLines(db);
    expect(fences).toHaveLength(1);
    const restoredBy = Number(/by attempt (\d+)/.exec(fences[0]!)![1]);

    // One approval in the history; the restore step finished on a later attempt, and says so when
    // that attempt found the fence of the one that restored.
    const events = (await plan.fetchHistory()).events ?? [];
    const approvals = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'approve');
    expect(approvals).toHaveLength(1);
    const finalAttempt = await highestAttempt(plan, 'restoreDatabase');
    expect(finalAttempt).toBeGreaterThanOrEqual(2);
    const step = result.timeline.find((s) => s.name === 'restore in place (one transaction)');
    expect(step?.status).toBe('done');
    if (restoredBy !== finalAttempt) expect(step?.detail).toContain(`already applied by attempt ${restoredBy} at`);
    else expect(step?.detail).not.toContain('already applied');
    observed(
      'Temporal server killed mid in-place restore',
      `SIGKILLed with attempt 1 inside its transaction; attempt ${finalAttempt} waited on the fence; restored once (by attempt ${restoredBy}), one approval; later writes kept`,
    );
  }, 600_000);
});
