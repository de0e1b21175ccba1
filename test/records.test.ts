// Record-level (L1) and table-level (L2) recovery against the suite's real PostgreSQL: staging
// from a real pg_dump archive through a recovery copy (the needed tables restored with
// pg_restore -L, the rows chosen there with SQL), diff, snapshot, apply (twice), verification,
// and the refusals.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyStaged, compareWithStaged, diffStaged, snapshotRows } from '../activities/postgres/apply.js';
import { withClient, withDatabase } from '../activities/postgres/connection.js';
import { dumpToStore } from '../activities/postgres/dump.js';
import { fingerprints } from '../activities/postgres/inspect.js';
import { keepDataOf, restoreTables } from '../activities/postgres/recovery-copy.js';
import { dropDatabase, recreateDatabase } from '../activities/postgres/restore.js';
import { CRM_TABLES } from '../activities/postgres/seed.js';
import { parseFilter, validateKeys } from '../activities/postgres/selection.js';
import { type StagedTable, type StagingRequest, dropStaging, planStaging, stageSelection } from '../activities/postgres/staging.js';
import { describeTable } from '../activities/postgres/tables.js';
import { LocalStore } from '../activities/storage/local.js';
import { InputError } from '../common/errors.js';
import { type TestDatabase, createCrmDatabase, uniqueName } from './helpers.js';

const SCHEMA = 'lifeboat_staging_records_test';
const CHILDREN = ['crm_activities', 'crm_lead_notes', 'crm_notifications', 'crm_reminders'];
const TABLES = [...CRM_TABLES, 'lb_text_keys'];

/** Text that COPY must escape: tab, newline, carriage return, backslashes, a backslash-dot line, unicode. */
const TRICKY = 'tab\there\nnew line\r\\N not null \\. back\\slash "quoted" \'single\' — ünïcødé 🛟';

describe('record-level and table-level recovery', () => {
  let db: TestDatabase;
  let tmp: string;
  let store: LocalStore;
  let before: Record<string, { rows: number; checksum: string }>;
  /** Lead ids: deleted after the backup, and changed after the backup. */
  const deleted = ['3', '17', '256', '1024', '1999'];
  const changed = ['42', '777'];
  const chosen = [...deleted, ...changed];
  let expected: Record<string, number>;
  let trickyLeadBefore: string;
  let newLeadId: string;
  const copyName = uniqueName('lifeboat_copy_records');
  const dumpFile = (key = 'crm/backup.dump') => join(tmp, 'b', key);
  /** Stages as the stageRecords activity does: plan against production, restore what it needs into a recovery copy, stage from there. */
  const stageFromBackup = async (request: StagingRequest, file = dumpFile(), onProgress?: (phase: string) => void) => {
    const plan = await withClient(db.url, (c) => planStaging(c, request));
    const admin = inject('pgAdminUrl');
    await recreateDatabase(admin, copyName);
    try {
      await restoreTables(admin, copyName, file, plan.dataTables, { jobs: 2 });
      return await stageSelection(db.url, withDatabase(admin, copyName), plan, onProgress);
    } finally {
      await dropDatabase(admin, copyName);
    }
  };
  const query = <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    withClient(db.url, async (c) => (await c.query<T>(sql, params)).rows);
  const schemaExists = async () => (await query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [SCHEMA])).length > 0;
  const stage = (request: Partial<StagingRequest>, file = dumpFile()) =>
    stageFromBackup({ schema: SCHEMA, table: 'crm_leads', ...request } as StagingRequest, file);
  const summary = (staged: StagedTable[]) => staged.map((s) => [s.table, s.rows]);

  beforeAll(async () => {
    db = await createCrmDatabase(2_000);
    tmp = await mkdtemp(join(tmpdir(), 'lifeboat-records-'));
    store = new LocalStore('t', { type: 'local', path: tmp, prefix: 'b' });
    await withClient(db.url, async (c) => {
      // Values that must come back byte for byte: text with every COPY escape, NULLs, jsonb strings, numerics.
      await c.query(
        `UPDATE crm_leads SET first_name = $1, phone = NULL, budget_min = 123456.78, budget_max = 99999999.99,
                       preferences = jsonb_build_object('note', $1::text, 'nested', jsonb_build_array(1.50, null, true, $1::text)) WHERE id = 17`,
        [TRICKY],
      );
      await c.query(`UPDATE crm_lead_notes SET body = $1 WHERE id = (SELECT min(id) FROM crm_lead_notes WHERE lead_id = 17)`, [TRICKY]);
      await c.query(
        `UPDATE crm_activities SET outcome = NULL, duration_seconds = NULL, metadata = jsonb_build_object('raw', $1::text)
                      WHERE id = (SELECT min(id) FROM crm_activities WHERE lead_id = 17)`,
        [TRICKY],
      );
      // A table with text keys, including keys COPY escapes.
      await c.query(`CREATE TABLE lb_text_keys (k text PRIMARY KEY, v jsonb, n numeric, t timestamptz, note text)`);
      await c.query(
        `INSERT INTO lb_text_keys VALUES ('plain', '{"a": 1}', 1.10, '2026-11-01 10:00:00.123456+00', NULL),
                                         ('back\\slash', '[]', -0.000001, NULL, $1), ('ünï', 'null', 1e20, 'infinity', ''),
                                         ('sp ace', '{"x": "y\\tz"}', 0, '2026-01-01 00:00:00+00', 'x')`,
        [TRICKY],
      );
      trickyLeadBefore = (await c.query<{ t: string }>(`SELECT l::text AS t FROM crm_leads l WHERE id = 17`)).rows[0]!.t;
      const count = async (table: string, column: string, ids: string[]) =>
        Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column}::text = ANY($1)`, [ids])).rows[0]!.n);
      expected = { crm_leads: await count('crm_leads', 'id', chosen) };
      for (const t of CHILDREN) expected[t] = await count(t, 'lead_id', chosen);
      before = await fingerprints(c, TABLES);
    });
    await dumpToStore(db.url, store, 'crm/backup.dump', { compression: 1 });
    await dumpToStore(db.url, store, 'crm/plain.dump', { compression: 0 });

    // The incident: five leads deleted (their activities, notes and reminders cascade away, their
    // notifications lose their lead), two changed, and a new lead written after the backup.
    await withClient(db.url, async (c) => {
      await c.query(`DELETE FROM crm_leads WHERE id = ANY($1::bigint[])`, [deleted]);
      await c.query(
        `UPDATE crm_leads SET status = CASE WHEN status = 'lost' THEN 'won' ELSE 'lost' END,
                       preferences = preferences || '{"bedrooms": 99}', budget_max = budget_max + 0.01 WHERE id = ANY($1::bigint[])`,
        [changed],
      );
      newLeadId = (
        await c.query<{ id: string }>(
          `INSERT INTO crm_leads (first_name, last_name, email, source) VALUES ('New', 'Lead', 'new.lead@mail.example', 'website') RETURNING id`,
        )
      ).rows[0]!.id;
    });
  });

  afterAll(async () => {
    await db?.drop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('stages the chosen leads and their children from the backup, and staging again gives the same', async () => {
    expect(expected.crm_leads).toBe(7);
    expect(expected.crm_activities).toBeGreaterThan(7); // the chosen leads do have children
    const progress: string[] = [];
    const first = await stageFromBackup({ schema: SCHEMA, table: 'crm_leads', keys: chosen, includeChildren: true }, dumpFile(), (p) =>
      progress.push(p),
    );
    expect(summary(first)).toEqual([['crm_leads', 7], ...CHILDREN.map((t) => [t, expected[t]])]);
    expect(first[0]).toMatchObject({ table: 'crm_leads', primaryKey: 'id', keys: [...chosen].sort((a, b) => Number(a) - Number(b)) });
    expect(first[0]!.notInBackup).toBeUndefined();
    expect(progress).toContain('copying crm_activities');

    // Again: the same staging area, no duplicated rows.
    const again = await stage({ keys: chosen, includeChildren: true });
    expect(again).toEqual(first);
    const counts = await query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.crm_activities`);
    expect(Number(counts[0]!.n)).toBe(expected.crm_activities);
  });

  it('reports the rows missing from production and the rows changed, column by column', async () => {
    const staged = await stage({ keys: chosen, includeChildren: true });
    const diff = await diffStaged(db.url, SCHEMA, staged);
    const leads = diff.find((d) => d.table === 'crm_leads')!;
    expect(leads.missing).toEqual(deleted);
    expect(leads.missingCount).toBe(5);
    expect(leads.changed).toEqual(changed.map((key) => ({ key, columns: ['status', 'budget_max', 'preferences'] })));
    expect(leads.changedCount).toBe(2);
    expect(leads.unchanged).toBe(0);

    const childrenOf = async (table: string, ids: string[]) =>
      (await query<{ id: string }>(`SELECT id::text FROM ${table} WHERE lead_id::text = ANY($1)`, [ids])).length;
    for (const table of ['crm_activities', 'crm_lead_notes', 'crm_reminders']) {
      const d = diff.find((x) => x.table === table)!;
      expect(d.changedCount).toBe(0);
      expect(d.unchanged).toBe(await childrenOf(table, changed)); // children of changed leads are intact
      expect(d.missingCount).toBe(expected[table]! - d.unchanged); // children of deleted leads cascaded away
      expect(d.missingCount).toBeGreaterThan(0);
    }
    // Notifications of deleted leads survive with lead_id set to NULL: changed, in that column only.
    const notifications = diff.find((x) => x.table === 'crm_notifications')!;
    expect(notifications.missingCount).toBe(0);
    expect(notifications.changed.length).toBe(expected.crm_notifications! - (await childrenOf('crm_notifications', changed)));
    for (const c of notifications.changed) expect(c.columns).toEqual(['lead_id']);
  });

  it('snapshots the current values of the rows the apply overwrites', async () => {
    const staged = await stage({ keys: chosen, includeChildren: true });
    const snapshot = await snapshotRows(db.url, SCHEMA, staged);
    const leads = snapshot
      .crm_leads!.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: number; status: string; preferences: { bedrooms: number } });
    expect(leads.map((l) => String(l.id))).toEqual(changed);
    const current = await query<{ id: string; status: string }>(
      `SELECT id::text, status FROM crm_leads WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [changed],
    );
    expect(leads.map((l) => l.status)).toEqual(current.map((r) => r.status));
    expect(leads.every((l) => l.preferences.bedrooms === 99)).toBe(true);
  });

  it('applies in one transaction, idempotently, bringing every table back to the backup except the new lead', async () => {
    const staged = await stage({ keys: chosen, includeChildren: true });
    const diff = await diffStaged(db.url, SCHEMA, staged);
    const first = await applyStaged(db.url, SCHEMA, staged);
    for (const d of diff) expect(first[d.table]).toEqual({ inserted: d.missingCount, updated: d.changedCount, deleted: 0 });
    expect(first.crm_leads).toEqual({ inserted: 5, updated: 2, deleted: 0 });

    const second = await applyStaged(db.url, SCHEMA, staged);
    for (const t of staged) expect(second[t.table]).toEqual({ inserted: 0, updated: 0, deleted: 0 });
    expect(await compareWithStaged(db.url, SCHEMA, staged)).toEqual(Object.fromEntries(staged.map((t) => [t.table, []])));
    const after = await diffStaged(db.url, SCHEMA, staged);
    for (const d of after) expect(d).toMatchObject({ missingCount: 0, changedCount: 0 });

    // Byte for byte: the lead with every kind of tricky value is back exactly.
    expect((await query<{ t: string }>(`SELECT l::text AS t FROM crm_leads l WHERE id = 17`))[0]!.t).toBe(trickyLeadBefore);
    // The lead written after the backup is untouched; without it the database is the backup's.
    expect(await query(`SELECT 1 FROM crm_leads WHERE id = $1`, [newLeadId])).toHaveLength(1);
    await query(`DELETE FROM crm_leads WHERE id = $1`, [newLeadId]);
    expect(await withClient(db.url, (c) => fingerprints(c, TABLES))).toEqual(before);
    // New rows still get fresh ids.
    const [fresh] = await query<{ id: string }>(
      `INSERT INTO crm_leads (first_name, last_name, email, source) VALUES ('A', 'B', 'a.b@mail.example', 'phone') RETURNING id::text`,
    );
    expect(Number(fresh!.id)).toBeGreaterThan(2_000);
    await query(`DELETE FROM crm_leads WHERE id = $1`, [fresh!.id]);

    await dropStaging(db.url, SCHEMA);
    expect(await schemaExists()).toBe(false);
    await dropStaging(db.url, SCHEMA); // nothing to drop: no error
  });

  it('restores a whole table (L2) exactly, deleting the rows absent from the backup', async () => {
    await query(`TRUNCATE crm_reminders RESTART IDENTITY`);
    await query(
      `INSERT INTO crm_reminders (id, lead_id, agent_id, title, due_at) VALUES (900001, 1, 1, 'written after the backup', now())`,
    );
    const staged = await stageFromBackup({ schema: SCHEMA, table: 'crm_reminders', wholeTable: true });
    expect(summary(staged)).toEqual([['crm_reminders', before.crm_reminders!.rows]]);
    expect(staged[0]!.keys).toHaveLength(1000);
    expect(staged[0]!.keysTruncated).toBe(true);

    const [diff] = await diffStaged(db.url, SCHEMA, staged, { wholeTable: true });
    expect(diff).toMatchObject({ missingCount: before.crm_reminders!.rows, changedCount: 0, unchanged: 0, extra: 1 });
    expect(diff!.missing).toHaveLength(1000);
    const snapshot = await snapshotRows(db.url, SCHEMA, staged, { wholeTable: true });
    expect(
      snapshot
        .crm_reminders!.trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { title: string }).title),
    ).toEqual(['written after the backup']);

    expect(await applyStaged(db.url, SCHEMA, staged, { wholeTable: true })).toEqual({
      crm_reminders: { inserted: before.crm_reminders!.rows, updated: 0, deleted: 1 },
    });
    expect(await applyStaged(db.url, SCHEMA, staged, { wholeTable: true })).toEqual({
      crm_reminders: { inserted: 0, updated: 0, deleted: 0 },
    });
    expect((await withClient(db.url, (c) => fingerprints(c, ['crm_reminders']))).crm_reminders).toEqual(before.crm_reminders);
    // RESTART IDENTITY reset the sequence: the apply moved it past the restored ids.
    const [fresh] = await query<{ id: string }>(
      `INSERT INTO crm_reminders (lead_id, agent_id, title, due_at) VALUES (1, 1, 'x', now()) RETURNING id::text`,
    );
    expect(Number(fresh!.id)).toBeGreaterThan(before.crm_reminders!.rows);
    await query(`DELETE FROM crm_reminders WHERE id = $1`, [fresh!.id]);
    await dropStaging(db.url, SCHEMA);
  });

  it('round-trips text keys and values byte for byte, by key and as a whole table', async () => {
    const keys = ['back\\slash', 'ünï', 'sp ace', 'not in the backup'];
    const staged = await stageFromBackup({ schema: SCHEMA, table: 'lb_text_keys', keys });
    expect(staged).toEqual([
      {
        table: 'lb_text_keys',
        primaryKey: 'k',
        rows: 3,
        keys: ['back\\slash', 'sp ace', 'ünï'],
        notInBackup: ['not in the backup'],
        relation: 'public.lb_text_keys',
        staging: 'lb_text_keys',
        keyColumns: ['k'],
      },
    ]);

    await query(`DELETE FROM lb_text_keys`);
    const whole = await stageFromBackup({ schema: SCHEMA, table: 'lb_text_keys', wholeTable: true }, dumpFile('crm/plain.dump'));
    await applyStaged(db.url, SCHEMA, whole, { wholeTable: true });
    expect((await withClient(db.url, (c) => fingerprints(c, ['lb_text_keys']))).lb_text_keys).toEqual(before.lb_text_keys);
    const [row] = await query<{ note: string; n: string; t: string }>(
      `SELECT note, n::text, t::text FROM lb_text_keys WHERE k = 'back\\slash'`,
    );
    expect(row).toEqual({ note: TRICKY, n: '-0.000001', t: null });
    await dropStaging(db.url, SCHEMA);
  });

  it('stages the same rows from an uncompressed archive, and whole tables to the byte', async () => {
    const reference = await stage({ keys: chosen, includeChildren: true });
    expect(await stage({ keys: chosen, includeChildren: true }, dumpFile('crm/plain.dump'))).toEqual(reference);

    // A whole table: the staged copy is the table, to the byte.
    const table = await withClient(db.url, (c) => fingerprints(c, ['crm_activities']));
    for (const file of [dumpFile(), dumpFile('crm/plain.dump')]) {
      await stageFromBackup({ schema: SCHEMA, table: 'crm_activities', wholeTable: true }, file);
      expect(await withClient(db.url, (c) => fingerprints(c, [`${SCHEMA}.crm_activities`]))).toEqual({
        [`${SCHEMA}.crm_activities`]: table.crm_activities,
      });
    }
    await dropStaging(db.url, SCHEMA);
  });

  it('stages the rows matching a filter, with their children', async () => {
    const filter = parseFilter(
      ['status=lost', 'budget_min >= 400000', 'phone is not null'],
      await withClient(db.url, (c) => describeTable(c, 'crm_leads')),
    );
    expect(filter).toEqual([
      { column: 'status', op: '=', value: 'lost' },
      { column: 'budget_min', op: '>=', value: '400000' },
      { column: 'phone', op: 'is not null' },
    ]);
    // Production equals the backup again, so it gives the rows expected from the backup.
    const matching = await query<{ id: string }>(
      `SELECT id::text FROM crm_leads WHERE status = 'lost' AND budget_min >= 400000 AND phone IS NOT NULL`,
    );
    expect(matching.length).toBeGreaterThan(5);
    const ids = matching.map((r) => r.id);
    const childCount = async (t: string) =>
      Number((await query<{ n: string }>(`SELECT count(*) AS n FROM ${t} WHERE lead_id::text = ANY($1)`, [ids]))[0]!.n);
    const want = [['crm_leads', ids.length], ...(await Promise.all(CHILDREN.map(async (t) => [t, await childCount(t)])))];

    const staged = await stage({ filter, includeChildren: true });
    expect(summary(staged)).toEqual(want);
    const diff = await diffStaged(db.url, SCHEMA, staged);
    expect(diff.every((d) => d.missingCount === 0 && d.changedCount === 0)).toBe(true);
    expect(summary(await stage({ filter }))).toEqual([['crm_leads', ids.length]]);
    await dropStaging(db.url, SCHEMA);
  });

  it('refuses bad input before anything is staged, and never runs a value as SQL', async () => {
    await dropStaging(db.url, SCHEMA);
    const shape = await withClient(db.url, (c) => describeTable(c, 'crm_leads'));
    expect(shape.primaryKey).toBe('id');
    expect(shape.children.map((c) => c.table)).toEqual(CHILDREN);
    const refused = async (attempt: () => Promise<unknown>, message: RegExp) => {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(message);
      expect(await schemaExists()).toBe(false);
    };
    await refused(() => stage({ keys: ['1; DROP TABLE crm_leads'] }), /not a valid crm_leads.id \(bigint\): expected an integer/);
    await refused(() => stage({ keys: ['1 OR 1=1'] }), /expected an integer/);
    await refused(() => stage({ keys: ['99999999999999999999'] }), /out of range/);
    await refused(() => stage({ keys: [] }), /no primary keys/);
    await refused(
      () => stage({ table: 'crm_leeds', keys: ['1'] }),
      /unknown table "crm_leeds": the tables are crm_activities, crm_agents, crm_lead_notes, crm_leads/,
    );
    await refused(() => stage({ table: 'pg_class', wholeTable: true }), /unknown table/);
    await refused(() => stage({ filter: [{ column: 'colour', op: '=', value: 'red' }] }), /no column "colour"/);
    await refused(() => stage({ filter: [{ column: 'id', op: 'drop' as never, value: '1' }] }), /not a filter condition/);
    await refused(
      () => stage({ filter: parseFilter(['created_at >= last tuesday'], shape) }),
      /does not fit table crm_leads: invalid input syntax for type timestamp/,
    );
    await refused(() => stage({ keys: ['1'], wholeTable: true }), /exactly one of/);
    await refused(() => stage({ schema: 'public', wholeTable: true }), /cannot be a staging schema/);
    await refused(() => stage({ schema: 'lifeboat_x; DROP TABLE crm_leads', wholeTable: true }), /cannot be a staging schema/);
    await refused(async () => parseFilter(['colour=red'], shape), /no column "colour": its columns are id, assigned_agent_id, first_name/);
    for (const notAFilter of ['hello', 'status', '=5', 'status =', 'status like', 'status is', '1=1']) {
      await refused(async () => parseFilter([notAFilter], shape), /is not a filter|has no value/);
    }
    await refused(async () => parseFilter([], shape), /no filter given/);

    // A quote in a value is just a character of the value.
    const sneaky = parseFilter(["status=lost'; --", 'email like %@mail.example', 'last_name = "O\'Brien"'], shape);
    expect(sneaky).toEqual([
      { column: 'status', op: '=', value: "lost'; --" },
      { column: 'email', op: 'like', value: '%@mail.example' },
      { column: 'last_name', op: '=', value: "O'Brien" },
    ]);
    expect(summary(await stage({ filter: sneaky.slice(0, 1) }))).toEqual([['crm_leads', 0]]);
    const obriens = await query<{ n: string }>(`SELECT count(*) AS n FROM crm_leads WHERE last_name = 'O''Brien'`);
    expect(summary(await stage({ filter: sneaky.slice(1) }))).toEqual([['crm_leads', Number(obriens[0]!.n)]]);
    expect(await query(`SELECT 1 FROM crm_leads LIMIT 1`)).toHaveLength(1);
    await dropStaging(db.url, SCHEMA);
  });

  it("applies as a role that may not set session_replication_role: the tables' enabled user triggers are off inside the apply only", async () => {
    const role = uniqueName('lb_app');
    const schema = 'lifeboat_staging_trigger_test';
    const stamp = `CREATE FUNCTION lb_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$`;
    await query(`CREATE ROLE ${role} LOGIN`);
    try {
      await withClient(db.url, async (c) => {
        await c.query(stamp);
        await c.query(`CREATE TABLE lb_touched (id int PRIMARY KEY, v text, updated_at timestamptz)`);
        await c.query(`CREATE TRIGGER lb_touch BEFORE UPDATE ON lb_touched FOR EACH ROW EXECUTE FUNCTION lb_touch()`);
        await c.query(`CREATE TRIGGER lb_off BEFORE INSERT ON lb_touched FOR EACH ROW EXECUTE FUNCTION lb_touch()`);
        await c.query(`ALTER TABLE lb_touched DISABLE TRIGGER lb_off`);
        await c.query(`ALTER TABLE lb_touched OWNER TO ${role}`);
        await c.query(`INSERT INTO lb_touched VALUES (1, 'changed', '2020-01-01 00:00:00+00')`);
        await c.query(`CREATE SCHEMA ${schema} AUTHORIZATION ${role}`);
        await c.query(
          `CREATE TABLE ${schema}.lb_touched AS SELECT 1 AS id, 'backup'::text AS v, '2020-01-01 00:00:00+00'::timestamptz AS updated_at`,
        );
        await c.query(`INSERT INTO ${schema}.lb_touched VALUES (2, 'gone', '2019-01-01 00:00:00+00')`);
        await c.query(`ALTER TABLE ${schema}.lb_touched OWNER TO ${role}`);
      });
      const asRole = new URL(db.url);
      asRole.username = role;
      const staged: StagedTable[] = [{ table: 'lb_touched', primaryKey: 'id', rows: 2, keys: ['1', '2'] }];
      expect(await applyStaged(asRole.toString(), schema, staged)).toEqual({ lb_touched: { inserted: 1, updated: 1, deleted: 0 } });
      expect(await query(`SELECT id, v, updated_at::text AS at FROM lb_touched ORDER BY id`)).toEqual([
        { id: 1, v: 'backup', at: '2020-01-01 00:00:00+00' },
        { id: 2, v: 'gone', at: '2019-01-01 00:00:00+00' },
      ]);
      expect(await compareWithStaged(db.url, schema, staged)).toEqual({ lb_touched: [] });
      // As they were: the enabled trigger enabled, the disabled one disabled.
      expect(await query(`SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'lb_touched'::regclass ORDER BY 1`)).toEqual([
        { tgname: 'lb_off', tgenabled: 'D' },
        { tgname: 'lb_touch', tgenabled: 'O' },
      ]);
    } finally {
      await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await query(`DROP TABLE IF EXISTS lb_touched`);
      await query(`DROP FUNCTION IF EXISTS lb_touch()`);
      await query(`DROP ROLE ${role}`);
    }
  });

  it('checks the foreign keys the disabled triggers would have: a restored row whose parent is missing rolls the apply back', async () => {
    const schema = 'lifeboat_staging_fk_test';
    await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await query(`CREATE SCHEMA ${schema}`);
    try {
      // An activity of a lead that does not exist, as a wrong selection without its parent would stage it.
      await query(`CREATE TABLE ${schema}.crm_activities AS SELECT * FROM crm_activities LIMIT 1`);
      await query(`UPDATE ${schema}.crm_activities SET id = 999999, lead_id = 888888`);
      const staged: StagedTable[] = [{ table: 'crm_activities', primaryKey: 'id', rows: 1, keys: ['999999'] }];
      const before = await withClient(db.url, (c) => fingerprints(c, ['crm_activities']));
      await expect(applyStaged(db.url, schema, staged)).rejects.toThrow(
        /the apply was rolled back: 1 restored crm_activities row\(s\) reference rows of crm_leads that do not exist \(foreign key crm_activities_lead_fk\)/,
      );
      expect(await withClient(db.url, (c) => fingerprints(c, ['crm_activities']))).toEqual(before);
    } finally {
      await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  it('validates keys by the primary key type', () => {
    const shapeWith = (type: string): Parameters<typeof validateKeys>[1] => ({
      table: 't',
      primaryKey: 'k',
      columns: [{ name: 'k', type }],
    });
    expect(validateKeys([' 7', '+7', '007', '-3', '9223372036854775807'], shapeWith('bigint'))).toEqual(['7', '-3', '9223372036854775807']);
    expect(() => validateKeys(['9223372036854775808'], shapeWith('bigint'))).toThrow(InputError);
    expect(() => validateKeys(['40000'], shapeWith('smallint'))).toThrow(/out of range/);
    expect(validateKeys(['{3F2504E0-4F89-11D3-9A0C-0305E82C3301}', '3f2504e04f8911d39a0c0305e82c3301'], shapeWith('uuid'))).toEqual([
      '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
    ]);
    expect(() => validateKeys(["3f2504e0' OR '1'='1"], shapeWith('uuid'))).toThrow(/expected a uuid/);
    expect(validateKeys(["O'Brien; --", 'a\\b'], shapeWith('character varying(40)'))).toEqual(["O'Brien; --", 'a\\b']);
    expect(() => validateKeys(['line\nbreak'], shapeWith('text'))).toThrow(/control characters/);
    expect(() => validateKeys(['2026-01-01'], shapeWith('date'))).toThrow(/use a filter/);
  });

  it("keeps every definition and only the wanted tables' data in pg_restore's list", () => {
    const list = [
      ';',
      '; Selected TOC Entries:',
      '6; 2615 16385 SCHEMA - billing postgres',
      '215; 1259 16386 TABLE billing orders postgres',
      '3209; 0 0 TABLE ATTACH billing orders_2024_01 postgres',
      '3363; 0 16391 TABLE DATA billing orders_2024_01 postgres',
      '3364; 0 16398 TABLE DATA billing orders_2024_02 postgres',
      '3365; 0 16405 TABLE DATA public Mixed Case postgres',
      '3366; 0 16405 TABLE DATA public Mixed Case Two postgres',
      '3367; 0 0 BLOBS - BLOBS ',
      '3212; 2606 16390 CONSTRAINT billing orders orders_pkey postgres',
    ].join('\n');
    const { list: kept, kept: count } = keepDataOf(list, [
      { schema: 'billing', name: 'orders_2024_02' },
      { schema: 'public', name: 'Mixed Case' },
    ]);
    // "Mixed Case Two" begins like "Mixed Case ": its data comes too (harmless: rows are chosen by table afterwards), never the other way round.
    expect(count).toBe(3);
    expect(kept.split('\n').filter((l) => !l.startsWith(';'))).toEqual([
      '6; 2615 16385 SCHEMA - billing postgres',
      '215; 1259 16386 TABLE billing orders postgres',
      '3209; 0 0 TABLE ATTACH billing orders_2024_01 postgres',
      '3364; 0 16398 TABLE DATA billing orders_2024_02 postgres',
      '3365; 0 16405 TABLE DATA public Mixed Case postgres',
      '3366; 0 16405 TABLE DATA public Mixed Case Two postgres',
      '3212; 2606 16390 CONSTRAINT billing orders orders_pkey postgres',
    ]);
  });

  it('fails cleanly on a truncated or foreign archive', async () => {
    const bytes = await readFile(join(tmp, 'b', 'crm', 'backup.dump'));
    await writeFile(join(tmp, 'b', 'crm', 'truncated.dump'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expect(stage({ keys: chosen, includeChildren: true }, dumpFile('crm/truncated.dump'))).rejects.toThrow(
      /pg_restore exited with 1/,
    );
    await writeFile(join(tmp, 'b', 'crm', 'foreign.dump'), 'not an archive at all, just some text');
    await expect(stage({ keys: ['1'] }, dumpFile('crm/foreign.dump'))).rejects.toThrow(/pg_restore exited with 1: .*valid archive/);
    await dropStaging(db.url, SCHEMA);
  });
});
