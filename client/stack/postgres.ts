// A private PostgreSQL 15 cluster in a temporary folder, on a loopback port. initdb refuses to
// run as root, so as root the cluster belongs to the unprivileged `postgres` user.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runTool } from '../../activities/postgres/tool.js';
import type { Tracker } from './pidfile.js';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  port: number;
  /** Superuser connection string to the `postgres` database. */
  adminUrl: string;
  /** Restarts the server as a crash looks to its clients: every connection cut at once (immediate shutdown), then up again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function asOwner(owner: { uid: number; gid: number; name: string } | undefined, tool: string, args: string[]) {
  const command = owner
    ? (['runuser', ['-u', owner.name, '--', join(PG_BIN, tool), ...args]] as const)
    : ([join(PG_BIN, tool), args] as const);
  await runTool(command[0], [...command[1]], { name: tool, env: process.env });
}

async function postgresUser() {
  if (userInfo().uid !== 0) return undefined;
  const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
    throw new Error('running as root needs the unprivileged "postgres" user (installed with postgresql-15) to own the cluster');
  });
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(gid.trim()), name: 'postgres' };
}

export async function startPostgres(port: number, logFile: string, tracker?: Tracker): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-pg-'));
  tracker?.folder(dir);
  const owner = await postgresUser();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  await asOwner(owner, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // An ephemeral cluster: durability settings off, it only needs to be fast.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  // The log lives in the cluster's folder while it runs (the owner can write there) and is
  // copied out on stop, so a failing run can be read.
  const serverLog = join(dir, 'server.log');
  tracker?.cluster(data, owner !== undefined);
  await asOwner(owner, 'pg_ctl', ['-D', data, '-o', options, '-l', serverLog, '-w', '-t', '60', 'start']);
  return {
    port,
    adminUrl: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async restart() {
      await asOwner(owner, 'pg_ctl', ['-D', data, '-m', 'immediate', '-l', serverLog, '-w', '-t', '60', 'restart']);
    },
    async stop() {
      await asOwner(owner, 'pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      await run('cp', [serverLog, logFile]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
