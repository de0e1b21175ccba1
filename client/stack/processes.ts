// Helpers to run the embedded stack's servers: free loopback ports, tools installed by setup,
// processes whose output goes to a log file that outlives them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../../config/root.js';
import type { Tracker } from './pidfile.js';

export { REPO_ROOT } from '../../config/root.js';

/** A tool installed by scripts/setup into the project's virtual environment. */
export function venvTool(name: 'temporal' | 'temporal-test-server' | 'weed'): string {
  const path = join(REPO_ROOT, '.tools/venv/bin', name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run "make setup" (scripts/setup.sh) first`);
  return path;
}

/** Distinct free loopback ports, all held open at once so none is handed out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok, fail) => {
          const server = createServer();
          server.once('error', fail);
          server.listen(0, '127.0.0.1', () => ok(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export async function waitForPort(port: number, what: string, timeoutMs = 60_000, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((ok) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), ok(true)));
      socket.once('error', () => ok(false));
    });
    if (open) return;
    if (!isAlive()) throw new Error(`${what} exited before listening on port ${port}`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen on port ${port} within ${timeoutMs / 1000} s`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

export interface Daemon {
  process: ChildProcess;
  /** SIGTERM, then SIGKILL if it has not exited after a few seconds. */
  stop(): Promise<void>;
  /** Ends it at once, as a crash would. */
  kill(): Promise<void>;
}

export function startDaemon(
  command: string,
  args: string[],
  logFile: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv; tracker?: Tracker } = {},
): Daemon {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', log, log] });
  options.tracker?.process(child.pid, command);
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const endWith = async (signal: NodeJS.Signals, graceMs: number) => {
    if (!alive()) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { process: child, stop: () => endWith('SIGTERM', 10_000), kill: () => endWith('SIGKILL', 0) };
}
