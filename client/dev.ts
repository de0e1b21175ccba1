// `lifeboat dev`: the embedded stack with its Web UI and a worker, on the example configuration or
// the user's (--config), until Ctrl-C or SIGTERM, which stop everything it started and remove
// dev.env. One dev stack per home (.lifeboat, or $LIFEBOAT_HOME): its pid file (run/dev.pid) makes
// a second `dev` refuse (exit 2, naming the running one), and the leftovers of a dev that died
// (SIGKILL, a crash) are cleared before a new one starts.
import { type Command } from 'commander';
import { join } from 'node:path';
import { CliError } from './cli-process.js';
import { type Board, startBoard } from './board/server.js';
import { type Embedded, startEmbedded } from './embedded.js';
import { DEMO_BUCKET } from './stack/index.js';
import { globalsOf } from './commands/common.js';
import { PidFile, lifeboatHome, liveOwner, pidDir, stopOnSignals, sweepDeadStacks } from './stack/pidfile.js';

/** The action of `lifeboat dev` (client/commands/dev.ts). */
export async function devCommand(opts: { leads: string }, command: Command): Promise<void> {
  const leads = Number(opts.leads);
  if (!Number.isSafeInteger(leads) || leads < 1) throw new CliError(`--leads must be a positive whole number, not "${opts.leads}"`, 2);
  await runDev({ leads, configFile: globalsOf(command).config ?? process.env.LIFEBOAT_CONFIG });
}

/** Claims run/dev.pid, after clearing a dead dev's leftovers; refuses while a live dev holds it. */
async function claimDev(): Promise<PidFile> {
  const path = join(pidDir(), 'dev.pid');
  for (const line of await sweepDeadStacks()) console.log(`cleared the leftovers of a ${line} that did not stop`);
  const pidFile = new PidFile(path, 'dev');
  if (pidFile.claim()) return pidFile;
  const running = liveOwner(path);
  if (!running) {
    // Its owner died between the sweep and the claim (or never finished writing it): clear and retry once.
    await sweepDeadStacks();
    if (pidFile.claim()) return pidFile;
  }
  const who = running ? `pid ${running.owner.pid}, since ${running.startedAt}` : `see ${path}`;
  throw new CliError(
    `a dev stack is already running (${who}): use it (set -a; . ${join(lifeboatHome(), 'dev.env')}; set +a), or stop it with Ctrl-C in its terminal or kill ${running?.owner.pid ?? '<pid>'}`,
    2,
  );
}

export async function runDev(options: { leads: number; configFile?: string }): Promise<void> {
  const pidFile = await claimDev();
  let signal: NodeJS.Signals | undefined;
  let wake = () => {};
  // Ctrl-C or SIGTERM, while it starts or runs: everything started is stopped, then dev ends (exit 0).
  const offSignals = stopOnSignals(
    async (received) => {
      signal = received;
      console.log(`${received}: stopping…`);
      wake();
    },
    { exit: false },
  );
  try {
    const embedded = await startEmbedded({ ...options, ui: true, log: (line) => console.log(line), envFile: true, role: 'dev', pidFile });
    let crashed: unknown;
    // The board on its usual port when free, else on any free one.
    const board = signal
      ? undefined
      : await startBoard({ config: embedded.config, port: 8090 })
          .catch(() => startBoard({ config: embedded.config, port: 0 }))
          .catch((err: Error) => console.log(`the board did not start: ${err.message}`));
    if (!signal) {
      printBanner(embedded, board);
      // Until a signal, or the worker's own end (a fatal error): either way everything stops.
      await Promise.race([new Promise<void>((ok) => (wake = ok)), embedded.done.catch((err: unknown) => (crashed = err))]);
    }
    await board?.stop();
    await embedded.stop();
    if (crashed) throw new CliError(`the worker stopped: ${(crashed as Error).message}; the stack was stopped with it`, 1);
  } finally {
    offSignals();
    pidFile.remove();
  }
}

function printBanner(embedded: Embedded, board: Board | void): void {
  const { stack, config, envFile, keys } = embedded;
  console.log(`
Lifeboat dev stack is up.
  Incident board  : ${board ? `${board.url}/` : 'not started (see above)'}
  Temporal Web UI : ${stack.temporal.uiUrl}
  Temporal        : ${stack.temporal.address} (namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue})
  S3 store        : ${stack.s3.endpoint} (bucket ${DEMO_BUCKET})
  PostgreSQL      : ${stack.postgres.adminUrl} (the demo CRM in database crm: CRM_DATABASE_URL)
  configuration   : ${process.env.LIFEBOAT_CONFIG ?? 'the example (config/lifeboat.example.yaml)'}, targets ${Object.keys(config.targets).join(', ')}
  logs            : ${stack.logDir}

In another shell:
  set -a; . ${envFile}; set +a
  bin/lifeboat backups --target ${Object.keys(config.targets)[0]}
  bin/lifeboat keys
  bin/lifeboat board --port 8091     # another board, from this shell's configuration

Approvals are signed: --as ${Object.keys(keys).join('|')} signs with that person's throwaway key
in ${process.env.LIFEBOAT_KEYS_DIR} (LIFEBOAT_KEYS_DIR); elsewhere give yours with --key.

Ctrl-C stops everything (pid ${process.pid}).`);
}
