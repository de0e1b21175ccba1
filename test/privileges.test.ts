// A recovery gives the application its database back as it could use it: the backup's owners and
// grants are kept (an application role that could read a table before an in-place restore still
// can), checked against the backup afterwards, and a restore whose roles the server lacks is
// refused before anything changes, naming them.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { escapeIdentifier, withClient, withDatabase } from '../activities/postgres/connection.js';
import { readPrivileges } from '../activities/postgres/privileges.js';
import { incidentInput } from '../client/incidents.js';
import type { BackupManifest } from '../common/backups.js';
import type { PlanOptions } from '../common/plans.js';
import type { LifeboatConfig } from '../config/config.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  driveIncident,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
} from './helpers.js';
import { L3_PEOPLE } from './people.js';

describe('owners and grants across a recovery', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  // Roles are the whole server's: unique names, dropped at the end.
  const app = uniqueName('crm_app');
  const reports = uniqueName('Crm Reports'); // a role name that needs quoting
  const admin = () => inject('pgAdminUrl');

  const run = (type: string, args: unknown[]) =>
    worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
  const l3 = async (options: PlanOptions) => {
    const input = incidentInput({ target: 'crm', summary: 'L3 privileges', declaredBy: 'carol', level: 'L3', options });
    await worker.client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    return driveIncident(worker.client, input.incidentId, L3_PEOPLE);
  };
  const canRead = (url: string, role: string, table: string) =>
    withClient(
      url,
      async (c) => (await c.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2, $3) AS ok', [role, table, 'SELECT'])).rows[0]!.ok,
    );

  beforeAll(async () => {
    db = await createCrmDatabase(120);
    await withClient(admin(), async (c) => {
      await c.query(`CREATE ROLE ${escapeIdentifier(app)}`);
      await c.query(`CREATE ROLE ${escapeIdentifier(reports)}`);
    });
    await withClient(db.url, async (c) => {
      await c.query(`GRANT SELECT, INSERT ON crm_leads TO ${escapeIdentifier(app)}`);
      await c.query(`GRANT SELECT ON crm_activities TO ${escapeIdentifier(reports)}`);
      await c.query(`ALTER TABLE crm_notifications OWNER TO ${escapeIdentifier(app)}`);
    });
    config = testConfig({ prefix: uniqueName('privileges'), extra: 'approvals:\n  L3: { approvers: [alice, bob] }' });
    worker = await startTestWorker(config, testEnv(db));
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
    await withClient(admin(), async (c) => {
      for (const role of [app, reports]) await c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
    });
  });

  it('records the owners and grants in the manifest, keeps them through an in-place and a new-database L3, and checks them', async () => {
    const manifest = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await run('verifyWorkflow', [{ backupId: manifest.id }]);
    const before = await withClient(db.url, readPrivileges);
    expect(manifest.privileges).toEqual(before);
    expect(manifest.privileges!['relation crm_notifications']!.owner).toBe(app);

    // The incident: the grants are gone, and a table changed hands.
    await withClient(db.url, async (c) => {
      await c.query(`REVOKE ALL ON crm_leads FROM ${escapeIdentifier(app)}`);
      await c.query('ALTER TABLE crm_notifications OWNER TO CURRENT_USER');
    });
    expect(await canRead(db.url, app, 'crm_leads')).toBe(false);

    const inPlace = await l3({ inPlace: true });
    expect(inPlace.outcome).toBe('recovered');
    expect(await withClient(db.url, readPrivileges)).toEqual(before);
    expect(await canRead(db.url, app, 'crm_leads')).toBe(true);
    expect(await canRead(db.url, reports, 'crm_activities')).toBe(true);
    expect(inPlace.timeline.find((s) => s.name.startsWith('verify all tables'))?.detail).toContain('owners and grants');

    const beside = await l3({});
    expect(beside.outcome).toBe('recovered');
    const restored = withDatabase(db.url, /into (\S+)$/.exec(beside.detail)![1]!);
    expect(await withClient(restored, readPrivileges)).toEqual(before);
    await withClient(admin(), (c) => c.query(`DROP DATABASE ${escapeIdentifier(/into (\S+)$/.exec(beside.detail)![1]!)} WITH (FORCE)`));
  });

  it('refuses a restore whose roles the server lacks, naming them, and changes nothing', async () => {
    const gone = uniqueName('crm_gone');
    await withClient(admin(), (c) => c.query(`CREATE ROLE ${escapeIdentifier(gone)}`));
    await withClient(db.url, (c) => c.query(`GRANT SELECT ON crm_reminders TO ${escapeIdentifier(gone)}`));
    const manifest = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await run('verifyWorkflow', [{ backupId: manifest.id }]);
    await withClient(db.url, (c) => c.query(`REVOKE ALL ON crm_reminders FROM ${escapeIdentifier(gone)}`));
    await withClient(admin(), (c) => c.query(`DROP ROLE ${escapeIdentifier(gone)}`));
    const before = await withClient(db.url, readPrivileges);

    const result = await l3({ inPlace: true });
    expect(result.outcome).toBe('failed');
    expect(result.detail).toContain(`roles this server does not have: ${gone}`);
    expect(result.detail).toContain('nothing was changed');
    expect(await withClient(db.url, readPrivileges)).toEqual(before);
  });
});
