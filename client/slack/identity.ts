// Who a Slack user is to Lifeboat: the approver `notify.slack.users` maps their immutable user id
// to, and nobody else. A handle or a group membership is not an identity: a user can rename
// themselves after any approver, and a group's members change outside Lifeboat's configuration.
import type { SlackConfig } from '../../config/config.js';

/** The approver identity of a Slack user id, or undefined when the configuration does not map it. */
export function approverOf(slack: Pick<SlackConfig, 'users'>, userId: string): string | undefined {
  return Object.hasOwn(slack.users, userId) ? slack.users[userId] : undefined;
}
