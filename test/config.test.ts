// The configuration file and the names that become storage keys: what is accepted, and that what
// is refused is refused with a message an operator can act on.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { backupFolder, dumpKey } from '../common/names.js';
import { LocalStore } from '../activities/storage/local.js';
import { StoreError } from '../activities/storage/store.js';
import { ConfigError } from '../common/errors.js';
import { durationMs, parseConfig, targetConfig } from '../config/config.js';
import { proofPolicy } from '../activities/policy.js';
import { BackupIdError } from '../common/errors.js';
import { backupIdFor, parseBackupId } from '../common/names.js';

const EXAMPLE = readFileSync(fileURLToPath(new URL('../config/lifeboat.example.yaml', import.meta.url)), 'utf8');

/** The message of the ConfigError that parsing throws (fails the test if it parses or throws anything else). */
function configError(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, 'lifeboat.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

/** The example with one line replaced, failing loudly if the line is not there. */
function exampleWith(line: string, replacement: string): string {
  expect(EXAMPLE).toContain(line);
  return EXAMPLE.replace(line, replacement);
}

describe('parseConfig', () => {
  it('parses the example configuration, taking ${VAR} values from the given environment', () => {
    const config = parseConfig(EXAMPLE, 'lifeboat.example.yaml', {
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      LIFEBOAT_S3_ENDPOINT: 'http://s3.internal:8333',
      LIFEBOAT_LOCAL_STORE: '/mnt/offsite',
    });
    expect(config.temporal).toEqual({
      address: 'temporal.internal:7233',
      namespace: 'default',
      taskQueue: 'lifeboat',
      uiUrl: 'http://127.0.0.1:8233',
      versioning: { deployment: 'lifeboat', makeCurrent: 'when-none' },
    });
    expect(Object.keys(config.targets)).toEqual(['crm']);
    expect(config.targets.crm).toMatchObject({
      urlEnv: 'CRM_DATABASE_URL',
      store: 'main',
      tables: ['crm_agents', 'crm_leads', 'crm_activities', 'crm_reminders', 'crm_lead_notes', 'crm_notifications'],
    });
    expect(config.targets.crm!.integrityChecks.map((c) => c.name)).toEqual([
      'leads assigned to a missing agent',
      'activities of a missing lead',
      'reminders of a missing lead',
      'notes of a missing lead',
    ]);
    expect(config.targets.crm!.integrityChecks[1]!.sql).toBe(
      'SELECT count(*) FROM crm_activities x WHERE NOT EXISTS (SELECT 1 FROM crm_leads l WHERE l.id = x.lead_id)',
    );
    expect(config.stores).toEqual({
      main: {
        type: 's3',
        endpoint: 'http://s3.internal:8333',
        bucket: 'lifeboat-backups',
        prefix: 'backups',
        region: 'us-east-1',
        accessKeyIdEnv: 'AWS_ACCESS_KEY_ID',
        secretAccessKeyEnv: 'AWS_SECRET_ACCESS_KEY',
        partSizeMiB: 16,
      },
      offsite: { type: 'local', path: '/mnt/offsite', prefix: 'backups' },
    });
    expect(config.retention).toEqual({ daily: 7, weekly: 4, monthly: 6 });
    expect(config.backup).toEqual({ compression: 1, manifestKeyEnv: 'LIFEBOAT_MANIFEST_KEY' });
    expect(durationMs(config.freshness.maxAge)).toBe(25 * 3_600_000);
    expect(config.levels.L4).toEqual({ rto: '72h', rtoTarget: '48h', rpo: '24h' });
    expect(config.schedules).toEqual({
      timezone: 'UTC',
      backup: '0 2 * * *',
      verify: '0 4 * * 0',
      retention: '30 3 * * *',
      freshness: '0 * * * *',
      drill: '0 9 1-7 1,4,7,10 1',
    });
  });

  it('parses the example with an empty environment, using the defaults it writes (its comments mention ${VAR} too)', () => {
    expect(EXAMPLE).toMatch(/^#.*\$\{VAR\}/m);
    const config = parseConfig(EXAMPLE, 'lifeboat.example.yaml', {});
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.stores.main).toMatchObject({ endpoint: 'http://127.0.0.1:8333', bucket: 'lifeboat-backups' });
    expect(config.stores.offsite).toEqual({ type: 'local', path: './.lifeboat/store', prefix: 'backups' });
  });

  it('fills in every default of a minimal configuration', () => {
    const config = parseConfig(
      'targets:\n  app: { urlEnv: APP_URL, store: disk, scratchUrlEnv: SCRATCH_URL, tables: [t] }\nstores:\n  disk: { type: local, path: /var/backups }\n',
      'x',
      {},
    );
    expect(config.temporal).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'lifeboat',
      uiUrl: 'http://127.0.0.1:8233',
    });
    expect(config.targets.app).toMatchObject({ urlEnv: 'APP_URL', store: 'disk', tables: ['t'], integrityChecks: [] });
    expect(config.targets.app!.verifyOn).toBeUndefined();
    expect(config.stores.disk).toEqual({ type: 'local', path: '/var/backups', prefix: 'backups' });
    expect(config.retention).toEqual({ daily: 7, weekly: 4, monthly: 6 });
    expect(config.backup.compression).toBe(1);
    expect(config.freshness.maxAge).toBe('25h');
  });

  it('refuses a configuration without targets, naming the field', () => {
    const text = EXAMPLE.replace(/^targets:\n(?:(?: {2}.*)?\n)*/m, '');
    expect(text).not.toContain('urlEnv');
    expect(configError(text)).toBe('lifeboat.yaml is invalid:\n  - targets: Invalid input: expected record, received undefined');
    expect(configError(`${text}\ntargets: {}\n`)).toBe('lifeboat.yaml is invalid:\n  - targets: at least one target is needed');
  });

  it('refuses a target without a verification server unless it says verifyOn: production, saying what to write', () => {
    const text = exampleWith('    verifyOn: production\n', '');
    expect(configError(text)).toBe(
      "lifeboat.yaml is invalid:\n  - targets.crm: no verification server: verification and drills restore backups onto one. Write scratchUrlEnv: <VARIABLE> (the connection string of a server other than production), or verifyOn: production to restore them on the target's own server",
    );
    const separate = parseConfig(exampleWith('    verifyOn: production\n', '    scratchUrlEnv: SCRATCH_URL\n'), 'lifeboat.yaml', {});
    expect(separate.targets.crm).toMatchObject({ scratchUrlEnv: 'SCRATCH_URL' });
  });

  it('refuses a field of the wrong type, naming the field and the type expected', () => {
    expect(configError(exampleWith('compression: 1', 'compression: "fast"'))).toBe(
      'lifeboat.yaml is invalid:\n  - backup.compression: Invalid input: expected number, received string',
    );
    expect(configError(exampleWith('compression: 1', 'compression: 12'))).toMatch(
      /^lifeboat\.yaml is invalid:\n {2}- backup\.compression: Too big: expected number to be <=9$/,
    );
  });

  it('refuses an unknown field, such as a misspelt section', () => {
    expect(configError(exampleWith('retention:\n', 'retension:\n'))).toBe(
      'lifeboat.yaml is invalid:\n  - (top level): unknown field(s) retension',
    );
    expect(configError(exampleWith('    prefix: backups\n    region', '    prefx: backups\n    region'))).toBe(
      'lifeboat.yaml is invalid:\n  - stores.main: unknown field(s) prefx',
    );
  });

  it('refuses a duration that is not a number and a unit', () => {
    expect(configError(exampleWith('maxAge: 25h', 'maxAge: 25 hours'))).toBe(
      'lifeboat.yaml is invalid:\n  - freshness.maxAge: expected a duration such as "90m", "25h" or "7d"',
    );
    expect(() => durationMs('25 hours')).toThrow(ConfigError);
  });

  it('refuses a target naming a store that does not exist, listing the stores there are', () => {
    expect(configError(exampleWith('store: main', 'store: primary'))).toBe(
      'lifeboat.yaml is invalid:\n  - targets.crm.store: no store named "primary" (known: main, offsite)',
    );
  });

  it('refuses an unset ${VAR} without a default, and says how to give one', () => {
    const text = exampleWith('bucket: ${LIFEBOAT_S3_BUCKET:-lifeboat-backups}', 'bucket: ${LIFEBOAT_S3_BUCKET}');
    expect(configError(text)).toBe(
      'lifeboat.yaml: environment variable LIFEBOAT_S3_BUCKET is not set (write ${LIFEBOAT_S3_BUCKET:-default} to give a default)',
    );
    // an empty value counts as unset
    expect(configError(text, { LIFEBOAT_S3_BUCKET: '' })).toContain('environment variable LIFEBOAT_S3_BUCKET is not set');
    expect(parseConfig(text, 'lifeboat.yaml', { LIFEBOAT_S3_BUCKET: 'dr-bucket' }).stores.main).toMatchObject({ bucket: 'dr-bucket' });
  });

  it('refuses invalid YAML, saying where', () => {
    const message = configError(exampleWith('  main:\n    type: s3', '  main:\n    type: [s3'));
    expect(message).toMatch(/^lifeboat\.yaml: not valid YAML: /);
    expect(message).toMatch(/at line \d+, column \d+/);
  });

  it('lists every problem of a file at once', () => {
    const text = exampleWith('compression: 1', 'compression: "fast"').replace('maxAge: 25h', 'maxAge: 1 day');
    expect(configError(text)).toBe(
      'lifeboat.yaml is invalid:\n' +
        '  - backup.compression: Invalid input: expected number, received string\n' +
        '  - freshness.maxAge: expected a duration such as "90m", "25h" or "7d"',
    );
  });

  it('refuses an unknown target by name, listing the configured ones', () => {
    const config = parseConfig(EXAMPLE, 'x', {});
    expect(() => targetConfig(config, 'nope')).toThrow(new ConfigError('unknown target "nope" (configured targets: crm)'));
  });
});

describe("the Slack receiver's key and users", () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-slack-key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'slack-receiver', '-f', join(dir, 'slack')]);
  const pub = readFileSync(join(dir, 'slack.pub'), 'utf8').trim();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const minimal =
    'targets:\n  app: { urlEnv: APP_URL, store: disk, scratchUrlEnv: SCRATCH_URL, tables: [t] }\nstores:\n  disk: { type: local, path: /var/backups }\n';
  const withSlack = (lines: string) =>
    `${minimal}notify:\n  slack:\n    channel: C0123ABCD\n    users: { U0ALICE: alice, U0BOB: bob }\n${lines}`;

  it('loads the public key from a file, and the worker trusts it for the mapped user ids only, each as one person', () => {
    const config = parseConfig(
      withSlack(`    receiver: { signingKeyFile: ${join(dir, 'slack')}, publicKeyFiles: [${join(dir, 'slack.pub')}] }\n`),
      'x',
      {},
    );
    expect(config.notify.slack!.receiver).toMatchObject({ signingKeyFile: join(dir, 'slack'), publicKeys: [pub] });
    expect(proofPolicy(config)).toEqual({
      people: {},
      receivers: [{ name: 'slack', keys: [pub], users: { 'slack:U0ALICE': 'alice', 'slack:U0BOB': 'bob' } }],
    });
    // Neither people nor a receiver key: proofs are still asked for, and nobody can give one. The private key alone is the receiver's business.
    expect(proofPolicy(parseConfig(withSlack(`    receiver: { signingKeyFile: ${join(dir, 'slack')} }\n`), 'x', {}))).toEqual({
      people: {},
      receivers: [],
    });
  });

  it('refuses a public key that is not one, or a file it cannot read, naming the field', () => {
    expect(configError(withSlack('    receiver: { publicKeys: ["ssh-ed25519 !!!"] }\n'))).toMatch(
      /^lifeboat\.yaml is invalid:\n {2}- notify\.slack\.receiver\.publicKeys\[0\]: .*not valid base64/,
    );
    writeFileSync(join(dir, 'private-by-mistake'), readFileSync(join(dir, 'slack')));
    expect(configError(withSlack(`    receiver: { publicKeyFiles: [${join(dir, 'private-by-mistake')}] }\n`))).toMatch(
      /^lifeboat\.yaml is invalid:\n {2}- notify\.slack\.receiver\.publicKeys\[0\]: /,
    );
    expect(configError(withSlack(`    receiver: { publicKeyFiles: [${join(dir, 'nope.pub')}] }\n`))).toBe(
      `lifeboat.yaml: notify.slack.receiver.publicKeyFiles: cannot read ${join(dir, 'nope.pub')}: ENOENT`,
    );
  });

  it('refuses userGroups, saying it was removed and to list approvers by user id', () => {
    expect(configError(withSlack('    userGroups: [S0DBAS]\n    colour: red\n'))).toBe(
      'lifeboat.yaml is invalid:\n' +
        "  - notify.slack.userGroups was removed: a group member's Slack handle is theirs to change, so it cannot name an approver. List each approver by Slack user id under notify.slack.users (U0123ALICE: alice)\n" +
        '  - notify.slack: unknown field(s) colour',
    );
  });
});

describe('parseBackupId', () => {
  it('parses an id into its target, start time and day', () => {
    expect(parseBackupId('crm-20261122T020000Z')).toEqual({
      id: 'crm-20261122T020000Z',
      target: 'crm',
      startedAt: new Date('2026-11-22T02:00:00Z'),
      day: '2026-11-22',
    });
    expect(parseBackupId('billing_eu-2-20240229T235959Z')).toEqual({
      id: 'billing_eu-2-20240229T235959Z',
      target: 'billing_eu-2',
      startedAt: new Date('2024-02-29T23:59:59Z'),
      day: '2024-02-29',
    });
    const at = new Date('2027-01-01T00:00:07.250Z');
    expect(backupIdFor('crm', at)).toBe('crm-20270101T000007Z');
    expect(parseBackupId(backupIdFor('crm', at)).startedAt).toEqual(new Date('2027-01-01T00:00:07Z'));
  });

  it.each([
    ['../etc/passwd'],
    ['crm-20261122T020000Z/../../x'],
    ['crm-20261122T020000Z/'],
    ['../crm-20261122T020000Z'],
    ['crm/../crm-20261122T020000Z'],
    ['CRM-20261122T020000Z'],
    ['crm-20261122t020000z'],
    ['crm-20261122T020000'],
    ['crm-2026-11-22T02:00:00Z'],
    [' crm-20261122T020000Z'],
    ['crm-20261122T020000Z\n'],
    ['-20261122T020000Z'],
    ['latest'],
    [''],
  ])('refuses %j as not an id', (id) => {
    expect(() => parseBackupId(id)).toThrow(BackupIdError);
    expect(() => parseBackupId(id)).toThrow(
      `"${id}" is not a backup id: expected <target>-<YYYYMMDD>T<HHMMSS>Z such as crm-20261122T020000Z`,
    );
  });

  it.each([
    ['crm-20261399T020000Z'], // month 13, day 99
    ['crm-20260230T020000Z'], // 30 February
    ['crm-20250229T020000Z'], // not a leap year
    ['crm-20261122T250000Z'], // hour 25
    ['crm-20261122T026000Z'], // minute 60
    ['crm-20261122T020099Z'], // second 99
    ['crm-00990101T000000Z'], // year 99, which Date.UTC reads as 1999
  ])('refuses %j, whose date is not real', (id) => {
    expect(() => parseBackupId(id)).toThrow(new BackupIdError(`"${id}" is not a backup id: its date is not a real date`));
  });
});

describe('backupFolder', () => {
  it('lays a backup out under its target and day', () => {
    expect(backupFolder('crm-20261122T020000Z')).toBe('crm/daily/2026-11-22/crm-20261122T020000Z');
    expect(dumpKey('crm-20261122T020000Z')).toBe('crm/daily/2026-11-22/crm-20261122T020000Z/backup.dump');
  });

  it('never produces a key with "..", refusing every id that would', () => {
    const tricks = [
      '..',
      '../x',
      'crm-20261122T020000Z/../../x',
      '..-20261122T020000Z',
      'crm..-20261122T020000Z',
      '/crm-20261122T020000Z',
      'crm-20261122T020000Z/..',
    ];
    for (const id of tricks) expect(() => backupFolder(id)).toThrow(BackupIdError);
    // Every id that is accepted gives a plain relative key.
    for (let t = Date.UTC(1970, 0, 1); t < Date.UTC(2100, 0, 1); t += 86_400_000 * 97 + 3_601_000) {
      for (const target of ['a', 'crm', 'x-_9', 'z'.repeat(40)]) {
        const key = backupFolder(backupIdFor(target, new Date(t)));
        expect(key).toMatch(/^[a-z][a-z0-9_-]*\/daily\/\d{4}-\d{2}-\d{2}\/[a-z][a-z0-9_-]*-\d{8}T\d{6}Z$/);
        expect(key).not.toContain('..');
      }
    }
  });
});

describe('LocalStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-local-store-'));
  const store = new LocalStore('disk', { type: 'local', path: join(dir, 'store'), prefix: 'backups' });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([['../escaped.txt'], ['../../escaped.txt'], ['a/../../escaped.txt'], ['/tmp/escaped.txt'], ['..'], ['../backups-evil/x']])(
    'refuses the key %j, which leaves its folder, for every operation',
    async (key) => {
      const refused = `key ${key} leaves store "disk"`;
      await expect(store.putText(key, 'x')).rejects.toThrow(new StoreError(refused));
      await expect(store.upload(key, Readable.from([Buffer.from('x')]))).rejects.toThrow(new StoreError(refused));
      await expect(store.getText(key)).rejects.toThrow(new StoreError(refused));
      await expect(store.download(key)).rejects.toThrow(new StoreError(refused));
      await expect(store.delete([key])).rejects.toThrow(new StoreError(refused));
      expect(existsSync(join(dir, 'store', 'escaped.txt'))).toBe(false);
      expect(existsSync(join(dir, 'escaped.txt'))).toBe(false);
      expect(existsSync(join(dir, 'store', 'backups-evil'))).toBe(false);
    },
  );

  it('keeps keys that stay inside its folder', async () => {
    await store.putText('crm/../inside.txt', 'hello');
    expect(await store.getText('inside.txt')).toBe('hello');
    expect(readFileSync(join(dir, 'store', 'backups', 'inside.txt'), 'utf8')).toBe('hello');
    expect(await store.list('')).toEqual([{ key: 'inside.txt', size: 5 }]);
  });
});
