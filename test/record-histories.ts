// `npm run record-histories`: runs real workflows to their end on a private stack (PostgreSQL,
// SeaweedFS, Temporal dev server on free loopback ports, all stopped afterwards) and saves their
// histories, and those of their child plans, as JSON in test/histories/, which
// test/replay.test.ts replays against today's workflow code.
//
// Guarantees: the files are replaced only when every run ended as expected (an interrupted
// recording leaves the old set alone); no file holds a connection string or key of the stack (the
// script refuses to write one that does); the CRM is small (200 leads) so the files stay small.
//
// Re-record only after an intended workflow change that no running workflow will see (see the
// README, "Replay tests"): never to silence a replay failure.
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { withClient, withDatabase } from '../activities/postgres/connection.js';
import { seedCrm } from '../activities/postgres/seed.js';
import { type Answer, driveIncident } from '../client/drive.js';
import { incidentInput } from '../client/incidents.js';
import { DEMO_BUCKET, startStack } from '../client/stack/index.js';
import { approversOf, peopleYaml, throwawayKeys } from '../client/stack/keys.js';
import { REPO_ROOT } from '../client/stack/processes.js';
import { workflowBundle } from '../worker/bundle.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import { createWorker } from '../worker/worker.js';
import { type Level, type PlanOptions } from '../common/plans.js';
import { drillResultQuery } from '../workflows/messages.js';
import { drillIdFor } from '../common/names.js';
import { CRM_TARGET_YAML } from './crm-target.js';
import { L3_PEOPLE, L4_PEOPLE } from './people.js';

export const HISTORIES_DIR = join(REPO_ROOT, 'test', 'histories');
const TASK_QUEUE = 'lifeboat-record';
const LEADS = 200;

const configText = (temporalAddress: string, s3Endpoint: string) => `temporal:
  address: ${temporalAddress}
  taskQueue: ${TASK_QUEUE}
targets:
${CRM_TARGET_YAML}
    criticalChecks:
      - name: read due reminders
        sql: SELECT count(*) FROM crm_reminders WHERE NOT done AND due_at < now() + interval '1 day'
stores:
  main:
    type: s3
    endpoint: ${s3Endpoint}
    bucket: ${DEMO_BUCKET}
    prefix: record
    partSizeMiB: 5
approvals:
  L1: { approvers: [alice, bob, carol] }
  L2: { approvers: [alice, bob] }
  L3: { approvers: [alice, bob] }
  L4: { approvers: [alice, bob, dana], gates: { accept-data-loss: [bob, dana, erin] } }
drill:
  target: crm
  level: L1
  records: 3
`;

/** One recorded run: the file stem and the workflow it names. */
interface Recorded {
  name: string;
  workflowId: string;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const log = (line: string) => console.log(line);
  const logDir = join(REPO_ROOT, '.test-logs', `record-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  log(`starting PostgreSQL, SeaweedFS and Temporal on free loopback ports (logs in ${logDir})`);
  const [stack, bundle] = await Promise.all([startStack({ logDir, ui: false }), workflowBundle()]);
  const cleanup: Array<() => Promise<unknown>> = [() => stack.stop()];
  try {
    await withClient(stack.postgres.adminUrl, (c) => c.query('CREATE DATABASE crm'));
    const crmUrl = withDatabase(stack.postgres.adminUrl, 'crm');
    await seedCrm(crmUrl, { leads: LEADS, reset: true });
    const env = { CRM_DATABASE_URL: crmUrl, AWS_ACCESS_KEY_ID: stack.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: stack.s3.secretAccessKey };
    // The recorded people sign their answers with throwaway keys, as in `lifeboat dev`.
    const keysDir = join(logDir, 'keys');
    process.env.LIFEBOAT_KEYS_DIR = keysDir;
    const plain = parseConfig(configText(stack.temporal.address, stack.s3.endpoint), 'recording configuration', {});
    const people = peopleYaml(throwawayKeys(keysDir, approversOf(plain)));
    const config = parseConfig(`${configText(stack.temporal.address, stack.s3.endpoint)}${people}`, 'recording configuration', {});

    const nativeConnection = await NativeConnection.connect({ address: stack.temporal.address });
    const worker = await createWorker({
      config,
      env,
      connection: nativeConnection,
      workflowBundle: bundle,
      notifier: new ConsoleNotifier(() => undefined),
    });
    const running = worker.run();
    cleanup.push(async () => (worker.shutdown(), await running, await nativeConnection.close()));
    const connection = await Connection.connect({ address: stack.temporal.address });
    cleanup.push(() => connection.close());
    const client = new Client({ connection });

    const recorded = await runAll(client, config, crmUrl, log);
    const files = await collect(client, recorded);
    // The access key id ("lifeboat") is a name, not a secret; the secret key and connection strings are.
    refuseSecrets(files, {
      'the CRM connection string': crmUrl,
      'the admin connection string': stack.postgres.adminUrl,
      'the S3 secret key': stack.s3.secretAccessKey,
    });
    mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const old of readdirSync(HISTORIES_DIR)) if (old.endsWith('.json')) rmSync(join(HISTORIES_DIR, old));
    for (const [name, json] of files) writeFileSync(join(HISTORIES_DIR, `${name}.json`), json);
    log(`wrote ${files.size} histories to ${HISTORIES_DIR}: ${[...files.keys()].join(', ')}`);
  } finally {
    for (const step of cleanup.reverse()) await step().catch((err: Error) => console.error(`cleanup: ${err.message}`));
  }
}

/** The runs recorded: a backup and its verification, one incident per level, a drill. */
async function runAll(client: Client, config: LifeboatConfig, crmUrl: string, log: (line: string) => void): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  const execute = async (name: string, type: string, args: unknown[]) => {
    log(`${name}: ${type}`);
    const result = await client.workflow.execute(type, { taskQueue: TASK_QUEUE, workflowId: `record-${name}`, args });
    recorded.push({ name, workflowId: `record-${name}` });
    return result;
  };
  const manifest = (await execute('backup', 'backupWorkflow', [{ target: 'crm', tags: ['recorded'], reason: 'replay histories' }])) as {
    id: string;
  };
  await execute('verify', 'verifyWorkflow', [{ backupId: manifest.id }]);

  const incident = async (level: Level, options: PlanOptions, answers: Record<string, Answer>) => {
    const input = incidentInput({ target: 'crm', summary: `recorded ${level} incident`, declaredBy: 'carol', level, options });
    log(`incident-${level}: ${input.incidentId}`);
    await client.workflow.start('incidentWorkflow', { taskQueue: TASK_QUEUE, workflowId: input.incidentId, args: [input] });
    const result = await driveIncident(client, input.incidentId, answers, { timeoutMs: 10 * 60_000 });
    if (result.outcome !== 'recovered') throw new Error(`the ${level} incident ended ${result.outcome}: ${result.detail}`);
    recorded.push({ name: `incident-${level}`, workflowId: input.incidentId });
  };

  // L1: three leads deleted (their children go with them), brought back behind the approval gate.
  const keys = await withClient(crmUrl, async (c) => {
    const ids = (await c.query<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 3 OFFSET 50')).rows.map((r) => r.id);
    await c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [ids]);
    return ids;
  });
  await incident(
    'L1',
    { record: { table: 'crm_leads', keys, includeChildren: true, goodBefore: new Date().toISOString() } },
    {
      'apply-restore': { approve: ['alice'] },
      review: { complete: { by: 'carol', note: 'script fixed' } },
    },
  );

  // L2: a truncated table restored after a safety snapshot and an approval.
  await withClient(crmUrl, (c) => c.query('TRUNCATE crm_reminders'));
  await incident(
    'L2',
    { table: 'crm_reminders' },
    {
      'confirm-cause': { complete: { by: 'carol', note: 'a migration truncated reminders', choices: ['restore'] } },
      'table-restore': { approve: ['alice'] },
      'resume-operations': { complete: { by: 'carol' } },
      'post-incident-review': { complete: { by: 'carol', note: 'review migrations' } },
    },
  );

  // L3: restore into a new database, then the people's tasks.
  await incident('L3', {}, L3_PEOPLE);

  // L4: accepting the data loss takes two distinct approvers.
  await incident('L4', {}, L4_PEOPLE);

  // The drill (L1 on an isolated test database), its improvements task answered by a person.
  const drillId = drillIdFor(new Date(), randomBytes(2).toString('hex'));
  log(`drill-L1: ${drillId}`);
  const drill = await client.workflow.start('drillWorkflow', {
    taskQueue: TASK_QUEUE,
    workflowId: drillId,
    args: [{ drillId, level: 'L1', requestedBy: 'record' }],
  });
  await waitFor(drill, async () => (await drill.query(drillResultQuery).catch(() => undefined)) !== undefined, 'the drill verdict');
  await driveIncident(client, drillId, { improvements: { complete: { by: 'carol', note: 'none' } } });
  const verdict = ((await drill.result()) as { verdict: string }).verdict;
  if (verdict !== 'passed') throw new Error(`the drill ${verdict}`);
  recorded.push({ name: 'drill-L1', workflowId: drillId });
  return recorded;
}

/** Polls `ready` until it holds: the state waited for, never a fixed sleep. */
async function waitFor(handle: WorkflowHandle, ready: () => Promise<boolean>, what: string, timeoutMs = 10 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${handle.workflowId}: no ${what} after ${timeoutMs / 1000} s`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/** The histories of the recorded runs and of every child they started, as JSON by file stem. */
async function collect(client: Client, recorded: Recorded[]): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const queue = [...recorded];
  for (let run = queue.shift(); run; run = queue.shift()) {
    const history = await client.workflow.getHandle(run.workflowId).fetchHistory();
    const parent = run;
    for (const event of history.events ?? []) {
      const child = event.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId;
      // A child plan is named by what its id adds to the parent's (inc-…-L1 → incident-L1-L1), else by its id.
      if (child)
        queue.push({
          name: `${parent.name}-${child.startsWith(parent.workflowId) ? child.slice(parent.workflowId.length).replace(/^-/, '') : child}`,
          workflowId: child,
        });
    }
    files.set(run.name, historyToJSON(history));
  }
  return files;
}

/** Refuses histories holding a secret, in the JSON or in a payload (base64 there). */
function refuseSecrets(files: Map<string, string>, secrets: Record<string, string>): void {
  for (const [name, json] of files) {
    const payloads = [...json.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
    const text = [json, ...payloads].join('\n');
    const found = Object.keys(secrets).filter((what) => text.includes(secrets[what]!));
    if (found.length) throw new Error(`history ${name} holds ${found.join(', ')}: nothing written`);
  }
}

await main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`recording failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
