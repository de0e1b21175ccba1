// Faults a recovery must survive, driven through the real stack: a PostgreSQL restart in the middle
// of a backup and of an in-place restore, the S3 store going down in the middle of a backup, and
// the worker killed in the middle of an in-place restore. This file has its own PostgreSQL and S3
// servers (a restart must not cut the rest of the suite off) and shares Temporal. Each fault hits
// at a state the test waits for, never at a time: a test connection holds a lock the backup or the
// restore needs, the fault is set off once the tool is seen waiting on that lock, then the lock goes.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { Catalog } from '../activities/storage/catalog.js';
import { openStore } from '../activities/storage/open.js';
import { incidentInput } from '../client/incidents.js';
import { type PostgresServer, startPostgres } from '../client/stack/postgres.js';
import { REPO_ROOT, freePorts } from '../client/stack/processes.js';
import { type S3Server, startSeaweed } from '../client/stack/seaweed.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import type { BackupManifest } from '../common/backups.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  driveIncident,
  observed,
  startTestWorker,
  testConfigText,
  uniqueName,
  highestAttempt,
  holdLock,
  lockWaiters,
  tableSums,
} from './helpers.js';
import { L3_PEOPLE } from './people.js';

const BUCKET = 'faults';

describe('faults a recovery survives', () => {
  let postgres: PostgresServer;
  let s3: S3Server;
  let db: TestDatabase;
  let configText: string;
  let config: LifeboatConfig;
  let env: NodeJS.ProcessEnv;
  let worker: TestWorker;
  /** The tables as the last verified backup holds them: every recovery must give exactly these back. */
  let backedUp: Awaited<ReturnType<typeof tableSums>>;

  /** A session holding `mode` on crm_leads until released. */
  const lockLeads = (mode: 'ACCESS SHARE' | 'ACCESS EXCLUSIVE') => holdLock(db.url, `LOCK TABLE crm_leads IN ${mode} MODE`);

  /** Waits until a session of `tool` waits on a lock in the target database: pg_dump, or psql running an in-place restore's script. */
  const toolWaitingOnLock = (tool: string) =>
    expect.poll(() => lockWaiters(db.url, { application: tool }), { timeout: 120_000, interval: 200 }).toBeGreaterThan(0);

  const startBackup = () =>
    worker.client.workflow.start('backupWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: uniqueName('backup'),
      args: [{ target: 'crm' }],
    });

  /** Verifies a backup by a test restore; returns its verdict. */
  const verify = async (backupId: string) =>
    (
      (await worker.client.workflow.execute('verifyWorkflow', {
        taskQueue: worker.taskQueue,
        workflowId: uniqueName('verify'),
        args: [{ backupId }],
      })) as { result: string }
    ).result;

  /** Deletes a slice of leads (and what references them): the outage every in-place recovery below mends. */
  const damage = () =>
    withClient(db.url, async (c) => {
      await c.query('SET session_replication_role = replica'); // children go too, without their triggers
      await c.query('DELETE FROM crm_leads WHERE id % 7 = 0');
    });

  const declareL3InPlace = async (client: TestWorker['client'], taskQueue: string) => {
    const input = incidentInput({ target: 'crm', summary: 'crm is down', declaredBy: 'carol', level: 'L3', options: { inPlace: true } });
    await client.workflow.start('incidentWorkflow', { taskQueue, workflowId: input.incidentId, args: [input] });
    return input.incidentId;
  };

  beforeAll(async () => {
    const logDir = inject('logDir');
    const [port] = await freePorts(1);
    [postgres, s3] = await Promise.all([
      startPostgres(port!, join(logDir, 'postgres-faults.log')),
      startSeaweed(join(logDir, 'seaweedfs-faults.log')),
    ]);
    await s3.createBucket(BUCKET);
    db = await createCrmDatabase(3000, postgres.adminUrl);
    configText = testConfigText({
      prefix: uniqueName('faults'),
      s3Endpoint: s3.endpoint,
      bucket: BUCKET,
      extra: 'approvals:\n  L3: { approvers: [alice, bob] }',
    });
    config = parseConfig(configText, 'faults configuration', {});
    env = {
      CRM_DATABASE_URL: db.url,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      LIFEBOAT_KEYS_DIR: inject('keysDir'),
    };
    worker = await startTestWorker(config, env);
  }, 180_000);

  afterAll(async () => {
    await worker?.stop();
    await Promise.all([postgres?.stop(), s3?.stop()]);
  });

  it('a PostgreSQL restart mid-backup: the backup completes on a retry, and its test restore equals the source', async () => {
    const lock = await lockLeads('ACCESS EXCLUSIVE');
    const handle = await startBackup();
    await toolWaitingOnLock('pg_dump');
    await postgres.restart(); // cuts pg_dump and the lock holder alike
    await lock.release();
    const manifest = (await handle.result()) as BackupManifest;
    expect(await highestAttempt(handle, 'createBackup')).toBeGreaterThanOrEqual(2);
    expect(await verify(manifest.id)).toBe('passed');
    backedUp = await tableSums(db.url);
    expect(Object.values(manifest.tables).reduce((a, b) => a + b, 0)).toBe(Object.values(backedUp).reduce((a, t) => a + t.rows, 0));
    observed(
      'PostgreSQL restarted mid-backup',
      `pg_dump cut by an immediate restart; the retry (attempt ${await highestAttempt(handle, 'createBackup')}) completed; its test restore passed`,
    );
  });

  it('a PostgreSQL restart mid-restore: the in-place restore is rolled back whole and retried; production equals the backup', async () => {
    await damage();
    const lock = await lockLeads('ACCESS SHARE');
    const incidentId = await declareL3InPlace(worker.client, worker.taskQueue);
    const recovery = driveIncident(worker.client, incidentId, L3_PEOPLE, { timeoutMs: 10 * 60_000 });
    await toolWaitingOnLock('psql');
    await postgres.restart();
    await lock.release();
    const result = await recovery;
    expect(result.outcome).toBe('recovered');
    const plan = worker.client.workflow.getHandle(`${incidentId}-L3`);
    const attempts = await highestAttempt(plan, 'restoreDatabase');
    expect(attempts).toBeGreaterThanOrEqual(2);
    const now = await tableSums(db.url);
    expect(now).toEqual(backedUp);
    observed(
      'PostgreSQL restarted mid-restore (L3 in place)',
      `the restore script cut inside its transaction; attempt ${attempts} restored; every table equals the backup`,
    );
  });

  it('the worker killed mid-restore: another worker finishes the in-place restore; production equals the backup', async () => {
    await damage();
    // Its own task queue: only the worker killed below, then its successor, serve it.
    const taskQueue = uniqueName('faults-kill');
    const killConfig = configText.replace(config.temporal.taskQueue, taskQueue);
    const configFile = join(mkdtempSync(join(tmpdir(), 'lifeboat-faults-')), 'lifeboat.yaml');
    writeFileSync(configFile, killConfig);
    let dying: ChildProcess | undefined = spawn(join(REPO_ROOT, 'bin/lifeboat'), ['--config', configFile, 'worker'], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
      detached: true,
    });
    let successor: TestWorker | undefined;
    try {
      const lock = await lockLeads('ACCESS SHARE');
      const incidentId = await declareL3InPlace(worker.client, taskQueue);
      const recovery = driveIncident(worker.client, incidentId, L3_PEOPLE, { timeoutMs: 10 * 60_000 });
      await toolWaitingOnLock('psql');
      process.kill(-dying.pid!, 'SIGKILL'); // the worker and its pg_restore, as a crash takes them
      dying = undefined;
      await lock.release();
      successor = await startTestWorker(parseConfig(killConfig, configFile, {}), env);
      const result = await recovery;
      expect(result.outcome).toBe('recovered');
      const attempts = await highestAttempt(worker.client.workflow.getHandle(`${incidentId}-L3`), 'restoreDatabase');
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(await tableSums(db.url)).toEqual(backedUp);
      observed(
        'worker SIGKILLed mid-restore (L3 in place)',
        `killed while the restore script waited inside its transaction; attempt ${attempts} on another worker restored; every table equals the backup`,
      );
    } finally {
      if (dying) process.kill(-dying.pid!, 'SIGKILL');
      await successor?.stop();
    }
  }, 600_000);

  it('the S3 store down mid-backup: the backup completes once the store is back, and the store holds no partial object', async () => {
    const store = openStore('main', config.stores.main!, env);
    const before = await new Catalog(store).list('crm');
    const lock = await lockLeads('ACCESS EXCLUSIVE');
    const handle = await startBackup();
    await toolWaitingOnLock('pg_dump');
    await s3.kill();
    await lock.release();
    // Down until the backup has failed against it at least once.
    await expect
      .poll(async () => (await handle.describe()).raw.pendingActivities?.[0]?.attempt ?? 0, { timeout: 120_000, interval: 250 })
      .toBeGreaterThanOrEqual(2);
    await s3.restart();
    const manifest = (await handle.result()) as BackupManifest;
    const after = await new Catalog(store).list('crm');
    expect(after.map((b) => b.manifest.id).sort()).toEqual([...before.map((b) => b.manifest.id), manifest.id].sort());
    const objects = (await store.list('crm/')).map((o) => o.key);
    expect(objects.filter((key) => key.includes(manifest.id)).length).toBeGreaterThan(0);
    // Every object of the target's backups belongs to a listed backup: no orphaned dump or half-written part.
    const ids = after.map((b) => b.manifest.id);
    expect(objects.filter((key) => !ids.some((id) => key.includes(id)))).toEqual([]);
    expect(await verify(manifest.id)).toBe('passed');
    observed(
      'S3 store down mid-backup',
      `store killed as pg_dump began; attempt ${await highestAttempt(handle, 'createBackup')} completed after the restart; no stray object; its test restore passed`,
    );
  });
});
