// The action of `lifeboat board` (client/commands/board.ts): checks the options, serves the board
// until Ctrl-C or SIGTERM, then stops it.
import { type Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { startBoard } from '../board/server.js';
import { configOf } from './common.js';

const whole = (name: string, value: string, min: number, max: number): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new InputError(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  return n;
};

export async function board(
  opts: { host: string; port: string; token?: string; interval: string; slackUrl?: string },
  command: Command,
): Promise<void> {
  const cfg = configOf(command);
  const port = whole('--port', opts.port, 0, 65535);
  const intervalMs = whole('--interval', opts.interval, 200, 60_000);
  if (opts.slackUrl && !/^https:\/\/[^/]+\/?$/.test(opts.slackUrl))
    throw new InputError(`--slack-url must be the workspace's https address such as https://acme.slack.com, not "${opts.slackUrl}"`);
  const served = await startBoard({
    config: cfg,
    host: opts.host,
    port,
    token: opts.token ?? (process.env.LIFEBOAT_BOARD_TOKEN || undefined),
    intervalMs,
    slackWorkspaceUrl: opts.slackUrl,
  });
  console.log(`Lifeboat board: ${served.url}/ (read-only; polling Temporal every ${intervalMs} ms; Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await served.stop();
}
