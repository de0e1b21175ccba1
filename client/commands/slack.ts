// `lifeboat slack serve`: the receiver that turns Slack's button clicks into signed approvals.
import { type Command } from 'commander';
import { configOf } from './common.js';

export function registerSlackCommands(program: Command): void {
  program
    .command('slack')
    .description('Slack approvals')
    .command('serve')
    .description(
      "receive Slack's button clicks (HTTP, or Socket Mode per notify.slack.receiver) and turn them into approvals, until Ctrl-C",
    )
    .action(async () => {
      // Loaded on demand: Bolt is heavy and only this command needs it.
      const { serveSlack } = await import('../slack/serve.js');
      await serveSlack(configOf(program));
    });
}
