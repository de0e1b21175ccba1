// The embedded defaults: the local stack, the demo CRM seeded in it, the example configuration
// pointed at it, and a worker — what `lifeboat dev` and the demo run on. The example's approvers get
// throwaway SSH keys (client/stack/keys.ts), enrolled in this worker's configuration only, and
// LIFEBOAT_KEYS_DIR in dev.env lets the CLI in another shell sign as them with no --key.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { appendFileSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleNotifier } from '../activities/notify/notifier.js';
import { withClient } from '../activities/postgres/connection.js';
import { seedCrm } from '../activities/postgres/seed.js';
import { DEFAULT_CONFIG_PATH, type LifeboatConfig, loadConfig } from '../config/config.js';
import { createWorker } from '../worker/worker.js';
import { type Stack, startStack } from './stack/index.js';
import { approversOf, localManifestKey, peopleOf, throwawayKeys } from './stack/keys.js';
import { REPO_ROOT } from './stack/processes.js';

export interface Embedded {
  stack: Stack;
  config: LifeboatConfig;
  client: Client;
  /** Where the stack's environment is written for other shells (mode 600: it holds the demo keys). */
  envFile: string;
  /** Each approver's throwaway SSH key file, as driveIncident's keys option takes them. */
  keys: Record<string, string>;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  leads: number;
  ui: boolean;
  log: (line: string) => void;
  /** Write the console notifier's lines to notifications.log in the log folder instead of the terminal. */
  quietNotifications?: boolean;
}

export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  // The worker's state changes are noise next to the demo's own lines; warnings still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const home = join(REPO_ROOT, '.lifeboat');
  const logDir = join(home, 'logs', new Date().toISOString().replace(/[:.]/g, '-'));
  options.log(`starting Temporal, PostgreSQL and SeaweedFS on free loopback ports (logs in ${logDir})`);
  const stack = await startStack({ logDir, ui: options.ui });
  const cleanup: Array<() => Promise<unknown>> = [() => stack.stop()];
  const stop = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    await withClient(stack.postgres.adminUrl, (c) => c.query('CREATE DATABASE crm'));
    const keysDir = join(home, 'keys');
    const env: Record<string, string> = {
      ...stack.env('crm'),
      LIFEBOAT_LOCAL_STORE: join(home, 'store'),
      LIFEBOAT_KEYS_DIR: keysDir,
      LIFEBOAT_MANIFEST_KEY: localManifestKey(home),
    };
    Object.assign(process.env, env);
    mkdirSync(home, { recursive: true });
    const envFile = join(home, 'dev.env');
    writeFileSync(
      envFile,
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
      { mode: 0o600 },
    );
    chmodSync(envFile, 0o600);

    options.log(`seeding the demo CRM with ${options.leads} leads`);
    await seedCrm(env.CRM_DATABASE_URL!, { leads: options.leads, reset: true });

    const config = loadConfig(DEFAULT_CONFIG_PATH);
    const keys = throwawayKeys(keysDir, approversOf(config));
    config.people = { ...peopleOf(keys), ...config.people };
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
    const connection = await Connection.connect({ address: config.temporal.address });
    cleanup.push(() => connection.close());
    return { stack, config, client: new Client({ connection }), envFile, keys, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
