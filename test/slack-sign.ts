// The tests' stand-in for Slack: builds a button click's interaction request exactly as Slack
// sends one to an app's Request URL — an `application/x-www-form-urlencoded` body `payload=<json>`
// of type block_actions, signed with `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:<ts>:<body>")`
// and `X-Slack-Request-Timestamp`. Signing is done here with node:crypto, independently of Bolt.
import { createHmac, randomBytes } from 'node:crypto';

export interface ClickSpec {
  actionId: string;
  /** The button's value as the notifier wrote it (a string: tests may send anything). */
  value: string;
  user: { id: string; username: string };
  channel?: string;
  teamId?: string;
  /** The approval message clicked (a reply in the incident's thread). */
  messageTs?: string;
  threadTs?: string;
}

/** A block_actions payload with the fields Slack sends for a button in a channel message. */
export function blockActionsPayload(spec: ClickSpec): Record<string, unknown> {
  const team = spec.teamId ?? 'T0LIFEBOAT';
  const channel = spec.channel ?? 'C0LIFEBOAT';
  const messageTs = spec.messageTs ?? '1732272000.000200';
  const now = Date.now() / 1000;
  return {
    type: 'block_actions',
    user: { id: spec.user.id, username: spec.user.username, name: spec.user.username, team_id: team },
    api_app_id: 'A0LIFEBOAT',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
    trigger_id: `${Math.floor(now)}.${randomBytes(6).toString('hex')}`,
    team: { id: team, domain: 'lifeboat-test' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: 'incidents' },
    message: {
      type: 'message',
      user: 'U0LIFEBOT',
      bot_id: 'B0LIFEBOT',
      ts: messageTs,
      thread_ts: spec.threadTs ?? '1732272000.000101',
      text: 'Approval needed',
      blocks: [
        {
          type: 'actions',
          block_id: 'lifeboat_decide',
          elements: [{ type: 'button', action_id: spec.actionId, value: spec.value, text: { type: 'plain_text', text: 'Approve' } }],
        },
      ],
    },
    state: { values: {} },
    response_url: `https://hooks.slack.com/actions/${team}/123456/${randomBytes(12).toString('hex')}`,
    actions: [
      {
        action_id: spec.actionId,
        block_id: 'lifeboat_decide',
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        value: spec.value,
        style: 'primary',
        type: 'button',
        action_ts: now.toFixed(6),
      },
    ],
  };
}

/** Slack's v0 signature of a raw body at a timestamp (seconds). */
function slackSignature(secret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

/** The form body and headers of a signed request; `timestamp` (seconds) defaults to now. */
export function signedRequest(secret: string, payload: unknown, options: { timestamp?: number; rawBody?: string } = {}): SignedRequest {
  const body = options.rawBody ?? `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': slackSignature(secret, timestamp, body),
    },
  };
}

/** Posts a signed request to the receiver; resolves when the response arrives, with when it did. */
export async function post(url: string, request: SignedRequest): Promise<{ status: number; text: string; at: number }> {
  const res = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  const at = Date.now();
  return { status: res.status, text: await res.text(), at };
}
