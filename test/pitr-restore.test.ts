// Point-in-time recovery by pgBackRest into side instances, against a real archiving PostgreSQL,
// real pgBackRest and the suite's SeaweedFS over HTTPS: the setup and its refusals, a physical
// backup with WAL archived, restores to a time, to a restore point and to just before a
// transaction, the side instance removed (also what a crashed attempt left), the production
// stanza never receiving WAL from a promoted side instance, an unreachable moment and an archive gap named.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { withDatabase } from '../activities/postgres/connection.js';
import type { SideInstance } from '../activities/pgbackrest/side-instance.js';
import type { Moment } from '../common/moments.js';
import { createActivities } from '../activities/index.js';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { parseConfig } from '../config/config.js';
import { type ArchivingCluster, startArchivingCluster } from './pitr-cluster.js';
import { testConfigText } from './helpers.js';

const portOpen = (port: number) =>
  new Promise<boolean>((ok) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), ok(true)));
    socket.once('error', () => ok(false));
  });

describe('point-in-time recovery into a side instance', () => {
  let c: ArchivingCluster;
  /** Rows 1..100 committed; restore point rp-before; `beforeDelete` taken; rows 1..10 deleted in transaction `xid`; rows 101..105 added later. */
  let beforeDelete: string;
  let xid: string;
  let deletedAt: string;

  beforeAll(async () => {
    c = await startArchivingCluster('pitr');
  }, 240_000);

  afterAll(async () => {
    await c?.stop();
  });

  const restore = (moment: Moment, sideId: string) => c.run(() => c.activities.restoreToMoment({ target: 'crm', moment, sideId }));
  const remove = (sideId: string) => c.run(() => c.activities.removeSideInstance({ target: 'crm', sideId }));
  const sideRows = async (side: SideInstance) =>
    (
      await c.sql<{ id: number }>(
        'SELECT id FROM items ORDER BY id',
        [],
        withDatabase(c.server.adminUrl.replace(`:${c.server.port}/`, `:${side.port}/`), 'app'),
      )
    ).map((r) => r.id);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it('checks the target: archiving through pgBackRest is in place, the stanza answers pgbackrest check', async () => {
    const setup = await c.run(() => c.activities.preparePhysical({ target: 'crm' }));
    expect(setup).toEqual({ stanza: c.stanza, pgPath: c.server.dataDir, changed: [] });
  }, 180_000);

  it('refuses what it cannot fix, saying what to do (a wrong pg1-path, a worker that is not a superuser); setup: check accepts what is in place', async () => {
    const configured = (extra: string, url = c.url) => {
      const text = testConfigText({ prefix: 'x' }).replace(
        / {2}crm:\n/,
        `  crm:\n    physical:\n      tool: pgbackrest\n      stanza: ${c.stanza}\n      configDir: ${c.server.pgbackrest!.dir}\n      repoEndpoint: ${inject('s3HttpsEndpoint')}\n      caFile: ${inject('s3CaFile')}\n${extra}`,
      );
      const activities = createActivities({
        config: parseConfig(text, 'test', {}),
        env: { ...c.env, CRM_DATABASE_URL: url },
        notifier: new ConsoleNotifier(() => undefined),
      });
      return c.run(() => activities.preparePhysical({ target: 'crm' }));
    };
    await expect(configured('      pgPath: /var/lib/postgresql/15/main\n')).rejects.toThrow(
      `physical.pgPath is /var/lib/postgresql/15/main, but the server's data directory is ${c.server.dataDir}: correct pgPath`,
    );
    await c.sql(`DO $$ BEGIN CREATE ROLE app_writer LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await expect(configured('', c.url.replace('postgres@', 'app_writer@'))).rejects.toThrow(
      'the worker connects as "app_writer", who is not a superuser: pgBackRest\'s backups and the archive setup need one',
    );
    await expect(configured('      setup: check\n', c.url)).resolves.toMatchObject({ changed: [] });
  }, 180_000);

  it('takes a full backup, lists it with the WAL the repository holds, and archives the changes after it', async () => {
    const backup = await c.run(() => c.activities.physicalBackup({ target: 'crm', type: 'full' }));
    expect(backup.type).toBe('full');
    // pgBackRest records the backup's end to the second: the changes below come after it.
    while (
      !(
        await c.sql<{ after: boolean }>(`SELECT clock_timestamp() > $1::timestamptz + interval '1 second' AS after`, [backup.stoppedAt])
      )[0]!.after
    )
      await new Promise((ok) => setTimeout(ok, 100));
    await c.sql('CREATE TABLE items (id int PRIMARY KEY, v text)');
    await c.sql(`INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g`);
    await c.sql(`SELECT pg_create_restore_point('rp-before')`);
    beforeDelete = (await c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    const [deleted] = await c.sql<{ xid: string; at: Date }>(
      `WITH d AS (DELETE FROM items WHERE id <= 10 RETURNING id) SELECT txid_current()::text AS xid, clock_timestamp() AS at FROM d LIMIT 1`,
    );
    xid = deleted!.xid;
    deletedAt = deleted!.at.toISOString();
    await c.sql(`INSERT INTO items SELECT g, 'later' FROM generate_series(101, 105) g`);
    await c.archiveNow();
    const catalog = await c.run(() => c.activities.physicalBackups({ target: 'crm' }));
    expect(catalog.backups.map((b) => [b.label, b.type])).toEqual([[backup.label, 'full']]);
    expect(catalog.walMax! >= catalog.backups[0]!.walStop).toBe(true);
  }, 300_000);

  it('pitr find lists the transactions that deleted or changed rows of the table, with their commit time and row counts', async () => {
    const [updated] = await c.sql<{ xid: string }>(
      `UPDATE items SET v = 'changed' WHERE id IN (50, 51) RETURNING txid_current()::text AS xid`,
    );
    await c.sql(`DELETE FROM lifeboat_test_tick`); // another table's deletion: not listed
    const found = await c.run(() => c.activities.findTableChanges({ target: 'crm', table: 'items' }));
    expect(found.transactions.map((t) => [t.xid, t.deleted, t.updated])).toEqual([
      [xid, 10, 0],
      [updated!.xid, 0, 2],
    ]);
    const deletion = found.transactions[0]!;
    expect(deletion.committedAt >= deletedAt && deletion.committedAt < new Date(Date.parse(deletedAt) + 60_000).toISOString()).toBe(true);
    deletedAt = deletion.committedAt;
    const since = await c.run(() =>
      c.activities.findTableChanges({ target: 'crm', table: 'items', since: new Date(Date.parse(deletedAt) + 1).toISOString() }),
    );
    expect(since.transactions.map((t) => t.xid)).toEqual([updated!.xid]);
    await expect(c.run(() => c.activities.findTableChanges({ target: 'crm', table: 'no_such_table' }))).rejects.toThrow(
      'no table no_such_table in the target',
    );
  }, 300_000);

  it('restores to a time: the rows as they were then, the moment recovered to not after it; the side instance then stopped and removed', async () => {
    const side = await restore({ kind: 'time', time: beforeDelete }, 'pitr-time');
    try {
      expect(await sideRows(side)).toEqual(range(1, 100));
      // Stopped before the deletion's commit: the data holds every commit before it.
      expect(side.recoveredTo).toBe(deletedAt);
      expect(side.stoppedAt).toContain(`recovery stopping before commit of transaction ${xid}`);
    } finally {
      expect(await remove('pitr-time')).toBe(true);
    }
    expect(existsSync(side.dataDir)).toBe(false);
    expect(await portOpen(side.port)).toBe(false);
  }, 300_000);

  it('restores to a restore point, and just before the transaction pitr find found (its deletions undone, nothing after it)', async () => {
    const atPoint = await restore({ kind: 'restore-point', name: 'rp-before' }, 'pitr-point');
    try {
      expect(await sideRows(atPoint)).toEqual(range(1, 100));
      expect(atPoint.stoppedAt).toContain('recovery stopping at restore point "rp-before"');
    } finally {
      await remove('pitr-point');
    }
    const beforeXid = await restore({ kind: 'before-xid', xid, committedAt: deletedAt }, 'pitr-xid');
    try {
      expect(await sideRows(beforeXid)).toEqual(range(1, 100));
      expect(beforeXid.stoppedAt).toContain(`recovery stopping before commit of transaction ${xid}`);
    } finally {
      await remove('pitr-xid');
    }
  }, 400_000);

  it('a retried restore first removes what a crashed attempt left under the same id; the production stanza never receives WAL from a side instance', async () => {
    const archivedBefore = await c.archivedFiles();
    const first = await restore({ kind: 'time', time: beforeDelete }, 'pitr-retry');
    // The side instance, promoted onto a timeline of its own, writes and closes segments: with archiving on it would push them.
    await c.sql(
      `CREATE TABLE side_only AS SELECT g FROM generate_series(1, 50000) g; SELECT pg_switch_wal()`,
      [],
      withDatabase(c.server.adminUrl.replace(`:${c.server.port}/`, `:${first.port}/`), 'app'),
    );
    const second = await restore({ kind: 'time', time: beforeDelete }, 'pitr-retry');
    try {
      expect(await portOpen(first.port)).toBe(second.port === first.port);
      expect(await sideRows(second)).toEqual(range(1, 100));
    } finally {
      await remove('pitr-retry');
    }
    await c.archiveNow();
    const archivedAfter = await c.archivedFiles();
    expect(
      archivedAfter.filter((f) => !archivedBefore.includes(f)).filter((f) => !/^15-1\/0000000100000000\/00000001[0-9A-F]{16}-/.test(f)),
    ).toEqual([]);
    // A promoted side instance is on timeline 2: neither its history file nor any of its segments is in the stanza.
    expect(archivedAfter.filter((f) => /\.history|\/00000002[0-9A-F]{16}-/.test(f))).toEqual([]);
    expect(archivedBefore.every((f) => archivedAfter.includes(f))).toBe(true);
  }, 400_000);

  it('a moment the archive does not reach fails naming why and the newest reachable moment', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    await expect(restore({ kind: 'time', time: future }, 'pitr-future')).rejects.toThrow(
      /recovery ended before configured recovery target was reached: no transaction committed after the moment .* is in the archive .*the newest moment the archive reaches is /,
    );
    expect(await remove('pitr-future')).toBe(true);
  }, 300_000);

  it('an archive gap is detected and its missing segment named', async () => {
    for (let i = 0; i < 3; i++) {
      await c.sql(`INSERT INTO items VALUES (${200 + i}, 'gap')`);
      await c.archiveNow();
    }
    const after = (await c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    await c.sql(`INSERT INTO items VALUES (300, 'after')`);
    await c.archiveNow();
    const files = (await c.archivedFiles()).filter((f) => /\/00000001[0-9A-F]{16}-/.test(f));
    const victim = files.at(-3)!;
    const segment = /([0-9A-F]{24})-/.exec(victim)![1]!;
    await c.removeArchived(victim);
    await expect(restore({ kind: 'time', time: after }, 'pitr-gap')).rejects.toThrow(
      `archive gap: WAL segment ${segment} is missing from the repository`,
    );
    await remove('pitr-gap');
  }, 300_000);
});
