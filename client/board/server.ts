// `lifeboat board`: the server and its routes, on Hono with @hono/node-server. Read-only: only GET
// routes exist. Pages render from the poller's snapshot; the event stream keeps them current; the
// report pages read the store. Its own Temporal connection counts every call it makes
// (`temporalCalls`), so a test can show that viewers cost Temporal nothing.
import { serve } from '@hono/node-server';
import { Client, Connection, type ConnectionOptions, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { Hono } from 'hono';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { reportKeys } from '../../activities/reports/report.js';
import { Redactor, workerSecrets } from '../../common/redact.js';
import type { LifeboatConfig } from '../../config/config.js';
import { html, trusted } from './html.js';
import { checkExposure, requireToken, securityHeaders } from './access.js';
import { EventHub, type PageRenderer, seenOf } from './hub.js';
import { page } from './pages/layout.js';
import { renderOverview } from './pages/overview.js';
import { linksOf, runHref } from './pages/parts.js';
import { renderReport, renderReportList } from './pages/report.js';
import { type RunPageSettings, renderRun } from './pages/run.js';
import { Poller } from './poller.js';
import type { Snapshot } from './snapshot.js';

export interface BoardOptions {
  config: LifeboatConfig;
  env?: NodeJS.ProcessEnv;
  host?: string;
  /** 0: any free port. */
  port?: number;
  token?: string;
  intervalMs?: number;
  slowIntervalMs?: number;
  /** How many finished runs the overview lists. */
  recent?: number;
  slackWorkspaceUrl?: string;
}

export interface Board {
  url: string;
  poller: Poller;
  hub: EventHub;
  /** Every gRPC call the board made to Temporal. */
  readonly temporalCalls: number;
  stop(): Promise<void>;
}

const STATIC = fileURLToPath(new URL('./static/', import.meta.url));
const assets = {
  'board.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(`${STATIC}board.js`, 'utf8') },
  'board.css': { type: 'text/css; charset=utf-8', body: readFileSync(`${STATIC}board.css`, 'utf8') },
};

const overviewMain: PageRenderer = (s) => renderOverview(s).value;

function app(poller: Poller, hub: EventHub, settings: RunPageSettings, token: string | undefined): Hono {
  // A run not listed (yet) keeps its page live: it fills in once the poller sees the run.
  const runMain =
    (id: string): PageRenderer =>
    (s: Snapshot) => {
      const run = s.runs.find((r) => r.id === id);
      return run ? renderRun(run, s.now, s.reports.includes(id), settings).value : notListed(id).value;
    };
  const live = (path: string) => ({ events: `/events?page=${encodeURIComponent(path)}`, seq: poller.snapshot.seq });
  const hono = new Hono();
  hono.use('*', securityHeaders(), requireToken(token));
  hono.get('/static/:file', (c) => {
    const asset = assets[c.req.param('file') as keyof typeof assets];
    return asset ? c.body(asset.body, 200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' }) : c.notFound();
  });
  hono.get('/favicon.ico', (c) => c.body(null, 204));
  hono.get('/', (c) => c.html(page(trusted(overviewMain(poller.snapshot)!), { title: 'Recoveries', live: live('/') })));
  hono.get('/runs/:id', (c) => {
    const id = c.req.param('id');
    const known = poller.snapshot.runs.some((r) => r.id === id);
    return c.html(page(trusted(runMain(id)(poller.snapshot)!), { title: id, live: live(runHref(id)) }), known ? 200 : 404);
  });
  hono.get('/reports', (c) => c.html(page(renderReportList(poller.snapshot.reports), { title: 'Reports' })));
  hono.get('/reports/:id', async (c) => {
    const id = c.req.param('id');
    try {
      reportKeys(id);
    } catch {
      return c.html(page(notFound(`"${id}" cannot name a report.`), { title: 'Not found' }), 404);
    }
    const files = await poller.targets.reportFiles(id);
    if (!files)
      return c.html(page(notFound(`No report for ${id} in the store yet: it is written when the run ends.`), { title: 'Not found' }), 404);
    return c.html(page(renderReport(id, files.markdown, files.svg), { title: `Report ${id}` }));
  });
  hono.get('/events', (c) => {
    const path = c.req.query('page') ?? '/';
    const run = /^\/runs\/([^/]+)$/.exec(path);
    const render = path === '/' ? overviewMain : run ? runMain(decodeURIComponent(run[1]!)) : undefined;
    if (!render) return c.text('unknown page', 404);
    return hub.stream(c, render, seenOf(c));
  });
  return hono;
}

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];

const notListed = (id: string) =>
  html`<h1>${id}</h1>
    <p>No incident or drill "${id}" is open or recently finished (yet: this page fills in if it starts).</p>
    <p><a href="/">Back to the overview</a></p>`;

const notFound = (text: string) =>
  html`<h1>Not found</h1>
    <p>${text}</p>
    <p><a href="/">Back to the overview</a></p>`;

/** Starts the poller and the server; refuses (ConfigError, exit 2) to listen beyond loopback without a token. */
export async function startBoard(options: BoardOptions): Promise<Board> {
  const { config, host = '127.0.0.1', port = 8080, token } = options;
  const env = options.env ?? process.env;
  checkExposure(host, token);
  let temporalCalls = 0;
  const connection = await Connection.connect({
    address: config.temporal.address,
    connectTimeout: '5s',
    interceptors: [
      // Counts, then hands the call on unchanged (gRPC's own pass-through, typed as the interceptor's result).
      (callOptions, nextCall) => {
        temporalCalls++;
        return nextCall(callOptions) as ReturnType<GrpcInterceptor>;
      },
      makeGrpcRetryInterceptor(defaultGrpcRetryOptions()),
    ],
  });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const poller = new Poller(client, config, env, new Redactor(workerSecrets(config, env)), {
    intervalMs: options.intervalMs ?? 1000,
    slowIntervalMs: options.slowIntervalMs ?? 15_000,
    recent: options.recent ?? 20,
  });
  const hub = new EventHub(poller);
  const settings: RunPageSettings = {
    links: linksOf(config),
    slack: config.notify.slack ? { workspaceUrl: options.slackWorkspaceUrl } : undefined,
  };
  await poller.start();
  const server = serve({ fetch: app(poller, hub, settings, token).fetch, hostname: host, port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  }).catch(async (err: Error) => {
    poller.stop();
    await connection.close();
    throw new Error(`the board cannot listen on ${host}:${port}: ${err.message}`);
  });
  const address = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${address.port}`,
    poller,
    hub,
    get temporalCalls() {
      return temporalCalls;
    },
    async stop() {
      poller.stop();
      // Event streams stay open until their viewers leave: close them with the server.
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
    },
  };
}
