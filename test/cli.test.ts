// The `lifeboat` command as an operator runs it: bin/lifeboat in a process of its own, with a
// configuration file and an environment, against the suite's PostgreSQL, S3 store and Temporal.
// Workers on the configurations' task queues execute what the CLI starts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Catalog } from '../activities/storage/catalog.js';
import { openStore } from '../activities/storage/open.js';
import type { BackupStore } from '../activities/storage/store.js';
import { parseConfig } from '../config/config.js';
import { backupsJsonSchema } from '../client/read-json.js';
import {
  type TestDatabase,
  type TestWorker,
  type CliRun,
  createCrmDatabase,
  runLifeboat,
  startTestWorker,
  testConfigText,
  testEnv,
  uniqueName,
} from './helpers.js';

const CLOSED_PORT = 1; // nothing listens on 127.0.0.1:1

type Run = CliRun;

describe('lifeboat CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-'));
  const outputs: Run[] = [];
  const workers: TestWorker[] = [];
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let catalog: Catalog;

  /** Writes a configuration file and starts a worker that runs it with the given worker environment. */
  async function configured(name: string, options: { bucket?: string; workerEnv?: NodeJS.ProcessEnv } = {}) {
    const text = testConfigText({
      prefix: uniqueName(`cli-test-${name}`),
      taskQueue: uniqueName(`cli-${name}`),
      bucket: options.bucket,
      temporalAddress: '${TEMPORAL_ADDRESS}',
      moreTargets: '  billing:\n    urlEnv: BILLING_DATABASE_URL\n    store: main\n    verifyOn: production\n    tables: [invoices]',
    });
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, text);
    const config = parseConfig(text, file, env);
    const workerEnv = { ...testEnv(db), ...options.workerEnv };
    workers.push(await startTestWorker(config, workerEnv));
    return { file, config };
  }

  async function lifeboat(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    const run = await runLifeboat(args, { ...env, ...extraEnv });
    outputs.push(run);
    return run;
  }

  let main: string;
  let unreachableDatabase: string;
  let unreachableDatabaseStore: BackupStore;
  let missingBucket: string;
  let storeDown: string;
  let invalid: string;

  beforeAll(async () => {
    db = await createCrmDatabase(200);
    env = { ...process.env, ...testEnv(db), TEMPORAL_ADDRESS: inject('temporalAddress') };
    const mainConfig = await configured('main');
    main = mainConfig.file;
    catalog = new Catalog(openStore('main', mainConfig.config.stores.main!, env));
    const nodb = await configured('nodb', { workerEnv: { CRM_DATABASE_URL: `postgresql://postgres@127.0.0.1:${CLOSED_PORT}/crm` } });
    unreachableDatabase = nodb.file;
    unreachableDatabaseStore = openStore('main', nodb.config.stores.main!, env);
    missingBucket = (await configured('nobucket', { bucket: 'no-such-bucket-xyz' })).file;

    storeDown = join(dir, 'store-down.yaml');
    writeFileSync(storeDown, testConfigText({ prefix: 'x', taskQueue: 'unused', s3Endpoint: `http://127.0.0.1:${CLOSED_PORT}` }));
    invalid = join(dir, 'invalid.yaml');
    writeFileSync(invalid, testConfigText({ prefix: 'x', taskQueue: 'unused', extra: 'backup:\n  compression: fast' }));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  let backupId: string;

  it('takes a tagged backup: exit 0 and a line naming the backup', async () => {
    const run = await lifeboat(['--config', main, 'backup', '--target', 'crm', '--tag', 'pre-deploy']);
    expect(run.stderr).not.toContain('✖');
    expect(run.code).toBe(0);
    const match =
      /^✔ backup (crm-\d{8}T\d{6}Z-[0-9a-f]{6}): .+, 6 tables, (\d+) rows, sha256 [0-9a-f]{16}…, in (?:< 1 s|\d+ s|\d+ min(?: \d+ s)?) → store "main"\n$/.exec(
        run.stdout,
      );
    expect(match, run.stdout).not.toBeNull();
    backupId = match![1]!;

    const [stored] = await catalog.list('crm');
    expect(stored?.manifest).toMatchObject({ id: backupId, tags: ['pre-deploy'], reason: 'manual backup', store: 'main' });
    expect(Number(match![2])).toBe(Object.values(stored!.manifest.tables).reduce((a, b) => a + b, 0));
  });

  it('lists the backup in a table, with its tag, and as JSON', async () => {
    const run = await lifeboat(['--config', main, 'backups', '--target', 'crm']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^id\s+time \(UTC\)\s+size\s+verified\s+tags$/);
    expect(lines[2]).toMatch(new RegExp(`^${backupId}\\s+\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\s+[\\d.]+ KiB\\s+no\\s+pre-deploy$`));

    const json = await lifeboat(['--config', main, 'backups', '--target', 'crm', '--json']);
    expect(json.code).toBe(0);
    const list = backupsJsonSchema.parse(JSON.parse(json.stdout));
    expect(list).toHaveLength(1);
    expect(list[0]!.manifest).toMatchObject({ id: backupId, target: 'crm', tags: ['pre-deploy'] });
    expect(list[0]!.verification).toBeNull();
    expect(list[0]!.damaged).toBeNull();
  });

  it('verifies the latest backup: exit 0, "verified", and the list then says so', async () => {
    const run = await lifeboat(['--config', main, 'verify', 'latest', '--target', 'crm']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^✔ backup ${backupId} verified: checksum ok, restored 6 tables \\(\\d+ rows\\) matching the manifest, integrity checks clean`,
      ),
    );
    expect((await catalog.find(backupId, 'crm'))?.verification?.result).toBe('passed');

    const list = await lifeboat(['--config', main, 'backups', '--target', 'crm']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${backupId}\\s.*\\syes \\d{4}-\\d{2}-\\d{2}\\s+pre-deploy\\n$`));
  });

  it('refuses an unknown target with exit 2, listing the configured targets', async () => {
    const run = await lifeboat(['--config', main, 'backup', '--target', 'nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('✖ unknown target "nope" (configured targets: crm, billing)\n');
    expect(run.stdout).toBe('');
  });

  it('asks for --target when several targets are configured', async () => {
    const run = await lifeboat(['--config', main, 'backups']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('✖ several targets are configured (crm, billing): pass --target\n');
  });

  it('refuses a path as a backup id with exit 2', async () => {
    const run = await lifeboat(['--config', main, 'verify', '../../etc/passwd']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^✖ "\.\.\/\.\.\/etc\/passwd" is not a backup id: expected <target>-<YYYYMMDD>T<HHMMSS>Z/);
  });

  it('fails with exit 1 to verify a backup that does not exist', async () => {
    const run = await lifeboat(['--config', main, 'verify', 'crm-20200101T000000Z']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('✖ verification of crm-20200101T000000Z failed: no backup "crm-20200101T000000Z" of target "crm"');
  });

  it('refuses a tag with a space with exit 2, before starting anything', async () => {
    const run = await lifeboat(['--config', main, 'backup', '--target', 'crm', '--tag', 'pre deploy']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('✖ tag "pre deploy" is not allowed: use lower-case letters, digits, ".", "-" or "_"\n');
    expect((await catalog.list('crm')).map((b) => b.manifest.id)).toEqual([backupId]);
  });

  it('refuses an invalid configuration file with exit 2, naming the field', async () => {
    const run = await lifeboat(['--config', invalid, 'backups', '--target', 'crm']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`✖ ${invalid} is invalid:\n  - backup.compression: Invalid input: expected number, received string\n`);

    const missing = await lifeboat(['--config', join(dir, 'no-such-file.yaml'), 'backups']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`✖ cannot read configuration file ${join(dir, 'no-such-file.yaml')}: ENOENT`);

    const unset = await lifeboat(['--config', main, 'backups', '--target', 'crm'], { TEMPORAL_ADDRESS: '' });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('environment variable TEMPORAL_ADDRESS is not set');
  });

  it('refuses an unknown command with exit 2', async () => {
    const run = await lifeboat(['--config', main, 'frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'frobnicate'");
  });

  it('fails with exit 1 when the database is unreachable, naming it', async () => {
    const run = await lifeboat(['--config', unreachableDatabase, 'backup', '--target', 'crm']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/✖ backup of crm failed: cannot connect to postgres at 127\.0\.0\.1:1\/crm: .*ECONNREFUSED/);
    expect(run.stdout).toBe('');
    // nothing was left in the store: no dump, no manifest
    expect(await unreachableDatabaseStore.list('')).toEqual([]);
  }, 60_000);

  it("fails with exit 1 when the store's bucket does not exist, saying so", async () => {
    const run = await lifeboat(['--config', missingBucket, 'backup', '--target', 'crm']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('✖ backup of crm failed: store "main" (s3://no-such-bucket-xyz/');
    expect(run.stderr).toContain('bucket "no-such-bucket-xyz" does not exist: create it, or fix stores.main.bucket');

    const list = await lifeboat(['--config', missingBucket, 'backups', '--target', 'crm']);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain('bucket "no-such-bucket-xyz" does not exist');
  }, 60_000);

  it('fails with exit 1 to list backups when the store is down, saying it is unreachable', async () => {
    const run = await lifeboat(['--config', storeDown, 'backups', '--target', 'crm']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^✖ store "main" \(s3:\/\/[^ ]+ at http:\/\/127\.0\.0\.1:1\) is unreachable while trying to list crm\/daily\/ \(ECONNREFUSED\)/,
    );
  }, 60_000);

  it('fails with exit 1 when the store refuses the credentials, without echoing them', async () => {
    const run = await lifeboat(['--config', main, 'backups', '--target', 'crm'], { AWS_SECRET_ACCESS_KEY: 'not-the-secret-4f9a1c' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('refused the credentials');
    expect(run.stderr).toContain('check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    expect(`${run.stdout}${run.stderr}`).not.toContain('not-the-secret-4f9a1c');
  }, 60_000);

  it('never prints the S3 secret key', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(15);
    const secret = inject('s3SecretAccessKey');
    for (const run of outputs) expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
  });
});
