// A local stand-in for Slack's Web API, for tests (Slack itself is unreachable from CI).
//
//   const slack = await startFakeSlack({ token: 'xoxb-test', users: { U0ALICE: { name: 'alice' } } });
//   new WebClient('xoxb-test', { slackApiUrl: slack.url })     // slack.url = http://127.0.0.1:<port>/api/
//
// Speaks POST /api/<method> with form (what @slack/web-api sends; JSON-looking fields such as
// `blocks` are parsed) or JSON bodies. The bearer token (or a `token` field) must equal
// `options.token`, else `{ok:false, error:'invalid_auth'}`. Answers, as Slack does:
//   auth.test                 ok, url, team, user, team_id, user_id, bot_id
//   chat.postMessage          channel, ts (monotonic, e.g. "1732272000.000101"), message
//   chat.update               channel, ts, text, message (the message keeps its ts; every version is kept)
//   chat.postEphemeral        message_ts (kept apart: `ephemerals()`)
//   users.info                user {id, name, real_name, profile} from `options.users`, else user_not_found
//   usergroups.users.list     users of `options.userGroups[usergroup]`, else no_such_subteam
//   anything else             unknown_method, unless a handler was added with `handle(method, fn)`
// Stricter than Slack on purpose, to catch notifier bugs: a `thread_ts` or update `ts` that names
// no posted message fails (thread_not_found / message_not_found), and blocks are checked against
// Block Kit's main limits (invalid_blocks). A channel list, if given, refuses other channels.
// apps.connections.open (Socket Mode) is not built in: it needs a WebSocket server; a test that
// wants it adds it with `handle('apps.connections.open', …)`.
//
// Faults: `failNext(method, n, {status})` answers the next n calls of `method` ('*' = any) with
// that HTTP status, `{retryAfter: s}` with 429 + Retry-After, `{error: 'x'}` with 200 {ok:false,error:'x'}.
// `setDown(true)` answers every call with 503; `setDown(true, 'refuse')` closes the port
// (connection refused) until `setDown(false)`. Every call that reaches the server is recorded,
// faults and invalid_auth included (the token itself is never recorded).
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSlackUser {
  name: string;
  real_name?: string;
}

export interface FakeSlackOptions {
  /** The bot token every call must carry. */
  token?: string;
  /** Channels that exist; absent, every channel does. */
  channels?: string[];
  users?: Record<string, FakeSlackUser>;
  /** User-group id (S…) → member user ids. */
  userGroups?: Record<string, string[]>;
}

export interface FakeCall {
  method: string;
  args: Record<string, unknown>;
  /** Epoch ms the request arrived. */
  at: number;
  /** The HTTP status answered, and the Web API error if the body said ok:false. */
  status: number;
  error?: string;
}

export interface MessageVersion {
  text?: string;
  blocks?: unknown[];
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  /** The current content. */
  text?: string;
  blocks?: unknown[];
  /** Every version, the first post included, oldest first. */
  versions: MessageVersion[];
}

export interface FakeEphemeral {
  channel: string;
  user: string;
  message_ts: string;
  thread_ts?: string;
  text?: string;
  blocks?: unknown[];
}

export interface Failure {
  status?: number;
  error?: string;
  /** Seconds, sent as Retry-After with a 429. */
  retryAfter?: number;
}

/** A handler for an extra method: returns the body to answer (ok:true is added when absent). */
export type MethodHandler = (args: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface FakeSlack {
  /** The Web API base URL, ending in '/': http://127.0.0.1:<port>/api/ */
  readonly url: string;
  readonly token: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  calls(method?: string): FakeCall[];
  /** Channel messages in posting order (optionally of one channel). */
  messages(channel?: string): FakeMessage[];
  /** The thread's root (ts) and its replies, in posting order. */
  thread(ts: string): FakeMessage[];
  /** A message by reference "<channel>:<ts>" (or by ts alone). */
  message(ref: string): FakeMessage | undefined;
  ephemerals(): FakeEphemeral[];
  failNext(method: string, n: number, failure: Failure): void;
  setDown(down: boolean, how?: 'unavailable' | 'refuse'): Promise<void>;
  handle(method: string, handler: MethodHandler): void;
  /** Forgets calls, messages and pending faults. */
  reset(): void;
  close(): Promise<void>;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata', 'unfurl_links', 'unfurl_media']);

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return {};
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    args[key] = JSON_FIELDS.has(key) && /^[[{tf]/.test(value) ? JSON.parse(value) : value;
  }
  return args;
}

/** The main Block Kit limits Slack enforces; returns what is wrong, or nothing. */
function blockProblems(blocks: unknown): string | undefined {
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks)) return 'blocks is not an array';
  if (blocks.length > 50) return 'more than 50 blocks';
  const actionIds = new Set<string>();
  for (const [i, block] of (blocks as Record<string, any>[]).entries()) {
    if (typeof block?.type !== 'string') return `block ${i} has no type`;
    if (block.type === 'header' && (block.text?.type !== 'plain_text' || String(block.text.text).length > 150))
      return `header ${i} must be plain_text of at most 150 characters`;
    if (block.type === 'section' && block.text && String(block.text.text).length > 3000) return `section ${i} text longer than 3000`;
    if (block.type === 'section' && !block.text && !block.fields) return `section ${i} has neither text nor fields`;
    if (block.type === 'context' && (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10))
      return `context ${i} needs 1–10 elements`;
    if (block.type === 'actions') {
      if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 25)
        return `actions ${i} needs 1–25 elements`;
      for (const element of block.elements as Record<string, any>[]) {
        if (element.action_id) {
          if (actionIds.has(element.action_id)) return `duplicate action_id ${element.action_id}`;
          actionIds.add(element.action_id);
        }
        if (element.type === 'button' && String(element.text?.text ?? '').length > 75) return 'button text longer than 75';
        if (element.value !== undefined && String(element.value).length > 2000) return 'button value longer than 2000';
      }
    }
  }
  return undefined;
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const token = options.token ?? 'xoxb-fake-token';
  const teamId = 'T0LIFEBOAT';
  const botUserId = 'U0LIFEBOT';
  const botId = 'B0LIFEBOT';
  let calls: FakeCall[] = [];
  let messages: FakeMessage[] = [];
  let ephemerals: FakeEphemeral[] = [];
  let faults: { method: string; left: number; failure: Failure }[] = [];
  const handlers = new Map<string, MethodHandler>();
  let down: false | 'unavailable' | 'refuse' = false;
  const base = Math.floor(Date.now() / 1000);
  let seq = 100;
  const nextTs = () => {
    seq += 1;
    return `${base + Math.floor(seq / 1_000_000)}.${String(seq % 1_000_000).padStart(6, '0')}`;
  };
  const find = (channel: unknown, ts: unknown) => messages.find((m) => m.channel === channel && m.ts === ts);
  const view = (m: FakeMessage) => ({
    type: 'message',
    user: botUserId,
    bot_id: botId,
    ts: m.ts,
    thread_ts: m.thread_ts,
    text: m.text,
    blocks: m.blocks,
  });

  const methods: Record<string, MethodHandler> = {
    'auth.test': () => ({
      url: 'https://lifeboat-test.slack.com/',
      team: 'Lifeboat Test',
      user: 'lifeboat',
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
    }),
    'chat.postMessage': (args) => {
      const { channel, thread_ts } = args;
      if (typeof channel !== 'string' || !channel) return { ok: false, error: 'channel_not_found' };
      if (options.channels && !options.channels.includes(channel)) return { ok: false, error: 'channel_not_found' };
      if (!args.text && !args.blocks) return { ok: false, error: 'no_text' };
      const problem = blockProblems(args.blocks);
      if (problem) return { ok: false, error: 'invalid_blocks', errors: [problem] };
      if (thread_ts !== undefined && !find(channel, thread_ts)) return { ok: false, error: 'thread_not_found' };
      const at = Date.now();
      const text = args.text as string | undefined;
      const blocks = args.blocks as unknown[] | undefined;
      const message: FakeMessage = {
        channel,
        ts: nextTs(),
        thread_ts: thread_ts as string | undefined,
        text,
        blocks,
        versions: [{ text, blocks, at }],
      };
      messages.push(message);
      return { channel, ts: message.ts, message: view(message) };
    },
    'chat.update': (args) => {
      const message = find(args.channel, args.ts);
      if (!message) return { ok: false, error: 'message_not_found' };
      const problem = blockProblems(args.blocks);
      if (problem) return { ok: false, error: 'invalid_blocks', errors: [problem] };
      // As in Slack: fields not sent are left as they were.
      if (args.text !== undefined) message.text = args.text as string;
      if (args.blocks !== undefined) message.blocks = args.blocks as unknown[];
      message.versions.push({ text: message.text, blocks: message.blocks, at: Date.now() });
      return { channel: message.channel, ts: message.ts, text: message.text, message: view(message) };
    },
    'chat.postEphemeral': (args) => {
      if (typeof args.channel !== 'string' || typeof args.user !== 'string') return { ok: false, error: 'invalid_arguments' };
      if (options.users && !options.users[args.user]) return { ok: false, error: 'user_not_in_channel' };
      const ephemeral: FakeEphemeral = {
        channel: args.channel,
        user: args.user,
        message_ts: nextTs(),
        thread_ts: args.thread_ts as string | undefined,
        text: args.text as string | undefined,
        blocks: args.blocks as unknown[] | undefined,
      };
      ephemerals.push(ephemeral);
      return { message_ts: ephemeral.message_ts };
    },
    'users.info': (args) => {
      const id = args.user as string;
      const user = options.users?.[id];
      if (!user) return { ok: false, error: 'user_not_found' };
      return {
        user: {
          id,
          team_id: teamId,
          name: user.name,
          real_name: user.real_name ?? user.name,
          profile: { display_name: user.name, real_name: user.real_name ?? user.name },
        },
      };
    },
    'usergroups.users.list': (args) => {
      const users = options.userGroups?.[args.usergroup as string];
      return users ? { users } : { ok: false, error: 'no_such_subteam' };
    },
  };

  const answer = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  const server: Server = createServer(async (req, res) => {
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
    let args: Record<string, unknown> = {};
    const call: FakeCall = { method, args, at: Date.now(), status: 200 };
    calls.push(call);
    try {
      args = await readBody(req);
      call.args = { ...args };
      delete call.args.token;
    } catch {
      call.status = 400;
      return answer(res, 400, { ok: false, error: 'invalid_form_data' });
    }
    if (req.method !== 'POST' || !req.url?.startsWith('/api/')) {
      call.status = 404;
      return answer(res, 404, { ok: false, error: 'unknown_method' });
    }
    if (down) {
      call.status = 503;
      res.writeHead(503, { 'content-type': 'text/html' });
      return res.end('<html><body>Slack is down</body></html>');
    }
    const fault = faults.find((f) => f.left > 0 && (f.method === method || f.method === '*'));
    if (fault) {
      fault.left -= 1;
      const { failure } = fault;
      if (failure.retryAfter !== undefined) {
        call.status = 429;
        call.error = 'ratelimited';
        return answer(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter) });
      }
      if (failure.status !== undefined && failure.status !== 200) {
        call.status = failure.status;
        res.writeHead(failure.status, { 'content-type': 'text/plain' });
        return res.end(`fake failure ${failure.status}`);
      }
      call.error = failure.error ?? 'internal_error';
      return answer(res, 200, { ok: false, error: call.error });
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? args.token;
    if (bearer !== token) {
      call.error = bearer ? 'invalid_auth' : 'not_authed';
      return answer(res, 200, { ok: false, error: call.error });
    }
    const handler = handlers.get(method) ?? methods[method];
    if (!handler) {
      call.error = 'unknown_method';
      return answer(res, 200, { ok: false, error: 'unknown_method' });
    }
    try {
      const body: Record<string, unknown> = { ok: true, ...(await handler(args)) };
      if (body.ok === false) call.error = String(body.error);
      return answer(res, 200, body);
    } catch (err) {
      call.status = 500;
      return answer(res, 500, { ok: false, error: 'fatal_error', detail: (err as Error).message });
    }
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => (server.off('error', reject), resolve()));
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    token,
    teamId,
    botUserId,
    botId,
    calls: (method) => (method ? calls.filter((c) => c.method === method) : [...calls]),
    messages: (channel) => (channel ? messages.filter((m) => m.channel === channel) : [...messages]),
    thread: (ts) => messages.filter((m) => m.ts === ts || m.thread_ts === ts),
    message(ref) {
      const at = ref.lastIndexOf(':');
      return at < 0 ? messages.find((m) => m.ts === ref) : find(ref.slice(0, at), ref.slice(at + 1));
    },
    ephemerals: () => [...ephemerals],
    failNext(method, n, failure) {
      faults.push({ method, left: n, failure });
    },
    async setDown(value, how = 'unavailable') {
      const was = down;
      down = value ? how : false;
      if (down === 'refuse' && was !== 'refuse') await stop();
      if (was === 'refuse' && down !== 'refuse') await listen(port);
    },
    handle(method, handler) {
      handlers.set(method, handler);
    },
    reset() {
      calls = [];
      messages = [];
      ephemerals = [];
      faults = [];
    },
    async close() {
      if (down !== 'refuse') await stop();
    },
  };
}
