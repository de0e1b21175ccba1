// The retention policy: planRetention on synthetic backup dates (which backups are kept, and why),
// then retentionWorkflow through a real worker against synthetic backups in the suite's S3 store.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../activities/storage/catalog.js';
import { backupFolder, dumpKey } from '../common/names.js';
import { openStore } from '../activities/storage/open.js';
import type { BackupStore } from '../activities/storage/store.js';
import type { LifeboatConfig } from '../config/config.js';
import { type BackupManifest, type RetentionDecision, type RetentionResult } from '../common/backups.js';
import { backupIdFor } from '../common/names.js';
import { type DatedBackup, type RetentionPolicy, planRetention } from '../workflows/retention.js';
import { type TestDatabase, type TestWorker, createCrmDatabase, startTestWorker, testConfig, testEnv, uniqueName } from './helpers.js';

const backupAt = (iso: string, tags: string[] = []): DatedBackup => {
  const at = new Date(iso);
  return { id: backupIdFor('crm', at), startedAt: at.toISOString(), tags };
};

/** The kept decisions as id → reasons, and the ids of the rest. */
function outcome(decisions: RetentionDecision[]) {
  const kept = Object.fromEntries(decisions.filter((d) => d.keep).map((d) => [d.id, d.reasons]));
  const deleted = decisions.filter((d) => !d.keep);
  return { kept, deleted };
}

describe('planRetention', () => {
  // One backup a day at 02:00 UTC from 2025-09-15 to Sunday 2026-11-22, except none on 2026-11-18,
  // with a second one at 14:00 on four days. Two are tagged, one of them also a monthly.
  const TAGS: Record<string, string[]> = {
    '2025-12-24T02:00:00Z': ['pre-deploy'],
    '2026-11-21T02:00:00Z': ['release-7'],
    '2026-08-31T02:00:00Z': ['pre-upgrade', 'pg16'],
  };
  const SECOND_OF_DAY = ['2026-10-31', '2026-11-08', '2026-11-20', '2026-11-21'];
  const history: DatedBackup[] = [];
  for (let day = Date.parse('2025-09-15T02:00:00Z'); day <= Date.parse('2026-11-22T02:00:00Z'); day += 86_400_000) {
    const iso = new Date(day).toISOString().replace('.000', '');
    const date = iso.slice(0, 10);
    if (date === '2026-11-18') continue;
    history.push(backupAt(iso, TAGS[iso]));
    if (SECOND_OF_DAY.includes(date)) history.push(backupAt(`${date}T14:00:00Z`));
  }
  const policy: RetentionPolicy = { daily: 7, weekly: 4, monthly: 6 };

  // Worked out by hand from a calendar (2026-11-22 is the Sunday ending ISO week 2026-W47).
  const EXPECTED_KEPT: Record<string, string[]> = {
    'crm-20261122T020000Z': ['daily 2026-11-22', 'weekly 2026-W47', 'monthly 2026-11', 'newest'],
    'crm-20261121T140000Z': ['daily 2026-11-21'],
    'crm-20261121T020000Z': ['tagged release-7'],
    'crm-20261120T140000Z': ['daily 2026-11-20'],
    'crm-20261119T020000Z': ['daily 2026-11-19'],
    // no backup on 2026-11-18: the seventh day with backups is 2026-11-15
    'crm-20261117T020000Z': ['daily 2026-11-17'],
    'crm-20261116T020000Z': ['daily 2026-11-16'],
    'crm-20261115T020000Z': ['daily 2026-11-15', 'weekly 2026-W46'],
    'crm-20261108T140000Z': ['weekly 2026-W45'],
    'crm-20261101T020000Z': ['weekly 2026-W44'],
    'crm-20261031T140000Z': ['monthly 2026-10'],
    'crm-20260930T020000Z': ['monthly 2026-09'],
    'crm-20260831T020000Z': ['monthly 2026-08', 'tagged pre-upgrade, pg16'],
    'crm-20260731T020000Z': ['monthly 2026-07'],
    'crm-20260630T020000Z': ['monthly 2026-06'],
    'crm-20251224T020000Z': ['tagged pre-deploy'],
  };

  it('keeps exactly the newest of the last 7 days, 4 ISO weeks and 6 months with backups, the tagged and the newest', () => {
    // 434 calendar days, less the one without a backup, plus four second backups of a day
    expect(history).toHaveLength(437);
    const decisions = planRetention(history, policy);
    const { kept, deleted } = outcome(decisions);

    expect(kept).toEqual(EXPECTED_KEPT);
    expect(deleted).toHaveLength(437 - 16);
    for (const d of deleted) expect(d.reasons).toEqual(['outside every generation']);
    // The earlier backup of a day with two goes, unless tagged; so do all of last May and before.
    expect(deleted.map((d) => d.id)).toEqual(
      expect.arrayContaining([
        'crm-20261120T020000Z',
        'crm-20261031T020000Z',
        'crm-20261108T020000Z',
        'crm-20260531T020000Z',
        'crm-20250915T020000Z',
      ]),
    );
    // One decision per backup, newest first, each carrying its backup's start time.
    expect(decisions.map((d) => d.id)).toEqual(history.map((b) => b.id).reverse());
    expect(decisions[0]).toEqual({
      id: 'crm-20261122T020000Z',
      startedAt: '2026-11-22T02:00:00.000Z',
      keep: true,
      reasons: EXPECTED_KEPT['crm-20261122T020000Z'],
    });
  });

  it('decides the same whatever order the backups come in', () => {
    const shuffled = [...history.filter((_, i) => i % 2 === 1), ...history.filter((_, i) => i % 2 === 0).reverse()];
    expect(planRetention(shuffled, policy)).toEqual(planRetention(history, policy));
  });

  it('always keeps the newest backup, even when every generation is zero', () => {
    const backups = [backupAt('2020-01-01T00:00:00Z'), backupAt('2020-03-01T00:00:00Z'), backupAt('2020-02-01T00:00:00Z', ['x'])];
    expect(planRetention(backups, { daily: 0, weekly: 0, monthly: 0 })).toEqual([
      { id: 'crm-20200301T000000Z', startedAt: '2020-03-01T00:00:00.000Z', keep: true, reasons: ['newest'] },
      { id: 'crm-20200201T000000Z', startedAt: '2020-02-01T00:00:00.000Z', keep: true, reasons: ['tagged x'] },
      { id: 'crm-20200101T000000Z', startedAt: '2020-01-01T00:00:00.000Z', keep: false, reasons: ['outside every generation'] },
    ]);
    expect(planRetention([], policy)).toEqual([]);
  });

  it('puts 2026-12-31 and 2027-01-01 in the same ISO week 2026-W53, and 2025-12-29 in 2026-W01', () => {
    const backups = [
      backupAt('2025-12-28T02:00:00Z'), // Sunday of 2025-W52
      backupAt('2025-12-29T02:00:00Z'), // Monday of 2026-W01
      backupAt('2026-01-02T02:00:00Z'), // Friday of 2026-W01
      backupAt('2026-12-24T02:00:00Z'), // Thursday of 2026-W52
      backupAt('2026-12-31T02:00:00Z'), // Thursday of 2026-W53
      backupAt('2027-01-01T02:00:00Z'), // Friday of 2026-W53
      backupAt('2027-01-04T02:00:00Z'), // Monday of 2027-W01
    ];
    const { kept, deleted } = outcome(planRetention(backups, { daily: 1, weekly: 6, monthly: 1 }));
    expect(kept).toEqual({
      'crm-20270104T020000Z': ['daily 2027-01-04', 'weekly 2027-W01', 'monthly 2027-01', 'newest'],
      'crm-20270101T020000Z': ['weekly 2026-W53'],
      'crm-20261224T020000Z': ['weekly 2026-W52'],
      'crm-20260102T020000Z': ['weekly 2026-W01'],
      'crm-20251228T020000Z': ['weekly 2025-W52'],
    });
    expect(deleted.map((d) => d.id)).toEqual(['crm-20261231T020000Z', 'crm-20251229T020000Z']);
  });
});

describe('retentionWorkflow', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let store: BackupStore;
  let catalog: Catalog;
  const prefix = uniqueName('retention-test');

  // daily 2, weekly 2, monthly 2 (2024-01-01 is a Monday, so 2024-W06 is Feb 5-11 and 2024-W07 Feb 12-18)
  const BACKUPS: Array<{ at: string; tags?: string[]; keep?: string[] }> = [
    { at: '2023-12-05T02:00:00Z', tags: ['pre-deploy'], keep: ['tagged pre-deploy'] },
    { at: '2023-12-20T02:00:00Z' },
    { at: '2024-01-10T02:00:00Z' },
    { at: '2024-01-31T02:00:00Z', keep: ['monthly 2024-01'] },
    { at: '2024-02-05T02:00:00Z' },
    { at: '2024-02-11T02:00:00Z', keep: ['weekly 2024-W06'] },
    { at: '2024-02-13T01:00:00Z' },
    { at: '2024-02-13T02:00:00Z', keep: ['daily 2024-02-13'] },
    { at: '2024-02-14T02:00:00Z', keep: ['daily 2024-02-14', 'weekly 2024-W07', 'monthly 2024-02', 'newest'] },
  ];
  const idOf = (at: string) => backupIdFor('crm', new Date(at));
  const KEPT = BACKUPS.filter((b) => b.keep)
    .map((b) => idOf(b.at))
    .reverse();
  const DOOMED = BACKUPS.filter((b) => !b.keep)
    .map((b) => idOf(b.at))
    .reverse();

  beforeAll(async () => {
    db = await createCrmDatabase(10);
    config = testConfig({ prefix, extra: 'retention: { daily: 2, weekly: 2, monthly: 2 }' });
    worker = await startTestWorker(config, testEnv(db));
    store = openStore('main', config.stores.main!, testEnv(db));
    catalog = new Catalog(store);

    // Synthetic backups: pg_dump cannot be given a date, so write what a backup leaves behind.
    for (const { at, tags = [] } of BACKUPS) {
      const id = idOf(at);
      const dump = Buffer.from(`PGDMP synthetic ${id}`);
      await store.upload(dumpKey(id), Readable.from([dump]));
      const manifest: BackupManifest = {
        id,
        target: 'crm',
        store: 'main',
        startedAt: new Date(at).toISOString(),
        finishedAt: new Date(Date.parse(at) + 1000).toISOString(),
        durationMs: 1000,
        serverVersion: '15.0',
        pgDumpVersion: 'pg_dump (PostgreSQL) 15.0',
        format: 'custom',
        compression: 1,
        sizeBytes: dump.length,
        sha256: '0'.repeat(64),
        tables: { crm_leads: 10 },
        tags,
        reason: 'synthetic',
        lifeboatVersion: '0.1.0',
      };
      await catalog.writeManifest(manifest);
      await catalog.writeVerification({
        backupId: id,
        verifiedAt: manifest.finishedAt,
        result: 'passed',
        durationMs: 1,
        tables: {},
        findings: [],
      });
    }
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  const retention = (dryRun: boolean) =>
    worker.client.workflow.execute('retentionWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: uniqueName('retention'),
      args: [{ target: 'crm', dryRun }],
    }) as Promise<RetentionResult>;

  const listedIds = async () => (await catalog.list('crm')).map((b) => b.manifest.id);

  it('in a dry run decides by the configured policy and deletes nothing', async () => {
    const objectsBefore = (await store.list('crm/')).map((o) => o.key).sort();
    expect(objectsBefore).toHaveLength(BACKUPS.length * 3);

    const result = await retention(true);
    expect(result.dryRun).toBe(true);
    expect(result.deleted).toEqual([]);
    expect(result.decisions.map((d) => [d.id, d.keep, d.reasons])).toEqual(
      [...BACKUPS].reverse().map((b) => [idOf(b.at), Boolean(b.keep), b.keep ?? ['outside every generation']]),
    );

    expect(await listedIds()).toEqual(BACKUPS.map((b) => idOf(b.at)).reverse());
    expect((await store.list('crm/')).map((o) => o.key).sort()).toEqual(objectsBefore);
  });

  it('deletes exactly the backups outside every generation, leaving nothing in their folders', async () => {
    const result = await retention(false);
    expect(result.dryRun).toBe(false);
    expect(result.deleted).toEqual(DOOMED);
    expect(DOOMED).toEqual(['crm-20240213T010000Z', 'crm-20240205T020000Z', 'crm-20240110T020000Z', 'crm-20231220T020000Z']);

    expect(await listedIds()).toEqual(KEPT);
    for (const id of DOOMED) expect(await store.list(`${backupFolder(id)}/`)).toEqual([]);
    for (const id of KEPT) {
      expect((await store.list(`${backupFolder(id)}/`)).map((o) => o.key.split('/').at(-1)).sort()).toEqual([
        'backup.dump',
        'manifest.json',
        'verification.json',
      ]);
    }
    expect(await store.list('crm/')).toHaveLength(KEPT.length * 3);
  });

  it('run again, keeps everything that is left', async () => {
    const result = await retention(false);
    expect(result.deleted).toEqual([]);
    expect(result.decisions.every((d) => d.keep)).toBe(true);
    expect(await listedIds()).toEqual(KEPT);
  });
});
