// The README's main job on embedded defaults: bring up the stack with the demo CRM, back it up,
// verify the backup by a test restore, show where everything is, and stop what it started.
import { parseArgs } from 'node:util';
import { Catalog } from '../activities/storage/catalog.js';
import { openStore } from '../activities/storage/store.js';
import type { BackupManifest, VerificationRecord } from '../workflows/messages.js';
import { startEmbedded } from './embedded.js';
import { follow } from './follow.js';
import { bytes } from './format.js';
import { backupVerdict, verificationVerdict } from './verdicts.js';

const { values } = parseArgs({ options: { leads: { type: 'string', default: '20000' } } });
const leads = Number(values.leads);
if (!Number.isSafeInteger(leads) || leads < 1) {
  console.error(`✖ --leads must be a positive whole number, not "${values.leads}"`);
  process.exit(2);
}

const log = (line: string) => console.log(`• ${line}`);
const embedded = await startEmbedded({ leads, ui: true, log });
let failed = false;
try {
  const { client, config, stack } = embedded;
  const run = <T>(workflow: string, id: string, args: unknown[], label: string) =>
    client.workflow.start(workflow, { taskQueue: config.temporal.taskQueue, workflowId: `${id}-${Date.now()}`, args }).then((h) => follow<T>(h, label));

  log(`Temporal Web UI: ${stack.temporal.uiUrl} (watch the workflows run)`);
  const manifest = await run<BackupManifest>('backupWorkflow', 'demo-backup', [{ target: 'crm', reason: 'demo', tags: ['demo'] }], 'backup of crm');
  console.log(backupVerdict(manifest));
  const record = await run<VerificationRecord>('verifyWorkflow', 'demo-verify', [{ backupId: manifest.id }], `verification of ${manifest.id}`);
  for (const f of record.findings) console.log(`  ✖ ${f.check}: ${f.detail}`);
  console.log(verificationVerdict(record));
  failed = record.result !== 'passed';

  const store = config.stores.main!;
  const where = store.type === 's3' ? `s3://${store.bucket}/${store.prefix}/crm/daily/${manifest.startedAt.slice(0, 10)}/${manifest.id}/ at ${stack.s3.endpoint}` : store.path;
  const listed = await new Catalog(openStore('main', store)).list('crm');
  console.log(`
Where to look
  Temporal Web UI : ${stack.temporal.uiUrl} (stops with the demo; "bin/lifeboat dev" keeps a stack running)
  backup id       : ${manifest.id} (${bytes(manifest.sizeBytes)}, sha256 ${manifest.sha256})
  store path      : ${where}  (backup.dump, manifest.json, verification.json)
  backups in store: ${listed.length}, verified: ${listed.filter((b) => b.verification?.result === 'passed').length}
  server logs     : ${stack.logDir}
  row counts      : ${Object.entries(manifest.tables).map(([t, n]) => `${t} ${n}`).join(', ')}`);
} catch (err) {
  failed = true;
  console.error(`✖ demo failed: ${(err as Error).message}`);
} finally {
  log('stopping the worker, Temporal, PostgreSQL and SeaweedFS');
  await embedded.stop();
}
process.exitCode = failed ? 1 : 0;
