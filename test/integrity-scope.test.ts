// An L1's integrity checks over the rows it restored: a check with a `restoredRows` form (the example
// configuration's) runs that form, on the restored rows' keys only, when the L1 restored rows of its
// table; otherwise the whole-table check runs. So an orphan elsewhere in the database, which the
// L1's apply did not make, does not fail it, while one among the restored rows does; and a table
// the L1 did not restore is still checked whole. The scoped form is one statement, like every check.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { type IntegrityCheck, integrityFindingsAt } from '../activities/postgres/inspect.js';
import { parseConfig } from '../config/config.js';
import { type TestDatabase, createCrmDatabase, testConfigText } from './helpers.js';

const EXAMPLE = readFileSync(fileURLToPath(new URL('../config/lifeboat.example.yaml', import.meta.url)), 'utf8');

describe('integrity checks limited to the rows an L1 restored', () => {
  let db: TestDatabase;
  let checks: IntegrityCheck[];
  /** Activities left without their lead (the lead deleted without its ON DELETE CASCADE) and activities of an intact lead. */
  let orphans: string[];
  let intact: { lead: string; activities: string[] };

  beforeAll(async () => {
    db = await createCrmDatabase(50);
    checks = parseConfig(EXAMPLE, 'lifeboat.example.yaml', {}).targets.crm!.integrityChecks;
    await withClient(db.url, async (c) => {
      const ids = async (sql: string) => (await c.query<{ id: string }>(sql)).rows.map((r) => r.id);
      const [gone, kept] = await ids('SELECT lead_id::text AS id FROM crm_activities GROUP BY lead_id ORDER BY lead_id LIMIT 2');
      orphans = await ids(`SELECT id::text AS id FROM crm_activities WHERE lead_id = ${gone} ORDER BY id`);
      intact = { lead: kept!, activities: await ids(`SELECT id::text AS id FROM crm_activities WHERE lead_id = ${kept} ORDER BY id`) };
      await c.query('SET session_replication_role = replica'); // no cascade: the activities stay, orphaned
      await c.query(`DELETE FROM crm_leads WHERE id = ${gone}`);
    });
  }, 120_000);

  afterAll(async () => {
    await db?.drop();
  });

  it('checks whole tables without restored keys, and finds the orphans', async () => {
    expect(orphans.length).toBeGreaterThan(0);
    expect(await integrityFindingsAt(db.url, checks)).toEqual(
      expect.arrayContaining([{ check: 'activities of a missing lead', detail: `${orphans.length} offending row(s)` }]),
    );
  });

  it('checks only the restored rows where a check has a restoredRows form for their table', async () => {
    const restored = { crm_leads: [intact.lead], crm_activities: intact.activities, crm_reminders: ['0'], crm_lead_notes: ['0'] };
    expect(await integrityFindingsAt(db.url, checks, restored)).toEqual([]);
    // An orphan among the restored activities is found, and said to be among them.
    expect(await integrityFindingsAt(db.url, checks, { ...restored, crm_activities: [...intact.activities, orphans[0]!] })).toEqual([
      {
        check: 'activities of a missing lead',
        detail: `1 offending row(s) among the ${intact.activities.length + 1} restored crm_activities row(s)`,
      },
    ]);
    // No activities restored: their check runs over the whole table again.
    const { crm_activities: _, ...withoutActivities } = restored;
    expect(await integrityFindingsAt(db.url, checks, withoutActivities)).toEqual([
      { check: 'activities of a missing lead', detail: `${orphans.length} offending row(s)` },
    ]);
  });

  it('refuses a restoredRows form of several statements at load, naming the field', () => {
    const crmExtra =
      '      - name: sneaky\n        sql: SELECT 0\n        restoredRows:\n          table: crm_leads\n' +
      '          sql: "SELECT 0; COMMIT; CREATE TABLE lifeboat_escaped()"';
    expect(() => parseConfig(testConfigText({ prefix: 'p', crmExtra }), 'x.yaml', {})).toThrow(
      /targets\.crm\.integrityChecks\.1\.restoredRows\.sql: expected exactly one SQL statement/,
    );
  });
});
