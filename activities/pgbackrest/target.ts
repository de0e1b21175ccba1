// A target's pgBackRest setting, resolved: the configuration's `physical` section, with what it
// leaves out read from the server (data directory, port, socket folder) and from the data
// directory's owner (the user pgBackRest runs as), and the configuration file written for it.
// When the server cannot be reached (the L3 case), the file written last time stands.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'pg-connection-string';
import { FailureType } from '../../common/errors.js';
import type { S3StoreConfig } from '../../config/config.js';
import type { PhysicalConfig } from '../../config/physical.js';
import { refuse } from '../failure.js';
import { withServer } from '../postgres/connection.js';
import type { Resolver } from '../resolve.js';
import { type StanzaSettings, confFile, pgbackrestConf } from './conf.js';
import type { PgbackrestRunner } from './run.js';

const run = promisify(execFile);

export interface PhysicalTarget {
  target: string;
  config: PhysicalConfig;
  settings: StanzaSettings;
  runner: PgbackrestRunner;
}

/** The target's physical section, or a refusal saying how to add one. */
export function physicalConfig(resolve: Resolver, target: string): PhysicalConfig {
  const physical = resolve.target(target).physical;
  if (!physical)
    throw refuse(
      `target "${target}" has no physical backups: add "physical: pgbackrest" to targets.${target} in the worker's configuration`,
      FailureType.config,
    );
  return physical;
}

/** The S3 keys pgBackRest reads from its environment, from the variables the store names. */
function repoKeys(resolve: Resolver, store: S3StoreConfig, storeName: string): Record<string, string> {
  const key = resolve.env[store.accessKeyIdEnv];
  const secret = resolve.env[store.secretAccessKeyEnv];
  if (!key || !secret)
    throw refuse(
      `store "${storeName}": set ${store.accessKeyIdEnv} and ${store.secretAccessKeyEnv} on the worker (pgBackRest's S3 keys)`,
      FailureType.config,
    );
  return { PGBACKREST_REPO1_S3_KEY: key, PGBACKREST_REPO1_S3_KEY_SECRET: secret };
}

/** The name of the OS user `uid`. */
export async function userName(uid: number): Promise<string> {
  return (await run('id', ['-nu', String(uid)])).stdout.trim();
}

/** The server's own view of where it lives; undefined when it cannot be reached. */
async function serverFacts(url: string) {
  try {
    return await withServer(
      url,
      async (c) =>
        (
          await c.query<{ dataDirectory: string; port: number; sockets: string }>(
            `SELECT current_setting('data_directory') AS "dataDirectory", current_setting('port')::int AS port,
                    current_setting('unix_socket_directories') AS sockets`,
          )
        ).rows[0]!,
    );
  } catch {
    return undefined;
  }
}

/** Resolves the target's stanza and writes its configuration file (no secrets in it). */
export async function physicalTarget(resolve: Resolver, target: string): Promise<PhysicalTarget> {
  const config = physicalConfig(resolve, target);
  const t = resolve.target(target);
  const store = resolve.config.stores[t.store] as S3StoreConfig;
  const stanza = config.stanza ?? target;
  const file = confFile(config.configDir, stanza);
  const url = resolve.databaseUrl(target);
  const facts = await serverFacts(url);
  const pgPath = config.pgPath ?? facts?.dataDirectory;
  const socketPath = config.socketPath ?? facts?.sockets.split(',')[0]?.trim();
  if (!facts && !existsSync(file))
    throw new Error(
      `target "${target}": its server cannot be reached to read its data directory, and no pgBackRest configuration was written before (${file})`,
    );
  const keys = repoKeys(resolve, store, t.store);
  const password = parse(url).password;
  const env = { ...keys, ...(password ? { PGPASSWORD: password } : {}) };
  const runAs = config.runAs ?? (userInfo().uid === 0 && pgPath && existsSync(pgPath) ? await userName(statSync(pgPath).uid) : undefined);
  const settings: StanzaSettings = {
    stanza,
    dir: config.configDir,
    pgPath: pgPath ?? '',
    pgPort: facts?.port ?? 5432,
    socketPath: socketPath ?? '/var/run/postgresql',
    pgUser: parse(url).user ?? undefined,
    repo: {
      endpoint: config.repoEndpoint ?? store.endpoint ?? `https://s3.${store.region}.amazonaws.com`,
      bucket: store.bucket,
      region: store.region,
      path: config.repoPath,
      caFile: config.caFile,
      retentionFull: config.retentionFull,
      compressType: config.compressType,
      processMax: config.processMax,
    },
  };
  if (facts) writeConf(settings, runAs);
  return { target, config, settings, runner: { runAs, config: file, stanza, env } };
}

/** The file, and the lock and log folders the user pgBackRest runs as writes; rewritten only when it changed. */
function writeConf(settings: StanzaSettings, runAs: string | undefined) {
  const owned = (path: string, mode: number) => {
    mkdirSync(path, { recursive: true, mode });
    return path;
  };
  const dirs = [owned(settings.dir, 0o755), owned(join(settings.dir, 'lock'), 0o700), owned(join(settings.dir, 'log'), 0o700)];
  if (runAs && userInfo().uid === 0 && existsSync(settings.pgPath)) {
    const { uid, gid } = statSync(settings.pgPath);
    for (const dir of dirs) chownSync(dir, uid, gid);
  }
  const file = confFile(settings.dir, settings.stanza);
  const text = pgbackrestConf(settings);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  writeFileSync(file, text);
  chmodSync(file, 0o644);
}
