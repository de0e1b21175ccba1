// A restored database equals the original on every point a team would check, for a schema nobody
// here designed around (test/schema-zoo.ts): backup → verify → an L3 into a new database (the
// pristine copy), an L2 of a table with identity and generated columns, of a log table without any
// key (a multiset) and of an inheritance parent, an L1 of uuid keys under row-level security and
// one whose cascade reached a table without a key (its rows of the restored parents come back as
// a multiset, its others untouched), an L4 after DROP DATABASE; after each, the comparison
// module (activities/checks/database-compare.ts) finds no difference in rows, sequences, columns,
// constraints, indexes, triggers, views, routines, types, partitions, policies, comments, owners,
// grants or extensions; and it does find each difference planted afterwards. Last, the drill's use
// of it: a recovered test database against its backup, every differing aspect named.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { compareDatabases, describeDatabase, differences } from '../activities/checks/database-compare.js';
import { escapeIdentifier, withClient, withDatabase } from '../activities/postgres/connection.js';
import { incidentInput } from '../client/incidents.js';
import type { PlanOptions, RunResult } from '../common/plans.js';
import { type Answer, type TestWorker, driveIncident, startTestWorker, testConfig, testEnv, uniqueName } from './helpers.js';
import { schemaZooSql } from './schema-zoo.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities/index.js';
import { drillIdFor, testDatabaseFor } from '../common/names.js';
import type { LifeboatConfig } from '../config/config.js';
import { L3_PEOPLE, L4_PEOPLE } from './people.js';
import { openStore } from '../activities/storage/open.js';
import { backupFolder } from '../common/names.js';

const L2_TABLE: Record<string, Answer> = {
  'confirm-cause': { complete: { by: 'carol', note: 'a cleanup job emptied the articles', choices: ['restore'] } },
  'table-restore': { approve: ['alice'] },
  'resume-operations': { complete: { by: 'carol' } },
  'post-incident-review': { complete: { by: 'carol' } },
};

const L1_ROWS: Record<string, Answer> = {
  'apply-restore': { approve: ['alice'] },
  review: { complete: { by: 'carol' } },
};

const uuidOf = (seed: string) =>
  createHash('md5')
    .update(seed)
    .digest('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

describe('a schema zoo through backup, verification, L3, L2, L1 and L4', () => {
  const admin = () => inject('pgAdminUrl');
  const owner = uniqueName('zoo_owner');
  const database = uniqueName('zoo');
  const url = () => withDatabase(admin(), database);
  let worker: TestWorker;
  let config: LifeboatConfig;
  let workerEnv: NodeJS.ProcessEnv;
  const restored: string[] = [];
  let newestBackup: string | undefined;

  beforeAll(async () => {
    await withClient(admin(), async (c) => {
      await c.query(`CREATE ROLE ${escapeIdentifier(owner)}`);
      await c.query(`CREATE DATABASE ${escapeIdentifier(database)}`);
    });
    await withClient(url(), (c) => c.query(schemaZooSql(owner)));
    config = testConfig({
      prefix: uniqueName('zoo'),
      moreTargets:
        '  zoo:\n    urlEnv: ZOO_DATABASE_URL\n    store: main\n    verifyOn: production\n    tables: [settings, content.articles, logs.events, content.pages, auth.users, graph.nodes]',
      extra:
        'approvals:\n  L1: { approvers: [alice, bob] }\n  L2: { approvers: [alice, bob] }\n  L3: { approvers: [alice, bob] }\n' +
        '  L4: { approvers: [alice, bob, dana], gates: { accept-data-loss: [bob, dana] } }',
    });
    workerEnv = { ...testEnv({ name: database, url: url(), drop: async () => undefined }), ZOO_DATABASE_URL: url() };
    worker = await startTestWorker(config, workerEnv);
  });

  afterAll(async () => {
    await worker?.stop();
    await withClient(admin(), async (c) => {
      for (const db of [database, ...restored]) await c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(db)} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(owner)}`);
    });
  });

  /** Declares an incident of the zoo by carol and plays its people; returns its result. */
  async function recover(level: 'L1' | 'L2' | 'L3' | 'L4', options: PlanOptions, people: Record<string, Answer>): Promise<RunResult> {
    const input = incidentInput({ target: 'zoo', summary: `zoo ${level}`, declaredBy: 'carol', level, options });
    await worker.client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    const result = await driveIncident(worker.client, input.incidentId, people);
    expect(result.outcome, result.detail).toBe('recovered');
    return result;
  }

  it('recovers by L3, L2 (a keyless table, an inheritance parent), L1 (uuid keys under RLS, a stamping trigger; a cascade down to a keyless grandchild) and L4 after DROP DATABASE into databases equal to the original on every point, and the comparison sees planted differences', async () => {
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    const manifest = (await run('backupWorkflow', [{ target: 'zoo' }])) as { id: string };
    expect(((await run('verifyWorkflow', [{ backupId: manifest.id }])) as { result: string }).result).toBe('passed');

    const l3 = await recover('L3', {}, L3_PEOPLE);
    expect(l3.database).toBeDefined();
    expect(l3.database).not.toBe(database);
    restored.push(l3.database!);
    const copy = withDatabase(admin(), l3.database!);

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

    // L2: a table of every type, with identity and generated columns, emptied by a bad job, comes back whole.
    await withClient(url(), (c) => c.query('DELETE FROM content.articles'));
    const l2 = await recover('L2', { table: 'content.articles' }, L2_TABLE);
    expect(l2.outcome).toBe('recovered');
    expect(await compareDatabases(copy, url())).toEqual([]);

    // L2 of a table without any key (no primary key, no unique index): a multiset. Rows deleted
    // (two of three equal ones among them), rows duplicated and rows added; the backup's rows come
    // back as many times as the backup held them, with the table's trigger off for the apply (it
    // would stamp every restored row) and on again afterwards.
    await withClient(url(), async (c) => {
      await c.query("DELETE FROM logs.events WHERE ctid IN (SELECT ctid FROM logs.events WHERE at = '2024-01-01' LIMIT 2)");
      await c.query("DELETE FROM logs.events WHERE at IN ('2024-01-01 00:00:07+00', '2024-01-01 00:00:09+00')");
      await c.query('SET session_replication_role = replica'); // copies exactly alike, not stamped
      await c.query("INSERT INTO logs.events SELECT * FROM logs.events WHERE at IN ('2024-01-01 00:00:11+00', '2024-01-01 00:00:12+00')");
      await c.query('SET session_replication_role = origin');
      await c.query("INSERT INTO logs.events VALUES (now(), 'warn', 'new 1'), (now(), 'warn', 'new 2')");
    });
    const log = await recover('L2', { table: 'logs.events' }, L2_TABLE);
    const detail = (name: string) => log.timeline.find((step) => step.name === name)?.detail;
    expect(detail('restore: compare the backup with production')).toBe('4 missing, 0 changed, 4 not in the backup');
    expect(detail('restore: apply logs.events in one transaction')).toBe('logs.events: +4 ~0 -4');
    expect(await compareDatabases(copy, url())).toEqual([]);
    const stamped = await withClient(url(), async (c) => {
      await c.query('BEGIN');
      const { rows } = await c.query<{ level: string }>("INSERT INTO logs.events VALUES (now(), 'info', 'after') RETURNING level");
      await c.query('ROLLBACK');
      return rows[0]!.level;
    });
    expect(stamped).toBe('info (stamped)');

    // An inheritance parent's rows are its own: counted once (its child's rows are the child's),
    // and an L2 of it neither copies the child's rows into it nor deletes them.
    // (The database equals the pristine copy here, so this newer backup holds the same; L4 below takes it.)
    const newer = (await run('backupWorkflow', [{ target: 'zoo' }])) as { id: string; tables: Record<string, number> };
    newestBackup = newer.id;
    const counts = newer.tables;
    expect({ pages: counts['content.pages'], landing: counts['content.landing_pages'] }).toEqual({ pages: 3, landing: 1 });
    await withClient(url(), async (c) => {
      await c.query("DELETE FROM ONLY content.pages WHERE slug = 'home'");
      await c.query("UPDATE ONLY content.pages SET body = 'edited' WHERE slug = ''");
    });
    const pages = await recover('L2', { table: 'content.pages' }, L2_TABLE);
    expect(pages.timeline.find((step) => step.name === 'restore: compare the backup with production')?.detail).toBe(
      '1 missing, 1 changed, 0 not in the backup',
    );
    expect(await compareDatabases(copy, url())).toEqual([]);

    // L1 of rows in a schema outside public: uuid keys under row-level security, a trigger that
    // stamps updated_at (it must not stamp the restored rows).
    await withClient(url(), async (c) => {
      await c.query("DELETE FROM auth.users WHERE id = md5('u7')::uuid");
      await c.query("UPDATE auth.users SET email = 'changed@example.com' WHERE id = md5('u8')::uuid");
    });
    const selection = (table: string, keys: string[]) => ({
      record: { table, keys, includeChildren: true, goodBefore: new Date().toISOString() },
    });
    const users = await recover('L1', selection('auth.users', [uuidOf('u7'), uuidOf('u8')]), L1_ROWS);
    expect(users.detail).toMatch(/^2 rows restored/);
    expect(await compareDatabases(copy, url())).toEqual([]);

    // A node whose deletion cascaded three levels, down to edge notes, a table without a key: the
    // notes of its edges come back as copies, as many as the backup holds (one note twice), and
    // only those: a note of another edge changed after the backup and notes of no edge (a NULL
    // reference) stay as they are now.
    await withClient(url(), async (c) => {
      await c.query('DELETE FROM graph.nodes WHERE id = 29');
      await c.query("UPDATE graph.edge_notes SET note = 'note 3, edited after the backup' WHERE edge_id = 3");
      await c.query(
        "UPDATE graph.edge_notes SET note = 'unattached, edited' WHERE ctid = (SELECT min(ctid) FROM graph.edge_notes WHERE edge_id IS NULL)",
      );
      await c.query("INSERT INTO graph.edge_notes VALUES (NULL, 'unattached, added')");
    });
    const notes = () =>
      withClient(url(), async (c) =>
        (await c.query<{ row: string }>('SELECT x::text AS row FROM graph.edge_notes x')).rows.map((r) => r.row).sort(),
      );
    const notesBefore = await notes();
    const graph = await recover('L1', selection('graph.nodes', ['29']), L1_ROWS);
    const graphStep = (name: string) => graph.timeline.find((step) => step.name === name)?.detail;
    // Node 29 and its children 58 and 59; the edges from or to them (4, 29, 34, 51, 58, 59); edge 51's two notes.
    expect(graphStep('identify: compare the backup with production')).toBe(
      'graph.nodes: 3 missing, 0 changed; graph.edges: 6 missing, 0 changed; graph.edge_notes: 2 missing, 0 extra, 0 unchanged copies',
    );
    expect(graphStep('restore: apply the staged rows in one transaction')).toMatch(
      /^graph\.nodes: \+3 ~0, graph\.edges: \+6 ~0, graph\.edge_notes: \+2 ~0/,
    );
    expect(await notes()).toEqual([...notesBefore, '(51,"note 51")', '(51,"note 51")'].sort());
    // Put back by hand, the edits made after the backup leave a database equal to the pristine copy.
    await withClient(url(), async (c) => {
      await c.query("UPDATE graph.edge_notes SET note = 'note 3' WHERE edge_id = 3");
      await c.query("UPDATE graph.edge_notes SET note = 'unattached' WHERE note = 'unattached, edited'");
      await c.query("DELETE FROM graph.edge_notes WHERE note = 'unattached, added'");
    });
    expect(await compareDatabases(copy, url())).toEqual([]);

    // L4 after DROP DATABASE: everything into a new database, two people accepting the data loss.
    await withClient(admin(), (c) => c.query(`DROP DATABASE ${escapeIdentifier(database)} WITH (FORCE)`));
    const l4 = await recover('L4', {}, L4_PEOPLE);
    restored.push(l4.database!);
    const recovered = withDatabase(admin(), l4.database!);
    expect(await compareDatabases(copy, recovered)).toEqual([]);

    await withClient(copy, async (c) => {
      await c.query('DROP TRIGGER users_stamp ON auth.users');
      await c.query(`REVOKE SELECT ON auth.users FROM ${escapeIdentifier(owner)}`);
      await c.query("UPDATE logs.events SET message = 'changed' WHERE ctid = (SELECT min(ctid) FROM logs.events)");
      await c.query("SELECT setval('graph.edges_id_seq', 501)");
      await c.query("COMMENT ON TABLE content.articles IS 'edited'");
    });
    const found = await compareDatabases(recovered, copy);
    expect(found.map((f) => f.split(':').slice(0, 2).join(':'))).toEqual(
      expect.arrayContaining([
        'triggers: trigger users_stamp on table auth.users',
        'grants: relation auth.users',
        'rows: logs.events',
        'sequences: graph.edges_id_seq',
        'comments: table content.articles',
      ]),
    );
  });

  it("the drill's comparison of a recovered database with its backup names each differing aspect, and leaves out rows, owners and grants", async () => {
    // The zoo's database was dropped above: its newest backup (equal to the pristine copy) is compared.
    const manifest = { id: newestBackup! };
    const activities = createActivities({ config, env: workerEnv });
    const testDatabase = testDatabaseFor('zoo', drillIdFor(new Date(), 'zoo2'));
    const ref = { target: 'zoo', testDatabase };
    const compare = (): Promise<string[]> =>
      new MockActivityEnvironment().run(activities.compareDrillDatabase, { ...ref, backupId: manifest.id });
    try {
      await new MockActivityEnvironment().run(activities.createTestDatabase, ref);
      await new MockActivityEnvironment().run(activities.restoreTestDatabase, { ...ref, backupId: manifest.id });
      expect(await compare()).toEqual([]);

      await withClient(withDatabase(admin(), testDatabase), async (c) => {
        await c.query('DROP INDEX content.articles_search');
        await c.query("SELECT setval('graph.edges_id_seq', 900)");
        await c.query('ALTER TABLE auth.users DISABLE TRIGGER users_stamp');
        await c.query("COMMENT ON VIEW content.recent IS 'changed'");
        // Not the comparison's to find: rows are the table check's, owners and grants a drill's copy does not keep.
        await c.query('DELETE FROM logs.events');
        await c.query(`ALTER TABLE billing.customers OWNER TO ${escapeIdentifier(owner)}`);
        await c.query(`GRANT SELECT ON graph.nodes TO ${escapeIdentifier(owner)}`);
      });
      const found = await compare();
      expect(found.map((f) => f.split(':').slice(0, 2).join(':')).sort()).toEqual([
        'comments: view content.recent',
        'indexes: content.articles_search',
        'sequences: graph.edges_id_seq',
        'triggers: trigger users_stamp on table auth.users',
      ]);
      expect(found.find((f) => f.startsWith('sequences:'))).toMatch(/expected last 500 .*found last 900/);
    } finally {
      await new MockActivityEnvironment().run(activities.dropTestDatabases, ref);
    }
    // The reference restored for the comparison is gone with the test database.
    expect(
      (await withClient(admin(), (c) => c.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [testDatabase]))).rows,
    ).toEqual([]);
  }, 300_000);

  it('verifies and restores a backup whose manifest, written before, counts an inheritance parent with its children', async () => {
    const store = openStore('main', config.stores.main!, workerEnv);
    const key = `${backupFolder(newestBackup!)}/manifest.json`;
    const current = (await store.getText(key))!;
    const manifest = JSON.parse(current) as { tables: Record<string, number> };
    expect({ pages: manifest.tables['content.pages'], landing: manifest.tables['content.landing_pages'] }).toEqual({
      pages: 3,
      landing: 1,
    });
    await store.putText(key, JSON.stringify({ ...manifest, tables: { ...manifest.tables, 'content.pages': 4 } }));
    try {
      const verified = (await worker.client.workflow.execute('verifyWorkflow', {
        taskQueue: worker.taskQueue,
        workflowId: uniqueName('verify'),
        args: [{ backupId: newestBackup }],
      })) as { result: string; findings: unknown[] };
      expect(verified).toMatchObject({ result: 'passed', findings: [] });
      const l3 = await recover('L3', {}, L3_PEOPLE);
      restored.push(l3.database!);
      expect(l3.timeline.find((step) => step.name.startsWith('verify all tables'))?.status).toBe('done');
    } finally {
      await store.putText(key, current);
    }
  }, 300_000);
});
