// The freshness alarm: raised through the notifier when the newest verified backup is too old.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../activities/storage/catalog.js';
import { openStore } from '../activities/storage/open.js';
import type { LifeboatConfig } from '../config/config.js';
import { type BackupManifest, type FreshnessResult } from '../common/backups.js';
import { backupIdFor } from '../common/names.js';
import { type TestDatabase, type TestWorker, createCrmDatabase, startTestWorker, testConfig, testEnv, uniqueName } from './helpers.js';

const HOUR = 3_600_000;

describe('freshness check', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let catalog: Catalog;

  beforeAll(async () => {
    db = await createCrmDatabase(10);
    config = testConfig({ prefix: uniqueName('freshness') });
    worker = await startTestWorker(config, testEnv(db));
    catalog = new Catalog(openStore('main', config.stores.main!, testEnv(db)));
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  const check = () =>
    worker.client.workflow.execute('freshnessWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: uniqueName('fresh'),
      args: [{ target: 'crm' }],
    }) as Promise<FreshnessResult>;

  /** A backup as the catalogue sees it, started `hoursAgo`, verified or not. */
  async function backupFrom(hoursAgo: number, verified: 'passed' | 'failed' | undefined) {
    const startedAt = new Date(Date.now() - hoursAgo * HOUR);
    const id = backupIdFor('crm', startedAt);
    // A well-formed manifest (the catalogue lists a malformed one as damaged); no dump is read.
    const manifest: BackupManifest = {
      id,
      target: 'crm',
      store: 'main',
      startedAt: startedAt.toISOString(),
      finishedAt: startedAt.toISOString(),
      durationMs: 0,
      serverVersion: '15',
      pgDumpVersion: 'pg_dump (PostgreSQL) 15',
      format: 'custom',
      compression: 1,
      sizeBytes: 0,
      sha256: '0'.repeat(64),
      tables: {},
      tags: [],
      reason: 'test',
      lifeboatVersion: 'test',
    };
    await catalog.writeManifest(manifest);
    if (verified)
      await catalog.writeVerification({
        backupId: id,
        verifiedAt: startedAt.toISOString(),
        result: verified,
        durationMs: 1,
        tables: {},
        findings: [],
      });
    return id;
  }

  it('alerts when no backup has passed verification', async () => {
    await backupFrom(1, undefined);
    await backupFrom(2, 'failed');
    const result = await check();
    expect(result).toMatchObject({ fresh: false, maxAgeMs: 25 * HOUR });
    expect(result.newestVerifiedId).toBeUndefined();
    expect(worker.notices.at(-1)).toMatchObject({
      severity: 'critical',
      text: expect.stringContaining('no backup of crm has passed verification'),
    });
  });

  it('alerts when the newest verified backup is older than 25 hours, naming it and its age', async () => {
    const stale = await backupFrom(30, 'passed');
    const before = worker.notices.length;
    const result = await check();
    expect(result).toMatchObject({ fresh: false, newestVerifiedId: stale });
    expect(result.ageMs).toBeGreaterThan(30 * HOUR - 60_000);
    expect(worker.notices.slice(before)).toEqual([
      expect.objectContaining({ severity: 'critical', text: expect.stringContaining(`${stale}, is 30 h old (limit 25 h)`) }),
    ]);
  });

  it('stays quiet when a verified backup is younger than the limit', async () => {
    const recent = await backupFrom(3, 'passed');
    const before = worker.notices.length;
    expect(await check()).toMatchObject({ fresh: true, newestVerifiedId: recent });
    expect(worker.notices.length).toBe(before);
  });
});
