// `lifeboat board`: the live incident board, a read-only web page fed by Temporal and the store,
// until Ctrl-C. Loopback only unless a token is given (client/board/access.ts).
import { type Command } from 'commander';
import { lazy } from './common.js';

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
    .action(
      lazy(
        () => import('../actions/board.js'),
        (m) => m.board,
      ),
    );
}
