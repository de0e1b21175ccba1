// Runs pgBackRest the one way: as the user that owns the data directory (it reads the cluster's files
// and PostgreSQL runs its archive_command as that user), with the repository's S3 keys in its
// environment only (never in its arguments, the file or a log), and returns what it printed.
import { execFile } from 'node:child_process';
import { chownSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTool } from '../postgres/tool.js';

const run = promisify(execFile);

export interface PgbackrestRunner {
  /** The OS user pgBackRest runs as; the worker's own user when absent. */
  runAs?: string;
  /** The configuration file (--config). */
  config: string;
  stanza: string;
  /** PGBACKREST_REPO1_S3_KEY and PGBACKREST_REPO1_S3_KEY_SECRET, and libpq's variables if needed. */
  env: Record<string, string>;
}

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** The environment a tool run as another user gets: enough to find its programs, and the given variables. */
function toolEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: `${PG_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, LANG: 'C.UTF-8', ...extra };
}

/** argv for a command run as `runAs` (runuser keeps the environment it is given). */
function asUser(runAs: string | undefined, command: string, args: string[]): [string, string[]] {
  return runAs ? ['runuser', ['-u', runAs, '--', command, ...args]] : [command, args];
}

/** Runs `pgbackrest [options] command [params]` (params: archive-get's segment and destination) and returns what it printed. */
export async function pgbackrest(
  runner: PgbackrestRunner,
  command: string,
  options: string[] = [],
  params: string[] = [],
): Promise<string> {
  const [cmd, args] = asUser(runner.runAs, 'pgbackrest', [
    `--config=${runner.config}`,
    `--stanza=${runner.stanza}`,
    ...options,
    command,
    ...params,
  ]);
  const { stdout, error } = await output(cmd, args, runner.env, `pgbackrest ${command}`);
  if (error) throw error;
  return stdout;
}

/** Runs a program to its end: what it printed, and its failure if it failed. */
async function output(cmd: string, args: string[], env: Record<string, string>, name: string): Promise<{ stdout: string; error?: Error }> {
  const tool = startTool(cmd, args, { env: toolEnv(env), stdout: 'pipe', name });
  let stdout = '';
  tool.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return tool.done.then(
    () => ({ stdout }),
    (error: Error) => ({ stdout, error }),
  );
}

/** A PostgreSQL server program (pg_ctl, pg_waldump, …) run as `runAs`: what it printed, and its failure if it failed. */
export async function pgProgramOutput(
  runAs: string | undefined,
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; error?: Error }> {
  const [cmd, argv] = asUser(runAs, join(PG_BIN, program), args);
  return output(cmd, argv, env, program);
}

/** A PostgreSQL server program run as `runAs`, to its successful end. */
export async function pgProgram(
  runAs: string | undefined,
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const { stdout, error } = await pgProgramOutput(runAs, program, args, env);
  if (error) throw error;
  return stdout;
}

/**
 * Stops the server of a copy (a side instance, a recovered cluster, a warm copy, a stack's cluster)
 * if one runs on `data`: immediately, as a copy needs no clean shutdown. Never throws.
 */
export async function stopCopy(runAs: string | undefined, data: string): Promise<void> {
  if (existsSync(join(data, 'postmaster.pid')))
    await pgProgram(runAs, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
}

/** Gives a folder to `runAs` (user and group), so a program run as that user can write it; nothing without one. */
export async function chownToUser(runAs: string | undefined, dir: string): Promise<void> {
  if (!runAs) return;
  const [uid, gid] = await Promise.all([run('id', ['-u', runAs]), run('id', ['-g', runAs])]);
  chownSync(dir, Number(uid.stdout), Number(gid.stdout));
}
