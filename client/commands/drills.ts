// `lifeboat drill schedule`, `lifeboat drill run` and `lifeboat drills`: the quarterly drill from
// the command line — its schedule, a drill now with its steps on screen and the verdict at the end
// (exit 0 passed, 1 failed), and the history of drills read from their reports. A drill's settings
// are checked here before it starts, so a drill that would be refused exits 2 and leaves no run.
import { type Command, Option } from 'commander';
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
import { CliError, connectClient } from '../follow.js';
import { table } from '../format.js';
import { whoAmI } from '../incidents.js';
import { applySchedules } from '../schedules.js';
import { requireWorker } from '../worker-check.js';
import { configOf } from './common.js';

const scenarios: ScenarioKind[] = ['delete-rows', 'truncate-table', 'lose-database'];

export function registerDrillCommands(program: Command): void {
  const config = () => configOf(program);
  const drill = program
    .command('drill')
    .description('the recovery drill: the real plans rehearsed on an isolated test database, timed against the RTO');

  drill
    .command('schedule')
    .description(
      'create or update the quarterly drill schedule from the configuration (schedules.drill, schedules.timezone) and show its next runs',
    )
    .action(async () => {
      const cfg = config();
      const client = await connectClient(cfg);
      const changes = await applySchedules(client, cfg, 'drill');
      for (const change of changes) {
        const d = await client.schedule.getHandle(change.id).describe();
        console.log(`✔ ${change.id}: ${change.change} — cron "${change.cron}" in ${d.spec.timezone ?? 'UTC'}, overlapping runs skipped`);
        for (const at of d.info.nextActionTimes.slice(0, 4))
          console.log(`    next: ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
      }
    });

  drill
    .command('run')
    .description('run a drill now: steps on screen, the verdict at the end (exit 0 passed, 1 failed)')
    .option('-t, --target <name>', 'target database, by its configured name (default: drill.target or the only one)')
    .addOption(new Option('--level <level>', 'the plan rehearsed (default: drill.level)').choices(['L1', 'L2', 'L3', 'L4']))
    .addOption(new Option('--scenario <kind>', "the loss simulated (default: the level's)").choices(scenarios))
    .option('--records <n>', 'delete-rows: how many rows (1–10, default drill.records)')
    .option('--table <name>', 'delete-rows / truncate-table: the table damaged (default drill.table, else chosen from the foreign keys)')
    .option('--as <name>', 'who starts it (default: $LIFEBOAT_USER or your login)')
    .action(async (opts: { target?: string; level?: Level; scenario?: ScenarioKind; records?: string; table?: string; as?: string }) => {
      const cfg = config();
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
    });

  program
    .command('drills')
    .description('the history of drills: date, level, recovery time against the RTO, verdict (from their reports)')
    .option('-t, --target <name>', 'target (default: drill.target or the only one)')
    .option('--json', 'print JSON')
    .action(async (opts: { target?: string; json?: boolean }) => {
      const cfg = config();
      const { target } = drillSettings(cfg, { target: opts.target });
      const storeName = cfg.targets[target]!.store;
      const drills = await listDrills(openStore(storeName, cfg.stores[storeName]!), target);
      if (opts.json)
        return console.log(
          JSON.stringify(
            drills.map((d) => d.drill),
            null,
            2,
          ),
        );
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
    });
}
