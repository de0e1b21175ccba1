// The warm copy: every physical backup leaves the stanza's newest backup restored ahead of time,
// replayed to consistency and shut down in recovery (physical.configDir/warm/<stanza>); an L3 at a
// later moment claims it and only replays the WAL since. The recovered database holds exactly the
// rows before the moment, the production stanza gets no WAL from it; a moment before the copy's
// backup, a tampered copy (started out of recovery) and a half-prepared one are never used: the cold
// pgbackrest restore runs instead (and is right), and the next backup prepares the copy again.
// One cluster and its backups serve the file's tests, in order.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PhysicalBackup } from '../activities/pgbackrest/backups.js';
import { pgProgram } from '../activities/pgbackrest/run.js';
import { retarget } from '../activities/pgbackrest/warm-claim.js';
import { diskRoom } from '../activities/pgbackrest/warm-copy.js';
import { atLoopbackPort, withDatabase } from '../activities/postgres/connection.js';
import { physicalBackupsJsonSchema } from '../client/pitr-json.js';
import { freePorts } from '../client/stack/processes.js';
import { instanceIdFor } from '../common/names.js';
import type { WarmCopyResult } from '../workflows/physical.js';
import { declareOn, useArchivingCluster } from './pitr-cluster.js';
import { driveIncident, runLifeboat } from './helpers.js';
import { L3_PEOPLE } from './people.js';

type BackupResult = PhysicalBackup & { warmCopy?: WarmCopyResult };

describe("the warm copy's recovery target and disk margin", () => {
  const written = `archive_mode = 'off'
restore_command = 'pgbackrest --config=/c/s.conf --pg1-path=/c/warm/s.next-20261201-010203F/data --stanza=s archive-get %f "%p"'
recovery_target = 'immediate'
recovery_target_action = 'shutdown'
recovery_target_timeline = 'current'
`;
  it("replaces pgBackRest's immediate/shutdown settings by the moment's, one of each name, and moves restore_command's --pg1-path", () => {
    const text = retarget(written, { kind: 'before-xid', xid: '905' }, '/c/recovered/inc-1/data');
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      "archive_mode = 'off'",
      `restore_command = 'pgbackrest --config=/c/s.conf --pg1-path=/c/recovered/inc-1/data --stanza=s archive-get %f "%p"'`,
      "recovery_target_xid = '905'",
      "recovery_target_inclusive = 'false'",
      "recovery_target_action = 'promote'",
    ]);
    expect(retarget(written, { kind: 'time', time: '2026-12-01T01:02:03.456Z' }, '/y')).toContain(
      "recovery_target_time = '2026-12-01 01:02:03.456+00'\nrecovery_target_action = 'promote'",
    );
  });

  it('asks for the copy and 10 % more, and 10 % of the filesystem left free; an older copy it replaces counts as free', () => {
    const fs = statfsSync(tmpdir());
    const total = fs.blocks * fs.bsize;
    // Sizes far from what other processes writing there could move: nothing, twice the filesystem.
    expect(diskRoom(tmpdir(), 0, 0).ok).toBe(fs.bavail * fs.bsize >= total * 0.1);
    expect(diskRoom(tmpdir(), total * 2, 0)).toMatchObject({ ok: false, text: expect.stringContaining('10 % of the filesystem') });
    expect(diskRoom(tmpdir(), total * 2, total * 3).ok).toBe(true);
  });
});

describe('the warm copy: a physical backup restored ahead of time, claimed by an L3 at a later moment', () => {
  const suite = useArchivingCluster('pitrwarm', 30, 'approvals:\n  L3: { approvers: [alice, bob, carol] }');
  const warmDir = () => join(suite.c.server.pgbackrest!.dir, 'warm', suite.c.stanza);
  const now = async () => (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
  const leads = (url: string) => suite.c.sql('SELECT * FROM crm_leads ORDER BY id', [], url);
  const insert = (tag: string, n: number) =>
    suite.c.sql(
      `INSERT INTO crm_leads (first_name, last_name, email, source) SELECT $1, last_name, $1 || id || '@x.test', source FROM crm_leads ORDER BY id LIMIT ${n}`,
      [tag],
    );
  /** The copy's state as pg_controldata says it. */
  const clusterState = async () =>
    /Database cluster state:\s*(.+)/
      .exec(await pgProgram(suite.c.server.owner, 'pg_controldata', ['-D', join(warmDir(), 'data')]))![1]!
      .trim();
  const record = () => JSON.parse(readFileSync(join(warmDir(), 'warm.json'), 'utf8')) as Record<string, unknown>;
  /** A physical backup through the worker's workflow (which prepares the warm copy), once the clock is a second past its end. */
  const backup = async (type: 'full' | 'incr'): Promise<BackupResult> => {
    const b = (await suite.worker.client.workflow.execute('physicalBackupWorkflow', {
      taskQueue: suite.worker.taskQueue,
      workflowId: `warm-backup-${Date.now()}`,
      args: [{ target: 'crm', type }],
    })) as BackupResult;
    const past = `SELECT clock_timestamp() > $1::timestamptz + interval '1 second' AS after`;
    while (!(await suite.c.sql<{ after: boolean }>(past, [b.stoppedAt]))[0]!.after) await new Promise((ok) => setTimeout(ok, 100));
    return b;
  };
  /** Rows written before a moment noted, more after it, the WAL archived: the moment and the leads then. */
  const momentBetweenWrites = async (tag: string) => {
    await insert(`${tag}-before`, 4);
    const atMoment = await leads(suite.c.url);
    await suite.c.archiveNow();
    const moment = await now();
    await insert(`${tag}-after`, 6);
    await suite.c.archiveNow();
    return { moment, atMoment };
  };
  /** An L3 at the moment, driven to its end; the recovered cluster's leads and the restore step's detail, the cluster removed after. */
  const l3At = async (moment: string, onRecovered?: (url: string) => Promise<void>) => {
    const { input } = await declareOn(suite.worker, 'L3', 'the database is lost', {
      moment: { kind: 'time', time: moment },
      physical: true,
    });
    const result = await driveIncident(suite.worker.client, input.incidentId, L3_PEOPLE);
    try {
      expect(result.outcome, result.detail).toBe('recovered');
      const url = atLoopbackPort(suite.c.url, result.recoveredCluster!.port);
      await onRecovered?.(url);
      const detail = result.timeline.find((e) => e.name.startsWith('execute recovery: restore the cluster'))!.detail!;
      return { leads: await leads(url), detail };
    } finally {
      await suite.c.run(() => suite.c.activities.removeRecoveredCluster({ target: 'crm', clusterId: instanceIdFor(input.incidentId) }));
    }
  };
  let first: BackupResult;
  let second: BackupResult;
  let early: { moment: string; atMoment: unknown[] };

  it('a full backup leaves a warm copy shut down in recovery, its record naming the backup', async () => {
    first = await backup('full');
    expect(first.warmCopy).toMatchObject({ status: 'prepared', label: first.label, stoppedAt: first.stoppedAt, delta: false });
    expect(first.warmCopy!.note).toContain(`warm copy of backup ${first.label} prepared`);
    expect(await clusterState()).toBe('shut down in recovery');
    expect(existsSync(join(warmDir(), 'data', 'postmaster.pid'))).toBe(false);
    expect(record()).toMatchObject({ stanza: suite.c.stanza, label: first.label, stoppedAt: first.stoppedAt, timeline: 1 });
    expect(record().systemId).toMatch(/^\d+$/);
    // pgBackRest's settings for the copy: stop at consistency, shut down there, never archive.
    expect(readFileSync(join(warmDir(), 'data', 'postgresql.auto.conf'), 'utf8')).toMatch(
      /archive_mode = 'off'[^]*recovery_target = 'immediate'\nrecovery_target_action = 'shutdown'/,
    );
  }, 300_000);

  it('an L3 at a moment after it recovers from the warm copy: exactly the rows before the moment, no WAL into the stanza', async () => {
    early = await momentBetweenWrites('early');
    const archivedBefore = await suite.c.archivedFiles();
    const run = await l3At(early.moment, async (url) => {
      // Promoted onto a timeline of its own, it writes and closes a segment: were it archiving, the stanza would get it.
      await suite.c.sql(
        'CREATE TABLE recovered_only AS SELECT g FROM generate_series(1, 20000) g; SELECT pg_switch_wal()',
        [],
        withDatabase(url, 'postgres'),
      );
      expect((await suite.c.sql<{ archive_mode: string }>('SHOW archive_mode', [], url))[0]!.archive_mode).toBe('off');
    });
    expect(run.detail).toContain(
      `from the warm copy of backup ${first.label} prepared at ${first.warmCopy!.status === 'prepared' ? first.warmCopy!.preparedAt : ''}`,
    );
    expect(run.leads).toEqual(early.atMoment);
    // Claimed: the next incident finds none.
    expect(existsSync(warmDir())).toBe(false);
    const archivedAfter = await suite.c.archivedFiles();
    expect(archivedAfter.filter((f) => /\.history|\/00000002[0-9A-F]{16}-/.test(f))).toEqual([]);
    expect(archivedBefore.every((f) => archivedAfter.includes(f))).toBe(true);
  }, 600_000);

  it('the next backup prepares a new copy; a moment before its backup takes the cold path and is still right', async () => {
    second = await backup('incr');
    expect(second.warmCopy).toMatchObject({ status: 'prepared', label: second.label });
    const run = await l3At(early.moment);
    expect(run.detail).toContain('pgbackrest restore');
    expect(run.detail).toContain(
      `not from the warm copy: the warm copy's backup ${second.label} stopped at ${second.stoppedAt}, not before`,
    );
    expect(run.leads).toEqual(early.atMoment);
    // Not claimed: still there for a later moment.
    expect(record()).toMatchObject({ label: second.label });
  }, 600_000);

  it('a warm copy started out of recovery is refused and removed, and the cold path recovers the moment', async () => {
    const late = await momentBetweenWrites('late');
    // Tampered: recovery.signal removed and the copy started (read-write) and stopped.
    const data = join(warmDir(), 'data');
    rmSync(join(data, 'recovery.signal'));
    const runAs = suite.c.server.owner;
    const [port] = await freePorts(1);
    const options = `-p ${port} -k ${warmDir()} -c listen_addresses=127.0.0.1 -c archive_mode=off`;
    await pgProgram(runAs, 'pg_ctl', ['-D', data, '-o', options, '-l', join(warmDir(), 'tamper.log'), '-w', 'start']);
    await pgProgram(runAs, 'pg_ctl', ['-D', data, '-w', 'stop']);
    writeFileSync(join(data, 'recovery.signal'), '');
    expect(await clusterState()).toBe('shut down');
    const run = await l3At(late.moment);
    expect(run.detail).toContain(
      'not from the warm copy: the warm copy was refused and removed: its cluster state is "shut down", not "shut down in recovery"',
    );
    expect(run.leads).toEqual(late.atMoment);
    expect(existsSync(warmDir())).toBe(false);
  }, 600_000);

  it('a half-prepared copy (no record) is shown as such and redone by the next backup; pitr backups --json shows the copy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-pitr-warm-'));
    writeFileSync(join(dir, 'lifeboat.yaml'), suite.c.configText);
    const lifeboat = (...args: string[]) =>
      runLifeboat(['--config', join(dir, 'lifeboat.yaml'), ...args], { ...process.env, ...suite.c.env });
    const warm = await lifeboat('pitr', 'warm');
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.stdout).toContain(`warm copy of backup ${second.label} prepared`);
    rmSync(join(warmDir(), 'warm.json'));
    let listed = physicalBackupsJsonSchema.parse(JSON.parse((await lifeboat('pitr', 'backups', '--json')).stdout));
    expect(listed.warmCopy).toMatchObject({ label: null, note: expect.stringContaining('half-prepared') });
    const third = await backup('incr');
    expect(third.warmCopy).toMatchObject({ status: 'prepared', label: third.label, delta: true });
    expect(await clusterState()).toBe('shut down in recovery');
    listed = physicalBackupsJsonSchema.parse(JSON.parse((await lifeboat('pitr', 'backups', '--json')).stdout));
    expect(listed.warmCopy).toMatchObject({ label: third.label, stoppedAt: third.stoppedAt });

    // Two preparations at once (an older backup's and a newer one's) never share a folder: the newer backup's copy stands, complete.
    const prepare = (label: string) => suite.c.run(() => suite.c.activities.prepareWarmCopy({ target: 'crm', label }));
    const [older, newer] = await Promise.allSettled([prepare(second.label), prepare(third.label)]);
    expect(newer).toMatchObject({ status: 'fulfilled', value: { status: 'prepared', label: third.label } });
    expect(older.status === 'rejected' || older.value.status === 'skipped').toBe(true);
    expect(record()).toMatchObject({ label: third.label });
    expect(await clusterState()).toBe('shut down in recovery');
    expect(readdirSync(join(warmDir(), '..'))).toEqual([suite.c.stanza]);
  }, 600_000);
});
