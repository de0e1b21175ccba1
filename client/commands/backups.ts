// `lifeboat backup`, `backups`, `verify`, `retention`, `freshness` and `seed`: a target's backups
// from the command line (the actions: client/actions/backups.ts). Each workflow is started on the
// worker's task queue, once a worker is seen polling it (none: exit 1 at once), and followed to its
// result; a failed verification or a stale newest backup exits 1.
import { type Command } from 'commander';
import { jsonOption, lazy, targetOption } from './common.js';

const actions = () => import('../actions/backups.js');

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('take a backup of a target now (pg_dump, streamed with a SHA-256 into its store)')
    .addOption(targetOption())
    .option('--tag <tag...>', 'tags that keep the backup until deleted by name (e.g. pre-deploy)')
    .option('--reason <text>', 'why this backup is taken', 'manual backup')
    .action(lazy(actions, (m) => m.backup));

  program
    .command('backups')
    .description('list the backups of a target (a backup without a manifest does not exist; a damaged manifest is listed as damaged)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(lazy(actions, (m) => m.backups));

  program
    .command('verify')
    .description('verify a backup: checksum, test restore into a scratch database, row counts, table checksums, integrity checks')
    .argument('<backup>', 'backup id, or "latest"')
    .addOption(targetOption())
    .action(lazy(actions, (m) => m.verify));

  program
    .command('retention')
    .description('apply the retention policy (daily, weekly, monthly generations; tagged backups are kept)')
    .addOption(targetOption())
    .option('--dry-run', 'only list what would be deleted')
    .action(lazy(actions, (m) => m.retention));

  program
    .command('freshness')
    .description('check that the newest verified backup is younger than the configured limit; alert if not')
    .addOption(targetOption())
    .action(lazy(actions, (m) => m.freshness));

  program
    .command('seed')
    .description("build the demo CRM in a target's database (activities ≈ 3×leads, other tables ≈ leads)")
    .addOption(targetOption())
    .requiredOption('--leads <n>', 'number of leads')
    .option('--reset', 'drop and rebuild the CRM tables if they exist')
    .action(lazy(actions, (m) => m.seed));
}
