// The embedded defaults: the local stack, the demo CRM seeded in it, a configuration pointed at it
// (the example's, or the user's own with --config), and a worker — what `lifeboat dev` and the demo
// run on. The configuration's approvers get throwaway SSH keys (client/stack/keys.ts), enrolled in
// this worker's configuration only, and LIFEBOAT_KEYS_DIR in dev.env lets the CLI in another shell
// sign as them with no --key.
// Guarantees: everything started is recorded in the stack's pid file as it starts (a crash is
// cleaned up by the next start: client/stack/pidfile.ts); `stop` stops the worker and the servers
// and removes the environment file, which never outlives the stack it describes.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { appendFileSync, chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { withClient } from '../activities/postgres/connection.js';
import { seedCrm } from '../activities/postgres/seed.js';
import { DEFAULT_CONFIG_PATH, type LifeboatConfig, loadConfig } from '../config/config.js';
import { createWorker } from '../worker/worker.js';
import { prepareServer } from './prepare.js';
import { type Stack, startStack } from './stack/index.js';
import { approversOf, localManifestKey, peopleOf, throwawayKeys } from './stack/keys.js';
import { type PidFile, lifeboatHome } from './stack/pidfile.js';

export interface Embedded {
  stack: Stack;
  config: LifeboatConfig;
  client: Client;
  /** Where the stack's environment is written for other shells (mode 600: it holds the demo keys), if it is. */
  envFile?: string;
  /** Each approver's throwaway SSH key file, as driveIncident's keys option takes them. */
  keys: Record<string, string>;
  /** Settles when the worker stops: rejected by a fatal error of the worker. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  leads: number;
  ui: boolean;
  log: (line: string) => void;
  /** Write the console notifier's lines to notifications.log in the log folder instead of the terminal. */
  quietNotifications?: boolean;
  /** The user's configuration (`lifeboat dev --config`); the example's by default. */
  configFile?: string;
  /** Write dev.env for other shells (`lifeboat dev`); the demo writes none. */
  envFile?: boolean;
  role: string;
  /** The pid file `lifeboat dev` claimed before starting. */
  pidFile?: PidFile;
}

/** How long the dev server keeps closed runs of a namespace the user's configuration names. */
const NAMESPACE_RETENTION_MS = 7 * 24 * 3_600_000;

export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  // The worker's state changes are noise next to the demo's own lines; warnings still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const home = lifeboatHome();
  const logDir = join(home, 'logs', new Date().toISOString().replace(/[:.]/g, '-'));
  const configFile = options.configFile ? resolve(options.configFile) : DEFAULT_CONFIG_PATH;
  options.log(`starting Temporal, PostgreSQL and SeaweedFS on free loopback ports (logs in ${logDir})`);
  const stack = await startStack({ logDir, ui: options.ui, role: options.role, pidFile: options.pidFile });
  const cleanup: Array<() => Promise<unknown>> = [() => stack.stop()];
  let connection: Connection | undefined;
  let stopping: Promise<void> | undefined;
  // Once, in the reverse order of starting: the worker, dev.env, then the servers. The client's
  // connection closes last: a call still waiting on a run (a signal came mid-demo) retries on it,
  // and a retry on a closed connection throws outside any promise, ending the process mid-stop.
  const stop = () =>
    (stopping ??= (async () => {
      for (const step of cleanup.reverse()) await step().catch(() => undefined);
      await connection?.close().catch(() => undefined);
    })());
  try {
    await withClient(stack.postgres.adminUrl, (c) => c.query('CREATE DATABASE crm'));
    const keysDir = join(home, 'keys');
    const env: Record<string, string> = {
      ...stack.env('crm'),
      LIFEBOAT_PG_ADMIN_URL: stack.postgres.adminUrl,
      LIFEBOAT_LOCAL_STORE: join(home, 'store'),
      LIFEBOAT_KEYS_DIR: keysDir,
      LIFEBOAT_MANIFEST_KEY: localManifestKey(home),
      ...(options.configFile ? { LIFEBOAT_CONFIG: configFile } : {}),
    };
    Object.assign(process.env, env);
    let envFile: string | undefined;
    if (options.envFile) {
      mkdirSync(home, { recursive: true });
      envFile = join(home, 'dev.env');
      stack.pidFile.file(envFile);
      writeFileSync(
        envFile,
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
        { mode: 0o600 },
      );
      chmodSync(envFile, 0o600);
      const written = envFile;
      cleanup.push(async () => rmSync(written, { force: true }));
    }

    options.log(`seeding the demo CRM with ${options.leads} leads`);
    await seedCrm(env.CRM_DATABASE_URL!, { leads: options.leads, reset: true });

    // The user's ${VAR}s see the stack's variables (a configuration that does not load stops the
    // stack: exit 2); its Temporal is this stack's whatever the file says.
    const config = loadConfig(configFile);
    config.temporal = { ...config.temporal, address: stack.temporal.address, uiUrl: stack.temporal.uiUrl ?? config.temporal.uiUrl };
    const keys = throwawayKeys(keysDir, approversOf(config));
    config.people = { ...peopleOf(keys), ...config.people };
    connection = await Connection.connect({ address: config.temporal.address });
    const client = new Client({ connection, namespace: config.temporal.namespace });
    if (config.temporal.namespace !== 'default') {
      for (const line of (await prepareServer(client, config.temporal.namespace, NAMESPACE_RETENTION_MS)).lines) options.log(line);
    }
    const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
    const notificationsLog = join(logDir, 'notifications.log');
    const notifier = options.quietNotifications ? new ConsoleNotifier((line) => appendFileSync(notificationsLog, `${line}\n`)) : undefined;
    const worker: Worker = await createWorker({ config, connection: nativeConnection, notifier });
    const running = worker.run();
    cleanup.push(async () => {
      worker.shutdown();
      await running;
      await nativeConnection.close();
    });
    return { stack, config, client, envFile, keys, done: running, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
