// Posts notices into Slack: one thread per run, steps and gates updated in place.
//
// Failure policy: the Web API client retries a failed call (HTTP error, connection refused) up to
// `retries` times with a short backoff; Slack's own "no" (ok:false: invalid_auth, channel_not_found…)
// is final at once. Either way the notifier then throws a non-retryable ApplicationFailure: the
// bounded retries have already happened here, so Temporal must not multiply them, and the workflow
// records the failed notification on its timeline and carries on.
//
// Rate limits: `rejectRateLimitedCalls` is set and 429s are retried here instead, because the
// client's own handling sleeps for whatever Retry-After says (and pauses its queue), which could
// outlast the activity's 30 s start-to-close time-out. Here a 429 is retried only while its wait
// fits the time budget and the same `retries` count.
import { ApplicationFailure } from '@temporalio/common';
import { ErrorCode, LogLevel, type WebAPICallResult, WebClient } from '@slack/web-api';
import type { SlackConfig } from '../../config/config.js';
import { renderNotice } from './blocks.js';
import type { Notice, Notifier, Posted } from './notifier.js';
import { FailureType } from '../../common/errors.js';

export const SLACK_API_URL = 'https://slack.com/api/';

export interface SlackNotifierOptions {
  /** Backoff between retries of failed calls. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Per-request time-out: a hung connection must not eat the activity's time. */
  requestTimeoutMs?: number;
  /** The most a notice may spend waiting out rate limits in total. */
  rateLimitBudgetMs?: number;
}

/** A message reference: "<channel>:<ts>". */
export function parseRef(ref: string): { channel: string; ts: string } {
  const m = /^([A-Z0-9]+):(\d+\.\d+)$/.exec(ref);
  if (!m)
    throw ApplicationFailure.nonRetryable(
      `not a Slack message reference: "${ref}" (expected <channel>:<ts>)`,
      FailureType.slackBadReference,
    );
  return { channel: m[1]!, ts: m[2]! };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SlackNotifier implements Notifier {
  // ES-private: the client holds the token; keep it out of any serialisation or inspection of this object.
  readonly #client: WebClient;
  readonly #token: string;
  readonly #retries: number;
  readonly #budgetMs: number;
  readonly channel: string;

  constructor(config: SlackConfig, token: string, options: SlackNotifierOptions = {}) {
    if (!token) throw new Error('SlackNotifier needs a bot token');
    const apiUrl = config.apiUrl ?? SLACK_API_URL;
    this.channel = config.channel;
    this.#token = token;
    this.#retries = config.retries;
    this.#budgetMs = options.rateLimitBudgetMs ?? 15_000;
    this.#client = new WebClient(token, {
      slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
      // Errors only: every failure also surfaces as the thrown error and on the run's timeline.
      logLevel: LogLevel.ERROR,
      retryConfig: { retries: config.retries, factor: 1.5, minTimeout: options.minRetryMs ?? 200, maxTimeout: options.maxRetryMs ?? 2_000 },
      rejectRateLimitedCalls: true,
      timeout: options.requestTimeoutMs ?? 5_000,
      // Only the configured base URL is ever called.
      allowAbsoluteUrls: false,
    });
  }

  async notify(notice: Notice): Promise<Posted> {
    const { text, blocks } = renderNotice(notice);
    if (notice.replaces) {
      const { channel, ts } = parseRef(notice.replaces);
      await this.call('chat.update', { channel, ts, text, blocks });
      return { ref: notice.replaces };
    }
    // A reply goes to its thread's channel, so a run keeps its thread even if the configuration changes.
    const thread = notice.thread ? parseRef(notice.thread) : undefined;
    const result = (await this.call('chat.postMessage', {
      channel: thread?.channel ?? this.channel,
      thread_ts: thread?.ts,
      text,
      blocks,
      unfurl_links: false,
      unfurl_media: false,
    })) as WebAPICallResult & { channel?: string; ts?: string };
    if (!result.channel || !result.ts)
      throw ApplicationFailure.nonRetryable('Slack chat.postMessage answered without channel and ts', FailureType.slack);
    return { ref: `${result.channel}:${result.ts}` };
  }

  private async call(method: string, args: Record<string, unknown>): Promise<WebAPICallResult> {
    const started = Date.now();
    for (let rateLimited = 0; ; rateLimited++) {
      try {
        return await this.#client.apiCall(method, args);
      } catch (err) {
        const e = err as { code?: string; retryAfter?: number };
        if (e.code === ErrorCode.RateLimitedError && rateLimited < this.#retries) {
          const waitMs = (e.retryAfter ?? 1) * 1000;
          if (Date.now() - started + waitMs <= this.#budgetMs) {
            await sleep(waitMs);
            continue;
          }
        }
        throw this.failure(method, err, e.code === ErrorCode.RateLimitedError ? rateLimited + 1 : this.#retries + 1);
      }
    }
  }

  /** A failure that names the method and Slack's reason, and never the token. */
  private failure(method: string, err: unknown, attempts: number): ApplicationFailure {
    const e = err as { code?: string; message?: string; data?: { error?: string }; retryAfter?: number; statusCode?: number };
    const reason =
      e.code === ErrorCode.PlatformError
        ? `Slack refused: ${e.data?.error ?? 'unknown error'}`
        : e.code === ErrorCode.RateLimitedError
          ? `rate limited (retry after ${e.retryAfter} s)`
          : e.code === ErrorCode.HTTPError
            ? `HTTP ${e.statusCode}`
            : e.code === ErrorCode.RequestError
              ? `unreachable (${e.message?.replace(/^A request error occurred: /, '')})`
              : (e.message ?? String(err));
    const tried = e.code === ErrorCode.PlatformError ? '' : ` after ${attempts} attempt(s)`;
    const message = `Slack ${method} failed${tried}: ${reason}`.replaceAll(this.#token, '[token]');
    return ApplicationFailure.create({ message, type: FailureType.slack, nonRetryable: true });
  }
}
