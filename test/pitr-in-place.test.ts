// An L3 declared --in-place at a moment on a physical target: after the restore-in-place gate (alice
// only), a safety backup and a restore point, production itself — same port, same data directory —
// is restored by `pgbackrest restore --delta` to the moment: exactly the rows before it, none after,
// out of recovery and archiving on its new timeline. The undo works (production restored again to
// the restore point made before the step brings the later rows back); an approver not allowed, an
// unproven approval and a rejection leave production untouched (never stopped); a moment before the
// oldest backup is refused before production is stopped; the restore activity run twice for one
// incident restores once, and one whose record says production was stopped finds it running and
// refuses; an L4 in place accepts the loss before the in-place gate; a later moment starts from a
// backup on the new timeline's history; production down with no record (a crash) is restored from
// its data directory; physical.stopCommand/startCommand are used when set; an archive gap is refused
// before production is stopped. The tests run in order on one
// archiving cluster (test/pitr-level3.test.ts has the CLI's refusal on a target without physical backups).
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { postmasterOptions } from '../activities/pgbackrest/in-place-state.js';
import { PG_BIN, pgProgram, pgbackrest } from '../activities/pgbackrest/run.js';
import type { InPlaceRestore } from '../activities/pgbackrest/in-place.js';
import { atLoopbackPort } from '../activities/postgres/connection.js';
import type { Moment } from '../common/moments.js';
import { instanceIdFor } from '../common/names.js';
import type { PlanOptions } from '../common/plans.js';
import { approveUpdate, statusQuery } from '../workflows/messages.js';
import { declareOn, useArchivingCluster } from './pitr-cluster.js';
import { answer, driveIncident, observed, tableSums, uniqueName, waitingFor } from './helpers.js';

describe('L3 --in-place at a moment (pgbackrest restore --delta over production)', () => {
  const suite = useArchivingCluster(
    'pitrinplace',
    40,
    'approvals:\n  L3: { approvers: [alice, bob, carol], gates: { restore-in-place: [alice] } }\n  L4: { approvers: [alice, bob, carol] }',
  );
  const now = async () => (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
  const leads = () => suite.c.sql('SELECT * FROM crm_leads ORDER BY id');
  /** When production's postmaster started: unchanged means it was never stopped. */
  const startedAt = async () => (await suite.c.sql<{ t: Date }>('SELECT pg_postmaster_start_time() AS t'))[0]!.t.toISOString();
  const timeline = async () =>
    parseInt((await suite.c.sql<{ wal: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS wal'))[0]!.wal.slice(0, 8), 16);
  const insertLeads = (tag: string, n: number) =>
    suite.c.sql(
      `INSERT INTO crm_leads (first_name, last_name, email, source) SELECT $1, last_name, $1 || id || '@x.test', source FROM crm_leads ORDER BY id LIMIT ${n}`,
      [tag],
    );
  const inPlaceAt = (moment: string): PlanOptions => ({ moment: { kind: 'time', time: moment }, physical: true, inPlace: true });
  const complete = (note = 'done') => ({ complete: { by: 'carol', note } });
  /** An id of the kind an incident's (lower case, "-"): the in-place record's folder is named after it. */
  const incidentLike = (name: string) => uniqueName(name).replace(/_/g, '-');
  /** A moment between two writes (the first archived): what the leads were then, and the moment. */
  const momentBetweenWrites = async (tag: string) => {
    await insertLeads(`${tag}-before`, 2);
    await suite.c.archiveNow();
    const expected = await leads();
    const at = await now();
    await insertLeads(`${tag}-after`, 2);
    return { at, expected };
  };
  /** The record an attempt leaves once it has stopped production (in-place-state.ts), as a crash after the stop leaves it; returns its folder. */
  const recordStopped = (id: string, options: string) => {
    const { server } = suite.c;
    const dir = join(server.pgbackrest!.dir, 'in-place', id);
    mkdirSync(dir, { recursive: true });
    const production = { pgPath: server.dataDir, port: server.port, options, runAs: server.owner };
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ ...production, phase: 'stopped', at: new Date().toISOString() }));
    return dir;
  };
  const restoreActivity = (incidentId: string, moment: Moment) =>
    suite.c.run(() => suite.c.activities.restoreClusterInPlace({ target: 'crm', incidentId, moment, undo: {} })) as Promise<InPlaceRestore>;

  let moment: string;
  let sumsAtMoment: Awaited<ReturnType<typeof tableSums>>;
  let leadsAtMoment: unknown[];
  /** Production just before the in-place restore (the rows after the moment included), and the restore point made before it. */
  let leadsBeforeRestore: unknown[];
  let undoPoint: { name: string; createdAt: string };

  it('a rejected, unproven or unallowed approval leaves production untouched, never stopped', async () => {
    await suite.c.fullBackup();
    await insertLeads('before', 5);
    await suite.c.archiveNow();
    sumsAtMoment = await tableSums(suite.c.url);
    leadsAtMoment = await leads();
    moment = await now();
    await insertLeads('after', 7);
    await suite.c.sql(`UPDATE crm_leads SET status = 'won' WHERE id = (SELECT min(id) FROM crm_leads)`);
    const before = {
      leads: await leads(),
      started: await startedAt(),
      backups: (await suite.c.run(() => suite.c.activities.physicalBackups({ target: 'crm' }))).backups.length,
    };

    const { input } = await declareOn(suite.worker, 'L3', 'in place, rejected', inPlaceAt(moment));
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'vendor-support': complete('T-1'),
      'restore-in-place': {
        act: async (plan) => {
          const gate = (await waitingFor(plan, 'restore-in-place')).waiting[0]!;
          expect(gate.request!.title).toBe(
            `Restore the production cluster of crm in place to the moment ${moment} (pgbackrest restore --delta)`,
          );
          expect(gate.request!.changes.join('\n')).toContain('--in-place --before-restore-point lifeboat-');
          const refused = (update: Promise<unknown>) =>
            update.then(
              () => 'accepted',
              (err: unknown) => {
                expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
                return ((err as WorkflowUpdateFailedError).cause as Error).message;
              },
            );
          // bob approves L3's other gates, not this one; an unsigned answer proves nobody.
          expect(await refused(answer(plan, 'approve', { gate: 'restore-in-place', by: 'bob' }))).toContain(
            'bob may not decide gate "restore-in-place"',
          );
          expect(await refused(plan.executeUpdate(approveUpdate, { args: [{ gate: 'restore-in-place', by: 'alice' }] }))).toContain(
            "alice's answer is not signed",
          );
          expect((await plan.query(statusQuery)).waiting.map((w) => w.name)).toEqual(['restore-in-place']);
          await answer(plan, 'reject', { gate: 'restore-in-place', by: 'alice', reason: 'not now' });
        },
      },
      review: complete(),
    });
    expect(result.outcome).toBe('rejected');
    expect(result.timeline.filter((e) => /safety backup|undo point|restore production/.test(e.name))).toEqual([]);
    expect(await leads()).toEqual(before.leads);
    expect(await startedAt()).toBe(before.started);
    expect((await suite.c.run(() => suite.c.activities.physicalBackups({ target: 'crm' }))).backups.length).toBe(before.backups);
    observed(
      'in-place physical restore approved unsigned or by someone not allowed',
      'bob refused (not an approver of restore-in-place), unsigned alice refused; rejected: rows and postmaster start time unchanged, no safety backup',
    );
  }, 600_000);

  it('a moment before the oldest backup is refused before production is stopped', async () => {
    const started = await startedAt();
    const refused = await restoreActivity(incidentLike('early'), { kind: 'time', time: '2001-01-01T00:00:00Z' }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(refused?.message).toMatch(/is before the end of the oldest physical backup .*; production is untouched/);
    expect(await startedAt()).toBe(started);
  }, 300_000);

  it('restores production itself to the moment after approval: same port and data directory, the rows before it only, archiving on a new timeline', async () => {
    leadsBeforeRestore = await leads();
    const { server } = suite.c;
    const { input } = await declareOn(suite.worker, 'L3', 'in place at a moment', inPlaceAt(moment));
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'vendor-support': complete('T-2'),
      'restore-in-place': { approve: ['alice'] },
      'resume-read-only': complete(),
      'resume-internal-users': complete(),
      'resume-all-users': complete(),
      'post-mortem': complete(),
      review: complete(),
    });
    expect(result.outcome).toBe('recovered');
    // Exactly the rows committed before the moment, byte for byte, on production's own port and data directory.
    expect(await tableSums(suite.c.url)).toEqual(sumsAtMoment);
    expect(await leads()).toEqual(leadsAtMoment);
    const [state] = await suite.c.sql<{ recovering: boolean; dir: string; port: number }>(
      `SELECT pg_is_in_recovery() AS recovering, current_setting('data_directory') AS dir, current_setting('port')::int AS port`,
    );
    expect(state).toEqual({ recovering: false, dir: server.dataDir, port: server.port });
    expect(await timeline()).toBe(2);
    expect(result.recoveredCluster).toBeUndefined();
    expect(result.backupUsed!.id).toMatch(/^point-in-time /);
    expect(result.backupUsed!.startedAt >= moment).toBe(true);
    expect(result.rto!.rpoAchievedMs).toBe(Date.parse(input.declaredAt) - Date.parse(result.backupUsed!.startedAt));

    const steps = result.timeline.map((e) => [e.name, e.status]);
    const restoreStep = `execute recovery: restore production in place to the moment ${moment} (pgbackrest restore --delta)`;
    expect(steps.slice(steps.findIndex(([n]) => n === 'restore-in-place'))).toEqual([
      ['restore-in-place', 'done'],
      ['safety backup of the production cluster (pgBackRest, incremental)', 'done'],
      [`undo point: restore point before "${restoreStep}"`, 'done'],
      [restoreStep, 'done'],
      ['verify all tables: counts and integrity of production as restored', 'done'],
      ['verify all systems: critical-function checks', 'done'],
      ['resume-read-only', 'done'],
      ['resume-internal-users', 'done'],
      ['resume-all-users', 'done'],
      ['post-mortem', 'done'],
    ]);
    expect(steps.map(([n]) => n)).not.toContain('cut-over');
    // The safety backup is in the catalogue by its label; the restore step's detail says how to undo it.
    const safety = result.timeline.find((e) => e.name.startsWith('safety backup'))!.detail!;
    const label = /^(\S+) \(incr/.exec(safety)![1]!;
    const catalog = await suite.c.run(() => suite.c.activities.physicalBackups({ target: 'crm' }));
    expect(catalog.backups.map((b) => b.label)).toContain(label);
    const point = result.restorePoints![0]!;
    expect(result.timeline.find((e) => e.name === restoreStep)!.detail).toContain(
      `--in-place --before-restore-point ${point.name} --restore-point-created-at ${point.createdAt} --summary`,
    );
    expect(result.timeline.find((e) => e.name === restoreStep)!.detail).toContain(`--set=${label}`);
    undoPoint = point;
    // Production archives on its new timeline: its history file and a timeline-2 segment reach the stanza, and pgbackrest check passes.
    await suite.c.archiveNow();
    const archived = await suite.c.archivedFiles();
    expect(archived.some((f) => /00000002\.history/.test(f))).toBe(true);
    expect(archived.some((f) => /\/00000002[0-9A-F]{16}-/.test(f))).toBe(true);
    const keys = { PGBACKREST_REPO1_S3_KEY: inject('s3AccessKeyId'), PGBACKREST_REPO1_S3_KEY_SECRET: inject('s3SecretAccessKey') };
    await pgbackrest({ runAs: server.owner, config: server.pgbackrest!.config, stanza: suite.c.stanza, env: keys }, 'check');
  }, 900_000);

  it('the undo works: production restored in place to the restore point made before the step has the later rows back', async () => {
    const undone = await restoreActivity(incidentLike('undo'), {
      kind: 'restore-point',
      name: undoPoint.name,
      createdAt: undoPoint.createdAt,
    });
    expect(undone.dataDir).toBe(suite.c.server.dataDir);
    expect(await leads()).toEqual(leadsBeforeRestore);
    expect(await timeline()).toBe(3);
  }, 600_000);

  it('the restore activity run twice for one incident restores once: a row written after the first promotion survives', async () => {
    const id = incidentLike('twice');
    const { at, expected } = await momentBetweenWrites('twice');
    const first = await restoreActivity(id, { kind: 'time', time: at });
    expect(first.alreadyRestored).toBeUndefined();
    expect(await leads()).toEqual(expected);
    await insertLeads('survivor', 1);
    const started = await startedAt();
    const second = await restoreActivity(id, { kind: 'time', time: at });
    expect(second.alreadyRestored).toMatch(/already restored and started by an earlier attempt .*: not restored again/);
    expect(await suite.c.sql(`SELECT count(*)::int AS n FROM crm_leads WHERE first_name = 'survivor'`)).toEqual([{ n: 1 }]);
    expect(await startedAt()).toBe(started);
    observed(
      'in-place physical restore run again after promotion',
      'second run: "already restored and started", the row written after the promotion kept, production not restarted',
    );
  }, 600_000);

  it('a retry after a worker crashed between the stop and the restore restores and starts production once', async () => {
    const { server } = suite.c;
    const id = incidentLike('crashed');
    const { at, expected } = await momentBetweenWrites('crash');
    // What the first attempt left: production stopped (its WAL archived first), the record saying so.
    await suite.c.archiveNow();
    const options = postmasterOptions(readFileSync(join(server.dataDir, 'postmaster.opts'), 'utf8'));
    await pgProgram(server.owner, 'pg_ctl', ['-D', server.dataDir, '-m', 'fast', '-w', 'stop']);
    const dir = recordStopped(id, options);
    const restored = await restoreActivity(id, { kind: 'time', time: at });
    expect(restored.alreadyRestored).toBeUndefined();
    expect(await leads()).toEqual(expected);
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).toMatchObject({ phase: 'started' });
    observed(
      'worker crash mid in-place physical restore (after the stop)',
      'retry from the "stopped" record: restored and started once, rows equal the moment\'s',
    );
  }, 600_000);

  it('production down with no record (it crashed) is restored from where its data directory rests', async () => {
    const { server } = suite.c;
    const { at, expected } = await momentBetweenWrites('down');
    // Archived before the crash: recovery to the moment needs a commit after it, and a server that is down closes no WAL.
    await suite.c.archiveNow();
    await pgProgram(server.owner, 'pg_ctl', ['-D', server.dataDir, '-m', 'immediate', '-w', 'stop']);
    rmSync(join(server.pgbackrest!.dir, 'in-place', 'production.json'));
    const restored = await restoreActivity(incidentLike('down'), { kind: 'time', time: at });
    expect(restored).toMatchObject({ dataDir: server.dataDir, port: server.port });
    expect(await leads()).toEqual(expected);
  }, 600_000);

  it('a record saying Lifeboat stopped production, with production running, is refused: someone started it, nothing is restored', async () => {
    const id = incidentLike('started-by-hand');
    recordStopped(id, '');
    const before = { leads: await leads(), started: await startedAt() };
    const refused = await restoreActivity(id, { kind: 'time', time: moment }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(refused?.message).toContain(
      'was started again after Lifeboat stopped it for this restore, which did not run: nothing was restored',
    );
    expect(await leads()).toEqual(before.leads);
    expect(await startedAt()).toBe(before.started);
  }, 300_000);

  it('an L4 in place at a moment: the loss accepted by two approvers, then the in-place gate, the safety backup and the restore; audited', async () => {
    const { at, expected } = await momentBetweenWrites('l4');
    const { input } = await declareOn(suite.worker, 'L4', 'in place at a moment, L4', inPlaceAt(at));
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'vendor-escalation': complete('SEV-1'),
      'accept-data-loss': { approve: ['alice', 'bob'] },
      'restore-in-place': { approve: ['alice'] },
      'manual-reconstruction': complete(),
      'audit-signoff': complete(),
      review: complete(),
    });
    expect(result.outcome).toBe('recovered');
    expect(await leads()).toEqual(expected);
    const names = result.timeline.map((e) => e.name);
    const order = [
      `use latest available moment: the physical backups and archived WAL reaching the moment ${at}`,
      'accept-data-loss',
      'restore-in-place',
      'safety backup of the production cluster (pgBackRest, incremental)',
      `restore: restore production in place to the moment ${at} (pgbackrest restore --delta)`,
      'manual-reconstruction',
    ].map((n) => names.indexOf(n));
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!))).toBe(true);
    expect(names).not.toContain('cut-over');
    expect(result.timeline.find((e) => e.name.startsWith('full audit'))).toMatchObject({
      status: 'done',
      detail: expect.stringContaining('integrity checks clean'),
    });
    expect(result.rto!.rpoAchievedMs).toBe(Date.parse(input.declaredAt) - Date.parse(result.backupUsed!.startedAt));
  }, 900_000);

  it("a moment after an earlier in-place restore starts from a backup on the new timeline's history, not the safety backup left on the old one", async () => {
    const { at, expected } = await momentBetweenWrites('tl');
    const { backups } = await suite.c.run(() => suite.c.activities.physicalBackups({ target: 'crm' }));
    // pgBackRest's own choice: the newest that ended before the moment, the L4's safety backup, taken on the timeline the L4 left.
    const newest = backups.filter((b) => b.stoppedAt < at).at(-1)!;
    const restored = await restoreActivity(incidentLike('path'), { kind: 'time', time: at });
    expect(restored.set).toBeDefined();
    expect(restored.set).not.toBe(newest.label);
    expect(await leads()).toEqual(expected);
  }, 600_000);

  it('after an in-place restore, a cluster recovered to a later moment into a new data directory also starts from a backup on the new timeline', async () => {
    const { at, expected } = await momentBetweenWrites('newdir');
    await suite.c.archiveNow(); // the commits after the moment, which recovery stops at
    const id = instanceIdFor(incidentLike('newdir'));
    // No warm copy to claim: the cold path chooses the backup (the in-place restore removed the copy of the old timeline).
    const cluster = await suite.c.run(() =>
      suite.c.activities.restoreClusterToMoment({ target: 'crm', moment: { kind: 'time', time: at }, clusterId: id }),
    );
    try {
      expect(cluster.source).toMatch(/^catalogue .*, pgbackrest restore .* \(not from the warm copy: no warm copy is prepared\)$/);
      expect(await suite.c.sql('SELECT * FROM crm_leads ORDER BY id', [], atLoopbackPort(suite.c.url, cluster.port))).toEqual(expected);
    } finally {
      await suite.c.run(() => suite.c.activities.removeRecoveredCluster({ target: 'crm', clusterId: id }));
    }
    // A moment before every backup on the path is refused naming the earliest one it reaches, before anything is restored.
    const { backups } = await suite.c.run(() => suite.c.activities.physicalBackups({ target: 'crm' }));
    const early = { id: instanceIdFor(incidentLike('early')), time: new Date(Date.parse(backups[0]!.startedAt) - 60_000).toISOString() };
    await expect(
      suite.c.run(() =>
        suite.c.activities.restoreClusterToMoment({ target: 'crm', moment: { kind: 'time', time: early.time }, clusterId: early.id }),
      ),
    ).rejects.toThrow(
      /^no physical backup of stanza ".*" on its timeline \d+'s history ended before .*: the earliest moment it can reach is /,
    );
    await suite.c.run(() => suite.c.activities.removeRecoveredCluster({ target: 'crm', clusterId: early.id }));
  }, 600_000);

  it('with physical.stopCommand and startCommand, production is stopped and started through them', async () => {
    const { server } = suite.c;
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-managed-'));
    const calls = join(dir, 'calls.log');
    const script = join(dir, 'manager.sh');
    // A stand-in for a service manager: it notes the call, then runs pg_ctl as the cluster's owner.
    writeFileSync(
      script,
      `#!/bin/sh\necho "$1" >> ${calls}\nexec ${server.owner ? `runuser -u ${server.owner} -- ` : ''}${PG_BIN}/pg_ctl "$@"\n`,
      { mode: 0o755 },
    );
    const options = postmasterOptions(readFileSync(join(server.dataDir, 'postmaster.opts'), 'utf8'));
    const config = structuredClone(suite.c.config);
    config.targets.crm!.physical = {
      ...config.targets.crm!.physical!,
      stopCommand: [script, 'stop', '-D', server.dataDir, '-m', 'fast', '-w'],
      startCommand: [script, 'start', '-D', server.dataDir, '-o', options, '-l', join(server.socketDir, 'managed.log'), '-w'],
    };
    const managed = createActivities({ config, env: suite.c.env, notifier: new ConsoleNotifier(() => undefined) });
    const { at, expected } = await momentBetweenWrites('managed');
    const restored = await suite.c.run(() =>
      managed.restoreClusterInPlace({ target: 'crm', incidentId: incidentLike('managed'), moment: { kind: 'time', time: at }, undo: {} }),
    );
    expect(readFileSync(calls, 'utf8').split('\n').filter(Boolean)).toEqual(['stop', 'start']);
    expect(restored.dataDir).toBe(server.dataDir);
    expect(await leads()).toEqual(expected);
  }, 600_000);

  // Last: it removes a segment from the archive.
  it('an archive gap after the backup recovery would start from is refused before production is stopped, naming the segment', async () => {
    await suite.c.archiveNow();
    await suite.c.archiveNow();
    const newest = (await suite.c.archivedFiles()).filter((f) => /\/[0-9A-F]{24}-/.test(f)).at(-1)!;
    const at = await now();
    await suite.c.removeArchived(newest);
    const segment = /([0-9A-F]{24})-/.exec(newest)![1]!;
    const before = { leads: await leads(), started: await startedAt() };
    const refused = await restoreActivity(incidentLike('gap'), { kind: 'time', time: at }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(refused?.message).toContain(`archive gap: WAL segment ${segment} is missing from the repository`);
    expect(refused?.message).toContain('production is untouched');
    expect(await leads()).toEqual(before.leads);
    expect(await startedAt()).toBe(before.started);
    observed(
      'archive gap before an in-place physical restore',
      `refused naming ${segment} before the stop; rows and postmaster start time unchanged`,
    );
  }, 300_000);
});
