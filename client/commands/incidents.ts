// `lifeboat declare`, `status`, `approve`, `reject`, `complete`, `abort`, `list` and `report`: the
// incident commander's commands (the actions: client/actions/incidents.ts). An incident id is
// checked as the command line is parsed, so a mistyped one is bad input (exit 2) before Temporal is
// reached; a refused decision exits 1.
import { Option, type Command } from 'commander';
import { assertIncidentId } from '../../common/names.js';
import { asOption, jsonOption, keyOption, lazy, repeatable, targetOption } from './common.js';

const actions = () => import('../actions/incidents.js');

const incidentArg = () =>
  ['<incident>', 'incident id (inc-YYYYMMDD-HHMMSS-xxxx), or a drill id', (id: string) => (assertIncidentId(id), id)] as const;
const commaList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

export function registerIncidentCommands(program: Command): void {
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
    .option(
      '--at <time>',
      'the data as it was at this moment, by a point-in-time restore (pgBackRest) instead of a backup: L1 the rows, L2 the table (from a side instance), L3/L4 the whole cluster (into a new data directory; with --in-place, production itself)',
    )
    .option('--before-restore-point <name>', 'the data as it was at a restore point (pg_create_restore_point), as --at')
    .option(
      '--restore-point-created-at <time>',
      "with --before-restore-point: when the point was made (the undo step's detail gives it), to pick the backup before it",
    )
    .option('--before-xid <xid>', 'the data as it was just before a transaction (`lifeboat pitr find` lists them), as --at')
    .option(
      '--xid-committed-at <time>',
      "with --before-xid: the transaction's commit time (pitr find shows it), to pick the backup before it",
    )
    .option('--override-record-limit', 'L1: allow more than 10 records, behind an extra approval')
    .option(
      '--in-place',
      "L3/L4: restore into the production database itself, after a safety snapshot and an approval; with a moment (physical targets), production's whole cluster by pgbackrest restore --delta, after a safety backup and a restore point",
    )
    .option('--freeze-writes', "run the target's freezeWrites hook first, and its unfreezeWrites hook at the end")
    .option('--declared-at <time>', 'when the incident was declared, if before now (ISO)')
    .addOption(asOption())
    .action(lazy(actions, (m) => m.declare));

  program
    .command('status')
    .description("an incident's timeline, what waits on whom, and the RTO clock")
    .argument(...incidentArg())
    .option('--watch', 'refresh until the incident ends')
    .addOption(jsonOption('print JSON, once (the shape: README.md, "Scripting")'))
    .action(lazy(actions, (m) => m.status));

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
      .action(lazy(actions, (m) => (id: string, opts: object, command: Command) => m.answerGate(decision, id, opts, command)));
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
    .action(lazy(actions, (m) => m.complete));

  program
    .command('abort')
    .description('stop an incident at its next safe point; staged data is removed, nothing is half applied')
    .argument(...incidentArg())
    .requiredOption('--reason <text>', 'why')
    .addOption(asOption())
    .addOption(keyOption())
    .action(lazy(actions, (m) => m.abort));

  program
    .command('list')
    .description('open incidents with their level, RTO status and current step')
    .option('--all', 'ended incidents too')
    .addOption(jsonOption())
    .action(lazy(actions, (m) => m.list));

  program
    .command('report')
    .description("print an incident's report (Markdown; --json for the data); the SVG timeline lies beside it in the store")
    .argument(...incidentArg())
    .addOption(targetOption())
    .addOption(jsonOption("print the report's JSON"))
    .action(
      lazy(
        () => import('../actions/report.js'),
        (m) => m.report,
      ),
    );
}
