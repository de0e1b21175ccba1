// L3 and L4 when the database, or the whole cluster's data, is gone: the target database dropped
// (into a new database and in place, which then means recreated under its own name, owned by its
// recorded owner), a database that exists but is damaged, and a server that lacks the application's
// roles (refused naming them, or restored without owners when the target says so). Along the way:
// a partitioned table's rows are counted once, a critical check leaves every sequence where it was,
// and an in-place restore keeps the owner of the schema `public`. The schema is our own: a
// non-superuser owner role, a serial and an identity column, and a partitioned table.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { escapeIdentifier, withClient, withDatabase } from '../activities/postgres/connection.js';
import { fingerprintDatabase } from '../activities/postgres/inspect.js';
import { backupVerdict, verificationVerdict } from '../client/verdicts.js';
import { incidentInput, abort } from '../client/incidents.js';
import type { BackupManifest, TableFingerprint, VerificationRecord } from '../common/backups.js';
import { backupFolder } from '../common/names.js';
import type { Level, PlanOptions, RunResult } from '../common/plans.js';
import type { LifeboatConfig } from '../config/config.js';
import { openStore } from '../activities/storage/open.js';
import { statusQuery } from '../workflows/messages.js';
import { type TestWorker, answer, as, driveIncident, observed, startTestWorker, testConfig, uniqueName } from './helpers.js';
import { L3_PEOPLE, L4_PEOPLE } from './people.js';

describe('L3 and L4 when the database is gone', () => {
  const admin = () => inject('pgAdminUrl');
  // Roles are the whole server's: unique names, dropped at the end.
  const owner = uniqueName('gone_owner');
  const reader = uniqueName('gone_reader');
  const writer = uniqueName('gone_writer');
  const name = uniqueName('gone');
  const prefix = uniqueName('gone');
  let url: string;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let manifest: BackupManifest;
  let verification: VerificationRecord;
  let pristine: Record<string, TableFingerprint>;
  let sequencesAtBackup: Record<string, string>;

  const target = (extra = '') => `  gone:
    urlEnv: GONE_DATABASE_URL
    store: main
    verifyOn: production
    tables: [accounts, events]
    integrityChecks:
      - name: events of a missing account
        sql: SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = e.account_id)
    criticalChecks:
      - name: open an account and log its first event
        sql: WITH a AS (INSERT INTO accounts (name) VALUES ('check') RETURNING id) INSERT INTO events (at, account_id, note) SELECT DATE '2025-06-01', id, 'opened' FROM a
${extra}`;
  const configFor = (extra = '') =>
    testConfig({
      prefix,
      moreTargets: target(extra),
      extra: 'approvals:\n  L3: { approvers: [alice, bob] }\n  L4: { approvers: [alice, bob, dana] }',
    });
  const env = () => ({
    GONE_DATABASE_URL: url,
    AWS_ACCESS_KEY_ID: inject('s3AccessKeyId'),
    AWS_SECRET_ACCESS_KEY: inject('s3SecretAccessKey'),
  });
  const server = (sql: string, params: unknown[] = []) => withClient(admin(), (c) => c.query(sql, params));
  const exists = async (database: string) => (await server('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount === 1;
  const dropTarget = () => server(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
  const run = <T>(type: string, args: unknown[], on = worker) =>
    on.client.workflow.execute(type, { taskQueue: on.taskQueue, workflowId: uniqueName(type), args }) as Promise<T>;
  const declare = async (level: Level, options: PlanOptions = {}, on = worker, people = level === 'L4' ? L4_PEOPLE : L3_PEOPLE) => {
    const input = incidentInput({ target: 'gone', summary: `${level}: the database is gone`, declaredBy: 'carol', level, options });
    await on.client.workflow.start('incidentWorkflow', { taskQueue: on.taskQueue, workflowId: input.incidentId, args: [input] });
    return { id: input.incidentId, result: await driveIncident(on.client, input.incidentId, people) };
  };
  const stepOf = (result: RunResult, start: string) => result.timeline.find((s) => s.name.startsWith(start));
  const sequences = () =>
    withClient(url, async (c) => {
      const out: Record<string, string> = {};
      for (const seq of ['accounts_id_seq', 'events_id_seq'])
        out[seq] = (await c.query<{ s: string }>(`SELECT last_value || ':' || is_called AS s FROM ${seq}`)).rows[0]!.s;
      return out;
    });
  const ownerOf = async (at: string, what: 'database' | 'public') =>
    withClient(at, async (c) => {
      const sql =
        what === 'database'
          ? 'SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = current_database()'
          : `SELECT pg_get_userbyid(nspowner) AS o FROM pg_namespace WHERE nspname = 'public'`;
      return (await c.query<{ o: string }>(sql)).rows[0]!.o;
    });
  const restoredInto = (result: RunResult) => withDatabase(url, result.database!);

  beforeAll(async () => {
    await server(`CREATE ROLE ${escapeIdentifier(owner)}`);
    await server(`CREATE ROLE ${escapeIdentifier(reader)}`);
    await server(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(owner)}`);
    url = withDatabase(admin(), name);
    await withClient(url, async (c) => {
      await c.query(`SET ROLE ${escapeIdentifier(owner)}`);
      await c.query(`CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL)`);
      await c.query(`CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL, account_id int NOT NULL REFERENCES accounts,
        note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`);
      await c.query(`CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`);
      await c.query(`CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`);
      await c.query(`INSERT INTO accounts (name) SELECT 'account ' || i FROM generate_series(1, 20) i`);
      await c.query(
        `INSERT INTO events (at, account_id, note) SELECT DATE '2024-10-01' + i * 7, 1 + i % 20, 'event ' || i FROM generate_series(1, 30) i`,
      );
      await c.query(`GRANT SELECT ON accounts, events TO ${escapeIdentifier(reader)}`);
      // The application's migrations took the schema `public` over (the backup records that owner).
      await c.query('RESET ROLE');
      await c.query(`ALTER SCHEMA public OWNER TO ${escapeIdentifier(owner)}`);
    });
    config = configFor();
    worker = await startTestWorker(config, env());
    manifest = await run<BackupManifest>('backupWorkflow', [{ target: 'gone' }]);
    verification = await run<VerificationRecord>('verifyWorkflow', [{ backupId: manifest.id }]);
    pristine = await fingerprintDatabase(url);
    sequencesAtBackup = await sequences();
  });

  afterAll(async () => {
    await worker?.stop();
    const { rows } = await server('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [name]);
    for (const { datname } of rows as Array<{ datname: string }>) await server(`DROP DATABASE ${escapeIdentifier(datname)} WITH (FORCE)`);
    for (const role of [owner, reader, writer]) await server(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
  });

  it("counts a partitioned table's rows once: its partitions in the manifest, the verification and the reports", async () => {
    // 20 accounts and 30 events (13 of them in 2024): 50 rows, each stored in exactly one table.
    expect(manifest.tables).toEqual({ accounts: 20, events_2024: 13, events_2025: 17 });
    expect(Object.keys(verification.tables).sort()).toEqual(['accounts', 'events_2024', 'events_2025']);
    expect(verification.result).toBe('passed');
    expect(backupVerdict(manifest)).toContain('3 tables, 50 rows');
    expect(verificationVerdict(verification)).toContain('restored 3 tables (50 rows)');
    expect(Object.keys(pristine).sort()).toEqual(['accounts', 'events_2024', 'events_2025']);
  });

  it('leaves every sequence where it was after a critical check that inserts and rolls back (serial and identity)', async () => {
    // As the superuser, and as an application's writer: it may draw from the sequences and set them, not read them.
    await server(`CREATE ROLE ${escapeIdentifier(writer)} LOGIN`);
    await withClient(url, (c) =>
      c.query(`GRANT SELECT, INSERT ON accounts, events TO ${escapeIdentifier(writer)};
        GRANT USAGE, UPDATE ON accounts_id_seq, events_id_seq TO ${escapeIdentifier(writer)}`),
    );
    const asWriter = new URL(url);
    asWriter.username = writer;
    for (const at of [url, asWriter.toString()]) {
      const activities = createActivities({ config, env: { ...env(), GONE_DATABASE_URL: at }, notifier: { notify: async () => ({}) } });
      const before = await sequences();
      expect(await activities.criticalChecks({ target: 'gone' })).toEqual([{ check: 'open an account and log its first event', ok: true }]);
      expect(await sequences()).toEqual(before);
    }
    // And the application's next key is the one it would have had.
    const next = await withClient(
      url,
      async (c) => (await c.query<{ id: number }>(`SELECT nextval('accounts_id_seq')::int AS id`)).rows[0]!.id,
    );
    expect(next).toBe(21);
    await withClient(url, (c) => c.query(`SELECT setval('accounts_id_seq', 20, true)`));
  });

  it('L3 after DROP DATABASE restores into a new database beside the missing one; an aborted one drops what it created', async () => {
    await dropTarget();
    const { id, result } = await declare('L3');
    expect(result.outcome, result.detail).toBe('recovered');
    expect(await fingerprintDatabase(restoredInto(result))).toEqual(pristine);
    expect(await ownerOf(restoredInto(result), 'database')).toBe(owner);
    expect(stepOf(result, 'verify all tables')?.detail).toMatch(/^3 tables \(50 rows\) match .*owners and grants/);
    const report = await openStore('main', config.stores.main!, env()).getText(`reports/${id}/report.md`);
    expect(report).toContain('3 tables (50 rows) match');

    // Aborted at cut-over: the clean-up drops the database it restored into, the target's own still gone.
    const { result: stopped } = await declare('L3', {}, worker, {
      ...L3_PEOPLE,
      'cut-over': {
        act: async (plan) =>
          void (await abort(worker.client, plan.workflowId.replace(/-L3$/, ''), { ...as('carol'), reason: 'elsewhere' })),
      },
    });
    expect(stopped.outcome).toBe('aborted');
    const created = /^(\S+):/.exec(stepOf(stopped, 'restore into a new database')!.detail!)![1]!;
    expect(stepOf(stopped, 'drop the unused database')).toMatchObject({ name: `drop the unused database ${created}`, status: 'done' });
    expect(await exists(created)).toBe(false);
  });

  it('L3 in place after DROP DATABASE recreates the database under its own name, owned by its owner, and equals the backup', async () => {
    await dropTarget();
    const { result } = await declare('L3', { inPlace: true });
    expect(result.outcome, result.detail).toBe('recovered');
    expect(result.database).toBe(name);
    expect(await fingerprintDatabase(url)).toEqual(pristine);
    expect(await ownerOf(url, 'database')).toBe(owner);
    expect(await ownerOf(url, 'public')).toBe(owner);
    // The critical check ran on the restored database and set its sequences back to the backup's.
    expect(await sequences()).toEqual(sequencesAtBackup);
    expect(stepOf(result, 'safety snapshot')).toMatchObject({ status: 'skipped', detail: expect.stringContaining('does not exist') });
    expect(stepOf(result, 'restore in place')?.detail).toContain(`created it, owned by ${owner}`);
    const comment = await withClient(
      url,
      async (c) =>
        (
          await c.query<{ c: string }>(
            `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = current_database()`,
          )
        ).rows[0]!.c,
    );
    expect(comment).toMatch(/^lifeboat-fence \S+ restored by attempt 1 at /);
    observed('L3 after DROP DATABASE', `in place: ${stepOf(result, 'restore in place')!.detail}; 3 tables equal the backup`);
  });

  it('L4 after DROP DATABASE recovers into a new database that passes the full audit', async () => {
    await dropTarget();
    let shown = '';
    const { result } = await declare('L4', {}, worker, {
      ...L4_PEOPLE,
      'accept-data-loss': {
        act: async (plan) => {
          shown = (await plan.query(statusQuery)).waiting.find((w) => w.name === 'accept-data-loss')!.request!.database!;
          for (const by of ['bob', 'dana']) await answer(plan, 'approve', { gate: 'accept-data-loss', by });
        },
      },
    });
    expect(result.outcome, result.detail).toBe('recovered');
    expect(await fingerprintDatabase(restoredInto(result))).toEqual(pristine);
    expect(stepOf(result, 'full audit')?.detail).toContain('integrity checks clean');
    // The approvers saw where the database was, and that it is not there.
    expect(shown).toMatch(new RegExp(`/${name} \\(does not exist: dropped\\)$`));
  });

  it('L3 in place over a damaged database: a bad migration dropped a column, a partition and rows', async () => {
    if (!(await exists(name))) await declare('L3', { inPlace: true });
    await withClient(url, async (c) => {
      await c.query('ALTER TABLE accounts DROP COLUMN id CASCADE');
      await c.query('DROP TABLE events_2024');
      await c.query('DELETE FROM events_2025 WHERE id % 2 = 0');
    });
    const { result } = await declare('L3', { inPlace: true });
    expect(result.outcome, result.detail).toBe('recovered');
    expect(stepOf(result, 'safety snapshot')?.status).toBe('done');
    expect(await fingerprintDatabase(url)).toEqual(pristine);
  });

  it("keeps the owner of the schema public through an in-place restore, whatever the backup's dump says", async () => {
    // The owner went back to PostgreSQL 15's default after the backup, which still records the role.
    await withClient(url, (c) => c.query('ALTER SCHEMA public OWNER TO pg_database_owner'));
    const { result } = await declare('L3', { inPlace: true });
    expect(result.outcome, result.detail).toBe('recovered');
    expect(await ownerOf(url, 'public')).toBe('pg_database_owner');
    expect(await fingerprintDatabase(url)).toEqual(pristine);
  });

  it('verifies and restores a backup whose manifest, written before, also lists the partitioned table with all its rows', async () => {
    const store = openStore('main', config.stores.main!, env());
    const key = `${backupFolder(manifest.id)}/manifest.json`;
    const current = (await store.getText(key))!;
    await store.putText(key, JSON.stringify({ ...manifest, tables: { ...manifest.tables, events: 30 } }));
    try {
      expect(await run<VerificationRecord>('verifyWorkflow', [{ backupId: manifest.id }])).toMatchObject({
        result: 'passed',
        findings: [],
      });
      const { result } = await declare('L3');
      expect(result.outcome, result.detail).toBe('recovered');
      expect(stepOf(result, 'verify all tables')?.detail).toMatch(/^3 tables \(50 rows\) match /);
    } finally {
      await store.putText(key, current);
    }
  });

  it("refuses a restore onto a server without the application's roles, naming them; restores without owners when the target says so", async () => {
    // A fresh server: the database and every role it used are gone.
    const { rows } = await server('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [name]);
    for (const { datname } of rows as Array<{ datname: string }>) await server(`DROP DATABASE ${escapeIdentifier(datname)} WITH (FORCE)`);
    for (const role of [owner, reader]) await server(`DROP ROLE ${escapeIdentifier(role)}`);
    const refused = await declare('L3', { inPlace: true });
    expect(refused.result.outcome).toBe('failed');
    expect(refused.result.detail).toContain(`roles this server does not have: ${[owner, reader].sort().join(', ')}`);
    expect(refused.result.detail).toContain('restore.owners: drop');
    expect(await exists(name)).toBe(false);

    const lenient = await startTestWorker(configFor('    restore: { owners: drop }'), env());
    try {
      const { result } = await declare('L3', { inPlace: true }, lenient);
      expect(result.outcome, result.detail).toBe('recovered');
      expect(await fingerprintDatabase(url)).toEqual(pristine);
      expect(stepOf(result, 'verify all tables')?.detail).toContain('owners and grants not restored (restore.owners: drop)');
      const owners = await withClient(url, async (c) =>
        (
          await c.query<{ o: string }>(
            `SELECT DISTINCT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname IN ('accounts', 'events', 'events_2024')`,
          )
        ).rows.map((r) => r.o),
      );
      expect(owners).toEqual(['postgres']);
    } finally {
      await lenient.stop();
    }
  }, 300_000);
});
