// The actions of `lifeboat pitr …` (client/commands/pitr.ts): each runs a physical workflow on the
// worker, which runs pgBackRest beside the database, and prints its result.
import { type Command } from 'commander';
import { ConfigError, InputError } from '../../common/errors.js';
import { formatDuration } from '../../common/time.js';
import type { LifeboatConfig } from '../../config/config.js';
import type {
  findTableChangesWorkflow,
  physicalBackupWorkflow,
  physicalCatalogWorkflow,
  physicalVerifyWorkflow,
  physicalWarmCopyWorkflow,
  preparePhysicalWorkflow,
  WarmCopyResult,
  walFreshnessWorkflow,
} from '../../workflows/index.js';
import { CliError } from '../cli-process.js';
import { bytes } from '../../common/sizes.js';
import { table } from '../format.js';
import { findJson, physicalBackupsJson, walJson } from '../pitr-json.js';
import { chooseTarget, configOf, printJson } from './common.js';
import { runOnWorker } from './on-worker.js';

/** The configuration and a target with physical backups, or a refusal saying how to configure one. */
function physicalTarget(command: Command, given: string | undefined): { cfg: LifeboatConfig; target: string } {
  const cfg = configOf(command);
  const target = chooseTarget(cfg, given);
  if (!cfg.targets[target]!.physical)
    throw new ConfigError(
      `target "${target}" has no physical backups: add "physical: pgbackrest" to targets.${target} in the configuration`,
    );
  return { cfg, target };
}

/** The physical backups table (or JSON), as `lifeboat backups` and `pitr backups` print it. */
export async function printPhysicalBackups(cfg: LifeboatConfig, target: string, json = false): Promise<void> {
  const catalog = await runOnWorker<typeof physicalCatalogWorkflow>(
    cfg,
    'physicalCatalogWorkflow',
    `physical-backups-${target}`,
    { target },
    `physical backups of ${target}`,
  );
  if (json) return printJson(physicalBackupsJson(target, catalog));
  console.log(
    `physical backups of ${target} (pgBackRest stanza "${catalog.stanza}": ${catalog.status}; WAL archived ${catalog.walMin ?? '-'} … ${catalog.walMax ?? '-'})`,
  );
  if (catalog.warmCopy) console.log(`warm copy: ${catalog.warmCopy.note}`);
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

export async function prepare(opts: { target?: string }, command: Command): Promise<void> {
  const { cfg, target } = physicalTarget(command, opts.target);
  const setup = await runOnWorker<typeof preparePhysicalWorkflow>(
    cfg,
    'preparePhysicalWorkflow',
    `pitr-prepare-${target}`,
    { target },
    `pgBackRest setup of ${target}`,
  );
  for (const change of setup.changed) console.log(`  ${change}`);
  console.log(
    `✔ ${target}: stanza "${setup.stanza}" on ${setup.pgPath} archives WAL and passes pgbackrest check${setup.changed.length ? '' : ' (nothing to change)'}`,
  );
}

export async function backup(opts: { target?: string; type: 'full' | 'diff' | 'incr' }, command: Command): Promise<void> {
  const { cfg, target } = physicalTarget(command, opts.target);
  const b = await runOnWorker<typeof physicalBackupWorkflow>(
    cfg,
    'physicalBackupWorkflow',
    `pitr-backup-${target}`,
    { target, type: opts.type },
    `${opts.type} physical backup of ${target}`,
  );
  console.log(`✔ ${b.type} backup ${b.label}: ${bytes(b.size)} (${bytes(b.repoSize)} stored), WAL ${b.walStart}…${b.walStop}`);
  if (b.warmCopy) printWarmCopy(b.warmCopy);
}

/** The warm copy's outcome: a failed one is the backup failing its test restore (exit 1). */
function printWarmCopy(w: WarmCopyResult): void {
  if (w.status === 'failed') throw new CliError(`the warm copy failed (the backup did not restore): ${w.note}`, 1);
  console.log(`${w.status === 'prepared' ? '✔' : '!'} ${w.note}`);
}

export async function warm(opts: { target?: string }, command: Command): Promise<void> {
  const { cfg, target } = physicalTarget(command, opts.target);
  printWarmCopy(
    await runOnWorker<typeof physicalWarmCopyWorkflow>(
      cfg,
      'physicalWarmCopyWorkflow',
      `pitr-warm-${target}`,
      { target },
      `warm copy of ${target}`,
    ),
  );
}

export async function backups(opts: { target?: string; json?: boolean }, command: Command): Promise<void> {
  const { cfg, target } = physicalTarget(command, opts.target);
  await printPhysicalBackups(cfg, target, opts.json);
}

export async function verify(opts: { target?: string }, command: Command): Promise<void> {
  const { cfg, target } = physicalTarget(command, opts.target);
  const r = await runOnWorker<typeof physicalVerifyWorkflow>(
    cfg,
    'physicalVerifyWorkflow',
    `pitr-verify-${target}`,
    { target },
    `verification of ${target}'s pgBackRest repository`,
  );
  if (r.result === 'failed') throw new CliError(r.report, 1);
  console.log(`✔ ${target}: the pgBackRest repository verifies\n${r.report}`);
}

export async function wal(opts: { target?: string; json?: boolean }, command: Command): Promise<void> {
  const { cfg, target } = physicalTarget(command, opts.target);
  const r = await runOnWorker<typeof walFreshnessWorkflow>(
    cfg,
    'walFreshnessWorkflow',
    `pitr-wal-${target}`,
    { target },
    `WAL freshness of ${target}`,
  );
  const age = r.ageMs === undefined ? 'never archived' : `${formatDuration(r.ageMs)} ago`;
  const line = `${target}: newest archived WAL ${r.newestArchivedWal ?? '-'} (${age}), ${bytes(r.waitingBytes)} waiting, limit ${formatDuration(r.maxAgeMs)}${r.failingWal ? `, archiving ${r.failingWal} FAILS` : ''}`;
  if (opts.json) printJson(walJson(r));
  if (!r.fresh) throw new CliError(line, 1);
  if (!opts.json) console.log(`✔ ${line}`);
}

export async function find(
  opts: { target?: string; table: string; since?: string; until?: string; json?: boolean },
  command: Command,
): Promise<void> {
  for (const [flag, value] of [
    ['--since', opts.since],
    ['--until', opts.until],
  ] as const)
    if (value !== undefined && Number.isNaN(Date.parse(value)))
      throw new InputError(`${flag} "${value}" is not a time: write one such as 2026-11-30T15:02:00Z`);
  const { cfg, target } = physicalTarget(command, opts.target);
  const found = await runOnWorker<typeof findTableChangesWorkflow>(
    cfg,
    'findTableChangesWorkflow',
    `pitr-find-${target}`,
    { target, table: opts.table, since: opts.since, until: opts.until },
    `changes of ${opts.table}`,
  );
  if (opts.json) return printJson(findJson(found));
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
}
