// The Temporal dev server (a real Temporal server backed by SQLite), started by us and waited
// for, rather than by the SDK, which allows a loaded machine only 5 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages.js';
import type { Tracker } from './pidfile.js';
import { freePorts, startDaemon, venvTool, waitForPort } from './processes.js';

export interface TemporalServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
  /** Ends the server at once, as a crash would (SIGKILL); its database file stays for `restart`. */
  kill(): Promise<void>;
  /** Starts it again on the same database file and ports (after `kill`), and waits for it. */
  restart(): Promise<void>;
}

export interface TemporalOptions {
  ui: boolean;
  /** Registers Lifeboat's search attributes as the server starts (default); false leaves a bare server, as `lifeboat server prepare` finds a real one. */
  searchAttributes?: boolean;
  /** Records the server's process and folder (client/stack/pidfile.ts). */
  tracker?: Tracker;
}

export async function startTemporal(logFile: string, options: TemporalOptions): Promise<TemporalServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-temporal-'));
  options.tracker?.folder(dir);
  const [port, uiPort, httpPort, metricsPort] = await freePorts(4);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(httpPort),
    '--metrics-port',
    String(metricsPort),
    '--db-filename',
    join(dir, 'temporal.db'),
    '--log-level',
    'warn',
    // An activity scheduled by a workflow task goes back to the worker that completed it, in the
    // completion's response, instead of through the task queue: one server round trip less per
    // activity (off by default in the server; a production server can turn it on the same way).
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    // Its SQLite file in write-ahead-log mode, synced at checkpoints rather than at every commit:
    // still whole after the server process is killed (kill/restart below), and a workflow task
    // no longer waits for several disk flushes.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    // Incidents are found in the Web UI by these.
    ...(options.searchAttributes === false ? [] : SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`])),
  ];
  args.push(...(options.ui ? ['--ui-port', String(uiPort)] : ['--headless']));
  let daemon = startDaemon(venvTool('temporal'), args, logFile, { tracker: options.tracker });
  const ready = async () => {
    const alive = () => daemon.process.exitCode === null;
    await waitForPort(port!, 'Temporal dev server', 90_000, alive);
    if (options.ui) await waitForPort(uiPort!, 'Temporal Web UI', 60_000, alive);
  };
  await ready();
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: options.ui ? `http://127.0.0.1:${uiPort}` : undefined,
    stop: async () => (await daemon.stop(), rmSync(dir, { recursive: true, force: true })),
    kill: () => daemon.kill(),
    restart: async () => {
      await daemon.kill();
      daemon = startDaemon(venvTool('temporal'), args, logFile, { tracker: options.tracker });
      await ready();
    },
  };
}
