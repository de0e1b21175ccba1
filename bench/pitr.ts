// Benchmark: an L3 at a moment (the whole cluster recovered to the moment into a new data
// directory, started on its own port, promoted, every table counted, the integrity and
// critical-function checks, the cut-over) against the logical L3 of the same data (the newest
// verified backup restored into a new database and checked against it), and the raw
// `pgbackrest restore` alone, on the CRM of N leads, in one run. The physical L3 runs twice a round:
// WARM, from the warm copy the backup workflow prepared (only the WAL since the backup replayed at
// incident time), and COLD, with no warm copy (`pgbackrest restore` at incident time).
//
//   npm run bench:pitr -- --leads 1000000 [--runs R] [--process-max P]
//
// Untimed first: a logical backup and its verification, a full physical backup, then rows written,
// the moment noted (every table fingerprinted then), more rows written and the WAL archived.
// The warm copy is prepared untimed before each WARM run (by the backup workflow for the first, by
// physicalWarmCopyWorkflow after), and removed untimed before each COLD run.
// WARM, COLD and LOGICAL are timed from the incident's start to its result, people played by a driver
// that answers at once (vendor ticket, cut-over, resumption stages, post-mortem, review). WARM and COLD
// must end recovered with every table's fingerprint (read by the bench, untimed, from the recovered
// cluster before it is removed) equal to the one taken at the moment, their restore step saying which path ran; LOGICAL
// recovered with every table matching the backup (its own verify step): a time of a wrong result is
// worthless. RAW is `pgbackrest restore` to the moment into an empty folder (the same options the
// plan gives it); RAW+RECOVERY adds `pg_ctl start` until the copy is promoted. Each run's recovered
// cluster and restored database are removed, untimed. The last lines:
//   RESULT pitr ratio=<warm physical/logical> physical_s=… logical_s=… leads=<N>
//   RESULT pitr-cold ratio=<cold physical/logical> cold_s=… logical_s=… process_max=<P> leads=<N>
//   RESULT pitr-raw ratio=<cold physical/raw restore> cold_s=… raw_s=… raw_recovery_s=… process_max=<P> leads=<N>
//   RESULT pitr-rpo physical_rpo_s=<declaredAt − recoveredTo> logical_rpo_s=<declaredAt − backup start> physical_short_s=… logical_short_s=… leads=<N>
// The RPO is the first run's (declared right after the moment; later runs declare the same moment
// later and later); "short" is how far before the moment asked for the data ends (moment − recovered to).
import type { Client } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PhysicalBackup } from '../activities/pgbackrest/backups.js';
import { restoreOptions } from '../activities/pgbackrest/moment.js';
import { removeRecovered } from '../activities/pgbackrest/recovered-cluster.js';
import { removeWarmCopy } from '../activities/pgbackrest/warm-copy.js';
import { chownToUser, pgProgram, pgbackrest, stopCopy } from '../activities/pgbackrest/run.js';
import { type PhysicalTarget, physicalTarget } from '../activities/pgbackrest/target.js';
import { atLoopbackPort, escapeIdentifier, withClient } from '../activities/postgres/connection.js';
import { fingerprintDatabase } from '../activities/postgres/inspect.js';
import { createResolver } from '../activities/resolve.js';
import { type Answer, driveIncident } from '../client/drive.js';
import { table } from '../client/format.js';
import { declare, incidentInput } from '../client/incidents.js';
import { freePorts } from '../client/stack/processes.js';
import type { TableFingerprint } from '../common/backups.js';
import type { Moment } from '../common/moments.js';
import { instanceIdFor } from '../common/names.js';
import type { RunResult, StepRecord } from '../common/plans.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import type { WarmCopyResult } from '../workflows/physical.js';
import {
  backupToFile,
  benchMain,
  checkpoint,
  exampleConfigText,
  log,
  median,
  parseIntegerOptions,
  secs,
  seedBenchCrm,
  withHarness,
} from './common.js';

const USAGE =
  'usage: npm run bench:pitr -- [--leads N] [--runs R] [--process-max P]   (N: positive integer, default 100000; R: 1 to 5, default 1; P: pgBackRest process-max, 1 to 8, default 1)';

const done = (note: string): Answer => ({ complete: { by: 'carol', note } });
const L3_ANSWERS: Record<string, Answer> = {
  'vendor-support': done('bench: ticket 1'),
  'cut-over': done('bench: application moved'),
  'resume-read-only': done('bench'),
  'resume-internal-users': done('bench'),
  'resume-all-users': done('bench'),
  'post-mortem': done('bench'),
  review: done('bench'),
};

/** The example configuration with its commented `physical:` section of the crm target switched on (the stack archives WAL into it). */
function physicalConfigText(processMax: number): string {
  const text = exampleConfigText();
  const enabled = text.replace(
    /^ {4}# physical:\n(?: {4}# {3}.*\n)+/m,
    (block) => `${block.replace(/^ {4}# /gm, '    ')}      processMax: ${processMax}\n`,
  );
  if (enabled === text)
    throw new Error('the example configuration has no commented "physical:" section for crm any more: update bench/pitr.ts');
  return enabled;
}

interface L3Run {
  incidentId: string;
  ms: number;
  result: RunResult;
}

/** An L3 incident, declared and driven to its end; throws unless it recovered. */
async function l3Run(client: Client, config: LifeboatConfig, label: string, moment?: Moment): Promise<L3Run> {
  const input = incidentInput({
    target: 'crm',
    summary: `bench: the database is lost (${label})`,
    declaredBy: 'carol',
    level: 'L3',
    options: { physical: true, ...(moment ? { moment } : {}) },
  });
  const t = performance.now();
  await declare(client, config, input);
  const result = await driveIncident(client, input.incidentId, L3_ANSWERS, { timeoutMs: 60 * 60_000 });
  const ms = performance.now() - t;
  if (result.outcome !== 'recovered') throw new Error(`${label}: incident ${input.incidentId} ended ${result.outcome}: ${result.detail}`);
  log(`${label}: L3 ${secs(ms)} s (${input.incidentId}): ${result.detail}`);
  return { incidentId: input.incidentId, ms, result };
}

/** The tables whose fingerprint differs from `expected`, in words. */
function differences(expected: Record<string, TableFingerprint>, actual: Record<string, TableFingerprint>): string[] {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return tables
    .filter((t) => expected[t]?.rows !== actual[t]?.rows || expected[t]?.checksum !== actual[t]?.checksum)
    .map((t) => `${t}: ${actual[t]?.rows ?? 'missing'} rows (at the moment ${expected[t]?.rows ?? 'none'})`);
}

/** The raw work: `pgbackrest restore` to the moment into an empty folder, then (timed apart) `pg_ctl start` until promoted. */
async function rawRestore(p: PhysicalTarget, moment: Moment, label: string): Promise<{ restoreMs: number; recoveryMs: number }> {
  // Beside the plan's recovered clusters: a folder pgBackRest's user can reach.
  const dir = join(p.config.configDir, 'bench-raw', String(Date.now()));
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  await chownToUser(p.runner.runAs, dir);
  try {
    let t = performance.now();
    await pgbackrest(p.runner, 'restore', [`--pg1-path=${data}`, ...restoreOptions(moment)]);
    const restoreMs = performance.now() - t;
    const [port] = await freePorts(1);
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c archive_mode=off -c hot_standby=off`;
    t = performance.now();
    // With hot_standby off the server takes connections only once recovery ended: pg_ctl -w returns then.
    await pgProgram(
      p.runner.runAs,
      'pg_ctl',
      ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '3600', 'start'],
      p.runner.env,
    );
    const recoveryMs = performance.now() - t;
    log(`${label}: raw pgbackrest restore ${secs(restoreMs)} s, then recovery until promoted ${secs(recoveryMs)} s`);
    return { restoreMs, recoveryMs };
  } finally {
    await stopCopy(p.runner.runAs, data);
    rmSync(dir, { recursive: true, force: true });
  }
}

const restoreStep = (run: L3Run) => run.result.timeline.find((s) => s.name.startsWith('execute recovery: restore the cluster'));

const took = (s: StepRecord) => (s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : NaN);

/** Every step of a run (the incident's, then its plan's), with its duration. */
function timeline(run: L3Run): string {
  return table(
    ['step', 'kind', 's'],
    run.result.timeline.map((s) => [s.name.slice(0, 100), s.kind, Number.isNaN(took(s)) ? '' : secs(took(s))]),
  );
}

await benchMain(USAGE, async (argv) => {
  const options = parseIntegerOptions(argv, {
    leads: { default: 100_000, min: 1 },
    runs: { default: 1, min: 1, max: 5 },
    'process-max': { default: 1, min: 1, max: 8 },
  });
  const { leads, runs } = options;
  const processMax = options['process-max'];
  const outcome = await withHarness(async ({ stack, scratch, startWorker, connect }) => {
    const { env, url } = await seedBenchCrm(stack, leads);
    const fullEnv = { ...process.env, ...env };
    const configText = physicalConfigText(processMax);
    const config = parseConfig(configText, 'bench configuration', fullEnv);
    log('starting the worker (bin/lifeboat worker, crm with physical: pgbackrest)');
    await startWorker(env, configText);
    const client = await connect(env.TEMPORAL_ADDRESS!);
    const p = await physicalTarget(createResolver(config, fullEnv), 'crm');

    // Untimed: the logical L3's verified backup, then the physical L3's full backup.
    const { manifest } = await backupToFile(client, config, fullEnv, scratch, 'pitr');
    const t = performance.now();
    const physical = (await client.workflow.execute('physicalBackupWorkflow', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `bench-pitr-physical-${Date.now()}`,
      args: [{ target: 'crm', type: 'full' }],
    })) as PhysicalBackup & { warmCopy?: WarmCopyResult };
    log(
      `physical full backup ${physical.label} in ${secs(performance.now() - t)} s (not timed); ${physical.warmCopy?.note ?? 'no warm copy'}`,
    );
    if (physical.warmCopy?.status !== 'prepared') throw new Error(`the backup prepared no warm copy: ${physical.warmCopy?.note ?? 'none'}`);
    // pgBackRest restores to a time from a backup that stopped before it, to the second: the moment comes a second later.
    await new Promise((ok) => setTimeout(ok, Math.max(0, Date.parse(physical.stoppedAt) + 1500 - Date.now())));

    // Rows written, the moment noted with every table as it was then, more rows written, the WAL archived.
    const write = (tag: string) =>
      withClient(url, (c) =>
        c.query(
          `INSERT INTO crm_leads (first_name, last_name, email, source) SELECT $1, last_name, $1 || id || '@bench.test', source FROM crm_leads ORDER BY id LIMIT 100`,
          [tag],
        ),
      );
    await write('before');
    const atMoment = await fingerprintDatabase(url);
    const moment: Moment = {
      kind: 'time',
      time: (await withClient(url, (c) => c.query<{ t: Date }>('SELECT clock_timestamp() AS t'))).rows[0]!.t.toISOString(),
    };
    await write('after');
    await withClient(url, async (c) => {
      const { rows } = await c.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
      while (!(await c.query('SELECT 1 FROM pg_stat_archiver WHERE last_archived_wal >= $1', [rows[0]!.wal])).rowCount)
        await new Promise((ok) => setTimeout(ok, 200));
    });
    log(`moment ${moment.time}: 100 leads written before it, 100 after; WAL archived`);

    const rounds: Array<{ load: number; physical: L3Run; cold: L3Run; logical: L3Run; restoreMs: number; recoveryMs: number }> = [];
    let warmReady = true;
    /** A physical L3 at the moment, from the warm copy or cold; its result checked against the moment, and the path it took. */
    const physicalRun = async (i: number, warm: boolean) => {
      if (warm && !warmReady) {
        const w = (await client.workflow.execute('physicalWarmCopyWorkflow', {
          taskQueue: config.temporal.taskQueue,
          workflowId: `bench-pitr-warm-${Date.now()}`,
          args: [{ target: 'crm' }],
        })) as WarmCopyResult;
        log(`run ${i}: ${w.note} (not timed)`);
      }
      if (!warm) await removeWarmCopy(p);
      // The copy was just written (1.7 GiB at 1M): its write-back would fall into the timed run, where a
      // real incident comes hours after the backup. Flushed untimed, as the checkpoint flushes production.
      else await promisify(execFile)('sync');
      await checkpoint(url);
      const run = await l3Run(client, config, `run ${i} physical ${warm ? 'warm' : 'cold'}`, moment);
      warmReady = false;
      // The plan counts the recovered tables; every row's checksum is read here, untimed, against the moment's.
      const port = run.result.recoveredCluster?.port;
      const wrong = port
        ? differences(atMoment, await fingerprintDatabase(atLoopbackPort(url, port)))
        : [`no recovered cluster in the result: ${run.result.detail}`];
      await removeRecovered(p, instanceIdFor(run.incidentId));
      if (wrong.length) throw new Error(`run ${i}: the recovered cluster differs from the moment: ${wrong.join('; ')}`);
      const detail = restoreStep(run)?.detail ?? '';
      if (/; from the warm copy of backup /.test(detail) !== warm)
        throw new Error(`run ${i}: the ${warm ? 'warm' : 'cold'} run's restore step says: ${detail}`);
      return run;
    };
    const logicalRun = async (i: number) => {
      await checkpoint(url);
      const run = await l3Run(client, config, `run ${i} logical`);
      await withClient(stack.postgres.adminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(run.result.database!)} WITH (FORCE)`),
      );
      return run;
    };
    for (let i = 1; i <= runs; i++) {
      const load = loadavg()[0]!;
      // The order turns round every run (physical, logical, raw; then raw, logical, physical), so no side always reads a cold store.
      if (i % 2) {
        const phys = await physicalRun(i, true);
        const cold = await physicalRun(i, false);
        const logical = await logicalRun(i);
        rounds.push({ load, physical: phys, cold, logical, ...(await rawRestore(p, moment, `run ${i}`)) });
      } else {
        const raw = await rawRestore(p, moment, `run ${i}`);
        const logical = await logicalRun(i);
        const cold = await physicalRun(i, false);
        rounds.push({ load, physical: await physicalRun(i, true), cold, logical, ...raw });
      }
    }
    return { manifest, rounds, moment: moment.time };
  });

  const physical = median(outcome.rounds.map((r) => r.physical.ms)) / 1000;
  const cold = median(outcome.rounds.map((r) => r.cold.ms)) / 1000;
  const logical = median(outcome.rounds.map((r) => r.logical.ms)) / 1000;
  const raw = median(outcome.rounds.map((r) => r.restoreMs)) / 1000;
  const rawRecovery = median(outcome.rounds.map((r) => r.restoreMs + r.recoveryMs)) / 1000;
  const last = outcome.rounds.at(-1)!;
  const rpo = (run: L3Run) => (run.result.rto?.rpoAchievedMs ?? NaN) / 1000;
  /** How far before the moment asked for the recovered data ends: what the commander loses beyond what they chose to. */
  const short = (run: L3Run) => (Date.parse(outcome.moment) - Date.parse(run.result.backupUsed?.startedAt ?? '')) / 1000;
  const first = outcome.rounds[0]!;
  console.log('');
  console.log(
    table(
      [
        'run',
        'physical L3 warm (s)',
        'cold (s)',
        'logical L3 (s)',
        'warm/logical',
        'cold/logical',
        'raw pgbackrest restore (s)',
        'raw + recovery (s)',
        'RPO physical / logical (s)',
        'load avg',
      ],
      [
        ...outcome.rounds.map((r, i) => [
          String(i + 1),
          secs(r.physical.ms),
          secs(r.cold.ms),
          secs(r.logical.ms),
          (r.physical.ms / r.logical.ms).toFixed(3),
          (r.cold.ms / r.logical.ms).toFixed(3),
          secs(r.restoreMs),
          secs(r.restoreMs + r.recoveryMs),
          `${rpo(r.physical).toFixed(3)} / ${rpo(r.logical).toFixed(3)}`,
          r.load.toFixed(2),
        ]),
        [
          'median',
          physical.toFixed(3),
          cold.toFixed(3),
          logical.toFixed(3),
          (physical / logical).toFixed(3),
          (cold / logical).toFixed(3),
          raw.toFixed(3),
          rawRecovery.toFixed(3),
          '',
          '',
        ],
      ],
    ),
  );
  for (const [name, run] of [
    ['warm', last.physical],
    ['cold', last.cold],
  ] as const) {
    console.log(`\nWhere the ${name} physical L3's time goes (last run, ${run.incidentId}; workflow clock):\n`);
    console.log(timeline(run));
    console.log(`\nits restore step: ${restoreStep(run)?.detail ?? 'missing'}`);
  }
  console.log(`\nWhere the logical L3's time goes (last run, ${last.logical.incidentId}, backup ${outcome.manifest.id}):\n`);
  console.log(timeline(last.logical));
  console.log(
    `\nRPO achieved (run 1): physical ${rpo(first.physical).toFixed(3)} s (declared − recovered to), logical ${rpo(first.logical).toFixed(3)} s (declared − backup start); ` +
      `the data ends ${short(first.physical).toFixed(3)} s (physical) and ${short(first.logical).toFixed(3)} s (logical) before the moment asked for, ${outcome.moment}`,
  );
  console.log(
    `RESULT pitr ratio=${(physical / logical).toFixed(3)} physical_s=${physical.toFixed(3)} logical_s=${logical.toFixed(3)} leads=${leads}`,
  );
  console.log(
    `RESULT pitr-cold ratio=${(cold / logical).toFixed(3)} cold_s=${cold.toFixed(3)} logical_s=${logical.toFixed(3)} process_max=${processMax} leads=${leads}`,
  );
  console.log(
    `RESULT pitr-raw ratio=${(cold / raw).toFixed(3)} cold_s=${cold.toFixed(3)} raw_s=${raw.toFixed(3)} raw_recovery_s=${rawRecovery.toFixed(3)} process_max=${processMax} leads=${leads}`,
  );
  console.log(
    `RESULT pitr-rpo physical_rpo_s=${rpo(first.physical).toFixed(3)} logical_rpo_s=${rpo(first.logical).toFixed(3)} physical_short_s=${short(first.physical).toFixed(3)} logical_short_s=${short(first.logical).toFixed(3)} leads=${leads}`,
  );
});
