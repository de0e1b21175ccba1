// A private PostgreSQL 15 cluster in a temporary folder, on a loopback port. initdb refuses to
// run as root, so as root the cluster belongs to the unprivileged `postgres` user. With `archive`,
// it archives WAL from its first segment through pgBackRest into the stack's S3 store (HTTPS), its
// stanza created as it starts: the configuration file is the one Lifeboat's worker writes for it.
import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runTool } from '../../activities/postgres/tool.js';
import { type RepoSettings, archiveCommand, confFile, pgbackrestConf } from '../../activities/pgbackrest/conf.js';
import { pgbackrest } from '../../activities/pgbackrest/run.js';
import type { Tracker } from './pidfile.js';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  port: number;
  /** Superuser connection string to the `postgres` database. */
  adminUrl: string;
  dataDir: string;
  /** The folder of its Unix socket. */
  socketDir: string;
  /** The OS user that owns the cluster (undefined: the current user). */
  owner?: string;
  /** Where WAL goes, with archiving. */
  pgbackrest?: { dir: string; stanza: string; config: string };
  /** Restarts the server as a crash looks to its clients: every connection cut at once (immediate shutdown), then up again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface ArchiveOptions {
  stanza: string;
  repo: RepoSettings;
  /** PGBACKREST_REPO1_S3_KEY and _SECRET: the server's environment, which its archive_command inherits. */
  env: Record<string, string>;
}

type Owner = { uid: number; gid: number; name: string } | undefined;

async function asOwner(owner: Owner, tool: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const command = owner
    ? (['runuser', ['-u', owner.name, '--', join(PG_BIN, tool), ...args]] as const)
    : ([join(PG_BIN, tool), args] as const);
  await runTool(command[0], [...command[1]], { name: tool, env });
}

async function postgresUser(): Promise<Owner> {
  if (userInfo().uid !== 0) return undefined;
  const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
    throw new Error('running as root needs the unprivileged "postgres" user (installed with postgresql-15) to own the cluster');
  });
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(gid.trim()), name: 'postgres' };
}

/** A folder the cluster's owner may write (pgBackRest's lock and log folders live there). */
function ownedFolder(owner: Owner, path: string, mode = 0o700): string {
  mkdirSync(path, { recursive: true, mode });
  if (owner) chownSync(path, owner.uid, owner.gid);
  return path;
}

export async function startPostgres(
  port: number,
  logFile: string,
  options: { archive?: ArchiveOptions; tracker?: Tracker } = {},
): Promise<PostgresServer> {
  const { tracker } = options;
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-pg-'));
  tracker?.folder(dir);
  const owner = await postgresUser();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  // Readable (not writable) by others: the worker's pgBackRest files live below it.
  chmodSync(dir, 0o711);
  const data = join(dir, 'data');
  await asOwner(owner, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // An ephemeral cluster: durability settings off, it only needs to be fast.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const { archive } = options;
  let pgbackrestFiles: PostgresServer['pgbackrest'];
  if (archive) {
    const pgbr = ownedFolder(owner, join(dir, 'pgbackrest'), 0o755);
    ownedFolder(owner, join(pgbr, 'lock'));
    ownedFolder(owner, join(pgbr, 'log'));
    const config = confFile(pgbr, archive.stanza);
    writeFileSync(
      config,
      pgbackrestConf({ stanza: archive.stanza, dir: pgbr, pgPath: data, pgPort: port, socketPath: dir, repo: archive.repo }),
    );
    chmodSync(config, 0o644);
    pgbackrestFiles = { dir: pgbr, stanza: archive.stanza, config };
    // In postgresql.auto.conf, as ALTER SYSTEM writes it (so Lifeboat's setup can change it, which
    // command-line settings would override). archive_timeout: a quiet database still closes a
    // segment a minute, so the archive stays minutes behind at most.
    const settings = {
      wal_level: 'replica',
      archive_mode: 'on',
      archive_timeout: '60',
      archive_command: archiveCommand(pgbr, archive.stanza),
    };
    appendFileSync(
      join(data, 'postgresql.auto.conf'),
      Object.entries(settings)
        .map(([k, v]) => `${k} = '${v}'\n`)
        .join(''),
    );
  }
  // The log lives in the cluster's folder while it runs (the owner can write there) and is
  // copied out on stop, so a failing run can be read.
  const serverLog = join(dir, 'server.log');
  tracker?.cluster(data, owner !== undefined);
  const env = { ...process.env, ...archive?.env };
  await asOwner(owner, 'pg_ctl', ['-D', data, '-o', serverOptions, '-l', serverLog, '-w', '-t', '60', 'start'], env);
  if (pgbackrestFiles && archive) {
    await pgbackrest({ runAs: owner?.name, config: pgbackrestFiles.config, stanza: archive.stanza, env: archive.env }, 'stanza-create');
  }
  return {
    port,
    adminUrl: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    dataDir: data,
    socketDir: dir,
    owner: owner?.name,
    pgbackrest: pgbackrestFiles,
    async restart() {
      await asOwner(owner, 'pg_ctl', ['-D', data, '-m', 'immediate', '-l', serverLog, '-w', '-t', '60', 'restart'], env);
    },
    async stop() {
      // Immediate: the cluster's folder is removed next, so nothing needs flushing; and a fast stop
      // waits for the archiver to push the last WAL to a store that may be stopping beside it.
      await asOwner(owner, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await run('cp', [serverLog, logFile]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
