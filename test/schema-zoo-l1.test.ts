// L1 on a schema written the way applications write them, not the way Lifeboat's demo is: a
// billing schema with monthly partitions whose foreign keys are declared on the partitions,
// composite primary keys, an enum and a domain, numeric/money/jsonb/arrays/bytea/ranges/inet/bit
// strings, timestamps at ±infinity, a BEFORE UPDATE trigger stamping updated_at, an identity
// column and a stored generated column, a self-referencing table, a mixed-case quoted table with
// reserved-word and unicode columns, and tables without a key (one a child, restored as copies of
// its rows referencing the restored ones). Rows deleted and changed (with their children, several
// levels deep) come back byte for byte (md5 of every row's text, table by table, against a
// pristine copy of the database), the trigger is there and working afterwards, and bad selections
// are refused at declaration (exit 2) before anything starts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities/index.js';
import { withClient, withDatabase } from '../activities/postgres/connection.js';
import type { TableDiff } from '../activities/postgres/apply.js';
import { findKeptCopy } from '../activities/postgres/recovery-copy.js';
import type { StagedTable } from '../activities/postgres/staging.js';
import { openStore } from '../activities/storage/open.js';
import { describeTable, selectionTree } from '../activities/postgres/tables.js';
import { declare, incidentInput } from '../client/incidents.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import { keptCopyName, recoveryCopyName, stagingSchema } from '../common/names.js';
import type { RunResult, RunStatus } from '../common/plans.js';
import { statusQuery } from '../workflows/messages.js';
import { type TestWorker, answer, runLifeboat, startTestWorker, testConfigText, testEnv, uniqueName, waitingNames } from './helpers.js';
import type { WorkflowHandle } from '@temporalio/client';

const SCHEMA = `
CREATE SCHEMA billing;
CREATE TYPE billing.invoice_status AS ENUM ('draft', 'sent', 'paid', 'void');
CREATE DOMAIN billing.cents AS bigint CHECK (VALUE >= 0);

CREATE TABLE billing.customers (
  region text NOT NULL,
  customer_no integer NOT NULL,
  name text NOT NULL,
  balance money NOT NULL DEFAULT 0,
  tags text[],
  photo bytea,
  credit_limit billing.cents,
  first_seen date,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  referred_by_region text,
  referred_by_no integer,
  PRIMARY KEY (region, customer_no),
  FOREIGN KEY (referred_by_region, referred_by_no) REFERENCES billing.customers (region, customer_no) ON DELETE SET NULL
);
CREATE FUNCTION billing.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER customers_touch BEFORE UPDATE ON billing.customers FOR EACH ROW EXECUTE FUNCTION billing.touch();

CREATE TABLE billing.invoices (
  region text NOT NULL,
  customer_no integer NOT NULL,
  invoice_month date NOT NULL,
  invoice_no integer NOT NULL,
  status billing.invoice_status NOT NULL,
  amount numeric(14,4) NOT NULL,
  tax numeric GENERATED ALWAYS AS (round(amount * 0.2, 4)) STORED,
  details jsonb,
  valid_until timestamp,
  paid_during tstzrange,
  PRIMARY KEY (region, customer_no, invoice_month, invoice_no)
) PARTITION BY RANGE (invoice_month);
CREATE TABLE billing.invoices_2024_01 PARTITION OF billing.invoices FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE billing.invoices_2024_02 PARTITION OF billing.invoices FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE billing.invoices_2024_03 PARTITION OF billing.invoices FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
-- Declared partition by partition (as tools that attach monthly partitions often do), not on the parent.
ALTER TABLE billing.invoices_2024_01 ADD CONSTRAINT inv01_customer FOREIGN KEY (region, customer_no) REFERENCES billing.customers ON DELETE CASCADE;
ALTER TABLE billing.invoices_2024_02 ADD CONSTRAINT inv02_customer FOREIGN KEY (region, customer_no) REFERENCES billing.customers ON DELETE CASCADE;
ALTER TABLE billing.invoices_2024_03 ADD CONSTRAINT inv03_customer FOREIGN KEY (region, customer_no) REFERENCES billing.customers ON DELETE CASCADE;

CREATE TABLE billing.invoice_lines (
  line_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  region text NOT NULL,
  customer_no integer NOT NULL,
  invoice_month date NOT NULL,
  invoice_no integer NOT NULL,
  description text,
  quantity real,
  unit_price double precision,
  hours interval,
  matrix integer[][],
  client_ip inet,
  ref uuid,
  flags bit varying(8),
  at_time time with time zone,
  code char(5),
  FOREIGN KEY (region, customer_no, invoice_month, invoice_no) REFERENCES billing.invoices ON DELETE CASCADE
);

CREATE TABLE billing."PaymentAudit" (
  "Id" uuid PRIMARY KEY,
  "select" text,
  "ünïcode" text,
  region text,
  customer_no integer,
  FOREIGN KEY (region, customer_no) REFERENCES billing.customers ON DELETE CASCADE
);

CREATE TABLE billing.event_log (at timestamptz, message text);

-- Notes without a key (an application appends them), referencing a customer by its composite key.
CREATE TABLE billing.customer_notes (
  region text,
  customer_no integer,
  note text,
  FOREIGN KEY (region, customer_no) REFERENCES billing.customers ON DELETE CASCADE
);
`;

const TRICKY = 'tab\there\nnew line\r\\N not null \\. back\\slash "quoted" \'single\' — ünïcødé 🛟';

const DATA = `
INSERT INTO billing.customers (region, customer_no, name, balance, tags, photo, credit_limit, first_seen, created_at, updated_at, referred_by_region, referred_by_no)
SELECT r, n, 'Customer ' || r || n, (n * 12.34)::numeric::money, ARRAY['a,b', 'c"d', NULL, 'ü'], decode(md5(r || n), 'hex'),
       n * 100, CASE WHEN n = 3 THEN 'infinity'::date ELSE date '2020-01-01' + n END,
       timestamptz '2024-01-01 10:00:00.123456+00' + n * interval '1 hour', timestamptz '2024-01-02 00:00:00+00' + n * interval '1 minute',
       CASE WHEN n IN (3, 4) THEN r END, CASE WHEN n IN (3, 4) THEN 2 END
  FROM unnest(ARRAY['eu', 'us']) r, generate_series(1, 12) n;
UPDATE billing.customers SET name = $1 WHERE region = 'eu' AND customer_no = 2;
INSERT INTO billing.invoices (region, customer_no, invoice_month, invoice_no, status, amount, details, valid_until, paid_during)
SELECT c.region, c.customer_no, m, i, (ARRAY['draft', 'sent', 'paid', 'void']::billing.invoice_status[])[1 + (i + c.customer_no) % 4],
       c.customer_no * 10.0001 + i, jsonb_build_object('note', $1::text, 'n', 1.50, 'nested', jsonb_build_array(null, true, i)),
       CASE WHEN i = 1 THEN 'infinity'::timestamp WHEN i = 2 THEN '-infinity'::timestamp ELSE timestamp '2024-05-01 12:00' END,
       tstzrange(timestamptz '2024-02-01 00:00+00', NULL)
  FROM billing.customers c, unnest(ARRAY[date '2024-01-01', date '2024-02-01', date '2024-03-01']) m, generate_series(1, 2) i;
INSERT INTO billing.invoice_lines (region, customer_no, invoice_month, invoice_no, description, quantity, unit_price, hours, matrix, client_ip, ref, flags, at_time, code)
SELECT region, customer_no, invoice_month, invoice_no, $1, 1.5::real / 3, 'NaN'::float8, interval '1 day 02:03:04.5',
       ARRAY[[1, 2], [3, NULL]], '192.168.0.1/24', md5(region || customer_no || invoice_month || invoice_no)::uuid, B'1011',
       time with time zone '10:00:00+02', 'ab'
  FROM billing.invoices, generate_series(1, 2);
INSERT INTO billing."PaymentAudit" SELECT md5('audit' || region || customer_no)::uuid, 'select', $1, region, customer_no FROM billing.customers;
INSERT INTO billing.event_log VALUES (now(), 'created');
INSERT INTO billing.customer_notes VALUES ('eu', 2, 'called'), ('eu', 2, 'called'), ('us', 7, 'vip'), ('us', 7, 'vip'), ('us', 7, $1),
  ('eu', 1, 'another customer'), ('eu', NULL, 'no customer number yet');
`;

/** md5 of every row's text, ordered, table by table (partitions and parents both): equal means equal to the byte. */
async function rowDigests(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const { rows: tables } = await c.query<{ name: string; rel: string }>(
      `SELECT n.nspname || '.' || c.relname AS name, format('%I.%I', n.nspname, c.relname) AS rel
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'billing' AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    const out: Record<string, string> = {};
    for (const t of tables) {
      const { rows } = await c.query<{ n: string; md5: string }>(
        `SELECT count(*) AS n, md5(coalesce(string_agg(x.t, E'\\n' ORDER BY x.t), '')) AS md5 FROM (SELECT r::text AS t FROM ${t.rel} r) x`,
      );
      out[t.name] = `${rows[0]!.n}:${rows[0]!.md5}`;
    }
    return out;
  });
}

describe('L1 on a schema zoo (billing)', () => {
  const admin = () => inject('pgAdminUrl');
  const zoo = uniqueName('zoo');
  const pristineCopy = `${zoo}_pristine`;
  let url: string;
  let config: LifeboatConfig;
  let configFile: string;
  let worker: TestWorker;
  let env: NodeJS.ProcessEnv;
  let workerEnv: NodeJS.ProcessEnv;
  let backupId: string;
  const query = <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    withClient(url, async (c) => (await c.query<T>(sql, params)).rows);

  beforeAll(async () => {
    await withClient(admin(), (c) => c.query(`CREATE DATABASE ${zoo}`));
    url = withDatabase(admin(), zoo);
    await withClient(url, async (c) => {
      await c.query(SCHEMA);
      for (const statement of DATA.split(';\n').filter((s) => s.trim())) {
        await c.query(statement, statement.includes('$1') ? [TRICKY] : []);
      }
      await c.query('ANALYZE');
    });
    // The pristine copy every table is compared with at the end.
    await withClient(admin(), (c) => c.query(`CREATE DATABASE ${pristineCopy} TEMPLATE ${zoo}`));

    const text = testConfigText({
      prefix: uniqueName('zoo'),
      moreTargets: `  zoo:
    urlEnv: ZOO_DATABASE_URL
    store: main
    verifyOn: production
    tables: [billing.customers, billing.invoices, billing.invoice_lines, billing.PaymentAudit, billing.event_log]`,
      extra: 'approvals:\n  L1: { approvers: [alice, bob] }',
    });
    configFile = join(mkdtempSync(join(tmpdir(), 'lifeboat-zoo-')), 'lifeboat.yaml');
    writeFileSync(configFile, text);
    config = parseConfig(text, configFile, {});
    workerEnv = { ...testEnv({ name: zoo, url, drop: async () => undefined }), ZOO_DATABASE_URL: url };
    env = { ...process.env, ...workerEnv, TEMPORAL_ADDRESS: inject('temporalAddress') };
    worker = await startTestWorker(config, workerEnv);
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    backupId = ((await run('backupWorkflow', [{ target: 'zoo' }])) as { id: string }).id;
    const verification = (await run('verifyWorkflow', [{ backupId, target: 'zoo' }])) as { result: string; findings: unknown[] };
    expect(verification).toMatchObject({ result: 'passed', findings: [] });
  });

  afterAll(async () => {
    await worker?.stop();
    await withClient(admin(), async (c) => {
      for (const db of [zoo, pristineCopy]) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    });
  });

  it('reads names as PostgreSQL spells them, and finds children through keys declared on partitions', async () => {
    await withClient(url, async (c) => {
      for (const name of ['billing.PaymentAudit', 'billing."PaymentAudit"']) {
        expect(await describeTable(c, name)).toMatchObject({ table: 'billing.PaymentAudit', keyColumns: ['Id'] });
      }
      const customers = await describeTable(c, 'billing.customers');
      expect(customers).toMatchObject({ keyColumns: ['region', 'customer_no'], relation: 'billing.customers' });
      expect(customers.children.map((l) => l.table)).toEqual([
        'billing.PaymentAudit',
        'billing.customer_notes',
        'billing.customers',
        'billing.invoices_2024_01',
        'billing.invoices_2024_02',
        'billing.invoices_2024_03',
      ]);
      expect(await describeTable(c, 'billing.invoices')).toMatchObject({
        partitioned: true,
        keyColumns: ['region', 'customer_no', 'invoice_month', 'invoice_no'],
      });
      // A child without a key is a leaf (customer_notes); one that other rows reference, through a
      // unique index on a nullable column, is not: refused, naming who references it.
      expect((await selectionTree(c, customers, true)).map((n) => n.shape.table)).toContain('billing.customer_notes');
      await c.query('BEGIN');
      try {
        await c.query(
          `CREATE TABLE billing.labels (region text, customer_no int, label text UNIQUE, FOREIGN KEY (region, customer_no) REFERENCES billing.customers)`,
        );
        await c.query(`CREATE TABLE billing.label_uses (id int PRIMARY KEY, label text REFERENCES billing.labels (label))`);
        await expect(selectionTree(c, await describeTable(c, 'billing.customers'), true)).rejects.toThrow(
          /^child table billing\.labels of billing\.customers cannot be staged: it has neither a primary key nor a unique index on NOT NULL columns, and billing\.label_uses references it; restore the whole table with an L2 \(--level L2 --table billing\.labels\)/,
        );
      } finally {
        await c.query('ROLLBACK');
      }
    });
  });

  it('refuses bad selections at declaration with exit 2, naming the key, before anything starts', async () => {
    const declareL1 = (...args: string[]) =>
      runLifeboat(['--config', configFile, 'declare', '--target', 'zoo', '--level', 'L1', '--summary', 'x', '--as', 'carol', ...args], env);
    const cases: Array<[string[], RegExp]> = [
      [
        ['--table', 'billing.customers', '--keys', '2'],
        /--keys takes the values of a one-column key: the primary key of billing\.customers is \(region, customer_no\); give each row as --key region=…,customer_no=…/,
      ],
      [
        ['--table', 'billing.customers', '--key', 'region=eu'],
        /gives no customer_no: the primary key of billing\.customers is \(region, customer_no\)/,
      ],
      [['--table', 'billing.customers', '--key', 'region=eu,customer=2'], /table billing\.customers has no column "customer"/],
      [
        ['--table', 'billing.customers', '--key', 'region=eu,customer_no=two'],
        /"two" is not a valid billing\.customers\.customer_no \(integer\)/,
      ],
      [
        ['--table', 'billing.invoicez', '--key', 'a=1'],
        /unknown table "billing\.invoicez": the tables are billing\.PaymentAudit, billing\.customer_notes, billing\.customers/,
      ],
      [
        ['--table', 'billing.event_log', '--where', 'message=created'],
        /has neither a primary key nor a unique index.*--level L2 --table billing\.event_log/,
      ],
      [['--table', 'billing.customers', '--key', 'region'], /--key "region": a key is column=value/],
    ];
    for (const [args, message] of cases) {
      const run = await declareL1(...args);
      const what = `declare ${args.join(' ')}: ${run.stderr}`;
      expect(run.code, what).toBe(2);
      expect(run.stdout, what).toBe('');
      expect(run.stderr, what).toMatch(message);
    }
    // Nothing started: no staging schema in the zoo's database (recovery copies are named by incident, and
    // no incident was declared: other files' L1s make theirs on the shared verification server meanwhile).
    expect(await query(`SELECT 1 FROM pg_namespace WHERE nspname LIKE 'lifeboat_%'`)).toEqual([]);
  }, 180_000);

  it('brings back deleted and changed rows with their children, several levels deep, byte for byte, triggers untouched', async () => {
    const pristine = await rowDigests(withDatabase(admin(), pristineCopy));
    expect(await rowDigests(url)).toEqual(pristine);

    // The incident: eu/2 deleted (its invoices in every partition, their lines and its audit rows
    // cascade away; the customers it referred lose their referrer); us/7 renamed (the trigger
    // stamps updated_at), one of its invoices and one line changed.
    await withClient(url, async (c) => {
      await c.query(`DELETE FROM billing.customers WHERE region = 'eu' AND customer_no = 2`);
      await c.query(`UPDATE billing.customers SET name = 'Renamed', tags = NULL WHERE region = 'us' AND customer_no = 7`);
      await c.query(
        `UPDATE billing.invoices SET amount = amount + 1, status = 'void' WHERE region = 'us' AND customer_no = 7 AND invoice_month = '2024-02-01'`,
      );
      await c.query(
        `UPDATE billing.invoice_lines SET quantity = 42, description = 'changed' WHERE region = 'us' AND customer_no = 7 AND invoice_no = 1`,
      );
      // Written after the backup by someone else: it must survive the restore.
      await c.query(`INSERT INTO billing.customers (region, customer_no, name) VALUES ('ap', 1, 'New customer')`);
      // Notes without a key: eu/2's two equal ones went with it; one of us/7's two equal ones is
      // gone and the script wrote one. A note of another customer and one of no customer (a NULL
      // in the composite reference) were edited after the backup: neither is the restore's.
      await c.query(
        `DELETE FROM billing.customer_notes WHERE ctid = (SELECT min(ctid) FROM billing.customer_notes WHERE customer_no = 7 AND note = 'vip')`,
      );
      await c.query(`INSERT INTO billing.customer_notes VALUES ('us', 7, 'written by the bad script')`);
      await c.query(`UPDATE billing.customer_notes SET note = 'edited after the backup' WHERE customer_no = 1`);
      await c.query(`UPDATE billing.customer_notes SET note = 'no number, edited' WHERE customer_no IS NULL`);
    });
    const damaged = await rowDigests(url);
    expect(damaged['billing.invoices_2024_02']).not.toEqual(pristine['billing.invoices_2024_02']);
    expect(damaged['billing.invoice_lines']).not.toEqual(pristine['billing.invoice_lines']);

    const input = incidentInput({
      target: 'zoo',
      summary: 'a bad script deleted a customer and changed another',
      declaredBy: 'carol',
      level: 'L1',
      options: {
        record: {
          table: 'billing.customers',
          keyTuples: [
            { region: 'eu', customer_no: '2' },
            { region: 'us', customer_no: '7' },
          ],
          includeChildren: true,
          goodBefore: new Date().toISOString(),
        },
      },
    });
    await declare(worker.client, config, input);
    const handle = worker.client.workflow.getHandle(input.incidentId);
    const plan = worker.client.workflow.getHandle(`${input.incidentId}-L1`);
    const waitingFor = async (h: WorkflowHandle, name: string): Promise<RunStatus> => {
      await expect.poll(() => waitingNames(h), { timeout: 90_000, interval: 200 }).toContain(name);
      return h.query(statusQuery);
    };

    const status = await waitingFor(plan, 'apply-restore');
    const request = status.waiting[0]!.request!;
    expect(request.backup?.id).toBe(backupId);
    // Children through keys declared on partitions, grandchildren through the partitioned parent, the self-reference.
    expect(request.tables).toEqual([
      'billing.customers',
      'billing.PaymentAudit',
      'billing.customer_notes',
      'billing.invoices_2024_01',
      'billing.invoices_2024_02',
      'billing.invoices_2024_03',
      'billing.invoice_lines',
    ]);
    // The customers eu/2 referred lost their referrer through ON DELETE SET NULL, which fired the trigger too.
    expect(request.changes.find((c) => c.startsWith('billing.customers:'))).toBe(
      'billing.customers: insert 1 missing row(s) (region, customer_no (eu,2)), revert 3 changed row(s) ' +
        '((eu,3): updated_at/referred_by_region/referred_by_no; (eu,4): updated_at/referred_by_region/referred_by_no; (us,7): name/tags/updated_at)',
    );
    // The notes of eu/2 and us/7 as copies: both of eu/2's and one of us/7's missing, the script's extra, two unchanged.
    expect(request.changes.find((c) => c.startsWith('billing.customer_notes'))).toMatch(
      /^billing\.customer_notes \(no key: .*\): insert 3 missing \(md5:[0-9a-f]{12}, md5:[0-9a-f]{12}\), delete 1 extra, keep 2 unchanged$/,
    );
    // The snapshot holds what the apply deletes: the script's note.
    const store = openStore('main', config.stores.main!, workerEnv);
    const snapshot = await store.getText(`incidents/${input.incidentId}/snapshot/billing.customer_notes.jsonl`);
    expect(
      snapshot
        ?.trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([{ region: 'us', customer_no: 7, note: 'written by the bad script' }]);
    await answer(plan, 'approve', { gate: 'apply-restore', by: 'alice' });

    await waitingFor(handle, 'review');
    await answer(handle, 'complete', { task: 'review', by: 'carol', note: 'script fixed' });
    const result = (await handle.result()) as RunResult;
    expect(result.outcome, result.detail).toBe('recovered');
    expect(result.timeline.find((s) => s.name.startsWith('verify:'))?.status).toBe('done');

    // The customer written after the backup is untouched; without it every table is the backup's, to the byte.
    expect(await query(`SELECT name FROM billing.customers WHERE region = 'ap'`)).toEqual([{ name: 'New customer' }]);
    await query(`DELETE FROM billing.customers WHERE region = 'ap'`);
    // So are the notes of other customers and of none; put back by hand, they too are the backup's.
    expect(
      await query(
        `SELECT region, customer_no, note FROM billing.customer_notes WHERE customer_no IS NULL OR customer_no = 1 ORDER BY customer_no`,
      ),
    ).toEqual([
      { region: 'eu', customer_no: 1, note: 'edited after the backup' },
      { region: 'eu', customer_no: null, note: 'no number, edited' },
    ]);
    await query(`UPDATE billing.customer_notes SET note = 'another customer' WHERE customer_no = 1`);
    await query(`UPDATE billing.customer_notes SET note = 'no customer number yet' WHERE customer_no IS NULL`);
    expect(await rowDigests(url)).toEqual(pristine);

    // The application's trigger is there, enabled, and still stamps updates; new lines still get fresh ids.
    expect(await query(`SELECT tgenabled FROM pg_trigger WHERE tgname = 'customers_touch'`)).toEqual([{ tgenabled: 'O' }]);
    const [touched] = await query<{ changed: boolean }>(
      `UPDATE billing.customers SET name = name || '!' WHERE region = 'eu' AND customer_no = 1 RETURNING updated_at > now() - interval '1 minute' AS changed`,
    );
    expect(touched).toEqual({ changed: true });
    const [line] = await query<{ id: string }>(
      `INSERT INTO billing.invoice_lines (region, customer_no, invoice_month, invoice_no) VALUES ('eu', 2, '2024-01-01', 1) RETURNING line_id::text AS id`,
    );
    expect(Number(line!.id)).toBeGreaterThan(Number(pristine['billing.invoice_lines']!.split(':')[0]));
    expect(await query(`SELECT 1 FROM pg_namespace WHERE nspname LIKE 'lifeboat_%'`)).toEqual([]);
    // Its own copy only: other files' L1s share the verification server.
    expect(
      await withClient(admin(), (c) => c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [recoveryCopyName(input.incidentId)])),
    ).toMatchObject({ rows: [] });
  }, 240_000);

  it("stages from the backup's kept recovery copy, and from a copy made for the selection when there is none", async () => {
    // The verification kept its restore, found by the backup's id.
    const kept = await findKeptCopy(admin(), 'zoo', backupId);
    expect(kept).toBe(keptCopyName(backupId));
    // A mark only the kept copy carries shows where the staged row came from.
    await withClient(withDatabase(admin(), kept!), (c) =>
      c.query(`UPDATE billing.customers SET name = 'from the kept copy' WHERE region = 'eu' AND customer_no = 1`),
    );
    const activities = createActivities({ config, env: workerEnv });
    const incidentId = 'inc-20261130-000000-zoo1';
    const input = {
      incidentId,
      target: 'zoo',
      backupId,
      selection: { table: 'billing.customers', keyTuples: [{ region: 'eu', customer_no: '1' }], goodBefore: new Date().toISOString() },
    };
    const stagedName = async () =>
      (await query<{ name: string }>(`SELECT name FROM ${stagingSchema(incidentId)}."billing.customers"`)).map((r) => r.name);

    const fromKept = await new MockActivityEnvironment().run(activities.stageRecords, input);
    expect(fromKept).toMatchObject([{ table: 'billing.customers', rows: 1, keys: ['(eu,1)'], keyColumns: ['region', 'customer_no'] }]);
    expect(await stagedName()).toEqual(['from the kept copy']);

    await withClient(admin(), (c) => c.query(`DROP DATABASE ${kept!} WITH (FORCE)`));
    expect(await new MockActivityEnvironment().run(activities.stageRecords, input)).toEqual(fromKept);
    expect(await stagedName()).toEqual(['Customer eu1']);
    // The copy made for the selection is gone, and so is the work schema.
    expect(
      await withClient(admin(), (c) => c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [recoveryCopyName(incidentId)])),
    ).toMatchObject({ rows: [] });
    await new MockActivityEnvironment().run(activities.dropStaging, { incidentId, target: 'zoo' });
  });

  it('stages a child without a key with the links that scope it, and never applies one staged without them as a whole table', async () => {
    const activities = createActivities({ config, env: workerEnv });
    const ref = { incidentId: 'inc-20261130-000000-zoo2', target: 'zoo' };
    const mock = () => new MockActivityEnvironment();
    const staged: StagedTable[] = await mock().run(activities.stageRecords, {
      ...ref,
      backupId,
      selection: {
        table: 'billing.customers',
        keyTuples: [{ region: 'eu', customer_no: '1' }],
        includeChildren: true,
        goodBefore: new Date().toISOString(),
      },
    });
    try {
      expect(staged.find((t) => t.table === 'billing.customer_notes')).toMatchObject({
        rows: 1,
        keys: [],
        scope: [{ staging: 'billing.customers', columns: ['region', 'customer_no'], refColumns: ['region', 'customer_no'] }],
      });
      const diff: TableDiff[] = await mock().run(activities.diffRecords, { ...ref, staged });
      expect(diff.find((t) => t.table === 'billing.customer_notes')).toMatchObject({ missingCount: 0, extra: 0, unchanged: 1 });
      // Without its scope (a result from elsewhere, or damaged), the notes would be the whole table: refused, nothing written.
      const before = await rowDigests(url);
      const unscoped = staged.map((t) => ({ ...t, scope: undefined }));
      await expect(mock().run(activities.applyRecords, { ...ref, staged: unscoped })).rejects.toThrow(
        'billing.customer_notes has no key and was staged without the rows it belongs to: stage again',
      );
      expect(await rowDigests(url)).toEqual(before);
    } finally {
      await mock().run(activities.dropStaging, ref);
    }
  });
});
