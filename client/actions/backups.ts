// The actions of `lifeboat backup`, `backups`, `verify`, `retention`, `freshness` and `seed`
// (client/commands/backups.ts).
import { type Command } from 'commander';
import { Catalog } from '../../activities/storage/catalog.js';
import { manifestKeyOf } from '../../activities/storage/manifest-file.js';
import { openStore } from '../../activities/storage/open.js';
import { ConfigError } from '../../common/errors.js';
import { parseBackupId } from '../../common/names.js';
import { formatDuration } from '../../common/time.js';
import { targetConfig } from '../../config/config.js';
import type { backupWorkflow, freshnessWorkflow, retentionWorkflow, verifyWorkflow } from '../../workflows/index.js';
import { CliError } from '../cli-process.js';
import { bytes } from '../../common/sizes.js';
import { table } from '../format.js';
import { backupsJson } from '../read-json.js';
import { backupVerdict, verificationVerdict } from '../verdicts.js';
import { chooseTarget, configOf, printJson } from './common.js';
import { runOnWorker } from './on-worker.js';
import { printPhysicalBackups } from './pitr.js';

export async function backup(opts: { target?: string; tag?: string[]; reason: string }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const target = chooseTarget(cfg, opts.target);
  for (const tag of opts.tag ?? []) {
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(tag))
      throw new ConfigError(`tag "${tag}" is not allowed: use lower-case letters, digits, ".", "-" or "_"`);
  }
  const input = { target, tags: opts.tag ?? [], reason: opts.reason };
  console.log(
    backupVerdict(await runOnWorker<typeof backupWorkflow>(cfg, 'backupWorkflow', `backup-${target}`, input, `backup of ${target}`)),
  );
}

export async function backups(opts: { target?: string; json?: boolean }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const target = chooseTarget(cfg, opts.target);
  const storeName = cfg.targets[target]!.store;
  const catalog = new Catalog(openStore(storeName, cfg.stores[storeName]!), manifestKeyOf(cfg, process.env));
  const { backups, damaged } = await catalog.survey(target);
  if (opts.json) return printJson(backupsJson(backups, damaged));
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
    console.log('');
    await printPhysicalBackups(cfg, target);
  }
}

export async function verify(backupId: string, opts: { target?: string }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const target = backupId === 'latest' ? chooseTarget(cfg, opts.target) : parseBackupId(backupId).target;
  targetConfig(cfg, target);
  const id = `verify-${backupId === 'latest' ? target : backupId}`;
  const record = await runOnWorker<typeof verifyWorkflow>(cfg, 'verifyWorkflow', id, { backupId, target }, `verification of ${backupId}`);
  for (const f of record.findings) console.error(`  ✖ ${f.check}: ${f.detail}`);
  if (record.result === 'failed') throw new CliError(verificationVerdict(record).replace(/^✖ /, ''), 1);
  console.log(verificationVerdict(record));
}

export async function retention(opts: { target?: string; dryRun?: boolean }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const target = chooseTarget(cfg, opts.target);
  const input = { target, dryRun: Boolean(opts.dryRun) };
  const result = await runOnWorker<typeof retentionWorkflow>(
    cfg,
    'retentionWorkflow',
    `retention-${target}`,
    input,
    `retention of ${target}`,
  );
  console.log(
    table(
      ['id', 'decision', 'why'],
      result.decisions.map((d) => [d.id, d.keep ? 'keep' : result.dryRun ? 'would delete' : 'deleted', d.reasons.join('; ')]),
    ),
  );
  const gone = result.decisions.filter((d) => !d.keep).length;
  console.log(result.dryRun ? `dry run: ${gone} backup(s) would be deleted` : `✔ ${gone} backup(s) deleted`);
}

export async function freshness(opts: { target?: string }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const target = chooseTarget(cfg, opts.target);
  const r = await runOnWorker<typeof freshnessWorkflow>(
    cfg,
    'freshnessWorkflow',
    `freshness-${target}`,
    { target },
    `freshness of ${target}`,
  );
  const limit = formatDuration(r.maxAgeMs);
  if (!r.fresh)
    throw new CliError(
      `${target}: no verified backup younger than ${limit}${r.newestVerifiedId ? ` (newest: ${r.newestVerifiedId}, ${formatDuration(r.ageMs!)} old)` : ''}`,
      1,
    );
  console.log(`✔ ${target}: newest verified backup ${r.newestVerifiedId} is ${formatDuration(r.ageMs!)} old (limit ${limit})`);
}

export async function seed(opts: { target?: string; leads: string; reset?: boolean }, command: Command): Promise<void> {
  const cfg = configOf(command);
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
}
