// Backups and verification end to end, against the suite's real PostgreSQL, SeaweedFS and Temporal.
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { fingerprintDatabase, rowCounts, userTables } from '../activities/postgres/inspect.js';
import { Catalog } from '../activities/storage/catalog.js';
import { dumpKey } from '../common/names.js';
import { openStore } from '../activities/storage/open.js';
import type { LifeboatConfig } from '../config/config.js';
import type { BackupManifest, VerificationRecord } from '../common/backups.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  observed,
} from './helpers.js';

describe('backup and verification', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let s3: S3Client;
  const prefix = uniqueName('backup-test');

  beforeAll(async () => {
    db = await createCrmDatabase(3_000);
    config = testConfig({ prefix });
    worker = await startTestWorker(config, testEnv(db));
    s3 = new S3Client({
      endpoint: inject('s3Endpoint'),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: inject('s3AccessKeyId'), secretAccessKey: inject('s3SecretAccessKey') },
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  const run = <T>(workflow: string, args: unknown[]) =>
    worker.client.workflow.execute(workflow, { taskQueue: worker.taskQueue, workflowId: uniqueName(workflow), args }) as Promise<T>;

  const storedObject = async (key: string) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: inject('s3Bucket'), Key: `${prefix}/${key}` }));
    return Buffer.from(await out.Body!.transformToByteArray());
  };

  const catalog = () => new Catalog(openStore('main', config.stores.main!, testEnv(db)));

  const scratchDatabases = () =>
    withClient(inject('pgAdminUrl'), async (c) =>
      (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat_verify_%'")).rows.map(
        (r) => r.datname,
      ),
    );

  let manifest: BackupManifest;

  it('streams a backup into S3 whose stored bytes hash to the manifest checksum, with the database row counts', async () => {
    manifest = await run<BackupManifest>('backupWorkflow', [{ target: 'crm', tags: ['pre-deploy'], reason: 'test' }]);

    const stored = await storedObject(dumpKey(manifest.id));
    expect(stored.length).toBe(manifest.sizeBytes);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(manifest.sha256);
    expect(stored.subarray(0, 5).toString()).toBe('PGDMP'); // pg_dump's custom format

    const counts = await withClient(db.url, async (c) => rowCounts(c, await userTables(c)));
    expect(manifest.tables).toEqual(counts);
    expect(manifest.tables.crm_leads).toBe(3_000);
    expect(manifest).toMatchObject({ target: 'crm', format: 'custom', compression: 1, tags: ['pre-deploy'], reason: 'test' });
    expect(manifest.serverVersion).toMatch(/^15\./);
    expect(manifest.pgDumpVersion).toContain('15.');
    expect(manifest.id).toMatch(/^crm-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(dumpKey(manifest.id)).toBe(`crm/daily/${manifest.startedAt.slice(0, 10)}/${manifest.id}/backup.dump`);

    const listed = await catalog().list('crm');
    expect(listed.map((b) => b.manifest.id)).toEqual([manifest.id]);
  });

  it('verifies by a test restore whose tables equal the source, and records the verdict beside the backup', async () => {
    const record = await run<VerificationRecord>('verifyWorkflow', [{ backupId: 'latest', target: 'crm' }]);
    expect(record.findings).toEqual([]);
    expect(record.result).toBe('passed');
    expect(record.backupId).toBe(manifest.id);

    // Nothing was written since the backup, so the restored content must equal the source's.
    const source = await fingerprintDatabase(db.url);
    expect(record.tables).toEqual(source);

    const stored = await catalog().find(manifest.id, 'crm');
    expect(stored?.verification?.result).toBe('passed');
    expect(await scratchDatabases()).toEqual([]);
  });

  it('fails verification of an object with one flipped byte, names the checksum mismatch, and never restores it', async () => {
    const key = `${prefix}/${dumpKey(manifest.id)}`;
    const original = await storedObject(dumpKey(manifest.id));
    const corrupt = Buffer.from(original);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0x01;
    await s3.send(new PutObjectCommand({ Bucket: inject('s3Bucket'), Key: key, Body: corrupt }));

    const record = await run<VerificationRecord>('verifyWorkflow', [{ backupId: manifest.id }]);
    expect(record.result).toBe('failed');
    expect(record.findings).toEqual([{ check: 'checksum', detail: expect.stringContaining('SHA-256 mismatch') }]);
    expect(record.tables).toEqual({});
    expect((await catalog().find(manifest.id, 'crm'))?.verification?.result).toBe('failed');
    expect(worker.notices.at(-1)).toMatchObject({ severity: 'critical', title: expect.stringContaining(manifest.id) });

    await s3.send(new PutObjectCommand({ Bucket: inject('s3Bucket'), Key: key, Body: original }));
  });

  it('completes two backups of one target started at once, each under its own id with its own dump', async () => {
    const [a, b] = await Promise.all([
      run<BackupManifest>('backupWorkflow', [{ target: 'crm' }]),
      run<BackupManifest>('backupWorkflow', [{ target: 'crm' }]),
    ]);
    expect(a.id).not.toBe(b.id);
    const listed = await catalog().list('crm');
    for (const m of [a, b]) {
      expect(listed.find((s) => s.manifest.id === m.id)?.manifest).toEqual(m);
      expect(
        createHash('sha256')
          .update(await storedObject(dumpKey(m.id)))
          .digest('hex'),
      ).toBe(m.sha256);
    }
    observed('two backups in one second', 'both completed under distinct ids, each dump matching its own checksum');
  });

  it('refuses an unknown backup id without retrying', async () => {
    await expect(run('verifyWorkflow', [{ backupId: 'crm-20200101T000000Z' }])).rejects.toMatchObject({
      cause: { cause: { message: expect.stringContaining('no backup "crm-20200101T000000Z"') } },
    });
  });
});
