// Chooses the notifier: Slack when `notify.slack` is configured and its token variable is set on
// the worker, the console otherwise (so a team without Slack loses nothing but the buttons).
import type { LifeboatConfig } from '../../config/config.js';
import { ConsoleNotifier, type Notifier } from './notifier.js';
import { SlackNotifier } from './slack.js';

export function selectNotifier(config: LifeboatConfig, env: NodeJS.ProcessEnv): Notifier {
  const slack = config.notify.slack;
  const token = slack ? env[slack.tokenEnv] : undefined;
  return slack && token ? new SlackNotifier(slack, token) : new ConsoleNotifier();
}

/** For the worker's start-up line: where notices go (never the token). */
export function describeNotifier(config: LifeboatConfig, env: NodeJS.ProcessEnv): string {
  const slack = config.notify.slack;
  if (!slack) return 'console (notify.slack is not configured)';
  if (!env[slack.tokenEnv]) return `console (notify.slack is configured but ${slack.tokenEnv} is not set)`;
  return `Slack channel ${slack.channel}${slack.apiUrl ? ` via ${slack.apiUrl}` : ''}`;
}
