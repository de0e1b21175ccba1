// `lifeboat pitr …`: physical backups and point-in-time recovery by pgBackRest, from the command
// line. Every command asks the worker (which runs pgBackRest beside the database) through a
// workflow; with no worker polling, it says so at once (exit 1).
import { type Command, Option } from 'commander';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { ConfigError, InputError } from '../../common/errors.js';
import { formatDuration } from '../../common/time.js';
import type { LifeboatConfig } from '../../config/config.js';
import type {
  findTableChangesWorkflow,
  physicalBackupWorkflow,
  physicalCatalogWorkflow,
  physicalVerifyWorkflow,
  preparePhysicalWorkflow,
  walFreshnessWorkflow,
} from '../../workflows/index.js';
import { CliError, connectClient, follow } from '../follow.js';
import { bytes, table } from '../format.js';
import { requireWorker } from '../worker-check.js';
import { chooseTarget, configOf, targetOption } from './common.js';

const stamp = () => new Date().toISOString().replace(/[-:.]/g, '');

/** A target with physical backups, or a refusal saying how to configure one. */
function physicalTargetOf(cfg: LifeboatConfig, given: string | undefined): string {
  const target = chooseTarget(cfg, given);
  if (!cfg.targets[target]!.physical)
    throw new ConfigError(
      `target "${target}" has no physical backups: add "physical: pgbackrest" to targets.${target} in the configuration`,
    );
  return target;
}

/** Starts one of the physical workflows (each takes one input) on the worker's task queue. */
async function start<W extends Workflow>(client: Client, cfg: LifeboatConfig, type: string, id: string, args: Parameters<W>) {
  const handle = await client.workflow.start(type, { taskQueue: cfg.temporal.taskQueue, workflowId: `${id}-${stamp()}`, args: [...args] });
  return handle as WorkflowHandleWithFirstExecutionRunId<W>;
}

/** The physical backups table, as `lifeboat backups` and `pitr backups` print it. */
export async function printPhysicalBackups(client: Client, cfg: LifeboatConfig, target: string): Promise<void> {
  const handle = await start<typeof physicalCatalogWorkflow>(client, cfg, 'physicalCatalogWorkflow', `physical-backups-${target}`, [
    { target },
  ]);
  const catalog = await follow(handle, `physical backups of ${target}`);
  console.log(
    `physical backups of ${target} (pgBackRest stanza "${catalog.stanza}": ${catalog.status}; WAL archived ${catalog.walMin ?? '-'} … ${catalog.walMax ?? '-'})`,
  );
  if (!catalog.backups.length) return console.log(`  none yet (run "lifeboat pitr backup --target ${target} --type full")`);
  console.log(
    table(
      ['label', 'type', 'started (UTC)', 'took', 'size', 'in repository', 'WAL'],
      catalog.backups.map((b) => [
        b.label,
        b.type,
        b.startedAt.replace('T', ' ').slice(0, 19),
        formatDuration(Date.parse(b.stoppedAt) - Date.parse(b.startedAt)),
        bytes(b.size),
        bytes(b.repoSize),
        `${b.walStart}…${b.walStop.slice(16)}`,
      ]),
    ),
  );
}

export function registerPitrCommands(program: Command): void {
  const config = () => configOf(program);
  const pitr = program.command('pitr').description('physical backups and point-in-time recovery (pgBackRest)');
  const connected = async (given: string | undefined) => {
    const cfg = config();
    const target = physicalTargetOf(cfg, given);
    const client = await connectClient(cfg);
    await requireWorker(client, cfg);
    return { cfg, target, client };
  };

  pitr
    .command('prepare')
    .description(
      "check what pgBackRest needs of the target's server, and set up the stanza and archive_command where physical.setup allows",
    )
    .addOption(targetOption())
    .action(async (opts: { target?: string }) => {
      const { cfg, target, client } = await connected(opts.target);
      const handle = await start<typeof preparePhysicalWorkflow>(client, cfg, 'preparePhysicalWorkflow', `pitr-prepare-${target}`, [
        { target },
      ]);
      const setup = await follow(handle, `pgBackRest setup of ${target}`);
      for (const change of setup.changed) console.log(`  ${change}`);
      console.log(
        `✔ ${target}: stanza "${setup.stanza}" on ${setup.pgPath} archives WAL and passes pgbackrest check${setup.changed.length ? '' : ' (nothing to change)'}`,
      );
    });

  pitr
    .command('backup')
    .description('take a physical backup now')
    .addOption(targetOption())
    .addOption(new Option('--type <type>', 'full, diff or incr').choices(['full', 'diff', 'incr']).default('incr'))
    .action(async (opts: { target?: string; type: 'full' | 'diff' | 'incr' }) => {
      const { cfg, target, client } = await connected(opts.target);
      const handle = await start<typeof physicalBackupWorkflow>(client, cfg, 'physicalBackupWorkflow', `pitr-backup-${target}`, [
        { target, type: opts.type },
      ]);
      const b = await follow(handle, `${opts.type} physical backup of ${target}`);
      console.log(`✔ ${b.type} backup ${b.label}: ${bytes(b.size)} (${bytes(b.repoSize)} stored), WAL ${b.walStart}…${b.walStop}`);
    });

  pitr
    .command('backups')
    .description('list the physical backups and the archived WAL span')
    .addOption(targetOption())
    .action(async (opts: { target?: string }) => {
      const { cfg, target, client } = await connected(opts.target);
      await printPhysicalBackups(client, cfg, target);
    });

  pitr
    .command('verify')
    .description("verify the pgBackRest repository's backups and WAL (pgbackrest verify)")
    .addOption(targetOption())
    .action(async (opts: { target?: string }) => {
      const { cfg, target, client } = await connected(opts.target);
      const handle = await start<typeof physicalVerifyWorkflow>(client, cfg, 'physicalVerifyWorkflow', `pitr-verify-${target}`, [
        { target },
      ]);
      const r = await follow(handle, `verification of ${target}'s pgBackRest repository`);
      if (r.result === 'failed') throw new CliError(r.report, 1);
      console.log(`✔ ${target}: the pgBackRest repository verifies\n${r.report}`);
    });

  pitr
    .command('wal')
    .description('check that WAL reaches the repository within physical.walMaxAge; alert if not')
    .addOption(targetOption())
    .action(async (opts: { target?: string }) => {
      const { cfg, target, client } = await connected(opts.target);
      const handle = await start<typeof walFreshnessWorkflow>(client, cfg, 'walFreshnessWorkflow', `pitr-wal-${target}`, [{ target }]);
      const r = await follow(handle, `WAL freshness of ${target}`);
      const age = r.ageMs === undefined ? 'never archived' : `${formatDuration(r.ageMs)} ago`;
      const line = `${target}: newest archived WAL ${r.newestArchivedWal ?? '-'} (${age}), ${bytes(r.waitingBytes)} waiting, limit ${formatDuration(r.maxAgeMs)}${r.failingWal ? `, archiving ${r.failingWal} FAILS` : ''}`;
      if (!r.fresh) throw new CliError(`✖ ${line}`, 1);
      console.log(`✔ ${line}`);
    });

  pitr
    .command('find')
    .description('list the transactions that deleted or changed rows of a table, read from the archived WAL')
    .addOption(targetOption())
    .requiredOption('--table <table>', 'the table, as PostgreSQL spells it (schema.table outside public)')
    .option('--since <time>', 'only transactions committed at or after this time (ISO 8601)')
    .option('--until <time>', 'only transactions committed at or before this time (ISO 8601)')
    .option('--json', 'print JSON')
    .action(async (opts: { target?: string; table: string; since?: string; until?: string; json?: boolean }) => {
      for (const [flag, value] of [
        ['--since', opts.since],
        ['--until', opts.until],
      ] as const)
        if (value !== undefined && Number.isNaN(Date.parse(value)))
          throw new InputError(`${flag} "${value}" is not a time: write one such as 2026-11-30T15:02:00Z`);
      const { cfg, target, client } = await connected(opts.target);
      const handle = await start<typeof findTableChangesWorkflow>(client, cfg, 'findTableChangesWorkflow', `pitr-find-${target}`, [
        { target, table: opts.table, since: opts.since, until: opts.until },
      ]);
      const found = await follow(handle, `changes of ${opts.table}`);
      if (opts.json) return console.log(JSON.stringify(found, null, 2));
      console.log(`${opts.table} (file ${found.relation}) in WAL ${found.fromSegment} … ${found.toSegment}:`);
      if (!found.transactions.length) console.log('  no transaction deleted or changed its rows');
      else
        console.log(
          table(
            ['xid', 'committed (UTC)', 'deleted', 'updated', 'lsn'],
            found.transactions.map((t) => [
              t.xid,
              t.committedAt.replace('T', ' ').replace('Z', ''),
              String(t.deleted),
              String(t.updated),
              t.lsn,
            ]),
          ),
        );
      if (found.note) console.error(`! ${found.note}`);
    });
}
