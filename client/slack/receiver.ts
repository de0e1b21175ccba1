// The approval receiver: Slack's interactivity requests (button clicks) arrive here, over HTTP or
// Socket Mode, and become Temporal Updates. Bolt verifies the request (HMAC signature, 5-minute
// timestamp window, constant-time comparison) before any of this code runs; a click is acknowledged
// at once (Slack allows 3 s), then the clicker's user id is mapped to an approver identity, the
// answer is signed with the receiver's own key and its Update sent, and the outcome goes back to the
// clicker alone as an ephemeral message. The approval message itself is replaced by the workflow's
// notifier, not here.
//
// Guarantees:
// - The receiver signs only after Bolt has checked Slack's request signature, and only for a user
//   id that `notify.slack.users` maps to a person; any other click sends no Update.
// - Without its signing key configured and readable the receiver does not start.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App, HTTPReceiver, LogLevel, type Logger, SocketModeReceiver } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import { ConfigError } from '../../common/errors.js';
import { type SlackConfig } from '../../config/config.js';
import { type Click, decide } from './decide.js';
import { approverOf } from './identity.js';
import { BadInteraction, parseClick } from './interaction.js';

export interface ReceiverOptions {
  slack: SlackConfig;
  /** Temporal, where the Updates go. */
  temporal: Client;
  env?: NodeJS.ProcessEnv;
  /** Overrides `receiver.port` (tests pass 0 for a free port). */
  port?: number;
  /** Overrides `receiver.host`, the interface HTTP listens on. */
  host?: string;
  /** Where operational lines go; never given secrets or payloads. */
  log?: (line: string) => void;
}

export interface RunningReceiver {
  transport: 'http' | 'socket';
  /** The interactivity endpoint (HTTP only) at the address actually bound: Slack's Request URL is its public equivalent. */
  url?: string;
  stop(): Promise<void>;
}

/** The receiver's signing key file, and the environment variables it needs: each refused by name when missing (the CLI exits 2). */
export function receiverSecrets(
  slack: SlackConfig,
  env: NodeJS.ProcessEnv,
): { keyFile: string; botToken: string; signingSecret?: string; appToken?: string } {
  const keyFile = slack.receiver.signingKeyFile;
  if (!keyFile)
    throw new ConfigError(
      "notify.slack.receiver.signingKeyFile is not set: the receiver signs every click with its own SSH key. Make one (ssh-keygen -t ed25519 -N '' -f slack-receiver), set signingKeyFile to it and publicKeyFiles to its .pub, for the worker to trust",
    );
  if (!existsSync(keyFile)) throw new ConfigError(`notify.slack.receiver.signingKeyFile: there is no file ${keyFile}`);
  const need = (name: string, what: string) => {
    const value = env[name];
    if (!value) throw new ConfigError(`set ${name} to ${what} (notify.slack in the configuration names this variable)`);
    return value;
  };
  const botToken = need(slack.tokenEnv, "the Slack app's bot token (xoxb-…, OAuth & Permissions)");
  if (slack.receiver.transport === 'socket') {
    return {
      keyFile,
      botToken,
      appToken: need(
        slack.receiver.appTokenEnv,
        'an app-level token with connections:write (xapp-…, Basic Information → App-Level Tokens)',
      ),
    };
  }
  return {
    keyFile,
    botToken,
    signingSecret: need(slack.receiver.signingSecretEnv, "the Slack app's signing secret (Basic Information → App Credentials)"),
  };
}

/**
 * Bolt's logger, quieted: Bolt's own warnings keep their first clause only, because a JSON parse
 * error's message quotes the body it could not parse, and a payload must never reach a log.
 */
function boltLogger(log: (line: string) => void): Logger {
  let level = LogLevel.WARN;
  const clip = (msg: unknown[]) =>
    msg
      .map((m) => (m instanceof Error ? m.message : String(m)))
      .join(' ')
      .split(/: /)[0]!
      .slice(0, 200);
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg) => log(`slack: ${clip(msg)}`),
    error: (...msg) => log(`slack error: ${clip(msg)}`),
    setLevel: (l) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** The original error behind Bolt's wrappers (UnknownError keeps it as `original`). */
const unwrap = (error: unknown): unknown => (error as { original?: unknown })?.original ?? error;

export async function startReceiver(options: ReceiverOptions): Promise<RunningReceiver> {
  const { slack, temporal, env = process.env, log = (line) => console.error(line) } = options;
  const secrets = receiverSecrets(slack, env);
  const logger = boltLogger(log);
  // Tests point the Web API at a fake: no retries there. Against Slack, a few retries ride out a blip.
  const clientOptions = {
    slackApiUrl: slack.apiUrl ? `${slack.apiUrl.replace(/\/+$/, '')}/` : undefined,
    retryConfig: { retries: slack.retries },
  };
  const web = new WebClient(secrets.botToken, { ...clientOptions, logger });

  const receiver =
    slack.receiver.transport === 'socket'
      ? new SocketModeReceiver({
          appToken: secrets.appToken!,
          logger,
          // Only apps.connections.open goes through this client (the installer is never built).
          installerOptions: { clientOptions },
          processEventErrorHandler: async ({ error }) => {
            const e = unwrap(error);
            log(e instanceof BadInteraction ? `refused interaction: ${e.message}` : `interaction failed: ${(e as Error).message}`);
            return e instanceof BadInteraction; // acked (Slack would retry otherwise), and nothing was sent to Temporal
          },
        })
      : new HTTPReceiver({
          signingSecret: secrets.signingSecret!,
          endpoints: [slack.receiver.path],
          logger,
          // Ack first, work after: the HTTP response leaves as soon as the listener calls ack().
          processBeforeResponse: false,
          processEventErrorHandler: async ({ error, response }) => {
            const e = unwrap(error);
            if (response.headersSent) {
              log(`interaction failed after it was acknowledged: ${(e as Error).message}`);
              return false;
            }
            const status = e instanceof BadInteraction ? 400 : 500;
            log(`${status === 400 ? 'refused' : 'failed'} interaction (${status}): ${(e as Error).message}`);
            response.writeHead(status);
            response.end();
            return true;
          },
        });

  const app = new App({ receiver, token: secrets.botToken, logger, clientOptions });
  // Errors go to the receiver's handler above (status codes), not to Bolt's default logging of them.
  app.error(async (error) => {
    throw error;
  });
  // Lifeboat's app only ever receives its own buttons: anything else is refused before Bolt
  // authorizes or routes it (a throw here reaches the receiver's handler: 400, nothing sent).
  const processEvent = app.processEvent.bind(app);
  app.processEvent = async (event) => {
    parseClick(event.body);
    return processEvent(event);
  };
  app.action(/.*/, async ({ body, ack }) => {
    const { click, user, channel, threadTs } = parseClick(body);
    await ack();
    const text = await answer(click, user);
    await web.chat
      .postEphemeral({ channel, user, text, thread_ts: threadTs })
      .catch((err: Error) => log(`could not tell ${user} the outcome: ${err.message}`));
  });

  // Runs only for a request Bolt has verified (the listener is reached after its signature check).
  async function answer(click: Click, user: string): Promise<string> {
    const by = approverOf(slack, user);
    if (!by) {
      log(`refused a click on ${click.incidentId}: Slack user ${user} is not mapped to an approver`);
      return `You are not mapped to a Lifeboat approver: ask an admin to add your Slack id ${user} to notify.slack.users. Nothing was decided.`;
    }
    const text = await decide(temporal, click, { by, userId: user }, secrets.keyFile, log);
    log(`${click.kind} ${click.name} of ${click.incidentId} by ${by} (${user}): ${text.split(':')[0]}`);
    return text;
  }

  if (slack.receiver.transport === 'socket') {
    await app.start();
    return { transport: 'socket', stop: async () => void (await app.stop()) };
  }
  const port = options.port ?? slack.receiver.port;
  const server = (await app.start({ port, host: options.host ?? slack.receiver.host })) as Server;
  // What was bound (a host name resolved, port 0 turned into the real one), not what was asked for.
  const { address, port: bound } = server.address() as AddressInfo;
  return {
    transport: 'http',
    url: `http://${address.includes(':') ? `[${address}]` : address}:${bound}${slack.receiver.path}`,
    stop: async () => void (await app.stop()),
  };
}
