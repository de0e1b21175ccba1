// Shared pieces of the integration tests: a CRM database of their own on the suite's PostgreSQL,
// a configuration pointing at the suite's servers, and a worker on a task queue of their own.
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client, Connection, type WorkflowHandle, type UpdateDefinition } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, inject } from 'vitest';
import { ConsoleNotifier, type Notice, type Notifier } from '../activities/notify/notifier.js';
import { withClient, withDatabase } from '../activities/postgres/connection.js';
import { fingerprints, userTables } from '../activities/postgres/inspect.js';
import { seedCrm } from '../activities/postgres/seed.js';
import { createActivities } from '../activities/index.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import { type Answerer, incidentInput } from '../client/incidents.js';
import { peopleYaml } from '../client/stack/keys.js';
import { dumpKey } from '../common/names.js';
import type { AbortRequest, Completion, RunResult, RunStatus, Vote } from '../common/plans.js';
import { abortUpdate, approveUpdate, completeUpdate, rejectUpdate, statusQuery } from '../workflows/messages.js';
import { answerTo } from '../client/sign.js';
import { runResultOf } from '../client/run-result.js';
import type { Decision } from '../common/proof.js';
import { CRM_TARGET_YAML } from './crm-target.js';
import { type CaseName, recordCase } from './ledger.js';

// Worker state changes at INFO drown the test output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

export const uniqueName = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new database holding the demo CRM, on the suite's server or the one `admin` connects to. */
export async function createCrmDatabase(leads: number, admin = inject('pgAdminUrl')): Promise<TestDatabase> {
  const name = uniqueName('crm');
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(admin, name);
  await seedCrm(url, { leads, reset: true });
  return { name, url, drop: () => withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined) };
}

export interface TestConfigOptions {
  prefix: string;
  taskQueue?: string;
  bucket?: string;
  s3Endpoint?: string;
  /** Defaults to the suite's server; "${TEMPORAL_ADDRESS}" leaves it to the environment. */
  temporalAddress?: string;
  /** More fields of the crm target, as YAML lines indented under it. */
  crmExtra?: string;
  /** More targets, as YAML lines indented under `targets:`. */
  moreTargets?: string;
  /** More top-level YAML. */
  extra?: string;
  /** Enrols the suite's people with their throwaway keys (default); false for a test that enrols its own. */
  people?: boolean;
}

/** The suite's throwaway key file for a person (test/global-setup.ts makes one for each of its people). */
export const suiteKey = (by: string): string => join(inject('keysDir'), by);

/** Someone answering with their suite key, as client/incidents.ts takes it. */
export const as = (by: string): Answerer => ({ by, keyFile: suiteKey(by) });

/** The `people:` section enrolling the suite's people. */
const suitePeopleYaml = () => peopleYaml(Object.fromEntries(inject('suitePeople').map((who) => [who, suiteKey(who)])));

/** A configuration file as an operator writes one, for one test: its own key prefix and task queue. */
export function testConfigText(options: TestConfigOptions): string {
  return `temporal:
  address: ${options.temporalAddress ?? inject('temporalAddress')}
  taskQueue: ${options.taskQueue ?? uniqueName('tq')}
targets:
${CRM_TARGET_YAML}
${options.crmExtra ?? ''}
${options.moreTargets ?? ''}
stores:
  main:
    type: s3
    endpoint: ${options.s3Endpoint ?? inject('s3Endpoint')}
    bucket: ${options.bucket ?? inject('s3Bucket')}
    prefix: ${options.prefix}
    partSizeMiB: 5
${options.extra ?? ''}
${options.people === false ? '' : suitePeopleYaml()}
`;
}

export function testConfig(options: TestConfigOptions): LifeboatConfig {
  return parseConfig(testConfigText(options), 'test configuration', {});
}

export function testEnv(database: TestDatabase): NodeJS.ProcessEnv {
  return {
    CRM_DATABASE_URL: database.url,
    LIFEBOAT_KEYS_DIR: inject('keysDir'),
    AWS_ACCESS_KEY_ID: inject('s3AccessKeyId'),
    AWS_SECRET_ACCESS_KEY: inject('s3SecretAccessKey'),
  };
}

/** The environment bin/lifeboat runs in against `database` and the suite's servers, TEMPORAL_ADDRESS among them. */
export const cliEnv = (database: TestDatabase): NodeJS.ProcessEnv => ({
  ...process.env,
  ...testEnv(database),
  TEMPORAL_ADDRESS: inject('temporalAddress'),
});

/**
 * Writes a configuration as `dir`/lifeboat.yaml, its Temporal address left to the environment
 * (${TEMPORAL_ADDRESS}, as cliEnv sets it); returns the file and the configuration as read with `env`.
 */
export function writeTestConfig(
  dir: string,
  options: TestConfigOptions,
  env: NodeJS.ProcessEnv,
): { configFile: string; config: LifeboatConfig } {
  const text = testConfigText({ temporalAddress: '${TEMPORAL_ADDRESS}', ...options });
  const configFile = join(dir, 'lifeboat.yaml');
  writeFileSync(configFile, text);
  return { configFile, config: parseConfig(text, configFile, env) };
}

export interface TestWorker {
  client: Client;
  taskQueue: string;
  notices: Notice[];
  stop(): Promise<void>;
}

export interface TestWorkerOptions {
  /** Where notices go (e.g. a SlackNotifier against the fake Slack); they are still recorded in `notices`. Default: a silent console. */
  notifier?: Notifier;
  /** Another Temporal server than the suite's (a test that crashes its own). */
  temporalAddress?: string;
}

/** A worker on the configuration's task queue (one per test configuration), running the suite's workflow bundle. */
export async function startTestWorker(
  config: LifeboatConfig,
  env: NodeJS.ProcessEnv,
  options: TestWorkerOptions = {},
): Promise<TestWorker> {
  const { taskQueue } = config.temporal;
  const notices: Notice[] = [];
  const target = options.notifier ?? new ConsoleNotifier(() => undefined);
  const notifier = { notify: async (n: Notice) => (notices.push(n), target.notify(n)) };
  const address = options.temporalAddress ?? inject('temporalAddress');
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities: createActivities({ config, env, notifier }),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  return {
    client: new Client({ connection }),
    taskQueue,
    notices,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await Promise.all([nativeConnection.close(), connection.close()]);
    },
  };
}

/** Takes a backup of the crm target and verifies it, as the incident tests need one; returns its id. */
export async function backupAndVerify(worker: TestWorker): Promise<string> {
  const run = (type: string, args: unknown[]) =>
    worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
  const manifest = (await run('backupWorkflow', [{ target: 'crm' }])) as { id: string };
  await run('verifyWorkflow', [{ backupId: manifest.id }]);
  return manifest.id;
}

/** Declares an L1 incident (by carol) bringing back `keys` of crm_leads with their children; returns its id and handles. */
export async function startL1Incident(worker: TestWorker, config: LifeboatConfig, keys: string[], summary: string) {
  const input = incidentInput({
    target: 'crm',
    summary,
    declaredBy: 'carol',
    level: 'L1',
    options: { record: { table: 'crm_leads', keys, includeChildren: true, goodBefore: new Date().toISOString() } },
  });
  const incident = await worker.client.workflow.start('incidentWorkflow', {
    taskQueue: worker.taskQueue,
    workflowId: input.incidentId,
    args: [input],
  });
  return { incidentId: input.incidentId, incident, plan: worker.client.workflow.getHandle(`${input.incidentId}-L1`) };
}

export { type Answer, driveIncident } from '../client/drive.js';
export { runResultOf } from '../client/run-result.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const LIFEBOAT = fileURLToPath(new URL('../bin/lifeboat', import.meta.url));

/** Runs `bin/lifeboat` as a person would, with a generous time-out; `code` is null when it was killed. */
export function runLifeboat(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(LIFEBOAT, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: signal ? null : code, stdout, stderr }));
  });
}

/** The messages people send a run, by decision. */
interface Answers {
  approve: Vote;
  reject: Vote;
  complete: Completion;
  abort: AbortRequest;
}

const UPDATES = { approve: approveUpdate, reject: rejectUpdate, complete: completeUpdate, abort: abortUpdate } as const;

/** Sends `message` to the run behind `handle`, signed with the suite key of the person it names, as the CLI would send it. */
export async function answer<D extends Decision>(handle: WorkflowHandle, decision: D, message: Answers[D]): Promise<unknown> {
  const m = message as Partial<Vote & Completion & AbortRequest>;
  const item = m.gate ?? m.task ?? 'run';
  const text = m.reason ?? m.note;
  const signed = await answerTo(handle.client, handle.workflowId, { item, decision, by: m.by!, text }, suiteKey(m.by!));
  const update = UPDATES[decision] as UpdateDefinition<unknown, [Answers[D]]>;
  return signed.handle.executeUpdate(update, { args: [{ ...message, proof: signed.proof }] });
}

/**
 * The names of the gates and tasks a run waits for (none while it cannot answer), for expect.poll;
 * once the run has ended, how it ended, so a wait that can no longer succeed says why it failed.
 */
export async function waitingNames(handle: WorkflowHandle): Promise<string[]> {
  const { status } = await handle.describe().catch(() => ({ status: undefined }));
  if (status && status.name !== 'RUNNING') {
    const ended = await runResultOf(handle).then(
      (r: Partial<RunResult>) => `${r.outcome}: ${r.detail ?? ''}`,
      (err: Error) => `${err.message}: ${(err.cause as Error | undefined)?.message ?? ''}`,
    );
    return [`(the run ended ${status.name}, ${ended})`];
  }
  return handle.query(statusQuery).then(
    (s) => s.waiting.map((w) => w.name),
    () => [],
  );
}

/** Waits (polling, no fixed sleep) until `name` waits for people on the run, and returns its status. */
export async function waitingFor(handle: WorkflowHandle, name: string, timeout = 300_000): Promise<RunStatus> {
  await expect.poll(() => waitingNames(handle), { timeout, interval: 300 }).toContain(name);
  return handle.query(statusQuery);
}

/** Flips one byte of a stored dump in the suite's bucket: the backup no longer matches its checksum. */
export async function damageStoredDump(prefix: string, backupId: string): Promise<void> {
  const s3 = new S3Client({
    endpoint: inject('s3Endpoint'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: inject('s3AccessKeyId'), secretAccessKey: inject('s3SecretAccessKey') },
  });
  const key = `${prefix}/${dumpKey(backupId)}`;
  const bytes = Buffer.from(
    await (await s3.send(new GetObjectCommand({ Bucket: inject('s3Bucket'), Key: key }))).Body!.transformToByteArray(),
  );
  bytes[100]! ^= 0xff;
  await s3.send(new PutObjectCommand({ Bucket: inject('s3Bucket'), Key: key, Body: bytes }));
}

/** Records a fault or abuse case for the suite's table (test/ledger.ts), once the test's assertions have passed. */
export const observed = (name: CaseName, text: string, rowsLost = 0): void => recordCase(inject('logDir'), name, text, rowsLost);

/** What a run is doing, for a test that gave up waiting on it: its state, pending work, last workflow task failure and latest events. */
export async function explainRun(handle: WorkflowHandle): Promise<string> {
  const d = await handle.describe().catch((err: Error) => err);
  if (d instanceof Error) return `${handle.workflowId}: cannot describe (${d.message})`;
  const events = (await handle.fetchHistory().catch(() => undefined))?.events ?? [];
  const failed = [...events].reverse().find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
  const latest = events.slice(-8).map((e) => String(e.eventType));
  const query = await handle.query(statusQuery).then(
    (s) => `waiting: [${s.waiting.map((w) => w.name).join(', ')}]`,
    (err: Error) => `query failed: ${err.message}`,
  );
  return JSON.stringify({
    workflowId: handle.workflowId,
    status: d.status.name,
    pendingActivities: d.raw.pendingActivities?.map(
      (a) => `${a.activityType?.name} attempt ${a.attempt} ${a.state}: ${a.lastFailure?.message ?? ''}`,
    ),
    pendingWorkflowTask: d.raw.pendingWorkflowTask
      ? `${d.raw.pendingWorkflowTask.state} attempt ${d.raw.pendingWorkflowTask.attempt}`
      : undefined,
    lastWorkflowTaskFailure: failed ? `${failed.cause}: ${failed.failure?.message}` : undefined,
    latestEvents: latest,
    query,
  });
}

/** Every table's row count and checksum, as the plans' verify step computes them: for "rows equal, byte for byte". */
export const tableSums = (url: string) =>
  withClient(url, async (c) =>
    fingerprints(
      c,
      (await userTables(c)).filter((t) => !t.includes('.')),
    ),
  );

/**
 * Holds the lock `statement` takes, in an open transaction, until `release`: a fault is then set
 * off while a backup or restore waits on it. A server restart ending the session is expected.
 */
export async function holdLock(url: string, statement: string, params: unknown[] = []): Promise<{ release(): Promise<void> }> {
  const session = new pg.Client({ connectionString: url });
  session.on('error', () => undefined);
  await session.connect();
  await session.query('BEGIN');
  await session.query(statement, params);
  return {
    release: () =>
      session
        .query('ROLLBACK')
        .then(() => session.end())
        .catch(() => undefined),
  };
}

/** Sessions of the database at `url` waiting for a lock: of a kind ('relation', 'advisory', …) or an application (pg_dump, psql) when given. */
export const lockWaiters = (url: string, of: { kind?: string; application?: string } = {}): Promise<number> =>
  withClient(url, async (c) =>
    Number(
      (
        await c.query(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND ($1::text IS NULL OR wait_event = $1) AND ($2::text IS NULL OR application_name = $2)`,
          [of.kind ?? null, of.application ?? null],
        )
      ).rows[0].n,
    ),
  );

/** The highest attempt at which `activity` started in the run's history: 2 or more means a fault made it retry. */
export async function highestAttempt(handle: WorkflowHandle, activity: string): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Set(
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity).map((e) => String(e.eventId)),
  );
  const started = events.filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
  return Math.max(0, ...started.map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0));
}
