// `lifeboat dev`: the embedded stack with its Web UI and a worker, until Ctrl-C.
import { startEmbedded } from './embedded.js';

/** The action of `lifeboat dev` (client/commands/dev.ts). */
export async function devCommand(opts: { leads: string }): Promise<void> {
  await runDev({ leads: Number(opts.leads) });
}

export async function runDev(options: { leads: number }): Promise<void> {
  const embedded = await startEmbedded({ ...options, ui: true, log: (line) => console.log(line) });
  console.log(`
Lifeboat dev stack is up.
  Temporal Web UI : ${embedded.stack.temporal.uiUrl}
  Temporal        : ${embedded.stack.temporal.address}
  S3 store        : ${embedded.stack.s3.endpoint} (bucket ${embedded.config.stores.main?.type === 's3' ? embedded.config.stores.main.bucket : '-'})
  logs            : ${embedded.stack.logDir}

In another shell:
  set -a; . ${embedded.envFile}; set +a
  bin/lifeboat backup --target crm
  bin/lifeboat backups
  bin/lifeboat verify latest --target crm
  bin/lifeboat keys

Approvals are signed: --as ${Object.keys(embedded.keys).join('|')} signs with that person's throwaway key
in ${process.env.LIFEBOAT_KEYS_DIR} (LIFEBOAT_KEYS_DIR); elsewhere give yours with --key.

Ctrl-C stops everything.`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log('stopping…');
  await embedded.stop();
}
