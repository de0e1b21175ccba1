// `lifeboat drill schedule`, `lifeboat drill run` and `lifeboat drills`: the quarterly drill from
// the command line — its schedule, a drill now with its steps on screen and the verdict at the end,
// and the history of drills read from their reports.
import { type Client, type WorkflowHandle, WorkflowFailedError } from '@temporalio/client';
import { type Command, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { drillSettings } from '../activities/drill.js';
import { listDrills } from '../activities/reports/drill-report.js';
import { recoveryVsTarget } from '../activities/reports/drill-markdown.js';
import { openStore } from '../activities/storage/store.js';
import type { LifeboatConfig } from '../config/config.js';
import { type DrillInput, type DrillResult, type ScenarioKind } from '../common/drills.js';
import { drillIdFor } from '../common/names.js';
import { drillResultQuery, statusQuery } from '../workflows/messages.js';
import { type Level, type RunStatus, type StepRecord } from '../common/plans.js';
import { InputError } from '../common/errors.js';
import { CliError, connectClient, rootCause } from './follow.js';
import { formatDuration } from '../common/time.js';
import { table } from './format.js';
import { whoAmI } from './incidents.js';
import { applySchedules } from './schedules.js';

export function newDrillId(at = new Date()): string {
  return drillIdFor(at, randomBytes(2).toString('hex'));
}

const icon: Partial<Record<StepRecord['status'], string>> = {
  done: '✔',
  failed: '✖',
  rejected: '✖',
  aborted: '⏹',
  skipped: '–',
  waiting: '⏸',
};

function stepLine(step: StepRecord, indent: string): string {
  const took = step.finishedAt ? ` (${formatDuration(Date.parse(step.finishedAt) - Date.parse(step.startedAt))})` : '';
  const detail = step.detail ? ` — ${step.detail.replace(/\s+/g, ' ').slice(0, 140)}` : '';
  return `${indent}${icon[step.status] ?? '•'} ${step.name}${took}${step.actor ? ` [${step.actor}]` : ''}${detail}`;
}

/**
 * Prints each step of the drill and of its plan once it ends (and what waits for a person), until
 * the verdict is known; the optional improvements task may still be open then.
 */
export async function watchDrill(
  client: Client,
  handle: WorkflowHandle,
  write: (line: string) => void = (l) => console.error(l),
): Promise<DrillResult> {
  const shown = new Set<string>();
  let closed: { error: unknown } | undefined;
  const ended = handle.result().then(
    () => undefined,
    (error: unknown) => (closed = { error }),
  );
  for (;;) {
    const drill: RunStatus | undefined = await handle.query(statusQuery).catch(() => undefined);
    const plan: RunStatus | undefined = drill?.childWorkflowId
      ? await client.workflow
          .getHandle(drill.childWorkflowId)
          .query(statusQuery)
          .catch(() => undefined)
      : undefined;
    for (const [run, indent] of [
      [drill, '  '],
      [plan, '      '],
    ] as const) {
      for (const [i, step] of (run?.timeline ?? []).entries()) {
        const key = `${run!.workflowId}/${i}/${step.status}`;
        if (step.status === 'running' || shown.has(key)) continue;
        shown.add(key);
        write(stepLine(step, indent));
      }
      for (const w of run?.waiting ?? []) {
        if (shown.has(`${run!.workflowId}/waiting/${w.name}`)) continue;
        shown.add(`${run!.workflowId}/waiting/${w.name}`);
        write(
          `${indent}⏸ waiting for ${w.kind === 'approval' ? `approval "${w.name}" (${w.approvers?.join(', ')})` : `task "${w.name}"`}: ${w.prompt}`,
        );
      }
    }
    const result = await handle.query(drillResultQuery).catch(() => undefined);
    if (result) return result;
    if (closed) {
      const err = closed.error;
      throw new CliError(
        `drill ${handle.workflowId} ${err instanceof WorkflowFailedError ? `ended without a verdict: ${rootCause(err)}` : `could not be followed: ${(err as Error).message}`}`,
        1,
      );
    }
    await Promise.race([ended, new Promise((ok) => setTimeout(ok, 1000))]);
  }
}

export function renderVerdict(r: DrillResult): string[] {
  const d = r.record;
  const lines = [
    `${d.verdict === 'passed' ? '✔' : '✖'} ${d.level} drill ${r.drillId} of ${d.target}: ${d.verdict.toUpperCase()}`,
    `  scenario      : ${d.scenario}`,
    `  recovery time : ${recoveryVsTarget(d.recoveryMs, d.rtoMs)} — RTO ${d.rtoVerdict}`,
    `  RPO           : ${d.rpoAchievedMs !== undefined ? `${formatDuration(d.rpoAchievedMs)} of data at risk` : 'not measured'} — RPO ${d.rpoVerdict}`,
    `  tables        : ${d.tables.length ? `${d.tables.filter((t) => t.checksum === 'match' && t.rows === t.expectedRows).length} of ${d.tables.length} match the backup` : 'not checked'}`,
    `  test database : ${d.testDatabase} (dropped)`,
    ...r.findings.map((f) => `  ✖ ${f.check}: ${f.detail}`),
  ];
  if (r.reportKeys) lines.push(`  report        : ${r.reportKeys.join(', ')}`);
  if (d.improvements === 'open') lines.push(`  improvements  : open — lifeboat complete ${r.drillId} --task improvements --note "…"`);
  return lines;
}

const scenarios: ScenarioKind[] = ['delete-rows', 'truncate-table', 'lose-database'];

export function registerDrillCommands(program: Command, config: () => LifeboatConfig): void {
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
      const handle = await client.workflow.start('drillWorkflow', {
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
