// An L3 at a moment: the application's database was dropped after more rows were written; the plan
// restores the whole cluster by pgBackRest to the moment noted before those rows into a new data
// directory on its own port, verifies it and hands it over with the cut-over task. The recovered
// database holds exactly the rows committed before the moment; production is untouched and its
// stanza gets no WAL from the recovered cluster; the RPO counts from the moment recovered to. An L3
// at a moment aborted before its cut-over, or failing at a moment the archive does not reach, and an
// L4 whose loss is rejected leave no recovered cluster; an approved L4 keeps it; --in-place at a moment is
// refused on a target without physical backups (test/pitr-in-place.test.ts restores production in place).
// The later tests recover to the moment the first one noted.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abort } from '../client/incidents.js';
import { atLoopbackPort, withDatabase } from '../activities/postgres/connection.js';
import { IN_PLACE_AT_MOMENT_NEEDS_PHYSICAL } from '../common/moments.js';
import { statusJsonSchema } from '../client/status-json.js';
import { instanceIdFor } from '../common/names.js';
import type { Level } from '../common/plans.js';
import { createActivities } from '../activities/index.js';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { declareOn, useArchivingCluster } from './pitr-cluster.js';
import { answer, as, driveIncident, runLifeboat, tableSums, testConfigText, uniqueName, waitingFor } from './helpers.js';

/** Whether a process with this pid runs (a zombie, stopped but not yet reaped by init, does not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('L3 and L4 at a moment (the whole cluster into a new data directory)', () => {
  const suite = useArchivingCluster(
    'pitrl3',
    40,
    'approvals:\n  L3: { approvers: [alice, bob, carol] }\n  L4: { approvers: [alice, bob, carol] }',
  );
  const recoveredDir = (incidentId: string) => join(suite.c.server.pgbackrest!.dir, 'recovered', instanceIdFor(incidentId));
  const now = async () => (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
  const leads = (url: string) => suite.c.sql('SELECT * FROM crm_leads ORDER BY id', [], url);
  const databases = () => suite.c.sql<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1', [], suite.c.server.adminUrl);
  /** The moment noted after the first writes, what every table held then, and the leads then. */
  let moment: string;
  let sumsAtMoment: Awaited<ReturnType<typeof tableSums>>;
  let leadsAtMoment: Array<Record<string, unknown>>;
  /** Noted once the first write after the moment committed. */
  let afterWrites: string;

  const declareAt = async (level: Level, summary: string) =>
    (await declareOn(suite.worker, level, summary, { moment: { kind: 'time', time: moment }, physical: true })).input;
  const complete = (note = 'done') => ({ complete: { by: 'carol', note } });
  /** bin/lifeboat on this file's configuration. */
  const lifeboat = (...args: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-pitr-l3-'));
    writeFileSync(join(dir, 'lifeboat.yaml'), suite.c.configText);
    return runLifeboat(['--config', join(dir, 'lifeboat.yaml'), ...args], { ...process.env, ...suite.c.env });
  };

  it("the recovered cluster's verification counts every table and refuses what an integrity check finds", async () => {
    const crm = suite.c.config.targets.crm!;
    const withCheck = (sql: string) =>
      createActivities({
        config: { ...suite.c.config, targets: { ...suite.c.config.targets, crm: { ...crm, integrityChecks: [{ name: 'no lead', sql }] } } },
        env: suite.c.env,
        notifier: new ConsoleNotifier(() => undefined),
      });
    // Production itself (no port), as an in-place restore verifies it; before the next test drops its database.
    const clean = await suite.c.run(() => withCheck('SELECT 0').checkRecoveredCluster({ target: 'crm' }));
    const counted = await suite.c.sql<{ n: string }>('SELECT count(*) AS n FROM crm_leads');
    expect(clean.rows.crm_leads).toBe(Number(counted[0]!.n));
    expect(clean.summary).toMatch(/^\d+ tables \(\d+ rows\) counted; integrity checks clean$/);
    await expect(suite.c.run(() => withCheck('SELECT count(*) FROM crm_leads').checkRecoveredCluster({ target: 'crm' }))).rejects.toThrow(
      `integrity findings in the recovered database: no lead: ${counted[0]!.n} offending row(s)`,
    );
  }, 120_000);

  it('recovers the dropped database into a new data directory on its own port, with exactly the rows before the moment', async () => {
    await suite.c.fullBackup();
    await suite.c.sql(
      `INSERT INTO crm_leads (first_name, last_name, email, source) SELECT 'before', last_name, 'b' || id || '@x.test', source FROM crm_leads ORDER BY id LIMIT 5`,
    );
    await suite.c.archiveNow();
    sumsAtMoment = await tableSums(suite.c.url);
    leadsAtMoment = await leads(suite.c.url);
    moment = await now();
    // Written after the moment: none of it may come back.
    await suite.c.sql(
      `INSERT INTO crm_leads (first_name, last_name, email, source) SELECT 'after', last_name, 'a' || id || '@x.test', source FROM crm_leads ORDER BY id LIMIT 7`,
    );
    afterWrites = await now();
    await suite.c.sql(`UPDATE crm_leads SET status = 'won' WHERE id = (SELECT min(id) FROM crm_leads)`);
    await suite.c.archiveNow();
    await suite.c.sql('DROP DATABASE app WITH (FORCE)', [], suite.c.server.adminUrl);
    const productionDatabases = await databases();
    const archivedBefore = await suite.c.archivedFiles();

    const input = await declareAt('L3', 'the application database was dropped');
    const dir = recoveredDir(input.incidentId);
    let prompt = '';
    let atCutOver: { sums: unknown; leads: unknown; archiveMode: string } | undefined;
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'vendor-support': complete('T-42'),
      'cut-over': {
        act: async (plan) => {
          const waiting = (await waitingFor(plan, 'cut-over')).waiting[0]!;
          prompt = waiting.prompt;
          const port = Number(/127\.0\.0\.1:(\d+)/.exec(prompt)![1]);
          const url = atLoopbackPort(suite.c.url, port);
          atCutOver = {
            sums: await tableSums(url),
            leads: await leads(url),
            archiveMode: (await suite.c.sql<{ archive_mode: string }>('SHOW archive_mode', [], url))[0]!.archive_mode,
          };
          // The recovered cluster, promoted onto a timeline of its own, writes and closes a segment: archiving on, it would push it.
          await suite.c.sql(
            'CREATE TABLE recovered_only AS SELECT g FROM generate_series(1, 20000) g; SELECT pg_switch_wal()',
            [],
            withDatabase(url, 'postgres'),
          );
          await suite.c.sql('DROP TABLE recovered_only', [], withDatabase(url, 'postgres'));
          await answer(plan, 'complete', { task: 'cut-over', by: 'carol', note: 'application moved' });
        },
      },
      'resume-read-only': complete(),
      'resume-internal-users': complete(),
      'resume-all-users': complete(),
      'post-mortem': complete(),
      review: complete(),
    });
    try {
      expect(result.outcome).toBe('recovered');
      const cluster = result.recoveredCluster!;
      expect(cluster).toEqual({
        host: '127.0.0.1',
        port: expect.any(Number),
        dataDir: join(dir, 'data'),
        database: 'app',
        recoveredTo: expect.any(String),
      });
      expect(cluster.port).not.toBe(suite.c.server.port);
      expect(prompt).toContain(`"app" on 127.0.0.1:${cluster.port}`);
      expect(prompt).toContain(`data directory ${cluster.dataDir}`);
      expect(prompt).toContain(`recovered to ${cluster.recoveredTo}`);
      expect(prompt).toContain('set up archiving for it');
      // Exactly the rows committed before the moment, byte for byte; none written after it.
      expect(atCutOver!.sums).toEqual(sumsAtMoment);
      expect(atCutOver!.leads).toEqual(leadsAtMoment);
      expect(atCutOver!.archiveMode).toBe('off');
      const rowsOf = (tables: Record<string, { rows: number }>) => Object.fromEntries(Object.entries(tables).map(([t, f]) => [t, f.rows]));
      expect(result.tableRows).toEqual(rowsOf(sumsAtMoment));
      expect(result.fingerprints).toBeUndefined();
      // The RPO counts from the moment actually recovered to: just before the first commit after the moment.
      expect(result.backupUsed).toEqual({ id: `point-in-time ${cluster.recoveredTo}`, startedAt: cluster.recoveredTo });
      expect(cluster.recoveredTo >= moment && cluster.recoveredTo <= afterWrites).toBe(true);
      expect(result.rto!.rpoAchievedMs).toBe(Date.parse(input.declaredAt) - Date.parse(cluster.recoveredTo));
      expect(
        result.timeline.filter((e) => /cluster|recovered|critical-function|cut-over/.test(e.name)).map((e) => [e.name, e.status]),
      ).toEqual([
        [`execute recovery: restore the cluster to the moment ${moment} into a new data directory`, 'done'],
        ['verify all tables: counts and integrity of the recovered database', 'done'],
        ['verify all systems: critical-function checks', 'done'],
        ['cut-over', 'done'],
      ]);
      // Kept running after the plan, with its record; production untouched, its stanza free of the recovered cluster's WAL.
      const pid = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(alive(pid)).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'recovered.json'), 'utf8'))).toMatchObject({
        kind: 'recovered cluster',
        port: cluster.port,
      });
      expect(await databases()).toEqual(productionDatabases);
      const archivedAfter = await suite.c.archivedFiles();
      expect(archivedAfter.filter((f) => /\.history|\/00000002[0-9A-F]{16}-/.test(f))).toEqual([]);
      expect(archivedBefore.every((f) => archivedAfter.includes(f))).toBe(true);
      // lifeboat status --json says where it is, and counts no database created beside production's.
      const status = await lifeboat('status', input.incidentId, '--json');
      expect(status.code).toBe(0);
      expect(statusJsonSchema.parse(JSON.parse(status.stdout))).toMatchObject({ recoveredCluster: cluster, databasesCreated: [] });
    } finally {
      expect(
        await suite.c.run(() => suite.c.activities.removeRecoveredCluster({ target: 'crm', clusterId: instanceIdFor(input.incidentId) })),
      ).toBe(true);
    }
    expect(existsSync(dir)).toBe(false);
  }, 600_000);

  it('an L3 at a moment aborted before its cut-over stops and removes the recovered cluster', async () => {
    const input = await declareAt('L3', 'declared at the wrong moment');
    const dir = recoveredDir(input.incidentId);
    let pid = 0;
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'vendor-support': complete('T-43'),
      'cut-over': {
        act: async () => {
          pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
          expect(alive(pid)).toBe(true);
          await abort(suite.worker.client, input.incidentId, { ...as('carol'), reason: 'wrong moment' });
        },
      },
    });
    expect(result.outcome).toBe('aborted');
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(result.timeline.find((e) => e.name === 'clean up the recovered cluster')?.status).toBe('done');
    expect(result.recoveredCluster).toBeUndefined();
  }, 600_000);

  it('an L4 at a moment restores before its two approvals, cuts over and audits the recovered cluster', async () => {
    const input = await declareAt('L4', 'everything lost, approved');
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'vendor-escalation': complete('T-45'),
      'accept-data-loss': { approve: ['alice', 'bob'] },
      'cut-over': complete('application moved'),
      'manual-reconstruction': complete(),
      'audit-signoff': complete(),
      review: complete(),
    });
    try {
      expect(result.outcome).toBe('recovered');
      const cluster = result.recoveredCluster!;
      expect(cluster.dataDir).toBe(join(recoveredDir(input.incidentId), 'data'));
      expect(await leads(atLoopbackPort(suite.c.url, cluster.port))).toEqual(leadsAtMoment);
      expect(result.rto!.rpoAchievedMs).toBe(Date.parse(input.declaredAt) - Date.parse(cluster.recoveredTo));
      const names = result.timeline.map((e) => e.name);
      expect(names.indexOf('accept-data-loss')).toBeGreaterThan(
        names.indexOf('verify all tables: counts and integrity of the recovered database'),
      );
      expect(result.timeline.find((e) => e.name.startsWith('full audit'))).toMatchObject({
        status: 'done',
        detail: expect.stringContaining('integrity checks clean'),
      });
    } finally {
      await suite.c.run(() => suite.c.activities.removeRecoveredCluster({ target: 'crm', clusterId: instanceIdFor(input.incidentId) }));
    }
  }, 600_000);

  it('an L4 at a moment shows the loss window to the moment recovered to, needs two approvers, and a rejection removes the cluster', async () => {
    const input = await declareAt('L4', 'everything lost');
    const dir = recoveredDir(input.incidentId);
    let title = '';
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'vendor-escalation': complete('T-44'),
      'accept-data-loss': {
        act: async (plan) => {
          const gate = (await waitingFor(plan, 'accept-data-loss')).waiting[0]!;
          title = gate.request!.title;
          expect(gate.required).toBe(2);
          expect(existsSync(join(dir, 'data', 'postmaster.pid'))).toBe(true);
          await answer(plan, 'reject', { gate: 'accept-data-loss', by: 'alice', reason: 'not that moment' });
        },
      },
    });
    expect(result.outcome).toBe('rejected');
    expect(result.timeline.find((e) => e.name === 'clean up the recovered cluster')?.status).toBe('done');
    expect(title).toMatch(/^Accept losing up to .+ of data and cut crm over to the cluster recovered to /);
    expect(existsSync(dir)).toBe(false);
  }, 600_000);

  it('an L3 at a moment the archive does not reach fails naming the newest moment it reaches, and leaves no recovered cluster', async () => {
    const { input } = await declareOn(suite.worker, 'L3', 'a moment after the archive ends', {
      moment: { kind: 'time', time: new Date(Date.now() + 3_600_000).toISOString() },
      physical: true,
    });
    const result = await driveIncident(suite.worker.client, input.incidentId, { 'vendor-support': complete('T-46'), review: complete() });
    expect(result.outcome).toBe('failed');
    expect(result.detail).toContain('recovery ended before configured recovery target was reached');
    expect(result.detail).toMatch(/the newest moment the archive reaches is \d{4}-\d\d-\d\d /);
    expect(existsSync(recoveredDir(input.incidentId))).toBe(false);
    expect(result.timeline.find((e) => e.name === 'clean up the recovered cluster')?.status).toBe('done');
  }, 600_000);

  it('declare refuses --in-place with a moment on a target without physical backups, saying what to do (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-pitr-l3-'));
    writeFileSync(join(dir, 'lifeboat.yaml'), testConfigText({ prefix: uniqueName('logical') }));
    const run = await runLifeboat(
      [
        '--config',
        join(dir, 'lifeboat.yaml'),
        'declare',
        '--level',
        'L3',
        '--summary',
        'x',
        '--as',
        'carol',
        '--at',
        '2026-11-30T15:00:00Z',
        '--in-place',
      ],
      { ...process.env, ...suite.c.env },
    );
    expect(run).toMatchObject({ code: 2, stderr: expect.stringContaining(IN_PLACE_AT_MOMENT_NEEDS_PHYSICAL) });
  }, 120_000);
});
