// The `lifeboat` command. Exit codes: 0 done, 1 the operation failed (a failed verification
// included), 2 the request was refused before anything ran (bad input or configuration).
import { describeNotifier } from '../activities/notify/select.js';
import { NativeConnection } from '@temporalio/worker';
import { Command, CommanderError, Option } from 'commander';
import { Catalog } from '../activities/storage/catalog.js';
import { openStore } from '../activities/storage/store.js';
import { ConfigError } from '../common/errors.js';
import { type LifeboatConfig, loadConfig, targetConfig } from '../config/config.js';
import { createWorker } from '../worker/worker.js';
import { type BackupManifest, type FreshnessResult, type RetentionResult, type VerificationRecord } from '../common/backups.js';
import { InputError } from '../common/errors.js';
import { type Level } from '../common/plans.js';
import { assertIncidentId, parseBackupId } from '../common/names.js';
import { CliError, connectClient, follow } from './follow.js';
import { formatDuration } from '../common/time.js';
import { bytes, table } from './format.js';
import { abort, complete, declare, incidentInput, incidentStatus, listIncidents, renderStatus, vote, whoAmI } from './incidents.js';
import { applySchedules, listSchedules } from './schedules.js';
import { registerDrillCommands } from './drill.js';
import { triage } from '../workflows/triage.js';
import { readReport, renderMarkdown } from '../activities/reports/report.js';
import { backupVerdict, verificationVerdict } from './verdicts.js';

const program = new Command('lifeboat')
  .description('Disaster-recovery runbooks for PostgreSQL, run durably on Temporal')
  .option('-c, --config <file>', 'configuration file (default: $LIFEBOAT_CONFIG or config/lifeboat.example.yaml)')
  .showHelpAfterError()
  .exitOverride();

function config(): LifeboatConfig {
  return loadConfig(program.opts<{ config?: string }>().config);
}

/** The --target given, or the only configured one. */
function chooseTarget(cfg: LifeboatConfig, given: string | undefined): string {
  if (given) return (targetConfig(cfg, given), given);
  const names = Object.keys(cfg.targets);
  if (names.length === 1) return names[0]!;
  throw new ConfigError(`several targets are configured (${names.join(', ')}): pass --target`);
}

const stamp = () => new Date().toISOString().replace(/[-:.]/g, '');
const targetOption = () => new Option('-t, --target <name>', 'target database, by its configured name');

program
  .command('backup')
  .description('take a backup of a target now (pg_dump, streamed with a SHA-256 into its store)')
  .addOption(targetOption())
  .option('--tag <tag...>', 'tags that keep the backup until deleted by name (e.g. pre-deploy)')
  .option('--reason <text>', 'why this backup is taken', 'manual backup')
  .action(async (opts: { target?: string; tag?: string[]; reason: string }) => {
    const cfg = config();
    const target = chooseTarget(cfg, opts.target);
    for (const tag of opts.tag ?? []) {
      if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(tag))
        throw new ConfigError(`tag "${tag}" is not allowed: use lower-case letters, digits, ".", "-" or "_"`);
    }
    const client = await connectClient(cfg);
    const handle = await client.workflow.start('backupWorkflow', {
      taskQueue: cfg.temporal.taskQueue,
      workflowId: `backup-${target}-${stamp()}`,
      args: [{ target, tags: opts.tag ?? [], reason: opts.reason }],
    });
    console.log(backupVerdict(await follow<BackupManifest>(handle, `backup of ${target}`)));
  });

program
  .command('backups')
  .description('list the backups of a target (only complete ones: a backup without a manifest does not exist)')
  .addOption(targetOption())
  .option('--json', 'print JSON')
  .action(async (opts: { target?: string; json?: boolean }) => {
    const cfg = config();
    const target = chooseTarget(cfg, opts.target);
    const storeName = cfg.targets[target]!.store;
    const list = await new Catalog(openStore(storeName, cfg.stores[storeName]!)).list(target);
    if (opts.json) return console.log(JSON.stringify(list, null, 2));
    if (!list.length) return console.log(`no backups of ${target} yet (run "lifeboat backup --target ${target}")`);
    console.log(
      table(
        ['id', 'time (UTC)', 'size', 'verified', 'tags'],
        list.map(({ manifest: m, verification: v }) => [
          m.id,
          m.startedAt.replace('T', ' ').slice(0, 19),
          bytes(m.sizeBytes),
          v ? `${v.result === 'passed' ? 'yes' : 'FAILED'} ${v.verifiedAt.slice(0, 10)}` : 'no',
          m.tags.join(',') || '-',
        ]),
      ),
    );
  });

program
  .command('verify')
  .description('verify a backup: checksum, test restore into a scratch database, row counts, table checksums, integrity checks')
  .argument('<backup>', 'backup id, or "latest"')
  .addOption(targetOption())
  .action(async (backup: string, opts: { target?: string }) => {
    const cfg = config();
    const target = backup === 'latest' ? chooseTarget(cfg, opts.target) : parseBackupId(backup).target;
    targetConfig(cfg, target);
    const client = await connectClient(cfg);
    const handle = await client.workflow.start('verifyWorkflow', {
      taskQueue: cfg.temporal.taskQueue,
      workflowId: `verify-${backup === 'latest' ? target : backup}-${stamp()}`,
      args: [{ backupId: backup, target }],
    });
    const record = await follow<VerificationRecord>(handle, `verification of ${backup}`);
    for (const f of record.findings) console.error(`  ✖ ${f.check}: ${f.detail}`);
    if (record.result === 'failed') throw new CliError(verificationVerdict(record).replace(/^✖ /, ''), 1);
    console.log(verificationVerdict(record));
  });

program
  .command('retention')
  .description('apply the retention policy (daily, weekly, monthly generations; tagged backups are kept)')
  .addOption(targetOption())
  .option('--dry-run', 'only list what would be deleted')
  .action(async (opts: { target?: string; dryRun?: boolean }) => {
    const cfg = config();
    const target = chooseTarget(cfg, opts.target);
    const client = await connectClient(cfg);
    const handle = await client.workflow.start('retentionWorkflow', {
      taskQueue: cfg.temporal.taskQueue,
      workflowId: `retention-${target}-${stamp()}`,
      args: [{ target, dryRun: Boolean(opts.dryRun) }],
    });
    const result = await follow<RetentionResult>(handle, `retention of ${target}`);
    console.log(
      table(
        ['id', 'decision', 'why'],
        result.decisions.map((d) => [d.id, d.keep ? 'keep' : result.dryRun ? 'would delete' : 'deleted', d.reasons.join('; ')]),
      ),
    );
    const gone = result.decisions.filter((d) => !d.keep).length;
    console.log(result.dryRun ? `dry run: ${gone} backup(s) would be deleted` : `✔ ${gone} backup(s) deleted`);
  });

program
  .command('freshness')
  .description('check that the newest verified backup is younger than the configured limit; alert if not')
  .addOption(targetOption())
  .action(async (opts: { target?: string }) => {
    const cfg = config();
    const target = chooseTarget(cfg, opts.target);
    const client = await connectClient(cfg);
    const handle = await client.workflow.start('freshnessWorkflow', {
      taskQueue: cfg.temporal.taskQueue,
      workflowId: `freshness-${target}-${stamp()}`,
      args: [{ target }],
    });
    const r = await follow<FreshnessResult>(handle, `freshness of ${target}`);
    if (!r.fresh)
      throw new CliError(
        `✖ ${target}: no verified backup younger than ${formatDuration(r.maxAgeMs)}${r.newestVerifiedId ? ` (newest: ${r.newestVerifiedId}, ${formatDuration(r.ageMs!)} old)` : ''}`,
        1,
      );
    console.log(
      `✔ ${target}: newest verified backup ${r.newestVerifiedId} is ${formatDuration(r.ageMs!)} old (limit ${formatDuration(r.maxAgeMs)})`,
    );
  });

const schedule = program.command('schedule').description('Temporal Schedules for backups, verification, retention and freshness');
schedule
  .command('apply')
  .description('create or update the schedules from the configuration (running it twice changes nothing)')
  .action(async () => {
    const cfg = config();
    const changes = await applySchedules(await connectClient(cfg), cfg);
    console.log(
      table(
        ['schedule', 'cron', 'change'],
        changes.map((c) => [c.id, c.cron, c.change]),
      ),
    );
  });
schedule
  .command('list')
  .description('list the schedules Lifeboat manages')
  .action(async () => {
    const cfg = config();
    const list = await listSchedules(await connectClient(cfg));
    if (!list.length) return console.log('no Lifeboat schedules yet (run "lifeboat schedule apply")');
    console.log(
      table(
        ['schedule', 'workflow', 'cron', 'timezone', 'next run (UTC)', 'paused'],
        list.map((s) => [
          s.id,
          s.workflowType,
          s.cron,
          s.timezone,
          s.nextRun?.toISOString().slice(0, 16).replace('T', ' ') ?? '-',
          s.paused ? 'yes' : 'no',
        ]),
      ),
    );
  });

// Checked as the command line is parsed, before Temporal is reached: a mistyped id is bad input (exit 2).
const incidentArg = () =>
  ['<incident>', 'incident id (inc-YYYYMMDD-HHMMSS-xxxx), or a drill id', (id: string) => (assertIncidentId(id), id)] as const;
const asOption = () => new Option('--as <name>', 'who you are (default: $LIFEBOAT_USER or your login)');
const commaList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];
const repeatable = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('declare')
  .description("declare an incident and run its level's recovery plan, timed against the RTO from now (or --declared-at)")
  .addOption(targetOption())
  .requiredOption('--summary <text>', 'what happened')
  .addOption(new Option('--level <level>', 'disaster level').choices(['L1', 'L2', 'L3', 'L4']))
  .option('--records <n>', 'triage: how many records are affected')
  .option('--feature-down', 'triage: a feature is unavailable')
  .option('--system-down', 'triage: the whole system is down')
  .option('--data-lost', 'triage: data is lost (catastrophic)')
  .option('--table <name>', 'L1/L2: the table whose records or content to restore')
  .option('--keys <ids>', 'L1: primary keys of the rows to bring back, comma-separated', commaList)
  .option('--where <expr>', 'L1: a filter such as "status=lost" (repeatable, ANDed)', repeatable)
  .option('--children', "L1: also bring back rows referencing them (a lead's activities, notes, reminders)")
  .option('--good-before <time>', 'L1: ISO time before which the data was good (default: the declaration time)')
  .option('--override-record-limit', 'L1: allow more than 10 records, behind an extra approval')
  .option('--in-place', 'L3/L4: restore into the production database itself (after a safety snapshot and an approval)')
  .option('--freeze-writes', "run the target's freezeWrites hook first, and its unfreezeWrites hook at the end")
  .option('--declared-at <time>', 'when the incident was declared, if before now (ISO)')
  .addOption(asOption())
  .action(async (opts: Record<string, string | string[] | boolean | undefined>) => {
    const cfg = config();
    const target = chooseTarget(cfg, opts.target as string | undefined);
    const records = opts.records === undefined ? undefined : Number(opts.records);
    if (records !== undefined && (!Number.isSafeInteger(records) || records < 0))
      throw new InputError(`--records must be a whole number, not "${opts.records}"`);
    const declaredAt = (opts.declaredAt as string | undefined) ?? new Date().toISOString();
    const table = opts.table as string | undefined;
    const keys = opts.keys as string[] | undefined;
    const where = opts.where as string[] | undefined;
    const input = incidentInput(cfg, {
      target,
      summary: opts.summary as string,
      declaredBy: whoAmI(opts.as as string | undefined),
      declaredAt,
      level: opts.level as Level | undefined,
      triage: {
        recordsAffected: records,
        featureUnavailable: opts.featureDown === true,
        systemDown: opts.systemDown === true,
        dataLost: opts.dataLost === true,
      },
      freezeWrites: opts.freezeWrites === true,
      options: {
        table,
        inPlace: opts.inPlace === true,
        record:
          table && (keys || where)
            ? {
                table,
                keys,
                filter: where,
                includeChildren: opts.children === true,
                goodBefore: (opts.goodBefore as string | undefined) ?? declaredAt,
                overrideRecordLimit: opts.overrideRecordLimit === true,
              }
            : undefined,
      },
    });
    // A triaged level is known here too: an L1 by triage needs its records as much as a declared one.
    const level = input.level ?? triage(input.triage ?? {}).level;
    if (level === 'L1' && !input.options.record)
      throw new InputError('an L1 needs --table and --keys or --where (the records to bring back)');
    await declare(await connectClient(cfg), cfg, input);
    console.log(`✔ incident ${input.incidentId} declared (${input.level ?? 'level by triage'}, target ${target})`);
    console.log(`  follow it: lifeboat status ${input.incidentId} --watch`);
    console.log(`  Web UI   : ${cfg.temporal.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${input.incidentId}`);
  });

program
  .command('status')
  .description("an incident's timeline, what waits on whom, and the RTO clock")
  .argument(...incidentArg())
  .option('--watch', 'refresh until the incident ends')
  .action(async (id: string, opts: { watch?: boolean }) => {
    const cfg = config();
    const client = await connectClient(cfg);
    for (;;) {
      const status = await incidentStatus(client, id);
      const screen = renderStatus(status);
      if (!opts.watch) return console.log(screen);
      process.stdout.write(`\x1b[2J\x1b[H${screen}\n`);
      if (status.incident.outcome) return;
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  });

for (const decision of ['approve', 'reject'] as const) {
  program
    .command(decision)
    .description(
      decision === 'approve'
        ? 'approve a waiting gate (destructive steps wait for it)'
        : 'reject a waiting gate: the plan stops without changing anything',
    )
    .argument(...incidentArg())
    .option('--gate <name>', 'the gate (default: the only one waiting)')
    .addOption(asOption())
    .option('--reason <text>', 'why')
    .action(async (id: string, opts: { gate?: string; as?: string; reason?: string }) => {
      const cfg = config();
      if (decision === 'reject' && !opts.reason) throw new InputError('a rejection needs a reason (--reason "…")');
      console.log(await vote(await connectClient(cfg), id, decision, { gate: opts.gate, by: whoAmI(opts.as), reason: opts.reason }));
    });
}

program
  .command('complete')
  .description('mark a human task done')
  .argument(...incidentArg())
  .option('--task <name>', 'the task (default: the only one waiting)')
  .addOption(asOption())
  .option('--note <text>', 'what was done (a ticket id, a conclusion)')
  .option('--choose <option>', 'an option the task offers, e.g. rollback or restore (repeatable)', repeatable)
  .action(async (id: string, opts: { task?: string; as?: string; note?: string; choose?: string[] }) => {
    const cfg = config();
    console.log(
      await complete(await connectClient(cfg), id, { task: opts.task, by: whoAmI(opts.as), note: opts.note, choices: opts.choose }),
    );
  });

program
  .command('abort')
  .description('stop an incident at its next safe point; staged data is removed, nothing is half applied')
  .argument(...incidentArg())
  .requiredOption('--reason <text>', 'why')
  .addOption(asOption())
  .action(async (id: string, opts: { reason: string; as?: string }) => {
    const cfg = config();
    console.log(await abort(await connectClient(cfg), id, { by: whoAmI(opts.as), reason: opts.reason }));
  });

program
  .command('list')
  .description('open incidents with their level, RTO status and current step')
  .option('--all', 'ended incidents too')
  .action(async (opts: { all?: boolean }) => {
    const cfg = config();
    console.log(await listIncidents(await connectClient(cfg), Boolean(opts.all)));
  });

program
  .command('report')
  .description("print an incident's report (Markdown; --json for the data); the SVG timeline lies beside it in the store")
  .argument(...incidentArg())
  .addOption(targetOption())
  .option('--json', 'print JSON')
  .action(async (id: string, opts: { target?: string; json?: boolean }) => {
    const cfg = config();
    assertIncidentId(id);
    const target = chooseTarget(cfg, opts.target);
    const storeName = cfg.targets[target]!.store;
    const store = openStore(storeName, cfg.stores[storeName]!);
    const report = await readReport(store, id);
    if (!report)
      throw new CliError(
        `no report for ${id} in store "${storeName}" yet: it is written when the incident ends (lifeboat status ${id})`,
        1,
      );
    console.log(opts.json ? JSON.stringify(report, null, 2) : renderMarkdown(report, 'timeline.svg'));
    if (!opts.json) console.error(`(stored under ${store.location}/reports/${id}/)`);
  });

registerDrillCommands(program, config);

program
  .command('worker')
  .description('run a worker: executes the workflows and activities for the configured targets')
  .action(async () => {
    const cfg = config();
    const connection = await NativeConnection.connect({ address: cfg.temporal.address }).catch((err: Error) => {
      throw new CliError(`cannot reach Temporal at ${cfg.temporal.address}: ${err.message}`, 1);
    });
    const worker = await createWorker({ config: cfg, connection });
    console.log(`notifications go to ${describeNotifier(cfg, process.env)}`);
    console.log(`worker polling task queue "${cfg.temporal.taskQueue}" on ${cfg.temporal.address} (Ctrl-C to stop)`);
    await worker.run();
    await connection.close();
  });

program
  .command('slack')
  .description('Slack approvals')
  .command('serve')
  .description("receive Slack's button clicks (HTTP, or Socket Mode per notify.slack.receiver) and turn them into approvals, until Ctrl-C")
  .action(async () => {
    // Loaded on demand: Bolt is heavy and only this command needs it.
    const { serveSlack } = await import('./slack/serve.js');
    await serveSlack(config());
  });

program
  .command('dev')
  .description('start the embedded stack (Temporal with its Web UI, PostgreSQL with the demo CRM, S3 store) and a worker, until Ctrl-C')
  .option('--leads <n>', 'size of the demo CRM', '10000')
  .action(async (opts: { leads: string }) => {
    const { runDev } = await import('./dev.js');
    await runDev({ leads: Number(opts.leads) });
  });

program
  .command('seed')
  .description("build the demo CRM in a target's database (activities ≈ 3×leads, other tables ≈ leads)")
  .addOption(targetOption())
  .requiredOption('--leads <n>', 'number of leads')
  .option('--reset', 'drop and rebuild the CRM tables if they exist')
  .action(async (opts: { target?: string; leads: string; reset?: boolean }) => {
    const cfg = config();
    const t = cfg.targets[chooseTarget(cfg, opts.target)]!;
    const url = process.env[t.urlEnv];
    if (!url) throw new ConfigError(`set ${t.urlEnv} to the database's connection string`);
    const leads = Number(opts.leads);
    if (!Number.isSafeInteger(leads) || leads < 1) throw new ConfigError(`--leads must be a positive whole number, not "${opts.leads}"`);
    const { seedCrm } = await import('../activities/postgres/seed.js');
    const started = Date.now();
    const counts = await seedCrm(url, { leads, reset: Boolean(opts.reset), onProgress: (phase) => console.error(`  ${phase}`) });
    console.log(
      table(
        ['table', 'rows'],
        Object.entries(counts).map(([k, v]) => [k, String(v)]),
      ),
    );
    console.log(`✔ seeded in ${formatDuration(Date.now() - started)}`);
  });

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError || err instanceof InputError) {
      console.error(`✖ ${err.message}`);
      return 2;
    }
    console.error(`✖ ${(err as Error).message}`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

process.exitCode = await main(process.argv);
