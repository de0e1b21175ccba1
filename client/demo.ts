// The README's main job on embedded defaults: the quarterly recovery drill, end to end. It brings
// up the stack with the demo CRM, backs it up, verifies the backup by a test restore, rehearses an
// L1 (a few leads deleted with their children) and an L3 (the database lost) on isolated test
// databases with the real plans, prints both verdicts and where the reports are, and stops what
// it started.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { withClient } from '../activities/postgres/connection.js';
import { openStore } from '../activities/storage/open.js';
import { type DrillInput } from '../common/drills.js';
import type { backupWorkflow, drillWorkflow, verifyWorkflow } from '../workflows/index.js';
import { newDrillId, renderVerdict, watchDrill } from './drill.js';
import { driveIncident } from './drive.js';
import { startEmbedded } from './embedded.js';
import { type Board, startBoard } from './board/server.js';
import { follow } from './follow.js';
import { exportReports } from './report-export.js';
import { stopOnSignals } from './stack/pidfile.js';
import { REPO_ROOT } from './stack/processes.js';
import { backupVerdict, verificationVerdict } from './verdicts.js';

const { values } = parseArgs({ options: { leads: { type: 'string', default: '20000' } } });
const leads = Number(values.leads);
if (!Number.isSafeInteger(leads) || leads < 1) {
  console.error(`✖ --leads must be a positive whole number, not "${values.leads}"`);
  process.exit(2);
}

const log = (line: string) => console.log(`• ${line}`);
/** Where the drills' reports are copied, to be read after the demo's store is gone (git-ignored). */
const REPORTS_DIR = join(REPO_ROOT, 'demo-reports');

const starting = startEmbedded({ leads, ui: true, log, quietNotifications: true, role: 'demo' });
/** The board, once it runs: the signal handler stops it too. */
const started: { board?: Board } = {};
// Ctrl-C or SIGTERM: everything started is stopped (once started), then the demo exits 130 or 143 (128 + the signal).
stopOnSignals(async (signal) => {
  log(`${signal}: stopping the board, the worker, Temporal, PostgreSQL and SeaweedFS`);
  await started.board?.stop();
  await (await starting.catch(() => undefined))?.stop();
});
const embedded = await starting;
let failed = false;
const board = (started.board = await startBoard({ config: embedded.config, port: 0 }).catch((err: Error) => {
  log(`the board did not start: ${err.message}`);
  return undefined;
}));
try {
  const { client, config, stack } = embedded;
  const { taskQueue } = config.temporal;
  const workflowId = (name: string) => `${name}-${Date.now()}`;

  log(`Temporal Web UI: ${stack.temporal.uiUrl} (watch the workflows run)`);
  if (board) log(`incident board: ${board.url}/ (the drills, live: clocks, steps, reports)`);
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
  const drills: { id: string; title: string }[] = [];
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
    drills.push({ id: drillId, title: `${level} drill ${drillId}: ${result.verdict.toUpperCase()}` });
  }
  rmSync(REPORTS_DIR, { recursive: true, force: true });
  const store = openStore('main', config.stores.main!);
  const copied = await exportReports(store, drills, REPORTS_DIR);
  console.log(`
Verdicts
${verdicts.map((lines) => lines.join('\n')).join('\n\n')}

Where to look
  Temporal Web UI : ${stack.temporal.uiUrl} (stops with the demo; "bin/lifeboat dev" keeps a stack running)
  incident board  : ${board ? `${board.url}/ ` : ''}(stops with the demo; "bin/lifeboat dev" keeps one on http://127.0.0.1:8090/)
  reports         : ${REPORTS_DIR}/index.md — ${copied.map((p) => p.slice(REPO_ROOT.length + 1)).join(', ')}
                    (Markdown with its timeline.svg beside it, and report.json; kept after the demo stops)
  notifications   : ${stack.logDir}/notifications.log (console notifier; configure notify.slack for Slack)
  server logs     : ${stack.logDir}`);
} catch (err) {
  failed = true;
  console.error(`✖ demo failed: ${(err as Error).message}`);
} finally {
  log('stopping the board, the worker, Temporal, PostgreSQL and SeaweedFS');
  await board?.stop();
  await embedded.stop();
}
process.exitCode = failed ? 1 : 0;
