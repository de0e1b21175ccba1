// A PostgreSQL cluster of the test file's own that archives WAL through pgBackRest into the suite's
// S3 store over HTTPS (its own stanza, so nothing another file does reaches its archive), and a
// configuration whose `crm` target backs it up physically. One per PITR test file.
import { DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, inject } from 'vitest';
import { createActivities } from '../activities/index.js';
import type { PhysicalBackup } from '../activities/pgbackrest/backups.js';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { withClient, withDatabase } from '../activities/postgres/connection.js';
import { type PostgresServer, startPostgres } from '../client/stack/postgres.js';
import { freePorts } from '../client/stack/processes.js';
import { PGBACKREST_REPO_PATH } from '../client/stack/index.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import { type TestWorker, startTestWorker, testConfigText, testEnv, uniqueName } from './helpers.js';
import { seedCrm } from '../activities/postgres/seed.js';
import { incidentInput } from '../client/incidents.js';
import type { Level, PlanOptions } from '../common/plans.js';

export interface ArchivingCluster {
  server: PostgresServer;
  stanza: string;
  /** The application's database on it. */
  url: string;
  config: LifeboatConfig;
  /** The configuration as a file's text, for the CLI. */
  configText: string;
  env: NodeJS.ProcessEnv;
  /** The worker's activities, each run in an activity context (heartbeats go nowhere). */
  activities: ReturnType<typeof createActivities>;
  run<T>(fn: () => Promise<T>): Promise<T>;
  sql<R = Record<string, unknown>>(text: string, values?: unknown[], url?: string): Promise<R[]>;
  /** A full physical backup, once the server's clock is a second past its end (so a moment after it is after it). */
  fullBackup(): Promise<PhysicalBackup>;
  /** Closes the current WAL segment and waits until PostgreSQL reports it archived. */
  archiveNow(): Promise<void>;
  /** The object names in the stanza's WAL archive. */
  archivedFiles(): Promise<string[]>;
  /** Deletes one of them from the store (an archive gap). */
  removeArchived(file: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startArchivingCluster(name: string, walMaxAge = '10m', extra = ''): Promise<ArchivingCluster> {
  const stanza = uniqueName(name).replace(/_/g, '-');
  const keys = { PGBACKREST_REPO1_S3_KEY: inject('s3AccessKeyId'), PGBACKREST_REPO1_S3_KEY_SECRET: inject('s3SecretAccessKey') };
  const repo = {
    endpoint: inject('s3HttpsEndpoint'),
    bucket: inject('s3Bucket'),
    region: 'us-east-1',
    path: PGBACKREST_REPO_PATH,
    caFile: inject('s3CaFile'),
    retentionFull: 2,
    compressType: 'lz4' as const,
  };
  const [port] = await freePorts(1);
  const server = await startPostgres(port!, join(inject('logDir'), `postgres-${stanza}.log`), { archive: { stanza, repo, env: keys } });
  await withClient(server.adminUrl, (c) => c.query('CREATE DATABASE app'));
  const url = withDatabase(server.adminUrl, 'app');
  const configText = testConfigText({
    prefix: uniqueName(name),
    crmExtra: `    physical:
      tool: pgbackrest
      stanza: ${stanza}
      configDir: ${server.pgbackrest!.dir}
      repoEndpoint: ${repo.endpoint}
      caFile: ${repo.caFile}
      walMaxAge: ${walMaxAge}`,
    extra,
  });
  const config = parseConfig(configText, 'test configuration', {});
  const env = { ...testEnv({ name: 'app', url, drop: async () => undefined }) };
  const activities = createActivities({ config, env, notifier: new ConsoleNotifier(() => undefined) });
  const sql = async <R>(text: string, values: unknown[] = [], at = url) =>
    withClient(at, async (c) => (await c.query(text, values)).rows as R[]);
  const s3 = new S3Client({
    endpoint: inject('s3Endpoint'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: inject('s3AccessKeyId'), secretAccessKey: inject('s3SecretAccessKey') },
  });
  return {
    server,
    stanza,
    url,
    config,
    configText,
    env,
    activities,
    run: <T>(fn: () => Promise<T>) => new MockActivityEnvironment().run(fn) as Promise<T>,
    sql,
    async fullBackup() {
      const backup = (await new MockActivityEnvironment().run(() =>
        activities.physicalBackup({ target: 'crm', type: 'full' }),
      )) as PhysicalBackup;
      const past = `SELECT clock_timestamp() > $1::timestamptz + interval '1 second' AS after`;
      while (!(await sql<{ after: boolean }>(past, [backup.stoppedAt]))[0]!.after) await new Promise((ok) => setTimeout(ok, 100));
      return backup;
    },
    async archiveNow() {
      // A write first: a switch with nothing written since the last one closes no segment.
      await sql('CREATE TABLE IF NOT EXISTS lifeboat_test_tick (at timestamptz); INSERT INTO lifeboat_test_tick VALUES (now())');
      const [switched] = await sql<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
      const wal = switched!.wal;
      for (;;) {
        const [row] = await sql<{ done: boolean }>('SELECT coalesce(last_archived_wal >= $1, false) AS done FROM pg_stat_archiver', [wal]);
        if (row!.done) return;
        await new Promise((ok) => setTimeout(ok, 200));
      }
    },
    async archivedFiles() {
      const prefix = `${PGBACKREST_REPO_PATH.slice(1)}/archive/${stanza}/`;
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: inject('s3Bucket'), Prefix: prefix, ContinuationToken: token }));
        names.push(...(page.Contents ?? []).map((o) => o.Key!.slice(prefix.length)));
        token = page.NextContinuationToken;
      } while (token);
      return names.sort();
    },
    async removeArchived(file) {
      await s3.send(
        new DeleteObjectCommand({ Bucket: inject('s3Bucket'), Key: `${PGBACKREST_REPO_PATH.slice(1)}/archive/${stanza}/${file}` }),
      );
    },
    async stop() {
      s3.destroy();
      await server.stop();
    },
  };
}

/** A test file's archiving cluster, its crm seeded with `leads` leads, and a worker on it: started before its tests, stopped after. */
export function useArchivingCluster(
  name: string,
  leads: number,
  extra: string,
): { readonly c: ArchivingCluster; readonly worker: TestWorker } {
  let c: ArchivingCluster | undefined;
  let worker: TestWorker | undefined;
  beforeAll(async () => {
    c = await startArchivingCluster(name, '10m', extra);
    await seedCrm(c.url, { leads, reset: true });
    worker = await startTestWorker(c.config, c.env);
  }, 240_000);
  afterAll(async () => {
    await worker?.stop();
    await c?.stop();
  });
  return {
    get c() {
      return c!;
    },
    get worker() {
      return worker!;
    },
  };
}

/** Starts an incident on the physical target declared by carol (its plan at a moment when `options.moment` says); returns its input and handle. */
export async function declareOn(worker: TestWorker, level: Level, summary: string, options: PlanOptions) {
  const input = incidentInput({ target: 'crm', summary, declaredBy: 'carol', level, options });
  const handle = await worker.client.workflow.start('incidentWorkflow', {
    taskQueue: worker.taskQueue,
    workflowId: input.incidentId,
    args: [input],
  });
  return { input, handle };
}
