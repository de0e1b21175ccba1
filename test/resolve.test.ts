// Where plan activities work: production, or a drill's test database that can never be production.
import { describe, expect, it } from 'vitest';
import { createResolver, sameDatabase } from '../activities/resolve.js';
import { parseConfig } from '../config/config.js';

const config = (drill = '') =>
  parseConfig(
    `targets:\n  crm: { urlEnv: CRM_URL, store: main, verifyOn: production, tables: [crm_leads] }\nstores:\n  main: { type: local, path: /tmp/x }\n${drill}`,
    'test',
    {},
  );
const env = {
  CRM_URL: 'postgres://u:p@localhost:5432/crm',
  TEST_URL: 'postgres://u:p@127.0.0.1:5432/crm',
  OTHER_URL: 'postgres://u:p@drills.internal:6432/postgres',
};

describe('target resolution', () => {
  it('sends a drill to its test database on the scratch server by default', () => {
    const r = createResolver(config(), env);
    expect(r.databaseUrl('crm')).toBe(env.CRM_URL);
    expect(r.databaseUrl('crm', 'lifeboat_drill_crm_ab12')).toBe('postgres://u:p@localhost:5432/lifeboat_drill_crm_ab12');
  });

  it('uses drill.testUrlEnv as the test server', () => {
    const r = createResolver(config('drill:\n  testUrlEnv: OTHER_URL'), env);
    expect(r.databaseUrl('crm', 'lifeboat_drill_crm_ab12')).toBe('postgres://u:p@drills.internal:6432/lifeboat_drill_crm_ab12');
  });

  it('refuses a test server that is the production connection, and names that are not drill databases', () => {
    const r = createResolver(config('drill:\n  testUrlEnv: TEST_URL'), env);
    expect(() => r.databaseUrl('crm', 'lifeboat_drill_crm_ab12')).toThrow(
      /drill.testUrlEnv \(TEST_URL\) is the production connection of target "crm"/,
    );
    const plain = createResolver(config(), env);
    for (const name of ['crm', 'postgres', 'lifeboat_drill_', 'lifeboat_drill_X"; DROP']) {
      expect(() => plain.databaseUrl('crm', name)).toThrow(/is not a drill test database/);
    }
  });

  it('compares connections by host, port and database', () => {
    expect(sameDatabase('postgres://a@localhost/crm', 'postgres://b:x@127.0.0.1:5432/crm')).toBe(true);
    expect(sameDatabase('postgres://a@localhost/crm', 'postgres://a@localhost:5433/crm')).toBe(false);
    expect(sameDatabase('postgres://a@localhost/crm', 'postgres://a@localhost/crm2')).toBe(false);
  });
});
