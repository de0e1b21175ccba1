// L2, L3 and L4 end to end on the real stack, with the people played by the test.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient, withDatabase } from '../activities/postgres/connection.js';
import { fingerprints, userTables } from '../activities/postgres/inspect.js';
import { Catalog } from '../activities/storage/catalog.js';
import { openStore } from '../activities/storage/open.js';
import { abort, incidentInput } from '../client/incidents.js';
import type { LifeboatConfig } from '../config/config.js';
import { type BackupManifest } from '../common/backups.js';
import { backupFolder, backupIdFor } from '../common/names.js';
import { type Level, type PlanOptions } from '../common/plans.js';
import { statusQuery } from '../workflows/messages.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  driveIncident,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  damageStoredDump,
  as,
  answer,
} from './helpers.js';
import { L3_PEOPLE } from './people.js';

describe('recovery plans L2, L3, L4', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let pristine: Record<string, { rows: number; checksum: string }>;
  let verified: BackupManifest;
  const prefix = uniqueName('levels');

  const sums = (url = db.url) =>
    withClient(url, async (c) =>
      fingerprints(
        c,
        (await userTables(c)).filter((t) => !t.includes('.')),
      ),
    );
  const catalog = () => new Catalog(openStore('main', config.stores.main!, testEnv(db)));

  beforeAll(async () => {
    db = await createCrmDatabase(300);
    const psql = '/usr/lib/postgresql/15/bin/psql';
    const readOnly = (on: string) =>
      `[${psql}, --no-psqlrc, --quiet, --command, "DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = ${on}', current_database()); END$$"]`;
    config = testConfig({
      prefix,
      crmExtra: '    hooks: { freezeWrites: read-only, unfreezeWrites: read-write }',
      extra: `hooks:
  read-only: { type: command, command: ${readOnly('on')}, timeout: 30s }
  read-write: { type: command, command: ${readOnly('off')}, timeout: 30s }
approvals:
  L2: { approvers: [alice, bob] }
  L3: { approvers: [alice, bob] }
  L4: { approvers: [alice, bob, dana], gates: { accept-data-loss: [bob, dana, erin] } }`,
    });
    worker = await startTestWorker(config, testEnv(db));
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    verified = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await run('verifyWorkflow', [{ backupId: verified.id }]);
    pristine = await sums();
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  async function declare(level: Level, options: PlanOptions = {}): Promise<string> {
    const input = incidentInput({ target: 'crm', summary: `${level} test`, declaredBy: 'carol', level, options });
    await worker.client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    return input.incidentId;
  }

  it('L2 restores a truncated table from the backup after a safety snapshot and an approval', async () => {
    await withClient(db.url, (c) => c.query('TRUNCATE crm_reminders'));
    const id = await declare('L2', { table: 'crm_reminders' });
    const result = await driveIncident(worker.client, id, {
      'confirm-cause': { complete: { by: 'carol', note: 'a migration truncated reminders', choices: ['restore'] } },
      'table-restore': { approve: ['alice'] },
      'resume-operations': { complete: { by: 'carol' } },
      'post-incident-review': { complete: { by: 'carol', note: 'add a migration review' } },
    });
    expect(result.outcome).toBe('recovered');
    expect(await sums()).toEqual(pristine);
    const steps = result.timeline.map((s) => [s.name, s.status]);
    expect(steps).toContainEqual(['roll back code', 'skipped']);
    expect(steps).toContainEqual(['table-restore', 'done']);
    const safety = (await catalog().list('crm')).find((b) => b.manifest.tags.includes(id));
    expect(safety?.manifest.tables).toEqual({ crm_reminders: 0 }); // what was overwritten: the empty table
    expect(safety?.manifest.tags).toContain('safety');
  });

  it('L3 restores into a new database that equals the backup table by table, leaving production alone', async () => {
    const before = await sums();
    const id = await declare('L3');
    const result = await driveIncident(worker.client, id, {
      ...L3_PEOPLE,
      'vendor-support': { complete: { by: 'carol', note: 'ticket VEND-1234' } },
    });
    expect(result.outcome).toBe('recovered');
    const restoredDb = /into (\S+)$/.exec(result.detail)![1]!;
    const restoredUrl = withDatabase(db.url, restoredDb);
    expect(await sums(restoredUrl)).toEqual(pristine);
    expect(await sums()).toEqual(before);
    expect(result.timeline.find((s) => s.name === 'vendor-support')?.detail).toBe('ticket VEND-1234');
    await withClient(inject('pgAdminUrl'), (c) => c.query(`DROP DATABASE ${restoredDb} WITH (FORCE)`));
  });

  it('freezes writes through the hook while the incident runs, and lets them through again at its end', async () => {
    const input = incidentInput({
      target: 'crm',
      summary: 'frozen',
      declaredBy: 'carol',
      level: 'L3',
      freezeWrites: true,
      options: {},
    });
    await worker.client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    // As the application connects: a plain session, without Lifeboat's own writable override.
    const readOnly = async () => {
      const app = new pg.Client({ connectionString: db.url });
      await app.connect();
      try {
        return (await app.query<{ default_transaction_read_only: string }>('SHOW default_transaction_read_only')).rows[0]!
          .default_transaction_read_only;
      } finally {
        await app.end();
      }
    };
    let frozen = '';
    const result = await driveIncident(worker.client, input.incidentId, {
      'vendor-support': {
        act: async () => {
          frozen = await readOnly();
          await abort(worker.client, input.incidentId, { ...as('carol'), reason: 'freeze test over' });
        },
      },
    });
    expect(frozen).toBe('on');
    expect(result.outcome).toBe('aborted');
    expect(result.timeline.find((s) => s.name === 'resume writes')).toMatchObject({ status: 'done' });
    expect(await readOnly()).toBe('off');
  });

  it('L3 aborted at cut-over drops the database it restored into', async () => {
    const id = await declare('L3');
    const result = await driveIncident(worker.client, id, {
      'vendor-support': { complete: { by: 'carol', note: 'ticket VEND-1235' } },
      'cut-over': { act: async () => void (await abort(worker.client, id, { ...as('carol'), reason: 'restoring elsewhere' })) },
    });
    expect(result.outcome).toBe('aborted');
    const restoredDb = /^(\S+):/.exec(result.timeline.find((s) => s.name === 'restore into a new database')!.detail!)![1]!;
    expect(result.timeline.find((s) => s.name === `drop the unused database ${restoredDb}`)?.status).toBe('done');
    const left = await withClient(
      inject('pgAdminUrl'),
      async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [restoredDb])).rowCount,
    );
    expect(left).toBe(0);
  });

  it('L3 recovers from the newest intact backup past a damaged newer one and a truncated manifest, and says why it skipped them', async () => {
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    const newer = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await run('verifyWorkflow', [{ backupId: newer.id }]);
    await damageStoredDump(prefix, newer.id);
    const truncated = backupIdFor('crm', new Date(Date.parse(newer.startedAt) + 1000), 'dead00');
    await catalog().store.putText(`${backupFolder(truncated)}/manifest.json`, '{"id": "crm-');

    const id = await declare('L3');
    const result = await driveIncident(worker.client, id, L3_PEOPLE);
    expect(result.outcome).toBe('recovered');
    const choice = result.timeline.find((s) => s.name === 'execute recovery: choose the newest verified backup')!.detail!;
    expect(choice).toMatch(new RegExp(`^${verified.id}, taken ${verified.startedAt}; skipped `));
    expect(choice).toContain(`${truncated} (manifest is not valid JSON`);
    expect(choice).toContain(`${newer.id} (SHA-256 mismatch`);
    const restoredDb = /into (\S+)$/.exec(result.detail)![1]!;
    expect(await sums(withDatabase(db.url, restoredDb))).toEqual(pristine);
    await withClient(inject('pgAdminUrl'), (c) => c.query(`DROP DATABASE ${restoredDb} WITH (FORCE)`));
  });

  it('L4 skips a corrupt newer backup, needs two distinct approvers to accept the data loss, and restores', async () => {
    // A newer backup whose stored bytes were damaged: L4 must record why it skipped it.
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    const newer = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await damageStoredDump(prefix, newer.id);

    const id = await declare('L4');
    const result = await driveIncident(worker.client, id, {
      'vendor-escalation': { complete: { by: 'carol', note: 'SEV1-77' } },
      'accept-data-loss': {
        act: async (plan) => {
          const status = await plan.query(statusQuery);
          const gate = status.waiting.find((w) => w.name === 'accept-data-loss')!;
          expect(gate.request!.backup!.id).toBe(verified.id);
          expect(gate.request!.dataLossWindowMs).toBe(Date.parse(status.context.declaredAt) - Date.parse(verified.startedAt));
          expect(gate.request!.changes).toContainEqual(expect.stringContaining(`newer backup ${newer.id} skipped: SHA-256 mismatch`));
          const vote = (by: string) => answer(plan, 'approve', { gate: 'accept-data-loss', by });
          await expect(vote('alice')).rejects.toMatchObject({
            cause: { message: expect.stringMatching(/alice may not decide gate "accept-data-loss".*allowed: bob, dana, erin/) },
          });
          expect(await vote('bob')).toMatchObject({ approvedBy: ['bob'], required: 2 });
          await expect(vote('bob')).rejects.toMatchObject({
            cause: { message: expect.stringMatching(/bob already approved "accept-data-loss": it needs 2 distinct approvers/) },
          });
          expect(await vote('dana')).toBeNull();
        },
      },
      'cut-over': { complete: { by: 'carol' } },
      'manual-reconstruction': { complete: { by: 'carol', note: 'nothing to rebuild' } },
      'audit-signoff': { complete: { by: 'dana' } },
      review: { complete: { by: 'carol' } },
    });
    expect(result.outcome).toBe('recovered');
    expect(result.backupUsed?.id).toBe(verified.id);
    expect(result.timeline.find((s) => s.name === 'accept-data-loss')).toMatchObject({ status: 'done', actor: 'bob, dana' });
    const restoredDb = /^(\S+):/.exec(result.timeline.find((s) => s.name === 'restore into a new database')!.detail!)![1]!;
    expect(await sums(withDatabase(db.url, restoredDb))).toEqual(pristine);
    await withClient(inject('pgAdminUrl'), (c) => c.query(`DROP DATABASE ${restoredDb} WITH (FORCE)`));
  });
});
