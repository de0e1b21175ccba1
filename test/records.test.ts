// Record-level (L1) and table-level (L2) recovery against the suite's real PostgreSQL: staging
// from a real pg_dump archive, diff, snapshot, apply (twice), verification, and the refusals.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { dumpToStore } from '../activities/postgres/dump.js';
import { fingerprints } from '../activities/postgres/inspect.js';
import {
  type StagedTable,
  type StagingPlan,
  type TableShape,
  applyStaged,
  compareWithStaged,
  describeTable,
  diffStaged,
  dropStaging,
  parseCopyStatement,
  parseFilter,
  snapshotRows,
  stageFromBackup,
  validateKeys,
} from '../activities/postgres/records.js';
import { CRM_TABLES } from '../activities/postgres/seed.js';
import { LocalStore } from '../activities/storage/local.js';
import { InputError } from '../common/errors.js';
import { type TestDatabase, createCrmDatabase } from './helpers.js';

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
  const open =
    (key = 'crm/backup.dump') =>
    () =>
      store.download(key);
  const query = <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    withClient(db.url, async (c) => (await c.query<T>(sql, params)).rows);
  const schemaExists = async () => (await query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [SCHEMA])).length > 0;
  const stage = (plan: Partial<StagingPlan>, source: Parameters<typeof stageFromBackup>[1] = open(), reader?: 'auto' | 'pg_restore') =>
    stageFromBackup(db.url, source, { schema: SCHEMA, table: 'crm_leads', ...plan } as StagingPlan, { reader });
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
    const progress: { phase: string; bytes?: number }[] = [];
    const first = await stageFromBackup(db.url, open(), { schema: SCHEMA, table: 'crm_leads', keys: chosen, includeChildren: true }, (p) =>
      progress.push(p),
    );
    expect(summary(first)).toEqual([['crm_leads', 7], ...CHILDREN.map((t) => [t, expected[t]])]);
    expect(first[0]).toMatchObject({ table: 'crm_leads', primaryKey: 'id', keys: [...chosen].sort((a, b) => Number(a) - Number(b)) });
    expect(first[0]!.notInBackup).toBeUndefined();
    expect(progress.some((p) => (p.bytes ?? 0) > 0)).toBe(true);

    // From a stream rather than an opener, and again: the same staging area, no duplicated rows.
    const again = await stage({ keys: chosen, includeChildren: true }, await store.download('crm/backup.dump'));
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
    const staged = await stageFromBackup(db.url, open(), { schema: SCHEMA, table: 'crm_reminders', wholeTable: true });
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
    const staged = await stageFromBackup(db.url, open(), { schema: SCHEMA, table: 'lb_text_keys', keys });
    expect(staged).toEqual([
      { table: 'lb_text_keys', primaryKey: 'k', rows: 3, keys: ['back\\slash', 'sp ace', 'ünï'], notInBackup: ['not in the backup'] },
    ]);

    await query(`DELETE FROM lb_text_keys`);
    const whole = await stageFromBackup(db.url, open('crm/plain.dump'), { schema: SCHEMA, table: 'lb_text_keys', wholeTable: true });
    await applyStaged(db.url, SCHEMA, whole, { wholeTable: true });
    expect((await withClient(db.url, (c) => fingerprints(c, ['lb_text_keys']))).lb_text_keys).toEqual(before.lb_text_keys);
    const [row] = await query<{ note: string; n: string; t: string }>(
      `SELECT note, n::text, t::text FROM lb_text_keys WHERE k = 'back\\slash'`,
    );
    expect(row).toEqual({ note: TRICKY, n: '-0.000001', t: null });
    await dropStaging(db.url, SCHEMA);
  });

  it('stages the same rows through pg_restore, from an uncompressed archive, and from a stream cut in odd pieces', async () => {
    const reference = await stage({ keys: chosen, includeChildren: true });
    expect(await stage({ keys: chosen, includeChildren: true }, open(), 'pg_restore')).toEqual(reference);
    expect(await stage({ keys: chosen, includeChildren: true }, open('crm/plain.dump'))).toEqual(reference);
    const bytes = await readFile(join(tmp, 'b', 'crm', 'backup.dump'));
    const pieces = function* () {
      for (let at = 0, n = 1; at < bytes.length; at += n, n = (n * 7919 + 13) % 9000 || 1) yield bytes.subarray(at, at + n);
    };
    expect(await stage({ keys: chosen, includeChildren: true }, Readable.from(pieces()))).toEqual(reference);
    expect(await stage({ keys: chosen, includeChildren: true }, Readable.from(pieces()), 'pg_restore')).toEqual(reference);

    // Whole tables, whose lines straddle every kind of chunk boundary: the staged copy is the table, to the byte.
    const table = await withClient(db.url, (c) => fingerprints(c, ['crm_activities']));
    for (const [source, reader] of [
      [open(), 'auto'],
      [open(), 'pg_restore'],
      [open('crm/plain.dump'), 'auto'],
      [() => Readable.from(pieces()), 'pg_restore'],
    ] as const) {
      await stageFromBackup(db.url, source, { schema: SCHEMA, table: 'crm_activities', wholeTable: true }, { reader });
      expect(await withClient(db.url, (c) => fingerprints(c, [`${SCHEMA}.crm_activities`]))).toEqual({
        [`${SCHEMA}.crm_activities`]: table.crm_activities,
      });
    }
    await dropStaging(db.url, SCHEMA);
  });

  it('stages the rows matching a filter, with their children, in one pass or two', async () => {
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

    const twoPasses = await stage({ filter, includeChildren: true });
    expect(summary(twoPasses)).toEqual(want);
    const onePass = await stage({ filter, includeChildren: true }, await store.download('crm/backup.dump'));
    expect(onePass).toEqual(twoPasses);
    const diff = await diffStaged(db.url, SCHEMA, onePass);
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

  it('validates keys by the primary key type', () => {
    const shapeWith = (type: string): TableShape => ({ table: 't', primaryKey: 'k', columns: [{ name: 'k', type }], children: [] });
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

  it('reads pg_dump COPY statements, quoted identifiers included', () => {
    expect(parseCopyStatement('COPY public.crm_leads (id, first_name) FROM stdin;')).toEqual({
      schema: 'public',
      table: 'crm_leads',
      columns: ['id', 'first_name'],
    });
    expect(parseCopyStatement('COPY "my schema"."Odd ""t""" ("select", "a,b", c) FROM stdin;\n')).toEqual({
      schema: 'my schema',
      table: 'Odd "t"',
      columns: ['select', 'a,b', 'c'],
    });
    expect(parseCopyStatement('COPY public.t  FROM stdin;')).toEqual({ schema: 'public', table: 't', columns: [] });
    expect(parseCopyStatement('COPY public.t (a) FROM stdin; DROP TABLE x;')).toBeUndefined();
    expect(parseCopyStatement('SELECT 1;')).toBeUndefined();
  });

  it('fails cleanly on a truncated or foreign archive', async () => {
    const bytes = await readFile(join(tmp, 'b', 'crm', 'backup.dump'));
    await writeFile(join(tmp, 'b', 'crm', 'truncated.dump'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    for (const reader of ['auto', 'pg_restore'] as const) {
      await expect(stage({ keys: chosen, includeChildren: true }, open('crm/truncated.dump'), reader)).rejects.toThrow(
        /ends early|truncated|end marker|pg_restore failed/,
      );
    }
    await expect(stage({ keys: ['1'] }, Readable.from([Buffer.from('not an archive at all, just some text')]))).rejects.toThrow(
      /not a pg_dump custom-format archive/,
    );
    await dropStaging(db.url, SCHEMA);
  });
});
