// The embedded stack: a Temporal dev server, a private PostgreSQL and a SeaweedFS S3 store, all
// on free loopback ports. Used by `lifeboat dev`, the demo, the test suite and the benchmarks.
import { Connection } from '@temporalio/client';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PidFile, pidDir, sweepDeadStacks } from './pidfile.js';
import { type PostgresServer, startPostgres } from './postgres.js';
import { freePorts } from './processes.js';
import { type S3Server, startSeaweed } from './seaweed.js';
import { type TemporalServer, startTemporal } from './temporal.js';

export const DEMO_BUCKET = 'lifeboat-backups';

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

/**
 * Starts the three servers, each recorded in the stack's pid file as it starts, after clearing
 * what stacks that died (SIGKILL, a crash) left behind. `stop` stops them and removes the pid file.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  mkdirSync(options.logDir, { recursive: true });
  await sweepDeadStacks();
  const role = options.role ?? 'stack';
  const pidFile = options.pidFile ?? new PidFile(join(pidDir(), `${role}-${process.pid}-${randomBytes(3).toString('hex')}.pid`), role);
  if (!options.pidFile) pidFile.claim();
  const started: Array<{ stop(): Promise<void> }> = [];
  const stop = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
    pidFile.remove();
  };
  try {
    const [pgPort] = await freePorts(1);
    const [postgres, s3, temporal] = await Promise.all([
      startPostgres(pgPort!, join(options.logDir, 'postgres.log'), pidFile).then((s) => (started.push(s), s)),
      startSeaweed(join(options.logDir, 'seaweedfs.log'), undefined, pidFile).then((s) => (started.push(s), s)),
      startTemporal(join(options.logDir, 'temporal.log'), { ui: options.ui, tracker: pidFile }).then((s) => (started.push(s), s)),
    ]);
    await Promise.all([s3.createBucket(DEMO_BUCKET), waitForNamespace(temporal.address)]);
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
