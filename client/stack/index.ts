// The embedded stack: a Temporal dev server, a private PostgreSQL and a SeaweedFS S3 store, all
// on free loopback ports. Used by `lifeboat dev`, the demo, the test suite and the benchmarks.
// Its PostgreSQL archives WAL through pgBackRest into the store (over HTTPS) from the start.
import { Connection } from '@temporalio/client';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RepoSettings } from '../../activities/pgbackrest/conf.js';
import { PidFile, pidDir, sweepDeadStacks } from './pidfile.js';
import { type PostgresServer, startPostgres } from './postgres.js';
import { freePorts } from './processes.js';
import { type S3Server, startSeaweed } from './seaweed.js';
import { type TemporalServer, startTemporal } from './temporal.js';

export const DEMO_BUCKET = 'lifeboat-backups';
/** The stack's pgBackRest stanza (the demo target's), and the repository's folder in the bucket. */
export const STACK_STANZA = 'crm';
export const PGBACKREST_REPO_PATH = '/pgbackrest';

/** pgBackRest's keys for the stack's store: only ever in environments, never in a file or argument. */
export function pgbackrestKeys(s3: S3Server): Record<string, string> {
  return { PGBACKREST_REPO1_S3_KEY: s3.accessKeyId, PGBACKREST_REPO1_S3_KEY_SECRET: s3.secretAccessKey };
}

/** The store's repository settings for a stanza of the stack (HTTPS, its CA, lz4: fast on a loaded machine). */
export function stackRepo(s3: S3Server): RepoSettings {
  return {
    endpoint: s3.httpsEndpoint,
    bucket: DEMO_BUCKET,
    region: 'us-east-1',
    path: PGBACKREST_REPO_PATH,
    caFile: s3.caFile,
    retentionFull: 2,
    compressType: 'lz4',
  };
}

export interface Stack {
  postgres: PostgresServer;
  s3: S3Server;
  temporal: TemporalServer;
  logDir: string;
  /** Everything the stack started, recorded for a clean-up after a crash; removed once stopped. */
  pidFile: PidFile;
  /** Environment for config/lifeboat.example.yaml pointing at this stack. */
  env(crmDatabase: string): Record<string, string>;
  stop(): Promise<void>;
}

/** Waits until the server answers for its default namespace, not just until its port opens. */
async function waitForNamespace(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const connection = await Connection.connect({ address });
  try {
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`Temporal at ${address} has no "default" namespace after ${timeoutMs / 1000} s: ${(err as Error).message}`);
        await new Promise((ok) => setTimeout(ok, 250));
      }
    }
  } finally {
    await connection.close();
  }
}

export interface StackOptions {
  logDir: string;
  ui: boolean;
  /** Who runs it, in its pid file's name (default "stack"). */
  role?: string;
  /** A pid file already claimed (`lifeboat dev` claims its own first); otherwise one is made in pidDir(). */
  pidFile?: PidFile;
}

/** A new pid file in pidDir(), claimed once the leftovers of dead stacks are cleared. */
async function claimStackPidFile(role: string): Promise<PidFile> {
  await sweepDeadStacks();
  const pidFile = new PidFile(join(pidDir(), `${role}-${process.pid}-${randomBytes(3).toString('hex')}.pid`), role);
  pidFile.claim();
  return pidFile;
}

/**
 * Starts the three servers, each recorded in the stack's pid file as it starts, after clearing
 * what stacks that died (SIGKILL, a crash) left behind. `stop` stops them and removes the pid file.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  mkdirSync(options.logDir, { recursive: true });
  // A caller that claimed its own pid file (`lifeboat dev`) swept before claiming it.
  const pidFile = options.pidFile ?? (await claimStackPidFile(options.role ?? 'stack'));
  const started: Array<{ stop(): Promise<void> }> = [];
  const stop = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
    pidFile.remove();
  };
  try {
    const [pgPort] = await freePorts(1);
    // PostgreSQL starts once the store can take its WAL.
    const storeAndDatabase = startSeaweed(join(options.logDir, 'seaweedfs.log'), undefined, pidFile).then(async (s3) => {
      started.push(s3);
      await s3.createBucket(DEMO_BUCKET);
      const archive = { stanza: STACK_STANZA, repo: stackRepo(s3), env: pgbackrestKeys(s3) };
      const postgres = await startPostgres(pgPort!, join(options.logDir, 'postgres.log'), { archive, tracker: pidFile });
      started.push(postgres);
      return [s3, postgres] as const;
    });
    const [[s3, postgres], temporal] = await Promise.all([
      storeAndDatabase,
      startTemporal(join(options.logDir, 'temporal.log'), { ui: options.ui, tracker: pidFile }).then((s) => (started.push(s), s)),
    ]);
    await waitForNamespace(temporal.address);
    return {
      postgres,
      s3,
      temporal,
      logDir: options.logDir,
      pidFile,
      env: (crmDatabase) => ({
        TEMPORAL_ADDRESS: temporal.address,
        ...(temporal.uiUrl ? { TEMPORAL_UI_URL: temporal.uiUrl } : {}),
        LIFEBOAT_S3_ENDPOINT: s3.endpoint,
        LIFEBOAT_S3_BUCKET: DEMO_BUCKET,
        LIFEBOAT_S3_HTTPS_ENDPOINT: s3.httpsEndpoint,
        LIFEBOAT_S3_CA_FILE: s3.caFile,
        LIFEBOAT_PGBACKREST_DIR: postgres.pgbackrest!.dir,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        CRM_DATABASE_URL: postgres.adminUrl.replace(/\/postgres$/, `/${crmDatabase}`),
      }),
      stop,
    };
  } catch (err) {
    await stop();
    throw new Error(`the embedded stack failed to start (logs in ${options.logDir}): ${(err as Error).message}`);
  }
}
