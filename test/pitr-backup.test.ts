// Physical backups as the worker runs them, against a real archiving PostgreSQL, real pgBackRest and
// the suite's SeaweedFS over HTTPS: scheduled full and incremental backups, the repository's
// verification, and the WAL freshness alarm when archiving is stuck (naming the failing segment)
// and quiet when it is not; schedule apply gives a physical target its five schedules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PhysicalBackup } from '../activities/pgbackrest/backups.js';
import type { WalFreshness } from '../activities/pgbackrest/wal-freshness.js';
import { desiredSchedules } from '../client/schedules.js';
import type { PhysicalVerification } from '../workflows/physical.js';
import { type ArchivingCluster, startArchivingCluster } from './pitr-cluster.js';
import { type TestWorker, startTestWorker, uniqueName } from './helpers.js';

describe('physical backups on the worker', () => {
  let c: ArchivingCluster;
  let worker: TestWorker;

  beforeAll(async () => {
    c = await startArchivingCluster('pitrbk');
    // The worker's limit is a second, so a stuck archive shows at once; the cluster's own activities keep ten minutes.
    const config = structuredClone(c.config);
    config.targets.crm!.physical!.walMaxAge = '1s';
    worker = await startTestWorker(config, c.env);
  }, 240_000);

  afterAll(async () => {
    await worker?.stop();
    await c?.stop();
  });

  const execute = <R>(type: string, input: unknown) =>
    worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args: [input] }) as Promise<R>;

  it('takes a full then an incremental backup, each listed with its type; the repository verifies', async () => {
    const full = await execute<PhysicalBackup>('physicalBackupWorkflow', { target: 'crm', type: 'full' });
    await c.sql('CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g');
    const incr = await execute<PhysicalBackup>('physicalBackupWorkflow', { target: 'crm', type: 'incr' });
    expect([full.type, incr.type]).toEqual(['full', 'incr']);
    expect(incr.repoSize).toBeLessThan(full.repoSize);
    const catalog = await c.run(() => c.activities.physicalBackups({ target: 'crm' }));
    expect(catalog.backups.map((b) => b.label)).toEqual([full.label, incr.label]);
    const verified = await execute<PhysicalVerification>('physicalVerifyWorkflow', { target: 'crm' });
    expect(verified.result).toBe('passed');
    expect(worker.notices.filter((n) => n.severity === 'critical')).toEqual([]);
  }, 300_000);

  it('stays quiet while WAL reaches the repository, and alarms when archiving is stuck, naming the failing segment', async () => {
    await c.archiveNow();
    const fresh = await c.run(() => c.activities.walFreshness({ target: 'crm' }));
    expect(fresh).toMatchObject({ fresh: true, maxAgeMs: 600_000 });
    expect(fresh.failingWal).toBeUndefined();
    await c.sql(`ALTER SYSTEM SET archive_command = 'false'`);
    await c.sql('SELECT pg_reload_conf()');
    await c.sql('INSERT INTO t VALUES (0)');
    const wal = (await c.sql<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal'))[0]!.wal;
    // Wait for the state: PostgreSQL has tried and failed to archive the segment, and the limit (1 s) has passed since the last success.
    for (let waited = 0; ; waited += 200) {
      if (waited > 180_000) throw new Error(`PostgreSQL never reported failing to archive ${wal}`);
      const [row] = await c.sql<{ failed: boolean }>(
        `SELECT last_failed_wal = $1 AND last_archived_time < now() - interval '1 second' AS failed FROM pg_stat_archiver`,
        [wal],
      );
      if (row!.failed) break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    await c.sql('INSERT INTO t VALUES (1)');
    const stuck = await execute<WalFreshness>('walFreshnessWorkflow', { target: 'crm' });
    expect(stuck).toMatchObject({ fresh: false, failingWal: wal, maxAgeMs: 1000 });
    const alarm = worker.notices.find((n) => n.title === 'WAL archiving of crm is behind');
    expect(alarm?.text).toContain(`archiving ${wal} fails`);
    // preparePhysical sets the archive_command back, and archiving catches up.
    const setup = await c.run(() => c.activities.preparePhysical({ target: 'crm' }));
    expect(setup.changed).toEqual([expect.stringContaining('archive_command set to')]);
    await c.archiveNow();
    expect(await c.run(() => c.activities.walFreshness({ target: 'crm' }))).toMatchObject({ fresh: true });
  }, 300_000);

  it('refuses a server whose archiving is off, turns archive_mode on for its next restart, and passes once PostgreSQL has restarted', async () => {
    await c.sql(`ALTER SYSTEM SET archive_mode = 'off'`);
    await c.server.restart();
    await expect(c.run(() => c.activities.preparePhysical({ target: 'crm' }))).rejects.toThrow(
      'archiving is off (archive_mode = off): Lifeboat set archive_mode = on and the archive_command, which take effect when PostgreSQL restarts. Restart PostgreSQL (Lifeboat never restarts production), then prepare again',
    );
    await c.server.restart();
    await expect(c.run(() => c.activities.preparePhysical({ target: 'crm' }))).resolves.toMatchObject({ changed: [] });
  }, 300_000);

  it('schedule apply gives a physical target its full, diff, incr, verify, WAL freshness and side-sweep schedules from physical.schedules', () => {
    const physical = desiredSchedules(c.config).filter((s) => /physical|wal|side/.test(s.scheduleId));
    expect(physical.map((s) => [s.scheduleId, s.spec.cronExpressions![0], s.action.args])).toEqual([
      ['lifeboat-physical-full-crm', '0 1 * * 0', [{ target: 'crm', type: 'full' }]],
      ['lifeboat-physical-diff-crm', '0 1 * * 1-6', [{ target: 'crm', type: 'diff' }]],
      ['lifeboat-physical-incr-crm', '0 */4 * * *', [{ target: 'crm', type: 'incr' }]],
      ['lifeboat-physical-verify-crm', '0 5 * * 0', [{ target: 'crm' }]],
      ['lifeboat-wal-freshness-crm', '*/5 * * * *', [{ target: 'crm' }]],
      ['lifeboat-side-sweep-crm', '17 * * * *', [{ target: 'crm' }]],
    ]);
  });
});
