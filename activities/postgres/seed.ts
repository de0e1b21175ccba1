// Fills the demo CRM (crm-schema.sql) with deterministic fake data, fast enough for millions of rows.
//
// All rows are generated inside PostgreSQL by INSERT ... SELECT FROM generate_series: nothing
// crosses the network but the statements. Every value is a hash of the row number and the seed,
// so the same options always give the same database, and a child row can recompute its lead's
// agent and creation time instead of joining. Tables are loaded bare and in parallel, then the
// indexes and foreign keys are built once (the section after `-- @@indexes` in the schema file).
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { withClient } from './connection.js';

export interface SeedOptions {
  leads: number;
  /** Default max(5, leads / 200). */
  agents?: number;
  /** Different seeds give different data; default 1. */
  seed?: number;
  /** Drop and rebuild the CRM tables even when they hold rows. */
  reset?: boolean;
  onProgress?: (phase: string) => void;
}

export type TableCounts = Record<string, number>;

/** The CRM tables, parents before children. */
export const CRM_TABLES: readonly string[] = [
  'crm_agents',
  'crm_leads',
  'crm_activities',
  'crm_reminders',
  'crm_lead_notes',
  'crm_notifications',
];

const SCHEMA_FILE = new URL('./crm-schema.sql', import.meta.url);
const INDEXES_MARKER = /^-- @@indexes[ \t]*$/m;

/** Bulk loads are CPU-bound in the server; two connections keep two cores busy. */
const LOAD_CONNECTIONS = 2;

// A crash in the middle means seeding again anyway, so losing the last commits costs nothing; the seed
// statements run for minutes, longer than any statement_timeout a connection string might set.
const SESSION_SETTINGS = `SET synchronous_commit = off; SET statement_timeout = 0; SET maintenance_work_mem = '256MB'`;

/** Creates the CRM tables, indexes and foreign keys that do not exist yet. */
export async function applyCrmSchema(connectionString: string): Promise<void> {
  const { tables, indexes } = await schemaSections();
  await withClient(connectionString, async (client) => {
    await client.query(`${tables};\n${indexes}`);
  });
}

/**
 * Rebuilds the CRM tables and fills them: `agents` agents, `leads` leads, three activities per lead
 * and one reminder, note and notification per lead. Refuses to touch tables that hold rows unless
 * `reset` is set. Returns the row count of every table.
 */
export async function seedCrm(connectionString: string, opts: SeedOptions): Promise<TableCounts> {
  const sizes = seedSizes(opts);
  const progress = opts.onProgress ?? (() => undefined);
  const { tables, indexes } = await schemaSections();

  await withClient(connectionString, async (client) => {
    if (!opts.reset) await refuseRows(client);
    progress(opts.reset ? 'dropping and creating the tables' : 'creating the tables');
    // Recreated even when empty: the load relies on the fresh, constraint-free tables of section one.
    // One simple query is one transaction, so a failure leaves the old tables in place.
    await client.query(`DROP TABLE IF EXISTS ${[...CRM_TABLES].reverse().join(', ')} CASCADE;\n${tables}`);
  });

  await loadInParallel(connectionString, loadStatements(sizes), progress);

  return withClient(connectionString, async (client) => {
    await client.query(SESSION_SETTINGS);
    progress('building indexes and foreign keys');
    await client.query(indexes);
    // Ids were given explicitly, so move each identity past them for rows the application adds later.
    await client.query(CRM_TABLES.map((t) => `SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`).join(';'));
    progress('analyzing');
    await client.query(`ANALYZE ${CRM_TABLES.join(', ')}`);
    progress('counting rows');
    return countRows(client);
  });
}

interface Sizes {
  leads: number;
  agents: number;
  seed: number;
}

/** The only values that reach the SQL text, so they are checked to be plain integers. */
function seedSizes(opts: SeedOptions): Sizes {
  const positive = (name: string, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new Error(`${name} must be a positive integer, got ${String(value)}`);
    }
    return value;
  };
  const leads = positive('leads', opts.leads);
  const agents = opts.agents === undefined ? Math.max(5, Math.floor(leads / 200)) : positive('agents', opts.agents);
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 31) {
    throw new Error(`seed must be an integer from 0 to 2^31 - 1, got ${String(seed)}`);
  }
  return { leads, agents, seed };
}

async function schemaSections(): Promise<{ tables: string; indexes: string }> {
  const [tables, indexes, ...extra] = (await readFile(SCHEMA_FILE, 'utf8')).split(INDEXES_MARKER);
  if (tables === undefined || indexes === undefined || extra.length > 0) {
    throw new Error(`${SCHEMA_FILE.pathname} must contain exactly one "-- @@indexes" line`);
  }
  return { tables, indexes };
}

async function refuseRows(client: pg.Client): Promise<void> {
  // crm_leads first: it is the table the caller chose a size for.
  for (const table of ['crm_leads', ...CRM_TABLES.filter((t) => t !== 'crm_leads')]) {
    const { rows } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [table]);
    if (!rows[0]!.present) continue;
    const { rows: count } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    const n = Number(count[0]!.n);
    if (n > 0) throw new Error(`${table} already holds ${n} rows; pass reset to rebuild`);
  }
}

async function countRows(client: pg.Client): Promise<TableCounts> {
  const { rows } = await client.query<Record<string, string>>(
    `SELECT ${CRM_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`,
  );
  return Object.fromEntries(CRM_TABLES.map((t) => [t, Number(rows[0]![t])]));
}

interface Load {
  table: string;
  rows: number;
  sql: string;
}

/** Runs the loads on a few connections, largest first so the connections finish together. */
async function loadInParallel(connectionString: string, loads: Load[], progress: (phase: string) => void): Promise<void> {
  const queue = [...loads].sort((a, b) => b.rows - a.rows);
  let failed = false;
  const worker = () =>
    withClient(connectionString, async (client) => {
      await client.query(SESSION_SETTINGS);
      for (let load = queue.shift(); load && !failed; load = queue.shift()) {
        progress(`loading ${load.table} (${load.rows} rows)`);
        try {
          await client.query(load.sql);
        } catch (err) {
          failed = true; // the other connections stop after their current table
          throw new Error(`loading ${load.table} failed: ${(err as Error).message}`);
        }
        progress(`loaded ${load.table}`);
      }
    });
  // allSettled, so no statement is still running when the caller sees the error.
  const results = await Promise.allSettled(Array.from({ length: LOAD_CONNECTIONS }, worker));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

// Value lists for the fake data. Constants of this file only: they are inlined as SQL literals.
const FIRST_NAMES = [
  'Olivia',
  'Liam',
  'Emma',
  'Noah',
  'Ava',
  'Elijah',
  'Sophia',
  'James',
  'Mia',
  'Lucas',
  'Amelia',
  'Mateo',
  'Harper',
  'Ethan',
  'Chloe',
  'Omar',
  'Priya',
  'Wei',
  'Fatima',
  'Diego',
  'Yuki',
  'Kwame',
  'Ingrid',
  'Sean',
];
const LAST_NAMES = [
  'Smith',
  'Johnson',
  'Garcia',
  'Brown',
  'Martinez',
  'Nguyen',
  'Patel',
  'Kim',
  'Müller',
  'Rossi',
  'Dubois',
  'Kowalski',
  'Silva',
  'Okafor',
  'Haddad',
  "O'Brien",
  'Andersen',
  'Tanaka',
  'Cohen',
  'Novak',
];
const REGIONS = ['Downtown', 'Riverside', 'Northside', 'Old Town', 'Harbor', 'Westfield', 'Lakeshore', 'Hillcrest'];
const SOURCES = ['website', 'referral', 'portal', 'open_house', 'social', 'walk_in', 'phone'];
const PROPERTY_TYPES = ['apartment', 'house', 'townhouse', 'condo', 'loft', 'land'];
const FINANCING = ['cash', 'mortgage', 'pre_approved', 'undecided'];
const ACTIVITY_KINDS = ['call', 'email', 'sms', 'meeting', 'viewing'];
const OUTCOMES = ['no_answer', 'left_voicemail', 'interested', 'not_interested', 'follow_up', 'viewing_scheduled', 'offer_discussed'];
const REMINDER_TITLES = [
  'Call back',
  'Send new listings',
  'Confirm viewing',
  'Follow up on offer',
  'Ask for documents',
  'Check financing status',
];
const NOTE_OPENERS = [
  'Prefers to be contacted by email.',
  'Very motivated buyer.',
  'Relocating for work.',
  'First-time buyer.',
  'Selling current home first.',
  'Looking with a partner.',
];
const NOTE_DETAILS = [
  'Wants a garden.',
  'Needs parking for two cars.',
  'Close to schools is a must.',
  'Open to renovation projects.',
  'Flexible on move-in date.',
  'Works from home, needs an office.',
];
const PRIORITIES = ['low', 'normal', 'high'];

const DAY = 86_400;
const INT8_MAX = '9223372036854775807';

/** The six INSERT ... SELECT statements for the given sizes. */
function loadStatements({ leads, agents, seed }: Sizes): Load[] {
  /** A pseudo-random integer in [0, mod) from a row number; distinct salts give independent columns. */
  const rnd = (x: string, salt: number, mod: number) => `((hashint8extended(${x}, ${seed + salt}) & ${INT8_MAX}) % ${mod})`;
  const pick = (x: string, salt: number, values: readonly string[]) =>
    `(ARRAY[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')}])[1 + ${rnd(x, salt, values.length)}]`;
  const seconds = (x: string, salt: number, max: number) => `${rnd(x, salt, max)} * interval '1 second'`;
  const phone = (x: string, salt: number) => `'+1-555-' || lpad(${rnd(x, salt, 10_000_000)}::text, 7, '0')`;
  const agentId = (x: string, salt: number) => `1 + ${rnd(x, salt, agents)}`;
  const leadId = (x: string, salt: number) => `1 + ${rnd(x, salt, leads)}`;
  // Facts of lead `l` that its child rows recompute rather than look up.
  const leadCreatedAt = (l: string) => `(timestamptz '2023-01-01 00:00:00+00' + ${seconds(l, 100, 730 * DAY)})`;
  const leadAgent = (l: string) => `CASE WHEN ${rnd(l, 101, 100)} < 95 THEN ${agentId(l, 102)} END`; // 5 % unassigned
  // Child rows are handled by the lead's agent, or by anyone when the lead has none.
  const handlerOf = (l: string, x: string, salt: number) => `coalesce(${leadAgent(l)}, ${agentId(x, salt)})`;

  const agentsSql = `
    INSERT INTO crm_agents (id, full_name, email, phone, region, active, created_at, updated_at)
    SELECT g, ${pick('g', 1, FIRST_NAMES)} || ' ' || ${pick('g', 2, LAST_NAMES)}, 'agent' || g || '@realty.example',
           ${phone('g', 3)}, ${pick('g', 4, REGIONS)}, ${rnd('g', 5, 10)} > 0,
           timestamptz '2022-01-01 00:00:00+00' + ${seconds('g', 6, 365 * DAY)},
           timestamptz '2023-01-01 00:00:00+00' + ${seconds('g', 7, 365 * DAY)}
      FROM generate_series(1, ${agents}) AS g`;

  const leadsSql = `
    INSERT INTO crm_leads (id, assigned_agent_id, first_name, last_name, email, phone, status, source,
                           budget_min, budget_max, preferences, created_at, updated_at)
    SELECT g, ${leadAgent('g')}, first_name, last_name,
           lower(replace(first_name || '.' || last_name, '''', '')) || '.' || g || '@mail.example',
           ${phone('g', 10)},
           CASE WHEN s < 20 THEN 'new' WHEN s < 40 THEN 'contacted' WHEN s < 55 THEN 'qualified'
                WHEN s < 67 THEN 'viewing' WHEN s < 75 THEN 'offer' WHEN s < 85 THEN 'won' ELSE 'lost' END,
           ${pick('g', 11, SOURCES)}, budget, budget + (1 + ${rnd('g', 12, 30)}) * 10000,
           jsonb_build_object(
             'bedrooms', 1 + ${rnd('g', 13, 5)},
             'property_type', ${pick('g', 14, PROPERTY_TYPES)},
             'neighborhoods', jsonb_build_array(${pick('g', 15, REGIONS)}, ${pick('g', 16, REGIONS)}),
             'pets', ${rnd('g', 17, 4)} = 0,
             'financing', ${pick('g', 18, FINANCING)}),
           ${leadCreatedAt('g')}, ${leadCreatedAt('g')} + ${seconds('g', 19, 60 * DAY)}
      FROM generate_series(1, ${leads}) AS g,
           LATERAL (SELECT ${pick('g', 20, FIRST_NAMES)} AS first_name, ${pick('g', 21, LAST_NAMES)} AS last_name,
                           ${rnd('g', 22, 100)} AS s, 150000 + ${rnd('g', 23, 170)} * 5000 AS budget) AS v`;

  const activitiesSql = `
    INSERT INTO crm_activities (id, lead_id, agent_id, kind, occurred_at, duration_seconds, outcome, metadata, created_at)
    SELECT g, l, ${handlerOf('l', 'g', 30)}, kind, at,
           CASE kind WHEN 'call' THEN 20 + ${rnd('g', 31, 1800)} WHEN 'meeting' THEN 900 + ${rnd('g', 32, 3600)}
                     WHEN 'viewing' THEN 1200 + ${rnd('g', 33, 3600)} END,
           ${pick('g', 34, OUTCOMES)},
           jsonb_build_object('direction', CASE WHEN ${rnd('g', 35, 3)} = 0 THEN 'inbound' ELSE 'outbound' END,
                              'channel_ref', 'act-' || g, 'score', ${rnd('g', 36, 101)}),
           at
      FROM generate_series(1, ${3 * leads}) AS g,
           LATERAL (SELECT ${leadId('g', 37)} AS l, ${pick('g', 38, ACTIVITY_KINDS)} AS kind) AS v,
           LATERAL (SELECT ${leadCreatedAt('l')} + ${seconds('g', 39, 120 * DAY)} AS at) AS w`;

  const remindersSql = `
    INSERT INTO crm_reminders (id, lead_id, agent_id, title, due_at, done, done_at, created_at, updated_at)
    SELECT g, l, ${handlerOf('l', 'g', 40)}, ${pick('g', 41, REMINDER_TITLES)}, due, done_at IS NOT NULL, done_at,
           created, coalesce(done_at, created)
      FROM generate_series(1, ${leads}) AS g,
           LATERAL (SELECT ${leadId('g', 42)} AS l) AS v,
           LATERAL (SELECT ${leadCreatedAt('l')} + ${seconds('g', 43, 90 * DAY)} AS created) AS w,
           LATERAL (SELECT created + interval '1 hour' + ${seconds('g', 44, 14 * DAY)} AS due) AS x,
           LATERAL (SELECT CASE WHEN ${rnd('g', 45, 100)} < 70 THEN due + ${seconds('g', 46, 2 * DAY)} END AS done_at) AS y`;

  const notesSql = `
    INSERT INTO crm_lead_notes (id, lead_id, agent_id, body, pinned, created_at, updated_at)
    SELECT g, l, ${handlerOf('l', 'g', 50)}, ${pick('g', 51, NOTE_OPENERS)} || ' ' || ${pick('g', 52, NOTE_DETAILS)},
           ${rnd('g', 53, 20)} = 0, created,
           CASE WHEN ${rnd('g', 54, 10)} = 0 THEN created + ${seconds('g', 55, 30 * DAY)} ELSE created END
      FROM generate_series(1, ${leads}) AS g,
           LATERAL (SELECT ${leadId('g', 56)} AS l) AS v,
           LATERAL (SELECT ${leadCreatedAt('l')} + ${seconds('g', 57, 120 * DAY)} AS created) AS w`;

  // One notification in five is a plain message about no lead.
  const notificationsSql = `
    INSERT INTO crm_notifications (id, agent_id, lead_id, kind, title, payload, read_at, created_at)
    SELECT g, ${handlerOf('l', 'g', 60)}, l, kind,
           CASE kind WHEN 'new_lead' THEN 'New lead #' || l WHEN 'reminder_due' THEN 'Reminder due for lead #' || l
                     WHEN 'lead_updated' THEN 'Lead #' || l || ' was updated' ELSE 'Message from the office' END,
           jsonb_build_object('lead_id', l, 'priority', ${pick('g', 61, PRIORITIES)}),
           CASE WHEN ${rnd('g', 62, 100)} < 60 THEN created + ${seconds('g', 63, 3 * DAY)} END,
           created
      FROM generate_series(1, ${leads}) AS g,
           LATERAL (SELECT CASE WHEN ${rnd('g', 64, 5)} > 0 THEN ${leadId('g', 65)} END AS l) AS v,
           LATERAL (SELECT CASE WHEN l IS NULL THEN 'message' ELSE ${pick('g', 66, ['new_lead', 'reminder_due', 'lead_updated'])} END AS kind,
                           coalesce(${leadCreatedAt('l')}, timestamptz '2023-01-01 00:00:00+00' + ${seconds('g', 67, 730 * DAY)})
                             + ${seconds('g', 68, 90 * DAY)} AS created) AS w`;

  return [
    { table: 'crm_agents', rows: agents, sql: agentsSql },
    { table: 'crm_leads', rows: leads, sql: leadsSql },
    { table: 'crm_activities', rows: 3 * leads, sql: activitiesSql },
    { table: 'crm_reminders', rows: leads, sql: remindersSql },
    { table: 'crm_lead_notes', rows: leads, sql: notesSql },
    { table: 'crm_notifications', rows: leads, sql: notificationsSql },
  ];
}
