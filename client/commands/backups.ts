// `lifeboat backup`, `backups`, `verify`, `retention`, `freshness` and `seed`: a target's backups
// from the command line. Each workflow is started on the worker's task queue, once a worker is seen
// polling it (none: exit 1 at once), and followed to its result; a failed verification or a stale
// newest backup exits 1.
import { type Command } from 'commander';
import { Catalog } from '../../activities/storage/catalog.js';
import { manifestKeyOf } from '../../activities/storage/manifest-file.js';
import { openStore } from '../../activities/storage/open.js';
import { ConfigError } from '../../common/errors.js';
import { parseBackupId } from '../../common/names.js';
import { formatDuration } from '../../common/time.js';
import { targetConfig } from '../../config/config.js';
import type { backupWorkflow, freshnessWorkflow, retentionWorkflow, verifyWorkflow } from '../../workflows/index.js';
import { CliError, connectClient, follow } from '../follow.js';
import { bytes, table } from '../format.js';
import { backupVerdict, verificationVerdict } from '../verdicts.js';
import { requireWorker } from '../worker-check.js';
import { chooseTarget, configOf, targetOption } from './common.js';
import { printPhysicalBackups } from './pitr.js';

/** A workflow id's suffix: the start time, so each run of a command is its own workflow. */
const stamp = () => new Date().toISOString().replace(/[-:.]/g, '');

export function registerBackupCommands(program: Command): void {
  const config = () => configOf(program);

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
      await requireWorker(client, cfg);
      const handle = await client.workflow.start<typeof backupWorkflow>('backupWorkflow', {
        taskQueue: cfg.temporal.taskQueue,
        workflowId: `backup-${target}-${stamp()}`,
        args: [{ target, tags: opts.tag ?? [], reason: opts.reason }],
      });
      console.log(backupVerdict(await follow(handle, `backup of ${target}`)));
    });

  program
    .command('backups')
    .description('list the backups of a target (a backup without a manifest does not exist; a damaged manifest is listed as damaged)')
    .addOption(targetOption())
    .option('--json', 'print JSON')
    .action(async (opts: { target?: string; json?: boolean }) => {
      const cfg = config();
      const target = chooseTarget(cfg, opts.target);
      const storeName = cfg.targets[target]!.store;
      const catalog = new Catalog(openStore(storeName, cfg.stores[storeName]!), manifestKeyOf(cfg, process.env));
      const { backups, damaged } = await catalog.survey(target);
      // Damaged entries follow the backups, as { damaged: { id, key, reason } }.
      if (opts.json) return console.log(JSON.stringify([...backups, ...damaged.map((d) => ({ damaged: d }))], null, 2));
      if (!backups.length && !damaged.length) console.log(`no backups of ${target} yet (run "lifeboat backup --target ${target}")`);
      else
        console.log(
          table(
            ['id', 'time (UTC)', 'size', 'verified', 'tags'],
            [
              ...backups.map(({ manifest: m, verification: v }) => [
                m.id,
                m.startedAt.replace('T', ' ').slice(0, 19),
                bytes(m.sizeBytes),
                v ? `${v.result === 'passed' ? 'yes' : 'FAILED'} ${v.verifiedAt.slice(0, 10)}` : 'no',
                m.tags.join(',') || '-',
              ]),
              ...damaged.map((d) => [d.id, '-', '-', 'DAMAGED', '-']),
            ],
          ),
        );
      for (const d of damaged)
        console.log(`✖ ${d.id} is damaged and never used: ${d.reason} (inspect or remove ${d.key} in store "${storeName}")`);
      // Physical backups are pgBackRest's: the worker beside the database lists them.
      if (cfg.targets[target]!.physical) {
        const client = await connectClient(cfg);
        await requireWorker(client, cfg);
        console.log('');
        await printPhysicalBackups(client, cfg, target);
      }
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
      await requireWorker(client, cfg);
      const handle = await client.workflow.start<typeof verifyWorkflow>('verifyWorkflow', {
        taskQueue: cfg.temporal.taskQueue,
        workflowId: `verify-${backup === 'latest' ? target : backup}-${stamp()}`,
        args: [{ backupId: backup, target }],
      });
      const record = await follow(handle, `verification of ${backup}`);
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
      await requireWorker(client, cfg);
      const handle = await client.workflow.start<typeof retentionWorkflow>('retentionWorkflow', {
        taskQueue: cfg.temporal.taskQueue,
        workflowId: `retention-${target}-${stamp()}`,
        args: [{ target, dryRun: Boolean(opts.dryRun) }],
      });
      const result = await follow(handle, `retention of ${target}`);
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
      await requireWorker(client, cfg);
      const handle = await client.workflow.start<typeof freshnessWorkflow>('freshnessWorkflow', {
        taskQueue: cfg.temporal.taskQueue,
        workflowId: `freshness-${target}-${stamp()}`,
        args: [{ target }],
      });
      const r = await follow(handle, `freshness of ${target}`);
      const limit = formatDuration(r.maxAgeMs);
      if (!r.fresh)
        throw new CliError(
          `✖ ${target}: no verified backup younger than ${limit}${r.newestVerifiedId ? ` (newest: ${r.newestVerifiedId}, ${formatDuration(r.ageMs!)} old)` : ''}`,
          1,
        );
      console.log(`✔ ${target}: newest verified backup ${r.newestVerifiedId} is ${formatDuration(r.ageMs!)} old (limit ${limit})`);
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
      // Loaded on demand: only this command writes the demo CRM.
      const { seedCrm } = await import('../../activities/postgres/seed.js');
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
}
