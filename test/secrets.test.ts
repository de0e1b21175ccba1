// Secrets stay secret, configured SQL stays harmless, notifications never fail work: a hook sees
// none of the worker's credentials and anything secret it prints is redacted; a configuration
// error never quotes a value from the environment; a check of several statements is refused and
// changes nothing; a critical check leaves its sequences where they were; verify and freshness
// succeed while the notifier throws.
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetHookInput } from '../activities/hooks/activities.js';
import type { HookResult } from '../activities/hooks/hooks.js';
import { createActivities } from '../activities/index.js';
import { withClient } from '../activities/postgres/connection.js';
import { integrityFindings } from '../activities/postgres/inspect.js';
import type { FreshnessResult, VerificationRecord } from '../common/backups.js';
import { ConfigError } from '../common/errors.js';
import { REDACTED, Redactor, workerSecrets } from '../common/redact.js';
import { redactedLogFunction } from '../worker/logging.js';
import { parseConfig } from '../config/config.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  damageStoredDump,
  startTestWorker,
  testConfig,
  testConfigText,
  testEnv,
  uniqueName,
  observed,
} from './helpers.js';

const S3_SECRET = 'aws-s3cret-0f9e8d7c';
const SLACK_TOKEN = 'xoxb-1111-2222-slack-token';
const OTHER_PASSWORD = 'other-db-pw-5a4b';
const DEPLOY_TOKEN = 'deploy-tok-77aa';

describe('hooks and secrets', () => {
  let db: TestDatabase;
  const prefix = uniqueName('secrets');
  const hookYaml = (command: string) => `
hooks:
  freeze:
    type: command
    command: [sh, -c, ${JSON.stringify(command)}]
    env: [DEPLOY_REGION, DEPLOY_TOKEN]
    timeout: 30s
`;
  const config = (command: string) => testConfig({ prefix, crmExtra: '    hooks:\n      freezeWrites: freeze', extra: hookYaml(command) });

  beforeAll(async () => {
    db = await createCrmDatabase(5);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const workerEnv = () => ({
    ...testEnv(db),
    PATH: process.env.PATH,
    HOME: '/tmp',
    AWS_SECRET_ACCESS_KEY: S3_SECRET,
    SLACK_BOT_TOKEN: SLACK_TOKEN,
    OTHER_DATABASE_URL: `postgres://app:${OTHER_PASSWORD}@other.internal:5432/billing`,
    DEPLOY_REGION: 'eu-west-1',
    DEPLOY_TOKEN,
  });

  const runFreezeHook = (command: string) => {
    const activities = createActivities({ config: config(command), env: workerEnv() });
    const input: TargetHookInput = { incidentId: 'inc-1', target: 'crm', role: 'freezeWrites' };
    return new MockActivityEnvironment().run(activities.runTargetHook, input) as Promise<HookResult>;
  };

  it('gives a command hook none of the worker secrets, only its basics and the variables it names', async () => {
    const result = await runFreezeHook('env');
    const lines = result.output.split('\n');
    expect(lines).toContain('DEPLOY_REGION=eu-west-1');
    expect(lines).toContain(`DEPLOY_TOKEN=${REDACTED}`);
    expect(lines).toContain('HOME=/tmp');
    expect(lines).toContain('LIFEBOAT_ACTION=freezeWrites');
    const names = lines.map((line) => line.split('=')[0]);
    for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'SLACK_BOT_TOKEN', 'OTHER_DATABASE_URL', 'CRM_DATABASE_URL'])
      expect(names).not.toContain(name);
    for (const secret of [S3_SECRET, SLACK_TOKEN, OTHER_PASSWORD, DEPLOY_TOKEN]) expect(JSON.stringify(result)).not.toContain(secret);
  });

  it('redacts every configured secret a hook prints, in its result and in its failure', async () => {
    const leak = `echo "s3=${S3_SECRET} slack=${SLACK_TOKEN} other=${OTHER_PASSWORD} deploy=$DEPLOY_TOKEN"`;
    const result = await runFreezeHook(leak);
    expect(result.output).toBe(`s3=${REDACTED} slack=${REDACTED} other=${REDACTED} deploy=${REDACTED}\n`);

    const failed = await runFreezeHook(`${leak}; exit 1`).catch((err: Error) => err);
    expect(failed).toBeInstanceOf(ApplicationFailure);
    const text = `${(failed as Error).message}\n${(failed as Error).stack}`;
    expect(text).toContain(`s3=${REDACTED}`);
    for (const secret of [S3_SECRET, SLACK_TOKEN, OTHER_PASSWORD, DEPLOY_TOKEN]) expect(text).not.toContain(secret);
    observed(
      'hook printing worker secrets',
      'the hook saw only its named variables; every secret it printed came back redacted, in its result and its failure',
    );
  });

  it("writes the worker's log through its redactor: a secret in a line or its metadata never reaches it", () => {
    const env = { AWS_SECRET_ACCESS_KEY: 'aws-secret-in-a-log-line', CRM_DATABASE_URL: 'postgres://app:db-password-9@db/crm' };
    const lines: string[] = [];
    const log = redactedLogFunction(new Redactor(workerSecrets(testConfig({ prefix }), env)), (line) => lines.push(line));
    const cause = new Error('connect failed for postgres://app:db-password-9@db/crm');
    log({ level: 'WARN', message: 'Activity failed with aws-secret-in-a-log-line', timestampNanos: 0n, meta: { error: cause } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('[WARN] Activity failed with [redacted]');
    expect(lines[0]).toContain('connect failed for');
    expect(lines[0]).not.toMatch(/aws-secret-in-a-log-line|db-password-9/);
  });

  it('never quotes a value interpolated from the environment in a configuration error', () => {
    const text = `${testConfigText({ prefix })}notify:\n  responseTeam: ["\${TEAM_PASSWORD}"\n`;
    const error = (() => {
      try {
        parseConfig(text, 'lifeboat.yaml', { TEAM_PASSWORD: 'hunter2-config-secret' });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toContain('not valid YAML');
    expect(error!.message).toContain(REDACTED);
    expect(`${error!.message}${error!.stack}`).not.toContain('hunter2-config-secret');
  });
});

describe('configured SQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createCrmDatabase(5);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const MULTI = 'SELECT 0; COMMIT; CREATE TABLE lifeboat_escaped()';
  const escaped = () =>
    withClient(db.url, async (c) => (await c.query(`SELECT to_regclass('lifeboat_escaped') AS t`)).rows[0].t as string | null);

  it('refuses an integrity check of several statements when the configuration is loaded', () => {
    // A second item of the crm target's integrityChecks list.
    const crmExtra = `      - name: sneaky\n        sql: "${MULTI}"`;
    expect(() => parseConfig(testConfigText({ prefix: 'p', crmExtra }), 'x.yaml', {})).toThrow(
      /targets\.crm\.integrityChecks\.1\.sql: expected exactly one SQL statement/,
    );
  });

  it('runs an integrity check of several statements nowhere: refused by the database, no table created', async () => {
    const findings = await withClient(db.url, (c) => integrityFindings(c, [{ name: 'sneaky', sql: MULTI }]));
    expect(findings).toEqual([{ check: 'sneaky', detail: expect.stringContaining('cannot insert multiple commands') }]);
    expect(await escaped()).toBeNull();
    observed(
      'multi-statement "read-only" check SQL',
      'refused when the configuration loads, and refused by the database when forced; no table created',
    );
  });

  it('leaves the sequences a critical check drew from where they were', async () => {
    await withClient(db.url, (c) => c.query('CREATE TABLE check_log (id serial PRIMARY KEY, note text); CREATE SEQUENCE fresh_seq'));
    await withClient(db.url, (c) => c.query(`INSERT INTO check_log (note) VALUES ('one'), ('two')`));
    const state = () =>
      withClient(db.url, async (c) => ({
        log: (await c.query('SELECT last_value, is_called FROM check_log_id_seq')).rows[0],
        fresh: (await c.query('SELECT last_value, is_called FROM fresh_seq')).rows[0],
        rows: (await c.query('SELECT count(*)::int AS n FROM check_log')).rows[0].n,
      }));
    const before = await state();
    const crmExtra = `    criticalChecks:
      - name: log a check
        sql: INSERT INTO check_log (note) SELECT 'check' FROM generate_series(1, 5) WHERE nextval('fresh_seq') > 0 RETURNING id`;
    const activities = createActivities({ config: testConfig({ prefix: 'p', crmExtra }), env: testEnv(db) });
    expect(await activities.criticalChecks({ target: 'crm' })).toEqual([{ check: 'log a check', ok: true }]);
    expect(await state()).toEqual(before);
    // The next row gets the key it would have got had the check never run.
    const { rows } = await withClient(db.url, (c) => c.query(`INSERT INTO check_log (note) VALUES ('three') RETURNING id`));
    expect(rows[0].id).toBe(3);
  });
});

describe('notifications never fail work', () => {
  let db: TestDatabase;
  let worker: TestWorker;
  const prefix = uniqueName('undelivered');

  beforeAll(async () => {
    db = await createCrmDatabase(10);
    const down = { notify: () => Promise.reject(ApplicationFailure.nonRetryable('Slack is down', 'SlackFailed')) };
    worker = await startTestWorker(testConfig({ prefix }), testEnv(db), { notifier: down });
  });
  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  const run = <T>(workflow: string, input: object) =>
    worker.client.workflow.execute(workflow, { taskQueue: worker.taskQueue, workflowId: uniqueName('wf'), args: [input] }) as Promise<T>;

  it('completes a freshness check whose alarm cannot be delivered, and records the undelivered notice', async () => {
    const result = await run<FreshnessResult>('freshnessWorkflow', { target: 'crm' });
    expect(result.fresh).toBe(false);
    expect(result.undeliveredNotice).toMatch(/No fresh verified backup of crm.*not delivered: Slack is down/);
    expect(worker.notices).toContainEqual(expect.objectContaining({ title: 'No fresh verified backup of crm' }));
  });

  it('completes a failed verification whose alarm cannot be delivered, and records the undelivered notice', async () => {
    const manifest = await run<{ id: string }>('backupWorkflow', { target: 'crm' });
    await damageStoredDump(prefix, manifest.id);
    const record = await run<VerificationRecord>('verifyWorkflow', { backupId: manifest.id });
    expect(record.result).toBe('failed');
    expect(record.undeliveredNotice).toMatch(/failed verification.*not delivered: Slack is down/);
  });
});
