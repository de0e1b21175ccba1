// What the benchmarks share: argument parsing, small formatting helpers, running a command, the
// worker as its own process, and the embedded stack with a clean-up that also runs on Ctrl-C.
import { Client, Connection } from '@temporalio/client';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { escapeIdentifier, libpqEnv, pgTool, withClient, withDatabase } from '../activities/postgres/connection.js';
import { rowCounts } from '../activities/postgres/inspect.js';
import { seedCrm } from '../activities/postgres/seed.js';
import { runTool } from '../activities/postgres/tool.js';
import { downloadChecked } from '../activities/storage/checksum.js';
import { openStore } from '../activities/storage/open.js';
import { bytes } from '../common/sizes.js';
import { type Stack, startStack } from '../client/stack/index.js';
import { approversOf, localManifestKey, peopleYaml, throwawayKeys } from '../client/stack/keys.js';
import { stopOnSignals } from '../client/stack/pidfile.js';
import { REPO_ROOT } from '../client/stack/processes.js';
import { DEFAULT_CONFIG_PATH, type LifeboatConfig, parseConfig } from '../config/config.js';
import type { BackupManifest, VerificationRecord } from '../common/backups.js';
import { sampleTreeMemory } from './proc-memory.js';

/** Bad command-line arguments: the benchmark prints its usage and exits with 2. */
export class UsageError extends Error {}

export interface IntegerOption {
  default: number;
  min: number;
  max?: number;
}

/**
 * Parses `--name N` options, each an integer in [min, max]; unknown options, positional
 * arguments and anything that is not a plain decimal integer are refused with a UsageError.
 */
export function parseIntegerOptions<K extends string>(argv: string[], spec: Record<K, IntegerOption>): Record<K, number> {
  const names = Object.keys(spec) as K[];
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(names.map((n) => [n, { type: 'string', default: String(spec[n].default) }])),
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const out = {} as Record<K, number>;
  for (const name of names) {
    const text = String(values[name]);
    const n = Number(text);
    const { min, max } = spec[name];
    const range = max === undefined ? (min === 1 ? 'a positive integer' : `an integer ≥ ${min}`) : `an integer from ${min} to ${max}`;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
      throw new UsageError(`--${name} must be ${range}, got "${text}"`);
    }
    out[name] = n;
  }
  return out;
}

/** `--leads N` alone: a positive integer, default 100000. */
export function parseLeads(argv: string[]): number {
  return parseIntegerOptions(argv, { leads: { default: 100_000, min: 1 } }).leads;
}

export const log = (line: string) => console.log(`[bench] ${line}`);
export const secs = (ms: number) => (ms / 1000).toFixed(3);
export const mb = (kib: number) => (kib / 1024).toFixed(1);
/** The middle value; the mean of the two middle values for an even count. */
export const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
export const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

export interface WorkerProcess {
  pid: number;
  /** The configuration it runs (the example's, with the throwaway people enrolled). */
  configFile: string;
  memory: ReturnType<typeof sampleTreeMemory>;
  stop(): Promise<void>;
}

/** `bin/lifeboat worker` in its own process group, output to worker.log; resolves once it polls. */
/**
 * The example configuration with a throwaway key enrolled for each of its approvers, as `lifeboat
 * dev` enrols them (client/stack/keys.ts); driveIncident signs with them through LIFEBOAT_KEYS_DIR.
 */
function configWithThrowawayPeople(env: Record<string, string>, scratch: string, text: string): string {
  const keysDir = join(scratch, 'keys');
  const keys = throwawayKeys(keysDir, approversOf(parseConfig(text, DEFAULT_CONFIG_PATH, { ...process.env, ...env })));
  const file = join(scratch, 'lifeboat.yaml');
  writeFileSync(file, `${text}\n${peopleYaml(keys)}`);
  process.env.LIFEBOAT_KEYS_DIR = keysDir;
  return file;
}

/** The example configuration's text: what every benchmark's worker runs, unless it brings its own. */
export const exampleConfigText = (): string => readFileSync(DEFAULT_CONFIG_PATH, 'utf8');

export async function startWorker(
  env: Record<string, string>,
  logDir: string,
  scratch: string,
  configText = exampleConfigText(),
): Promise<WorkerProcess> {
  const logFile = join(logDir, 'worker.log');
  const out = createWriteStream(logFile);
  const config = configWithThrowawayPeople(env, scratch, configText);
  // detached: its own process group, so the worker and anything it runs can be killed together.
  const child: ChildProcess = spawn(join(REPO_ROOT, 'bin/lifeboat'), ['--config', config, 'worker'], {
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
  return { pid: child.pid!, configFile: config, memory, stop };
}

/** The embedded stack of one benchmark run, and what the benchmark started on it. */
export interface Harness {
  stack: Stack;
  /** .lifeboat/bench-logs/<time>/: the servers' logs and worker.log. */
  logDir: string;
  /** A temporary folder, removed at the end. */
  scratch: string;
  /** Starts `bin/lifeboat worker` (one per harness) on the example configuration or `configText`; stopped at the end, before the stack. */
  startWorker(env: Record<string, string>, configText?: string): Promise<WorkerProcess>;
  /** A Temporal client; its connection is closed last. */
  connect(address: string): Promise<Client>;
}

/**
 * Starts the stack, runs `body`, then always stops the worker and the stack, removes the scratch
 * folder and closes the client connection. Ctrl-C (SIGINT) or SIGTERM cleans up the same way, then
 * exits 128 + the signal (130, 143).
 */
export async function withHarness<T>(body: (h: Harness) => Promise<T>): Promise<T> {
  const logDir = join(REPO_ROOT, '.lifeboat', 'bench-logs', new Date().toISOString().replace(/[:.]/g, '-'));
  log(`starting PostgreSQL, SeaweedFS and Temporal (logs in ${logDir})`);
  let cleanup = async () => {};
  const starting = startStack({ logDir, ui: false, role: 'bench' });
  // Ctrl-C or SIGTERM must not leave the servers and the worker behind: clean up (once the stack is
  // up), then exit 128 + the signal. A crash's leftovers are cleared by the next stack (its pid file).
  const offSignals = stopOnSignals(async (signal) => {
    log(`${signal}: stopping`);
    await starting.catch(() => undefined);
    await cleanup();
  });
  const stack = await starting.catch((err: unknown) => {
    offSignals();
    throw err;
  });
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
  stack.pidFile.folder(scratch);
  // The example signs its manifests: a key for this run's fresh store, for the worker and this process.
  process.env.LIFEBOAT_MANIFEST_KEY = localManifestKey(scratch);
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  // Once only: a signal and the finally block below may both ask for it.
  let stopping: Promise<void> | undefined;
  cleanup = () =>
    (stopping ??= (async () => {
      await worker?.stop().catch((err: Error) => log(`stopping the worker failed: ${err.message}`));
      await stack.stop();
      rmSync(scratch, { recursive: true, force: true });
      // Last: a workflow still awaited (after Ctrl-C) retries on this connection, and a retry on a
      // closed one throws outside any promise, which would cut the stack's shutdown short.
      await connection?.close().catch(() => undefined);
    })());
  try {
    return await body({
      stack,
      logDir,
      scratch,
      async startWorker(env, configText) {
        if (worker) throw new Error('the benchmark already started a worker');
        worker = await startWorker(env, logDir, scratch, configText);
        stack.pidFile.process(worker.pid, 'bin/lifeboat worker');
        return worker;
      },
      async connect(address) {
        connection ??= await Connection.connect({ address });
        return new Client({ connection });
      },
    });
  } finally {
    log('stopping the worker and the stack');
    await cleanup();
    offSignals();
  }
}

/**
 * Runs a benchmark's main: a UsageError prints the message and the usage and exits with 2, any
 * other failure prints it and exits with 1.
 */
export async function benchMain(usage: string, main: (argv: string[]) => Promise<void>): Promise<void> {
  try {
    await main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}\n${usage}`);
      process.exit(2);
    }
    console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
}

export interface SeededCrm {
  /** The environment for config/lifeboat.example.yaml, pointing at the stack's `crm` database. */
  env: Record<string, string>;
  url: string;
  seedMs: number;
  counts: Record<string, number>;
  databaseBytes: number;
}

/** Creates the stack's `crm` database and seeds it with `leads` leads, logging how long it took. */
export async function seedBenchCrm(stack: Stack, leads: number): Promise<SeededCrm> {
  await withClient(stack.postgres.adminUrl, (c) => c.query('CREATE DATABASE crm'));
  const env: Record<string, string> = stack.env('crm');
  const url = env.CRM_DATABASE_URL!;
  log(`seeding the CRM with ${leads} leads`);
  const seedStart = performance.now();
  const counts = await seedCrm(url, { leads, reset: true, onProgress: (p) => log(`  ${p} (${secs(performance.now() - seedStart)} s)`) });
  const seedMs = performance.now() - seedStart;
  // Untimed: vacuum now, so autovacuum does not wake on 7 million fresh rows during a timed run
  // (it would slow whichever side runs first).
  const vacuumStart = performance.now();
  await withClient(url, (c) => c.query('VACUUM (ANALYZE)'));
  log(`vacuumed in ${secs(performance.now() - vacuumStart)} s (not timed)`);
  const databaseBytes = await withClient(url, async (c) =>
    Number((await c.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n),
  );
  log(
    `seeded in ${secs(seedMs)} s: ${Object.entries(counts)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}; database ${bytes(databaseBytes)}`,
  );
  return { env, url, seedMs, counts, databaseBytes };
}

/** Flushes dirty pages before a timed section, so neither side pays for the other's writes. */
export const checkpoint = (url: string) => withClient(url, (c) => c.query('CHECKPOINT'));

/** A client tool beside psql (createdb is not one of pgTool's). */
function clientTool(name: string): string {
  const psql = pgTool('psql');
  return psql.includes('/') ? join(dirname(psql), name) : name;
}

/**
 * The raw work a restore stands for: `createdb` + `pg_restore -j2` of the dump file into a fresh
 * database, then counting every table (timed apart), each table's count checked against the
 * manifest so a wrong restore cannot pass for a fast one. The database is dropped afterwards.
 */
export async function rawRestore(
  adminUrl: string,
  file: string,
  manifest: BackupManifest,
  label: string,
): Promise<{ restoreMs: number; countMs: number }> {
  const database = `crm_raw_${randomBytes(3).toString('hex')}`;
  const env = libpqEnv(adminUrl);
  await checkpoint(adminUrl);
  try {
    let t = performance.now();
    await runTool(clientTool('createdb'), ['--no-password', database], { env });
    await runTool(pgTool('pg_restore'), ['-j2', '--no-owner', '--no-acl', '--no-password', '-d', database, file], { env });
    const restoreMs = performance.now() - t;
    t = performance.now();
    const counts = await withClient(withDatabase(adminUrl, database), (c) => rowCounts(c, Object.keys(manifest.tables)));
    const countMs = performance.now() - t;
    const wrong = Object.entries(manifest.tables).filter(([table, n]) => counts[table] !== n);
    if (wrong.length)
      throw new Error(
        `${label}: the raw restore holds ${wrong.map(([table, n]) => `${table} ${counts[table]} rows (backup ${n})`).join(', ')}`,
      );
    log(`${label}: raw createdb + pg_restore -j2 ${secs(restoreMs)} s, counting every table ${secs(countMs)} s`);
    return { restoreMs, countMs };
  } finally {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(database)} WITH (FORCE)`));
  }
}

/** The backup's dump from the store into a local file, checked against the manifest's size and SHA-256. */
async function download(config: LifeboatConfig, env: NodeJS.ProcessEnv, manifest: BackupManifest, file: string): Promise<void> {
  const findings = await downloadChecked(openStore(manifest.store, config.stores[manifest.store]!, env), manifest, file);
  if (findings.length)
    throw new Error(`the downloaded dump of ${manifest.id} does not match its manifest: ${findings.map((f) => f.detail).join('; ')}`);
}

/** Untimed preparation both restore benchmarks share: a backup, its verification, and its dump as a local file (pg_restore -j needs a seekable file). */
export async function backupToFile(
  client: Client,
  config: LifeboatConfig,
  env: NodeJS.ProcessEnv,
  scratch: string,
  bench: string,
): Promise<{ manifest: BackupManifest; backupMs: number; verifyMs: number; file: string }> {
  const { taskQueue } = config.temporal;
  let t = performance.now();
  const manifest = (await client.workflow.execute('backupWorkflow', {
    taskQueue,
    workflowId: `bench-${bench}-backup-${Date.now()}`,
    args: [{ target: 'crm', reason: `bench ${bench}` }],
  })) as BackupManifest;
  const backupMs = performance.now() - t;
  log(`backup ${manifest.id}: ${bytes(manifest.sizeBytes)} in ${secs(backupMs)} s`);
  t = performance.now();
  const verification = (await client.workflow.execute('verifyWorkflow', {
    taskQueue,
    workflowId: `bench-${bench}-verify-${Date.now()}`,
    args: [{ backupId: manifest.id, target: 'crm' }],
  })) as VerificationRecord;
  const verifyMs = performance.now() - t;
  if (verification.result !== 'passed')
    throw new Error(`backup ${manifest.id} failed verification: ${verification.findings.map((f) => `${f.check}: ${f.detail}`).join('; ')}`);
  log(`verified in ${secs(verifyMs)} s`);
  const file = join(scratch, 'crm.dump');
  t = performance.now();
  await download(config, env, manifest, file);
  log(`downloaded the dump to ${file} in ${secs(performance.now() - t)} s (not timed; size and SHA-256 match the manifest)`);
  return { manifest, backupMs, verifyMs, file };
}
