// A restored database equals the original on every point a team would check, for a schema nobody
// here designed around (test/schema-zoo.ts): backup → verify → an L3 into a new database, then the
// comparison module (activities/checks/database-compare.ts) finds no difference in rows, sequences,
// columns, constraints, indexes, triggers, views, routines, types, partitions, policies, comments,
// owners, grants or extensions; and it does find each difference planted afterwards.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { compareDatabases, describeDatabase, differences } from '../activities/checks/database-compare.js';
import { escapeIdentifier, withClient, withDatabase } from '../activities/postgres/connection.js';
import { incidentInput } from '../client/incidents.js';
import { type Answer, type TestWorker, driveIncident, startTestWorker, testConfig, testEnv, uniqueName } from './helpers.js';
import { schemaZooSql } from './schema-zoo.js';

const L3_NEW_DATABASE: Record<string, Answer> = {
  'vendor-support': { complete: { by: 'carol', note: 'VEND-9' } },
  'cut-over': { complete: { by: 'carol' } },
  'resume-read-only': { complete: { by: 'carol' } },
  'resume-internal-users': { complete: { by: 'carol' } },
  'resume-all-users': { complete: { by: 'carol' } },
  'post-mortem': { complete: { by: 'carol' } },
};

describe('a schema zoo through backup, verification and an L3', () => {
  const admin = () => inject('pgAdminUrl');
  const owner = uniqueName('zoo_owner');
  const database = uniqueName('zoo');
  const url = () => withDatabase(admin(), database);
  let worker: TestWorker;
  let restored: string | undefined;

  beforeAll(async () => {
    await withClient(admin(), async (c) => {
      await c.query(`CREATE ROLE ${escapeIdentifier(owner)}`);
      await c.query(`CREATE DATABASE ${escapeIdentifier(database)}`);
    });
    await withClient(url(), (c) => c.query(schemaZooSql(owner)));
    const config = testConfig({
      prefix: uniqueName('zoo'),
      moreTargets: '  zoo:\n    urlEnv: ZOO_DATABASE_URL\n    store: main\n    verifyOn: production\n    tables: [settings]',
      extra: 'approvals:\n  L3: { approvers: [alice, bob] }',
    });
    worker = await startTestWorker(config, {
      ...testEnv({ name: database, url: url(), drop: async () => undefined }),
      ZOO_DATABASE_URL: url(),
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await withClient(admin(), async (c) => {
      for (const db of [database, restored].filter(Boolean)) await c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(db!)} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(owner)}`);
    });
  });

  it('restores into a new database that equals the original on every point, and the comparison sees planted differences', async () => {
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    const manifest = (await run('backupWorkflow', [{ target: 'zoo' }])) as { id: string };
    expect(((await run('verifyWorkflow', [{ backupId: manifest.id }])) as { result: string }).result).toBe('passed');

    const input = incidentInput({ target: 'zoo', summary: 'the zoo database is lost', declaredBy: 'carol', level: 'L3', options: {} });
    await worker.client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    const result = await driveIncident(worker.client, input.incidentId, L3_NEW_DATABASE);
    expect(result.outcome).toBe('recovered');
    restored = result.database;
    expect(restored).toBeDefined();
    expect(restored).not.toBe(database);
    const copy = withDatabase(admin(), restored!);

    const original = await describeDatabase(url());
    // The zoo's objects are all there to compare: a description that missed an aspect would pass vacuously.
    expect(Object.keys(original.rows!)).toEqual(
      expect.arrayContaining(['billing.orders_2024_01', 'content.landing_pages', 'logs.events', '"Quoted Schema"."naïve table"']),
    );
    expect(Object.keys(original.rows!)).not.toContain('billing.orders');
    expect(Object.keys(original.triggers!).join()).toContain('users_stamp');
    expect(Object.keys(original.policies!)).toEqual(['auth.users.tenant_isolation']);
    // Three partitions with their bounds, and one table inheriting another.
    expect(Object.keys(original.partitions!).sort()).toEqual([
      'billing.orders_2024_01',
      'billing.orders_2024_02',
      'billing.orders_other',
      'content.landing_pages',
    ]);
    expect(original.partitions!['billing.orders_other']).toBe('of billing.orders DEFAULT');
    expect(differences(original, await describeDatabase(copy))).toEqual([]);

    await withClient(copy, async (c) => {
      await c.query('DROP TRIGGER users_stamp ON auth.users');
      await c.query(`REVOKE SELECT ON auth.users FROM ${escapeIdentifier(owner)}`);
      await c.query("UPDATE logs.events SET message = 'changed' WHERE ctid = (SELECT min(ctid) FROM logs.events)");
      await c.query("SELECT setval('graph.edges_id_seq', 501)");
      await c.query("COMMENT ON TABLE content.articles IS 'edited'");
    });
    const found = await compareDatabases(url(), copy);
    expect(found.map((f) => f.split(':').slice(0, 2).join(':'))).toEqual(
      expect.arrayContaining([
        'triggers: trigger users_stamp on table auth.users',
        'relations: auth.users',
        'rows: logs.events',
        'sequences: graph.edges_id_seq',
        'comments: table content.articles',
      ]),
    );
  });
});
