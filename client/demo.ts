// The README's main job on embedded defaults: the quarterly recovery drill, end to end. It brings
// up the stack with the demo CRM, backs it up, verifies the backup by a test restore, rehearses an
// L1 (a few leads deleted with their children) and an L3 (the database lost) on isolated test
// databases with the real plans, prints both verdicts and where the reports are, and stops what
// it started.
import { parseArgs } from 'node:util';
import { withClient } from '../activities/postgres/connection.js';
import { type DrillInput } from '../common/drills.js';
import type { backupWorkflow, drillWorkflow, verifyWorkflow } from '../workflows/index.js';
import { newDrillId, renderVerdict, watchDrill } from './drill.js';
import { driveIncident } from './drive.js';
import { startEmbedded } from './embedded.js';
import { follow } from './follow.js';
import { backupVerdict, verificationVerdict } from './verdicts.js';

const { values } = parseArgs({ options: { leads: { type: 'string', default: '20000' } } });
const leads = Number(values.leads);
if (!Number.isSafeInteger(leads) || leads < 1) {
  console.error(`✖ --leads must be a positive whole number, not "${values.leads}"`);
  process.exit(2);
}

const log = (line: string) => console.log(`• ${line}`);
const embedded = await startEmbedded({ leads, ui: true, log, quietNotifications: true });
let failed = false;
try {
  const { client, config, stack } = embedded;
  const { taskQueue } = config.temporal;
  const workflowId = (name: string) => `${name}-${Date.now()}`;

  log(`Temporal Web UI: ${stack.temporal.uiUrl} (watch the workflows run)`);
  const backup = await client.workflow.start<typeof backupWorkflow>('backupWorkflow', {
    taskQueue,
    workflowId: workflowId('demo-backup'),
    args: [{ target: 'crm', reason: 'demo', tags: ['demo'] }],
  });
  const manifest = await follow(backup, 'backup of crm');
  console.log(backupVerdict(manifest));
  const verify = await client.workflow.start<typeof verifyWorkflow>('verifyWorkflow', {
    taskQueue,
    workflowId: workflowId('demo-verify'),
    args: [{ backupId: manifest.id }],
  });
  const record = await follow(verify, `verification of ${manifest.id}`);
  for (const f of record.findings) console.log(`  ✖ ${f.check}: ${f.detail}`);
  console.log(verificationVerdict(record));
  if (record.result !== 'passed') throw new Error('the backup failed verification: no drill can pass on it');
  // The stack's PostgreSQL archives WAL through pgBackRest from its start (README, "Point-in-time recovery").
  const archiver = await withClient(stack.postgres.adminUrl, async (c) => {
    const { rows } = await c.query<{ n: string; wal: string | null; failed: string }>(
      'SELECT archived_count AS n, last_archived_wal AS wal, failed_count AS failed FROM pg_stat_archiver',
    );
    return rows[0]!;
  });
  log(
    `WAL archiving: ${archiver.n} segment(s) pushed by pgBackRest (stanza "${stack.postgres.pgbackrest!.stanza}") into ${stack.s3.httpsEndpoint}, newest ${archiver.wal ?? '-'}, ${archiver.failed} failed`,
  );

  const verdicts: string[][] = [];
  for (const level of ['L1', 'L3'] as const) {
    const drillId = newDrillId();
    const input: DrillInput = { drillId, target: 'crm', level, scenario: {}, requestedBy: 'demo' };
    log(`${level} drill ${drillId}: the real ${level} plan against an isolated test database`);
    const handle = await client.workflow.start<typeof drillWorkflow>('drillWorkflow', { taskQueue, workflowId: drillId, args: [input] });
    const result = await watchDrill(client, handle, (line) => console.log(line));
    failed ||= result.verdict !== 'passed';
    // The improvements task stays open for weeks after a real drill; the demo closes it (as alice,
    // signed with her throwaway key), so the drill ends here.
    await driveIncident(
      client,
      drillId,
      { improvements: { complete: { by: 'alice', note: 'demo run: nothing to improve' } } },
      { pollMs: 200, timeoutMs: 60_000, keys: embedded.keys },
    );
    verdicts.push(renderVerdict(result).filter((line) => !line.includes('improvements')));
  }
  console.log(`
Verdicts
${verdicts.map((lines) => lines.join('\n')).join('\n\n')}

Where to look
  Temporal Web UI : ${stack.temporal.uiUrl} (stops with the demo; "bin/lifeboat dev" keeps a stack running)
  reports         : reports/<drill id>/report.md (+ report.json, timeline.svg) in the store, s3://${config.stores.main?.type === 's3' ? config.stores.main.bucket : '-'} at ${stack.s3.endpoint}
  notifications   : ${stack.logDir}/notifications.log (console notifier; configure notify.slack for Slack)
  server logs     : ${stack.logDir}`);
} catch (err) {
  failed = true;
  console.error(`✖ demo failed: ${(err as Error).message}`);
} finally {
  log('stopping the worker, Temporal, PostgreSQL and SeaweedFS');
  await embedded.stop();
}
process.exitCode = failed ? 1 : 0;
