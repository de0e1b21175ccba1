// The actions of `lifeboat drill schedule`, `drill run` and `drills` (client/commands/drills.ts).
import { type Command } from 'commander';
import { drillSettings } from '../../activities/drill/settings.js';
import { recoveryVsTarget } from '../../activities/reports/drill-markdown.js';
import { listDrills } from '../../activities/reports/drill-report.js';
import { openStore } from '../../activities/storage/open.js';
import { type DrillInput, type ScenarioKind } from '../../common/drills.js';
import { InputError } from '../../common/errors.js';
import { type Level } from '../../common/plans.js';
import { formatDuration } from '../../common/time.js';
import type { drillWorkflow } from '../../workflows/index.js';
import { newDrillId, renderVerdict, watchDrill } from '../drill.js';
import { CliError } from '../cli-process.js';
import { connectClient } from '../follow.js';
import { table } from '../format.js';
import { whoAmI } from '../incidents.js';
import { drillsJson } from '../read-json.js';
import { applySchedules } from '../schedules.js';
import { requireWorker } from '../worker-check.js';
import { configOf, printJson } from './common.js';

export async function schedule(_opts: unknown, command: Command): Promise<void> {
  const cfg = configOf(command);
  const client = await connectClient(cfg);
  const changes = await applySchedules(client, cfg, 'drill');
  for (const change of changes) {
    const d = await client.schedule.getHandle(change.id).describe();
    console.log(`✔ ${change.id}: ${change.change} — cron "${change.cron}" in ${d.spec.timezone ?? 'UTC'}, overlapping runs skipped`);
    for (const at of d.info.nextActionTimes.slice(0, 4)) console.log(`    next: ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  }
}

interface RunOptions {
  target?: string;
  level?: Level;
  scenario?: ScenarioKind;
  records?: string;
  table?: string;
  as?: string;
}

export async function run(opts: RunOptions, command: Command): Promise<void> {
  const cfg = configOf(command);
  const records = opts.records === undefined ? undefined : Number(opts.records);
  if (records !== undefined && !Number.isSafeInteger(records))
    throw new InputError(`--records must be a whole number, not "${opts.records}"`);
  const drillId = newDrillId();
  const input: DrillInput = {
    drillId,
    target: opts.target,
    level: opts.level,
    scenario: { kind: opts.scenario, records, table: opts.table },
    requestedBy: whoAmI(opts.as),
  };
  const settings = drillSettings(cfg, input); // refused here, before anything starts
  const client = await connectClient(cfg);
  await requireWorker(client, cfg);
  const handle = await client.workflow.start<typeof drillWorkflow>('drillWorkflow', {
    taskQueue: cfg.temporal.taskQueue,
    workflowId: drillId,
    args: [input],
  });
  console.error(
    `drill ${drillId}: ${settings.level} (${settings.scenario.kind}) of ${settings.target}, RTO ${formatDuration(settings.rtoMs)} — ${cfg.temporal.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${drillId}`,
  );
  const result = await watchDrill(client, handle);
  const lines = renderVerdict(result);
  if (result.verdict !== 'passed') throw new CliError(lines.join('\n'), 1);
  console.log(lines.join('\n'));
}

export async function history(opts: { target?: string; json?: boolean }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const { target } = drillSettings(cfg, { target: opts.target });
  const storeName = cfg.targets[target]!.store;
  const drills = await listDrills(openStore(storeName, cfg.stores[storeName]!), target);
  if (opts.json) return printJson(drillsJson(drills.map((d) => d.drill)));
  if (!drills.length)
    return console.log(`no drills of ${target} yet (run "lifeboat drill run", or "lifeboat drill schedule" for the quarterly one)`);
  console.log(
    table(
      ['date (UTC)', 'drill', 'level', 'recovery time vs RTO', 'RTO', 'RPO', 'verdict'],
      drills.map(({ report, drill: d }) => [
        report.context.declaredAt.slice(0, 16).replace('T', ' '),
        d.drillId,
        d.level,
        recoveryVsTarget(d.recoveryMs, d.rtoMs),
        d.rtoVerdict,
        d.rpoVerdict,
        d.verdict.toUpperCase(),
      ]),
    ),
  );
}
