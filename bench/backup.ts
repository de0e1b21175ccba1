// Benchmark: a Lifeboat backup (pg_dump streamed through the worker into S3, row counts, manifest)
// against a plain `pg_dump -Fc` to a local file, on the same CRM database of N leads.
//
//   npm run bench:backup -- --leads 1000000
//
// The worker runs as its own process (bin/lifeboat worker), as in production, so its memory is
// measured alone. Raw dumps and Lifeboat backups alternate, so drifts of the machine (page cache,
// other load) hit both sides alike; the medians are compared. The last line is machine-readable:
//   RESULT backup ratio=<ours/raw> ours_s=<median> raw_s=<median> leads=<N>
import { Client, Connection } from '@temporalio/client';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { libpqEnv, pgTool, withClient } from '../activities/postgres/connection.js';
import { seedCrm } from '../activities/postgres/seed.js';
import { bytes, table } from '../client/format.js';
import { startStack } from '../client/stack/index.js';
import { REPO_ROOT } from '../client/stack/processes.js';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../worker/config.js';
import { type BackupManifest, parseBackupId } from '../workflows/messages.js';
import { type TreeMemory, sampleTreeMemory } from './proc-memory.js';

const RUNS = 3;
const USAGE = 'usage: npm run bench:backup -- [--leads N]   (N: positive integer, default 100000)';

class UsageError extends Error {}

function parseLeads(argv: string[]): number {
  let leads: string;
  try {
    ({ values: { leads } } = parseArgs({ args: argv, options: { leads: { type: 'string', default: '100000' } }, strict: true }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const n = Number(leads);
  if (!/^\d+$/.test(leads) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--leads must be a positive integer, got "${leads}"`);
  return n;
}

const log = (line: string) => console.log(`[bench] ${line}`);
const secs = (ms: number) => (ms / 1000).toFixed(3);
const mb = (kib: number) => (kib / 1024).toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Runs a command to its end; fails with its stderr when it exits non-zero. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? ok() : fail(new Error(`${command} exited with ${code}: ${stderr.trim()}`))));
  });
}

interface WorkerProcess {
  memory: ReturnType<typeof sampleTreeMemory>;
  stop(): Promise<void>;
}

/** `bin/lifeboat worker` in its own process group, output to worker.log; resolves once it polls. */
async function startWorker(env: Record<string, string>, logDir: string): Promise<WorkerProcess> {
  const logFile = join(logDir, 'worker.log');
  const out = createWriteStream(logFile);
  // detached: its own process group, so the tsx launcher and its node child can be killed together.
  const child: ChildProcess = spawn(join(REPO_ROOT, 'bin/lifeboat'), ['--config', DEFAULT_CONFIG_PATH, 'worker'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  child.stderr!.pipe(out, { end: false });
  const polling = new Promise<void>((ok, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      out.write(line + '\n');
      if (line.startsWith('worker polling')) ok();
    });
    child.once('exit', (code) => fail(new Error(`the worker exited with ${code} before polling (see ${logFile})`)));
    setTimeout(() => fail(new Error(`the worker was not polling after 60 s (see ${logFile})`)), 60_000).unref();
  });
  const memory = sampleTreeMemory(child.pid!);
  const stop = async () => {
    memory.stop();
    if (alive()) {
      // SIGTERM lets the Temporal worker shut down cleanly; SIGKILL the group if it lingers.
      process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => alive() && process.kill(-child.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    out.end();
  };
  try {
    await polling;
  } catch (err) {
    await stop();
    throw err;
  }
  return { memory, stop };
}

interface Run {
  /** 1-minute load average when the run started: the machine may be shared, and this shows it. */
  load: number;
  rawMs: number;
  rawBytes: number;
  oursMs: number;
  ours: BackupManifest;
}

interface Outcome {
  leads: number;
  seedMs: number;
  databaseBytes: number;
  runs: Run[];
  idle: TreeMemory;
  peak: TreeMemory;
}

async function bench(leads: number): Promise<Outcome> {
  const logDir = join(REPO_ROOT, '.lifeboat', 'bench-logs', new Date().toISOString().replace(/[:.]/g, '-'));
  log(`starting PostgreSQL, SeaweedFS and Temporal (logs in ${logDir})`);
  const stack = await startStack({ logDir, ui: false });
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  // Once only: a signal and the finally block below may both ask for it.
  let stopping: Promise<void> | undefined;
  const cleanup = () =>
    (stopping ??= (async () => {
      await worker?.stop().catch((err: Error) => log(`stopping the worker failed: ${err.message}`));
      await stack.stop();
      rmSync(scratch, { recursive: true, force: true });
      // Last: a workflow still awaited (after Ctrl-C) retries on this connection, and a retry on a
      // closed one throws outside any promise, which would cut the stack's shutdown short.
      await connection?.close().catch(() => undefined);
    })());
  // Ctrl-C must not leave the servers and the worker behind: clean up, then die of the signal.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void cleanup().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await withClient(stack.postgres.adminUrl, (c) => c.query('CREATE DATABASE crm'));
    const env: Record<string, string> = stack.env('crm');
    const url = env.CRM_DATABASE_URL!;

    log(`seeding the CRM with ${leads} leads`);
    const seedStart = performance.now();
    const counts = await seedCrm(url, { leads, reset: true, onProgress: (p) => log(`  ${p} (${secs(performance.now() - seedStart)} s)`) });
    const seedMs = performance.now() - seedStart;
    const databaseBytes = await withClient(url, async (c) => Number((await c.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n));
    log(`seeded in ${secs(seedMs)} s: ${Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(', ')}; database ${bytes(databaseBytes)}`);

    // The raw dump uses the configured compression, so both sides compress alike.
    const compression = loadConfig(DEFAULT_CONFIG_PATH, { ...process.env, ...env }).backup.compression;

    log('starting the worker (bin/lifeboat worker)');
    worker = await startWorker(env, logDir);
    const idle = worker.memory.current();
    log(`worker polling; its node process (pid ${idle.mainPid}) holds ${mb(idle.mainPeakRssKiB)} MB`);

    connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
    const client = new Client({ connection });
    const runs: Run[] = [];
    const ids = new Set<string>();
    let lastBackupStart = 0;
    for (let i = 1; i <= RUNS; i++) {
      const file = join(scratch, 'crm.dump');
      const load = loadavg()[0]!;
      let t = performance.now();
      await run(pgTool('pg_dump'), ['--format=custom', `--compress=${compression}`, '--no-password', `--file=${file}`], libpqEnv(url));
      const rawMs = performance.now() - t;
      const rawBytes = statSync(file).size;
      rmSync(file);
      log(`run ${i}: raw pg_dump ${secs(rawMs)} s, ${bytes(rawBytes)}`);

      // Backup ids have one-second resolution and are stamped by the server at workflow start; an id
      // already taken would make the activity return the earlier manifest at once. Start only after
      // the second of the previous backup's start is over on this clock (the server's is the same).
      const wait = lastBackupStart + 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      t = performance.now();
      const ours = await client.workflow.execute('backupWorkflow', {
        taskQueue: 'lifeboat',
        workflowId: `bench-backup-${Date.now()}-${i}`,
        args: [{ target: 'crm', reason: 'bench' }],
      }) as BackupManifest;
      const oursMs = performance.now() - t;
      if (ids.has(ours.id)) throw new Error(`backup id ${ours.id} came back twice: the timing would be of a cached result`);
      ids.add(ours.id);
      lastBackupStart = parseBackupId(ours.id).startedAt.getTime();
      log(`run ${i}: lifeboat backup ${secs(oursMs)} s, ${bytes(ours.sizeBytes)} (${ours.id})`);
      runs.push({ load, rawMs, rawBytes, oursMs, ours });
    }
    const peak = worker.memory.current();
    return { leads, seedMs, databaseBytes, runs, idle, peak };
  } finally {
    log('stopping the worker and the stack');
    await cleanup();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

function report(o: Outcome): void {
  const raw = median(o.runs.map((r) => r.rawMs)) / 1000;
  const ours = median(o.runs.map((r) => r.oursMs)) / 1000;
  const m = o.runs[0]!.ours;
  console.log('');
  console.log(`Backup benchmark: ${o.leads} leads, database ${bytes(o.databaseBytes)}, seeded in ${secs(o.seedMs)} s, ${availableParallelism()} CPUs`);
  console.log('');
  console.log(
    table(
      ['run', 'raw pg_dump (s)', 'raw size', 'lifeboat (s)', 'lifeboat size', 'ours/raw', 'load avg', 'backup id'],
      [
        ...o.runs.map((r, i) => [String(i + 1), secs(r.rawMs), bytes(r.rawBytes), secs(r.oursMs), bytes(r.ours.sizeBytes), (r.oursMs / r.rawMs).toFixed(3), r.load.toFixed(2), r.ours.id]),
        ['median', raw.toFixed(3), '', ours.toFixed(3), '', (ours / raw).toFixed(3), '', ''],
      ],
    ),
  );
  console.log('');
  console.log(`dump size: raw file ${o.runs.map((r) => r.rawBytes).join(' / ')} bytes, manifest.sizeBytes ${o.runs.map((r) => r.ours.sizeBytes).join(' / ')} bytes`);
  console.log(`rows in the manifest: ${Object.values(m.tables).reduce((a, b) => a + b, 0)} (${Object.keys(m.tables).length} tables)`);
  console.log(
    `worker memory (node process pid ${o.peak.mainPid}): idle ${mb(o.idle.mainPeakRssKiB)} MB, peak ${mb(Math.max(o.peak.mainPeakRssKiB, o.peak.mainHwmKiB))} MB ` +
      `(sampled VmRSS max ${mb(o.peak.mainPeakRssKiB)} MB, VmHWM ${mb(o.peak.mainHwmKiB)} MB); ` +
      `whole tree incl. tsx launcher and pg_dump: peak ${mb(o.peak.treePeakRssKiB)} MB`,
  );
  console.log(`RESULT backup ratio=${(ours / raw).toFixed(3)} ours_s=${ours.toFixed(3)} raw_s=${raw.toFixed(3)} leads=${o.leads}`);
}

try {
  report(await bench(parseLeads(process.argv.slice(2))));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`error: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
}
