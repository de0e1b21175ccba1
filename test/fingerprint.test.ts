// Table fingerprints: equal content gives equal checksums in either format, any change shows, and a
// comparison reads a table in the format its stored checksum was made in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { fingerprint, fingerprintDatabase } from '../activities/postgres/inspect.js';
import { type TestDatabase, createCrmDatabase } from './helpers.js';

describe('fingerprints', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createCrmDatabase(200);
    // json has no hash function: such a table can only be read in "text" format.
    await withClient(db.url, (c) =>
      c.query(
        `CREATE TABLE lb_events (id int PRIMARY KEY, body json); INSERT INTO lb_events SELECT g, json_build_object('n', g) FROM generate_series(1, 50) g`,
      ),
    );
  });
  afterAll(() => db?.drop());

  it('reads in "record" format where every column type hashes, and in "text" format otherwise', async () => {
    const sums = await fingerprintDatabase(db.url);
    expect(sums.crm_leads!.checksum).toMatch(/^r:200:-?\d+$/);
    expect(sums.lb_events!.checksum).toMatch(/^50:-?\d+$/);
    const text = await withClient(db.url, (c) => fingerprint(c, 'lb_events'));
    expect(sums.lb_events).toEqual(text);
  });

  it('reads a table in the format of the checksum it is compared with, and sees any change', async () => {
    const leadsAsText = await withClient(db.url, (c) => fingerprint(c, 'crm_leads'));
    const like = await fingerprintDatabase(db.url, { like: { crm_leads: leadsAsText }, include: (t) => t === 'crm_leads' });
    expect(like.crm_leads).toEqual(leadsAsText);

    const before = await fingerprintDatabase(db.url);
    await withClient(db.url, (c) =>
      c.query(`UPDATE crm_leads SET first_name = first_name || 'x' WHERE id = (SELECT min(id) FROM crm_leads)`),
    );
    const after = await fingerprintDatabase(db.url);
    expect(after.crm_leads!.rows).toBe(before.crm_leads!.rows);
    expect(after.crm_leads!.checksum).not.toBe(before.crm_leads!.checksum);
    expect(after.crm_activities).toEqual(before.crm_activities);
  });
});
