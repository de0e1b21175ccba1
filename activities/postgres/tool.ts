// Runs a PostgreSQL command-line tool (pg_dump, pg_restore, initdb, pg_ctl, …) the one way:
// - its stdin is a stream we pipe in or nothing, its stdout a stream we read or nothing;
// - only the tail of its stderr is kept (a tool that prints for hours never fills memory), and
//   that tail is the message when it fails: "pg_restore exited with 1: <stderr tail>";
// - aborting the signal stops it with SIGTERM (pg_restore's leader then stops its workers) and
//   makes the run reject with the signal's reason, whatever the tool's exit code (psql is stopped
//   with SIGINT instead: it then cancels its statement in the server before it exits).
// Connection strings go to the tool through its environment (libpq variables), never its arguments.
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';

const STDERR_TAIL = 4000;

export interface ToolOptions {
  env: NodeJS.ProcessEnv;
  /** 'pipe' to write the tool's input through `stdin`; ignored otherwise. */
  stdin?: 'pipe' | 'ignore';
  /** 'pipe' to read the tool's output from `stdout`; ignored otherwise. */
  stdout?: 'pipe' | 'ignore';
  signal?: AbortSignal;
  /** How `stop()` and the signal end it: SIGTERM unless said otherwise. */
  stopSignal?: NodeJS.Signals;
  /** The name errors use; the command's file name by default (set it when a wrapper such as stdbuf runs the tool). */
  name?: string;
}

export interface RunningTool {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  /** Resolves when the tool exits with 0; rejects with its stderr tail otherwise, or with the signal's reason once aborted. */
  readonly done: Promise<void>;
  /** What the tool has written to stderr lately, trimmed. */
  stderrTail(): string;
  /** Stops the tool (SIGTERM, or its `stopSignal`) if it is still running. */
  stop(): void;
}

export function startTool(command: string, args: string[], options: ToolOptions): RunningTool {
  const { signal } = options;
  signal?.throwIfAborted();
  const name = options.name ?? basename(command);
  const child = spawn(command, args, { env: options.env, stdio: [options.stdin ?? 'ignore', options.stdout ?? 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL)));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(options.stopSignal ?? 'SIGTERM');
  };
  signal?.addEventListener('abort', stop, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new Error(`${name} could not be started: ${err.message}`)));
    child.on('close', (code, killedBy) => {
      signal?.removeEventListener('abort', stop);
      if (signal?.aborted) reject(signal.reason as Error);
      else if (code === 0) resolve();
      else reject(new Error(`${name} ${code === null ? `was killed by ${killedBy}` : `exited with ${code}`}: ${stderr.trim()}`));
    });
  });
  // Callers may look at `done` only after their streams finish; its rejection is theirs to handle then.
  done.catch(() => undefined);
  return { stdin: child.stdin, stdout: child.stdout, done, stderrTail: () => stderr.trim(), stop };
}

/** Runs a tool that needs no input and whose output is not read, to its end. */
export async function runTool(command: string, args: string[], options: ToolOptions): Promise<void> {
  return startTool(command, args, options).done;
}
