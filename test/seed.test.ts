// The CRM seeder against a real PostgreSQL, in a database of its own that is dropped afterwards.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient, withDatabase } from '../activities/postgres/connection.js';
import { applyCrmSchema, CRM_TABLES, seedCrm, type TableCounts } from '../activities/postgres/seed.js';

// child table, column, parent table
const FOREIGN_KEYS = [
  ['crm_leads', 'assigned_agent_id', 'crm_agents'],
  ['crm_activities', 'lead_id', 'crm_leads'],
  ['crm_activities', 'agent_id', 'crm_agents'],
  ['crm_reminders', 'lead_id', 'crm_leads'],
  ['crm_reminders', 'agent_id', 'crm_agents'],
  ['crm_lead_notes', 'lead_id', 'crm_leads'],
  ['crm_lead_notes', 'agent_id', 'crm_agents'],
  ['crm_notifications', 'agent_id', 'crm_agents'],
  ['crm_notifications', 'lead_id', 'crm_leads'],
] as const;

const LEADS = 2_000;

describe('CRM seeder', () => {
  // The global setup provides pgAdminUrl; LIFEBOAT_TEST_PG_URL lets the file run before it does.
  const adminUrl = inject('pgAdminUrl') ?? process.env.LIFEBOAT_TEST_PG_URL;
  const database = `seed_test_${randomBytes(6).toString('hex')}`;
  let url = '';
  let seeded: TableCounts = {};

  const tableCounts = (): Promise<TableCounts> =>
    withClient(url, async (client) => {
      const counts: TableCounts = {};
      for (const table of CRM_TABLES) {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
        counts[table] = Number(rows[0]!.n);
      }
      return counts;
    });

  beforeAll(async () => {
    if (!adminUrl) throw new Error('no PostgreSQL for the tests: neither pgAdminUrl nor LIFEBOAT_TEST_PG_URL is set');
    url = withDatabase(adminUrl, database);
    await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${database}`));
    seeded = await seedCrm(url, { leads: LEADS });
  });

  afterAll(async () => {
    if (adminUrl) await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });

  it('returns the real row count of every table', async () => {
    expect(Object.keys(seeded)).toEqual([...CRM_TABLES]);
    expect(await tableCounts()).toEqual(seeded);
    expect(seeded.crm_leads).toBe(LEADS);
    expect(seeded.crm_agents).toBe(10); // max(5, 2000 / 200)
  });

  it('makes about three activities and one reminder, note and notification per lead', () => {
    expect(seeded.crm_activities).toBeGreaterThanOrEqual(LEADS * 3 * 0.9);
    expect(seeded.crm_activities).toBeLessThanOrEqual(LEADS * 3 * 1.1);
    for (const table of ['crm_reminders', 'crm_lead_notes', 'crm_notifications']) {
      expect(seeded[table], table).toBeGreaterThanOrEqual(LEADS * 0.9);
      expect(seeded[table], table).toBeLessThanOrEqual(LEADS * 1.1);
    }
  });

  it('leaves no orphan and every foreign key in place and validated', async () => {
    await withClient(url, async (client) => {
      for (const [child, column, parent] of FOREIGN_KEYS) {
        const { rows } = await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${child} c
            WHERE c.${column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE p.id = c.${column})`,
        );
        expect(Number(rows[0]!.n), `${child}.${column}`).toBe(0);
      }
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f' AND convalidated AND conrelid::regclass::text LIKE 'crm\\_%'`,
      );
      expect(Number(rows[0]!.n)).toBe(FOREIGN_KEYS.length);
    });
  });

  it('refuses to seed over existing rows without reset', async () => {
    await expect(seedCrm(url, { leads: 10 })).rejects.toThrow(`crm_leads already holds ${LEADS} rows; pass reset to rebuild`);
    expect(await tableCounts()).toEqual(seeded);
  });

  it('refuses sizes that are not positive integers', async () => {
    for (const leads of [1.5, 0, -3, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(seedCrm(url, { leads, reset: true })).rejects.toThrow(/leads must be a positive integer/);
    }
    await expect(seedCrm(url, { leads: 10, agents: 2.5, reset: true })).rejects.toThrow(/agents must be a positive integer/);
    expect(await tableCounts()).toEqual(seeded);
  });

  it('applies the schema again without harm', async () => {
    await applyCrmSchema(url);
    expect(await tableCounts()).toEqual(seeded);
  });

  it('rebuilds with the new size on reset', async () => {
    const counts = await seedCrm(url, { leads: 300, reset: true });
    expect(counts.crm_leads).toBe(300);
    expect(counts.crm_agents).toBe(5);
    expect(await tableCounts()).toEqual(counts);
  });
});
