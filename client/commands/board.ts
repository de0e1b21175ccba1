// `lifeboat board`: the live incident board, a read-only web page fed by Temporal and the store,
// until Ctrl-C. Loopback only unless a token is given (client/board/access.ts).
import { type Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { configOf } from './common.js';

const whole = (name: string, value: string, min: number, max: number): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new InputError(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  return n;
};

export function registerBoardCommands(program: Command): void {
  program
    .command('board')
    .description(
      'serve the live incident board: open incidents and drills, their RTO clocks, who they wait for, backups and reports (read-only)',
    )
    .option('--host <address>', 'interface to listen on; anything but loopback needs --token', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free one)', '8090')
    .option('--token <token>', 'access token every request must carry (default: $LIFEBOAT_BOARD_TOKEN)')
    .option('--interval <ms>', 'how often Temporal is polled, for every viewer at once', '1000')
    .option('--slack-url <url>', "the Slack workspace's address (https://acme.slack.com), for links straight to a run's thread")
    .action(async (opts: { host: string; port: string; token?: string; interval: string; slackUrl?: string }) => {
      const cfg = configOf(program);
      const port = whole('--port', opts.port, 0, 65535);
      const intervalMs = whole('--interval', opts.interval, 200, 60_000);
      if (opts.slackUrl && !/^https:\/\/[^/]+\/?$/.test(opts.slackUrl))
        throw new InputError(`--slack-url must be the workspace's https address such as https://acme.slack.com, not "${opts.slackUrl}"`);
      // Loaded on demand: the server is only needed here.
      const { startBoard } = await import('../board/server.js');
      const board = await startBoard({
        config: cfg,
        host: opts.host,
        port,
        token: opts.token ?? (process.env.LIFEBOAT_BOARD_TOKEN || undefined),
        intervalMs,
        slackWorkspaceUrl: opts.slackUrl,
      });
      console.log(`Lifeboat board: ${board.url}/ (read-only; polling Temporal every ${intervalMs} ms; Ctrl-C stops it)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await board.stop();
    });
}
