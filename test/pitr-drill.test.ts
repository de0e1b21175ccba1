// The drill rehearses a point-in-time recovery (drill.pointInTime): on the physical target it writes
// markers in its one table on production, deletes some, writes more, and the real L1 plan at the
// moment just before the deletion brings the deleted ones back into the drill's test database while
// the later ones stay; the verdict carries the RPO achieved. Production keeps every other row, and
// the markers, the side instance and the test database are gone at the end.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { drillSettings } from '../activities/drill/settings.js';
import { openStore } from '../activities/storage/open.js';
import type { DrillResult } from '../common/drills.js';
import { drillIdFor } from '../common/names.js';
import { testConfig, uniqueName } from './helpers.js';
import { useArchivingCluster } from './pitr-cluster.js';

describe('the drill rehearses a point-in-time recovery', () => {
  const suite = useArchivingCluster('pitrdrill', 40, 'drill:\n  level: L1\n  records: 2\n  improvements: false\n  pointInTime: true');
  const crmTables = ['crm_agents', 'crm_leads', 'crm_activities', 'crm_reminders', 'crm_lead_notes', 'crm_notifications'];
  const sums = () =>
    suite.c.sql<{ t: string; n: string; h: string }>(
      crmTables
        .map(
          (t) => `SELECT '${t}' AS t, count(*)::text AS n, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h FROM ${t} x`,
        )
        .join(' UNION ALL '),
    );

  it('brings back the markers deleted on production to the second before, keeps those written after, and reports the RPO', async () => {
    const execute = (type: string, args: unknown[]) =>
      suite.worker.client.workflow.execute(type, { taskQueue: suite.worker.taskQueue, workflowId: uniqueName(type), args });
    const backup = (await execute('backupWorkflow', [{ target: 'crm' }])) as { id: string };
    await execute('verifyWorkflow', [{ backupId: backup.id }]);
    await suite.c.fullBackup();
    const before = await sums();

    const drillId = drillIdFor(new Date(), 'a1b2');
    const result = (await execute('drillWorkflow', [{ drillId, requestedBy: 'test' }])) as DrillResult;

    expect(result.verdict, JSON.stringify(result.findings)).toBe('passed');
    const pitr = result.record.pointInTime!;
    expect(pitr).toMatchObject({ verdict: 'passed' });
    expect(pitr.detail).toMatch(
      /^the 3 deleted markers came back; the 3 written after the deletion and the 7 never deleted stayed; recovered to \S+, RPO achieved /,
    );
    expect(pitr.rpoAchievedMs).toBeGreaterThanOrEqual(0);
    expect(pitr.recoveredTo).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The real L1 plan ran at the moment, from a side instance, into the test database.
    const steps = (await suite.worker.client.workflow.getHandle(`${drillId}-L1-pitr`).result()) as {
      timeline: { name: string; status: string }[];
    };
    expect(steps.timeline.map((s) => [s.name, s.status])).toEqual(
      expect.arrayContaining([
        [expect.stringMatching(/^identify: restore the cluster to just before transaction \d+ into a side instance$/), 'done'],
        ['identify: stage the affected records from the side instance', 'done'],
        ['restore: apply the staged rows in one transaction', 'done'],
        ['clean up the side instance', 'done'],
      ]),
    );

    // The drill says it writes on production, in its announcement and its report.
    expect(suite.worker.notices.map((n) => n.text).join('\n')).toContain(
      "Production is not touched, except for this drill's marker rows in lifeboat_drill_markers",
    );
    const store = openStore('main', suite.c.config.stores.main!, suite.c.env);
    const markdown = await store.getText(`reports/${drillId}/report.md`);
    expect(markdown).toContain(
      '| Point-in-time rehearsal (marker rows written on production in lifeboat_drill_markers, removed at the end) | ✅ passed — the 3 deleted markers came back',
    );

    // Production: every application row as it was; this drill's markers removed; no side instance left.
    expect(await sums()).toEqual(before);
    expect(await suite.c.sql('SELECT * FROM lifeboat_drill_markers WHERE drill_id = $1', [drillId])).toEqual([]);
    const sides = join(suite.c.server.pgbackrest!.dir, 'side');
    expect(existsSync(sides) ? readdirSync(sides) : []).toEqual([]);
    expect(await suite.c.sql('SELECT datname FROM pg_database WHERE datname LIKE $1', ['lifeboat_drill_%'])).toEqual([]);
  }, 900_000);

  it('is refused at once for a target without physical backups, saying what to do', () => {
    const config = testConfig({ prefix: 'x', extra: 'drill:\n  pointInTime: true' });
    expect(() => drillSettings(config, {})).toThrow(
      'drill.pointInTime rehearses a point-in-time recovery, which needs physical backups of crm: add "physical: pgbackrest" to the target, or turn drill.pointInTime off',
    );
  });
});
