// A store that dies in the middle of a backup must leave nothing that looks like a backup.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dumpToStore } from '../activities/postgres/dump.js';
import { Catalog } from '../activities/storage/catalog.js';
import { dumpKey } from '../common/names.js';
import { openStore } from '../activities/storage/open.js';
import { type S3Server, startSeaweed } from '../client/stack/seaweed.js';
import { parseConfig } from '../config/config.js';
import { backupIdFor } from '../common/names.js';
import { type TestDatabase, createCrmDatabase } from './helpers.js';

describe('a store that dies mid-upload', () => {
  let db: TestDatabase;
  let s3: S3Server;

  beforeAll(async () => {
    [db, s3] = await Promise.all([createCrmDatabase(40_000), startSeaweed(join(inject('logDir'), 'seaweedfs-killed.log'))]);
    await s3.createBucket('dying');
  });

  afterAll(async () => {
    await s3?.stop();
    await db?.drop();
  });

  it('fails the backup, and after a restart the store holds no manifest and no partial dump', async () => {
    const config = parseConfig(
      `targets: { crm: { urlEnv: DB, store: dying, verifyOn: production, tables: [crm_leads] } }
stores: { dying: { type: s3, endpoint: "${s3.endpoint}", bucket: dying, prefix: backups, partSizeMiB: 5 } }`,
      'test',
      {},
    );
    const store = openStore('dying', config.stores.dying!, {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    const id = backupIdFor('crm', new Date());
    let killedAt = 0;
    const dumping = dumpToStore(db.url, store, dumpKey(id), {
      compression: 1,
      onBytes: (bytes) => {
        // Past the first multipart part: the upload is under way when the store dies.
        if (!killedAt && bytes > 7 * 1024 * 1024) {
          killedAt = bytes;
          void s3.kill();
        }
      },
    });
    await expect(dumping).rejects.toThrow(/store "dying"/);
    expect(killedAt).toBeGreaterThan(0);

    await s3.restart();
    await s3.createBucket('dying'); // waits until the restarted store answers
    expect(await new Catalog(store).list('crm')).toEqual([]);
    expect(await store.list('')).toEqual([]);
  });
});
