// `lifeboat pitr …`: physical backups and point-in-time recovery by pgBackRest, from the command
// line. Every command asks the worker (which runs pgBackRest beside the database) through a
// workflow; with no worker polling, it says so at once (exit 1).
import { type Command, Option } from 'commander';
import { lazy, targetOption } from './common.js';

export function registerPitrCommands(program: Command): void {
  const pitr = program.command('pitr').description('physical backups and point-in-time recovery (pgBackRest)');
  const load = () => import('../actions/pitr.js');

  pitr
    .command('prepare')
    .description(
      "check what pgBackRest needs of the target's server, and set up the stanza and archive_command where physical.setup allows",
    )
    .addOption(targetOption())
    .action(lazy(load, (m) => m.prepare));

  pitr
    .command('backup')
    .description('take a physical backup now')
    .addOption(targetOption())
    .addOption(new Option('--type <type>', 'full, diff or incr').choices(['full', 'diff', 'incr']).default('incr'))
    .action(lazy(load, (m) => m.backup));

  pitr
    .command('warm')
    .description(
      'prepare the warm copy now from the newest physical backup (restored ahead of time, in recovery: an L3/L4 at a later moment starts from it)',
    )
    .addOption(targetOption())
    .action(lazy(load, (m) => m.warm));

  pitr
    .command('backups')
    .description('list the physical backups and the archived WAL span')
    .addOption(targetOption())
    .option('--json', 'print JSON')
    .action(lazy(load, (m) => m.backups));

  pitr
    .command('verify')
    .description("verify the pgBackRest repository's backups and WAL (pgbackrest verify)")
    .addOption(targetOption())
    .action(lazy(load, (m) => m.verify));

  pitr
    .command('wal')
    .description('check that WAL reaches the repository within physical.walMaxAge; alert if not')
    .addOption(targetOption())
    .option('--json', 'print JSON (exit 1 still when WAL is behind)')
    .action(lazy(load, (m) => m.wal));

  pitr
    .command('find')
    .description('list the transactions that deleted or changed rows of a table, read from the archived WAL')
    .addOption(targetOption())
    .requiredOption('--table <table>', 'the table, as PostgreSQL spells it (schema.table outside public)')
    .option('--since <time>', 'only transactions committed at or after this time (ISO 8601)')
    .option('--until <time>', 'only transactions committed at or before this time (ISO 8601)')
    .option('--json', 'print JSON')
    .action(lazy(load, (m) => m.find));
}
