// Who a Slack user is to Lifeboat. The explicit `users` map wins; otherwise a member of a
// configured user group acts as their Slack handle. Group memberships and handles are cached for
// a minute: a burst of clicks must not become a burst of Web API calls (and rate limits).
import type { WebClient } from '@slack/web-api';
import type { SlackConfig } from '../../config/config.js';

const IDENTITY_CACHE_MS = 60_000;

interface Cached<T> {
  value: T;
  until: number;
}

export class SlackIdentities {
  private readonly groups = new Map<string, Cached<Set<string>>>();
  private readonly handles = new Map<string, Cached<string | undefined>>();

  constructor(
    private readonly slack: Pick<SlackConfig, 'users' | 'userGroups'>,
    private readonly web: WebClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** The approver identity of a Slack user id, or undefined when the configuration does not know them. */
  async resolve(userId: string): Promise<string | undefined> {
    const mapped = this.slack.users[userId];
    if (mapped) return mapped;
    for (const group of this.slack.userGroups) {
      if ((await this.members(group)).has(userId)) return this.handle(userId);
    }
    return undefined;
  }

  private async members(group: string): Promise<Set<string>> {
    const hit = this.groups.get(group);
    if (hit && hit.until > this.now()) return hit.value;
    const res = await this.web.usergroups.users.list({ usergroup: group });
    const value = new Set(res.users ?? []);
    this.groups.set(group, { value, until: this.now() + IDENTITY_CACHE_MS });
    return value;
  }

  private async handle(userId: string): Promise<string | undefined> {
    const hit = this.handles.get(userId);
    if (hit && hit.until > this.now()) return hit.value;
    const res = await this.web.users.info({ user: userId });
    // `name` is the user's handle (what people type after @); deleted users and bots are nobody.
    const value = res.user && !res.user.deleted && !res.user.is_bot ? res.user.name : undefined;
    this.handles.set(userId, { value, until: this.now() + IDENTITY_CACHE_MS });
    return value;
  }
}
