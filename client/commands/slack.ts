// `lifeboat slack serve`: the receiver that turns Slack's button clicks into signed approvals.
import { type Command } from 'commander';
import { lazy } from './common.js';

export function registerSlackCommands(program: Command): void {
  program
    .command('slack')
    .description('Slack approvals')
    .command('serve')
    .description(
      "receive Slack's button clicks (HTTP, or Socket Mode per notify.slack.receiver) and turn them into approvals, until Ctrl-C",
    )
    .action(
      lazy(
        () => import('../actions/slack.js'),
        (m) => m.serve,
      ),
    );
}
