// `lifeboat declare`, `status`, `approve`, `reject`, `complete`, `abort`, `list` and `report`: the
// incident commander's commands. An incident id is checked as the command line is parsed, so a
// mistyped one is bad input (exit 2) before Temporal is reached; a refused decision exits 1.
import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { readReport, renderMarkdown } from '../../activities/reports/report.js';
import { openStore } from '../../activities/storage/open.js';
import { InputError } from '../../common/errors.js';
import { type Moment, checkMoment } from '../../common/moments.js';
import { assertIncidentId } from '../../common/names.js';
import { type Level } from '../../common/plans.js';
import { triage } from '../../workflows/triage.js';
import { CliError, connectClient } from '../follow.js';
import { parseKeyOption, parseKeysFile } from '../key-tuples.js';
import {
  abort,
  complete,
  declare,
  incidentInput,
  incidentResult,
  incidentStatus,
  listIncidents,
  renderIncidents,
  renderStatus,
  vote,
  whoAmI,
} from '../incidents.js';
import { listJson, statusJson } from '../status-json.js';
import { requireWorker } from '../worker-check.js';
import { answererOf, asOption, chooseTarget, configOf, keyOption, repeatable, targetOption } from './common.js';

const incidentArg = () =>
  ['<incident>', 'incident id (inc-YYYYMMDD-HHMMSS-xxxx), or a drill id', (id: string) => (assertIncidentId(id), id)] as const;
const commaList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

/** What commander gives `declare`, option by option. */
interface DeclareOptions {
  target?: string;
  summary: string;
  level?: Level;
  records?: string;
  featureDown?: boolean;
  systemDown?: boolean;
  dataLost?: boolean;
  table?: string;
  keys?: string[];
  key?: string[];
  keysFile?: string;
  where?: string[];
  children?: boolean;
  goodBefore?: string;
  at?: string;
  beforeRestorePoint?: string;
  beforeXid?: string;
  xidCommittedAt?: string;
  overrideRecordLimit?: boolean;
  inPlace?: boolean;
  freezeWrites?: boolean;
  declaredAt?: string;
  as?: string;
}

function readKeysFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`--keys-file ${file}: ${(err as Error).message}`);
  }
}

export function registerIncidentCommands(program: Command): void {
  const config = () => configOf(program);

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
    .option(
      '--table <name>',
      'L1/L2: the table whose records or content to restore (schema.table outside public; a partitioned table by its parent)',
    )
    .option('--keys <ids>', 'L1: values of a one-column key of the rows to bring back, comma-separated', commaList)
    .option(
      '--key <column=value,...>',
      'L1: one row by its key, any number of columns, e.g. --key customer_id=5,order_id=17 (repeatable)',
      repeatable,
    )
    .option(
      '--keys-file <file>',
      'L1: the rows\' keys from a file: JSON [{"customer_id": 5, "order_id": 17}, …] or CSV (a header of the key\'s columns, then one row per record)',
    )
    .option('--where <expr>', 'L1: a filter such as "status=lost" (repeatable, ANDed)', repeatable)
    .option('--children', "L1: also bring back rows referencing them, several levels deep (a lead's activities, notes, reminders)")
    .option('--good-before <time>', 'L1: ISO time before which the data was good (default: the declaration time)')
    .option('--at <time>', 'L1: the rows as they were at this moment, by a point-in-time restore (pgBackRest) instead of a backup')
    .option('--before-restore-point <name>', 'L1: the rows as they were at a restore point (pg_create_restore_point)')
    .option('--before-xid <xid>', 'L1: the rows as they were just before a transaction (`lifeboat pitr find` lists them)')
    .option(
      '--xid-committed-at <time>',
      "with --before-xid: the transaction's commit time (pitr find shows it), to pick the backup before it",
    )
    .option('--override-record-limit', 'L1: allow more than 10 records, behind an extra approval')
    .option('--in-place', 'L3/L4: restore into the production database itself (after a safety snapshot and an approval)')
    .option('--freeze-writes', "run the target's freezeWrites hook first, and its unfreezeWrites hook at the end")
    .option('--declared-at <time>', 'when the incident was declared, if before now (ISO)')
    .addOption(asOption())
    .action(async (opts: DeclareOptions) => {
      const cfg = config();
      const target = chooseTarget(cfg, opts.target);
      const records = opts.records === undefined ? undefined : Number(opts.records);
      if (records !== undefined && (!Number.isSafeInteger(records) || records < 0))
        throw new InputError(`--records must be a whole number, not "${opts.records}"`);
      const declaredAt = opts.declaredAt ?? new Date().toISOString();
      const { table, keys, where } = opts;
      const keyTuples = [
        ...(opts.key ?? []).map(parseKeyOption),
        ...(opts.keysFile ? parseKeysFile(readKeysFile(opts.keysFile), opts.keysFile) : []),
      ];
      const input = incidentInput({
        target,
        summary: opts.summary,
        declaredBy: whoAmI(opts.as),
        declaredAt,
        level: opts.level,
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
          ...momentOption(opts, cfg.targets[target]!.physical !== undefined),
          record:
            table && (keys || where || keyTuples.length)
              ? {
                  table,
                  keys,
                  ...(keyTuples.length ? { keyTuples } : {}),
                  filter: where,
                  includeChildren: opts.children === true,
                  goodBefore: opts.goodBefore ?? declaredAt,
                  overrideRecordLimit: opts.overrideRecordLimit === true,
                }
              : undefined,
        },
      });
      // A triaged level is known here too: an L1 by triage needs its records as much as a declared one.
      const level = input.level ?? triage(input.triage ?? {}).level;
      if (level === 'L1' && !input.options.record)
        throw new InputError('an L1 needs --table and --keys or --where (the records to bring back)');
      const client = await connectClient(cfg);
      await requireWorker(client, cfg);
      await declare(client, cfg, input);
      console.log(`✔ incident ${input.incidentId} declared (${input.level ?? 'level by triage'}, target ${target})`);
      console.log(`  follow it: lifeboat status ${input.incidentId} --watch`);
      console.log(`  Web UI   : ${cfg.temporal.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${input.incidentId}`);
    });

  program
    .command('status')
    .description("an incident's timeline, what waits on whom, and the RTO clock")
    .argument(...incidentArg())
    .option('--watch', 'refresh until the incident ends')
    .option('--json', 'print JSON, once (the shape: README.md, client/status-json.ts)')
    .action(async (id: string, opts: { watch?: boolean; json?: boolean }) => {
      if (opts.watch && opts.json) throw new InputError('--json prints the status once: drop --watch (poll it instead)');
      const client = await connectClient(config());
      if (opts.json) {
        const status = await incidentStatus(client, id);
        const result = await incidentResult(client, id);
        return console.log(JSON.stringify(statusJson({ ...status, result }), null, 2));
      }
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
      .addOption(keyOption())
      .option('--reason <text>', 'why')
      .action(async (id: string, opts: { gate?: string; as?: string; key?: string; reason?: string }) => {
        const cfg = config();
        if (decision === 'reject' && !opts.reason) throw new InputError('a rejection needs a reason (--reason "…")');
        const answerer = answererOf(opts);
        console.log(await vote(await connectClient(cfg), id, decision, { ...answerer, gate: opts.gate, reason: opts.reason }));
      });
  }

  program
    .command('complete')
    .description('mark a human task done')
    .argument(...incidentArg())
    .option('--task <name>', 'the task (default: the only one waiting)')
    .addOption(asOption())
    .addOption(keyOption())
    .option('--note <text>', 'what was done (a ticket id, a conclusion)')
    .option('--choose <option>', 'an option the task offers, e.g. rollback or restore (repeatable)', repeatable)
    .action(async (id: string, opts: { task?: string; as?: string; key?: string; note?: string; choose?: string[] }) => {
      const cfg = config();
      const answerer = answererOf(opts);
      const client = await connectClient(cfg);
      console.log(await complete(client, id, { ...answerer, task: opts.task, note: opts.note, choices: opts.choose }));
    });

  program
    .command('abort')
    .description('stop an incident at its next safe point; staged data is removed, nothing is half applied')
    .argument(...incidentArg())
    .requiredOption('--reason <text>', 'why')
    .addOption(asOption())
    .addOption(keyOption())
    .action(async (id: string, opts: { reason: string; as?: string; key?: string }) => {
      const cfg = config();
      const answerer = answererOf(opts);
      console.log(await abort(await connectClient(cfg), id, { ...answerer, reason: opts.reason }));
    });

  program
    .command('list')
    .description('open incidents with their level, RTO status and current step')
    .option('--all', 'ended incidents too')
    .option('--json', 'print JSON (the shape: README.md, client/status-json.ts)')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const rows = await listIncidents(await connectClient(config()), Boolean(opts.all));
      console.log(opts.json ? JSON.stringify(listJson(rows), null, 2) : renderIncidents(rows, Boolean(opts.all)));
    });

  program
    .command('report')
    .description("print an incident's report (Markdown; --json for the data); the SVG timeline lies beside it in the store")
    .argument(...incidentArg())
    .addOption(targetOption())
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { target?: string; json?: boolean }) => {
      const cfg = config();
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
}

/** The moment --at, --before-restore-point or --before-xid names (at most one), checked; only for a target with physical backups. */
function momentOption(opts: DeclareOptions, physical: boolean): { moment?: Moment } {
  const given = [opts.at && 'at', opts.beforeRestorePoint && 'before-restore-point', opts.beforeXid && 'before-xid'].filter(Boolean);
  if (!given.length) return {};
  if (given.length > 1) throw new InputError(`give one moment, not --${given.join(' and --')}`);
  if (!physical) throw new InputError('a moment needs physical backups: add "physical: pgbackrest" to the target in the configuration');
  if (opts.level !== 'L1') throw new InputError(`--${given[0]} is for an L1 so far (--level L1)`);
  if (opts.xidCommittedAt && Number.isNaN(Date.parse(opts.xidCommittedAt)))
    throw new InputError(`--xid-committed-at "${opts.xidCommittedAt}" is not a time`);
  const moment: Moment = opts.at
    ? { kind: 'time', time: opts.at }
    : opts.beforeRestorePoint
      ? { kind: 'restore-point', name: opts.beforeRestorePoint }
      : { kind: 'before-xid', xid: opts.beforeXid!, ...(opts.xidCommittedAt ? { committedAt: opts.xidCommittedAt } : {}) };
  return { moment: checkMoment(moment) };
}
