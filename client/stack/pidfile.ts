// What a stack started, on disk, so it can be stopped even after the process that started it died.
//
// Guarantees:
// - A pid file (JSON) names its owner and everything the stack started as it starts it: each
//   process (pid and start time), each PostgreSQL data directory (pg_ctl detaches the server from
//   us, so only `pg_ctl stop` from its folder reaches it), each folder and file it made. It is
//   rewritten (atomically) at every addition and removed once the stack has stopped.
// - A pid file whose owner is dead is a crashed stack: `clearLeftovers` stops what it lists and
//   removes its folders. Pids are trusted only with their start time, so a reused pid is never
//   signalled.
// - SIGINT and SIGTERM stop a stack once (`stopOnSignals`), for `lifeboat dev`, the demo and the
//   benchmarks alike.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { stopCopy } from '../../activities/pgbackrest/run.js';
import { REPO_ROOT } from '../../config/root.js';

/** Where `lifeboat dev` keeps its state (dev.env, keys, local store): $LIFEBOAT_HOME, else .lifeboat in the checkout. */
export const lifeboatHome = (): string => process.env.LIFEBOAT_HOME ?? join(REPO_ROOT, '.lifeboat');

/** Where the pid files of the stacks started from this home live. */
export const pidDir = (): string => join(lifeboatHome(), 'run');

interface Proc {
  pid: number;
  /** The process's start time (clock ticks since boot, /proc/<pid>/stat): with the pid, who it is. */
  start: string;
  what: string;
}

export interface StackRecord {
  owner: Proc;
  role: string;
  startedAt: string;
  processes: Proc[];
  /** PostgreSQL data directories (and whether the cluster belongs to the postgres user). */
  clusters: { dataDir: string; asPostgres: boolean }[];
  folders: string[];
  files: string[];
}

/** A process's start time, or undefined when no such process runs (a zombie has ended: it only waits to be reaped). */
export function startOf(pid: number): string | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ...rest] = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' ? undefined : rest[18];
  } catch {
    return undefined;
  }
}

const isRunning = (p: Proc) => startOf(p.pid) === p.start;

/** Without /proc (not Linux) no owner can be told dead: no stack is swept, and a dev.pid is taken as live. */
const canTell = () => existsSync('/proc/self/stat');

/** What a stack records as it starts each part; the servers' starters take it as an option. */
export interface Tracker {
  process(pid: number | undefined, what: string): void;
  cluster(dataDir: string, asPostgres: boolean): void;
  folder(path: string): void;
  file(path: string): void;
}

export class PidFile implements Tracker {
  private readonly record: StackRecord;

  constructor(
    readonly path: string,
    role: string,
  ) {
    this.record = {
      owner: { pid: process.pid, start: startOf(process.pid) ?? '', what: process.argv.slice(1, 3).join(' ') },
      role,
      startedAt: new Date().toISOString(),
      processes: [],
      clusters: [],
      folders: [],
      files: [],
    };
  }

  /** Takes the path for this process; false when a live owner holds it (see `liveOwner`). */
  claim(): boolean {
    mkdirSync(dirname(this.path), { recursive: true });
    try {
      writeFileSync(this.path, JSON.stringify(this.record), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    }
  }

  process(pid: number | undefined, what: string): void {
    const start = pid === undefined ? undefined : startOf(pid);
    if (pid !== undefined && start) this.save(() => this.record.processes.push({ pid, start, what }));
  }
  cluster(dataDir: string, asPostgres: boolean): void {
    this.save(() => this.record.clusters.push({ dataDir, asPostgres }));
  }
  folder(path: string): void {
    this.save(() => this.record.folders.push(path));
  }
  file(path: string): void {
    this.save(() => this.record.files.push(path));
  }
  remove(): void {
    rmSync(this.path, { force: true });
  }

  private save(change: () => void): void {
    change();
    const partial = `${this.path}.${process.pid}.partial`;
    writeFileSync(partial, JSON.stringify(this.record, null, 2));
    renameSync(partial, this.path);
  }
}

export function readRecord(path: string): StackRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StackRecord;
  } catch {
    return undefined; // gone, or half-written by an owner killed mid-claim: nothing to trust in it
  }
}

/** The record at `path` while its owner runs; undefined when there is none or its owner is dead. */
export function liveOwner(path: string): StackRecord | undefined {
  const record = readRecord(path);
  return record && (!canTell() || isRunning(record.owner)) ? record : undefined;
}

/** Stops what a dead stack left running and removes its folders and files. */
export async function clearLeftovers(record: StackRecord): Promise<void> {
  for (const p of record.processes) if (isRunning(p)) process.kill(p.pid, 'SIGKILL');
  for (const { dataDir, asPostgres } of record.clusters) {
    await stopCopy(asPostgres && userInfo().uid === 0 ? 'postgres' : undefined, dataDir);
  }
  for (const path of [...record.folders, ...record.files]) rmSync(path, { recursive: true, force: true });
}

/** Clears the leftovers of every stack of this checkout whose owner died (SIGKILL, a crash). */
export async function sweepDeadStacks(dir = pidDir()): Promise<string[]> {
  const swept: string[] = [];
  if (!canTell()) return swept;
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (!name.endsWith('.pid')) continue;
    const path = join(dir, name);
    const record = readRecord(path);
    if (record && isRunning(record.owner)) continue;
    if (record) await clearLeftovers(record);
    rmSync(path, { force: true });
    swept.push(record ? `${record.role} stack of pid ${record.owner.pid} (${record.startedAt})` : name);
  }
  return swept;
}

/**
 * Runs `stop` once on the first SIGINT or SIGTERM, then exits as a process killed by that signal
 * reports it to its shell (128 + its number: 130, 143); `exit: false` leaves the process to end by
 * itself. A second signal exits at once (what was not stopped, the next stack clears). Returns what
 * removes the handlers.
 */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => Promise<unknown>, options: { exit?: boolean } = {}): () => void {
  let stopping = false;
  const code = (signal: NodeJS.Signals) => 128 + (constants.signals[signal] ?? 0);
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(code(signal));
    stopping = true;
    void stop(signal)
      .catch((err: Error) => console.error(`stopping after ${signal} failed: ${err.message}`))
      .finally(() => options.exit !== false && process.exit(code(signal)));
  };
  process.on('SIGINT', handler).on('SIGTERM', handler);
  return () => void process.off('SIGINT', handler).off('SIGTERM', handler);
}
