// Reads a Slack interaction (already signature-checked by Bolt) into a Click: the buttons the
// notifier draws, and nothing else. Anything unexpected is a BadInteraction: answered 400 over HTTP,
// and no Update is sent.
import { z } from 'zod';
import {
  APPROVE_ACTION,
  DONE_ACTION,
  REJECT_ACTION,
  type ButtonTarget,
  isLifeboatAction,
  parseButtonValue,
} from '../../activities/notify/slack-actions.js';
import type { Click, ClickKind } from './decide.js';

export class BadInteraction extends Error {
  override name = 'BadInteraction';
}

/** What each of the notifier's buttons does. */
const ACTIONS = { [APPROVE_ACTION]: 'approve', [REJECT_ACTION]: 'reject', [DONE_ACTION]: 'done' } as const satisfies Record<
  string,
  ClickKind
>;

const slackId = z.string().regex(/^[A-Z0-9]{2,}$/);
const blockActions = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: slackId }),
  channel: z.object({ id: slackId }).optional(),
  container: z.object({ channel_id: slackId.optional() }).optional(),
  message: z.object({ ts: z.string().optional(), thread_ts: z.string().optional() }).optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).length(1),
});

export interface ParsedClick {
  click: Click;
  /** The clicking Slack user, and where to answer them. */
  user: string;
  channel: string;
  threadTs?: string;
}

export function parseClick(body: unknown): ParsedClick {
  const parsed = blockActions.safeParse(body);
  // Zod's issues name paths and expectations only, never values: safe to log.
  if (!parsed.success)
    throw new BadInteraction(
      `not a block_actions interaction from a button (${parsed.error.issues.map((i) => i.path.join('.') || 'body').join(', ')})`,
    );
  const { user, channel, container, message, actions } = parsed.data;
  const action = actions[0]!;
  if (!isLifeboatAction(action.action_id)) throw new BadInteraction('unknown action id');
  const kind = ACTIONS[action.action_id];
  let target: ButtonTarget;
  try {
    target = parseButtonValue(action.value);
  } catch {
    throw new BadInteraction(`the ${action.action_id} button's value is not a Lifeboat reference`);
  }
  const channelId = channel?.id ?? container?.channel_id;
  if (!channelId) throw new BadInteraction('the interaction names no channel');
  return {
    click: { kind, ...target },
    user: user.id,
    channel: channelId,
    threadTs: message?.thread_ts,
  };
}
