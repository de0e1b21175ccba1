// The live incident board in a real browser (Debian's Chromium driven by playwright-core) against
// the suite's real stack and a real worker: an L4 incident appears on the overview, its page shows
// the gate with its approvers, "1 of 2" after one approval arrives by server-sent events, the card
// goes and the step is done after the second; its report opens with its picture; a summary holding
// markup stays text; a clock declared long ago shows the 80 % band; a phone-wide page does not
// scroll sideways; twenty viewers cost Temporal what one does; and the safety defaults hold.
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { type Board, startBoard } from '../client/board/server.js';
import { newDrillId } from '../client/drill.js';
import { abort, incidentInput } from '../client/incidents.js';
import type { LifeboatConfig } from '../config/config.js';
import type { Level, PlanOptions } from '../common/plans.js';
import {
  type TestDatabase,
  type TestWorker,
  answer,
  as,
  backupAndVerify,
  createCrmDatabase,
  driveIncident,
  runLifeboat,
  runResultOf,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  waitingNames,
} from './helpers.js';
import { L4_PEOPLE } from './people.js';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
/** Markup in a summary: were it ever run, it would set the page-level flag. */
const HOSTILE = `disk full <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;

declare global {
  interface Window {
    __pwned?: number;
    __violations: string[];
  }
}

describe('the live incident board', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let board: Board;
  let browser: Browser;
  const logDir = inject('logDir');

  beforeAll(async () => {
    db = await createCrmDatabase(200);
    config = testConfig({
      prefix: uniqueName('board'),
      extra: `approvals:
  L1: { approvers: [alice, bob] }
  L4: { approvers: [alice, bob, dana], gates: { accept-data-loss: [bob, dana] } }
drill:
  level: L1`,
    });
    worker = await startTestWorker(config, testEnv(db));
    await backupAndVerify(worker);
    board = await startBoard({ config, env: testEnv(db), port: 0, intervalMs: 300, slowIntervalMs: 2_000 });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await board?.stop();
    await worker?.stop();
    await db?.drop();
  });

  async function declare(level: Level, summary: string, options: PlanOptions = {}, declaredAt?: string): Promise<string> {
    const input = incidentInput({ target: 'crm', summary, declaredBy: 'carol', level, options, declaredAt });
    await worker.client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    return input.incidentId;
  }

  /** A page that records every Content-Security-Policy violation, and sets the flag markup would set if it ran. */
  async function newPage(width = 1280): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective}: ${e.blockedURI}`));
    });
    return page;
  }

  /** Nothing injected ran, nothing broke the policy, and no secret of the stack is on the page. */
  const cleanPage = async (page: Page) => {
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
    const content = await page.content();
    expect(content).not.toContain(inject('s3SecretAccessKey'));
    expect(content).not.toContain(db.url);
    expect(await page.evaluate(() => window.__violations)).toEqual([]);
  };

  it('refuses to listen beyond loopback without a token, and says how to put it behind a proxy', async () => {
    await expect(startBoard({ config, host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /no access token.*--token.*authenticating reverse proxy/,
    );
    const cli = await runLifeboat(['board', '--host', '0.0.0.0', '--port', '0'], { ...process.env, LIFEBOAT_BOARD_TOKEN: '' });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/would listen on 0\.0\.0\.0 with no access token.*authenticating reverse proxy/);
  });

  it('asks every request for its token when it has one, and sends a strict Content-Security-Policy', async () => {
    const token = 'a'.repeat(32);
    const guarded = await startBoard({ config, env: testEnv(db), port: 0, token, slowIntervalMs: 3_600_000 });
    try {
      expect((await fetch(`${guarded.url}/`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/`, { headers: { authorization: `Bearer ${'b'.repeat(32)}` } })).status).toBe(401);
      expect((await fetch(`${guarded.url}/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      const once = await fetch(`${guarded.url}/?token=${token}`, { redirect: 'manual' });
      expect(once.status).toBe(303);
      expect(once.headers.get('location')).toBe('/');
      const cookie = once.headers.get('set-cookie')!;
      expect(cookie).toMatch(/HttpOnly/);
      expect((await fetch(`${guarded.url}/`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
    } finally {
      await guarded.stop();
    }
    const response = await fetch(`${board.url}/`);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    // Read-only: nothing but GET is routed.
    expect((await fetch(`${board.url}/`, { method: 'POST' })).status).toBe(404);
  });

  it('follows an L4 from the overview through its two-person gate to its report, live and escaped', async () => {
    const id = await declare('L4', HOSTILE);
    const overview = await newPage();
    await overview.goto(`${board.url}/`);
    const card = overview.locator('.cards .card', { hasText: id });
    // It appears, and once its status is read, with its summary as text.
    await expect.poll(() => card.textContent({ timeout: 1_000 }).catch(() => ''), { timeout: 30_000 }).toContain(HOSTILE);
    expect(await card.locator('.badge').textContent()).toBe('LIVE');
    await cleanPage(overview);

    const page = await newPage();
    const result = await driveIncident(worker.client, id, {
      ...L4_PEOPLE,
      'accept-data-loss': {
        act: async (plan) => {
          await page.goto(`${board.url}/runs/${id}`);
          const gate = page.locator('[data-item="accept-data-loss"]');
          await expect.poll(() => gate.count(), { timeout: 30_000 }).toBe(1);
          expect(await gate.locator('.people').textContent()).toBe('bob, dana');
          expect(await gate.locator('.count').textContent()).toBe('0 of 2');
          expect(await gate.textContent()).toContain(`lifeboat approve ${id} --gate accept-data-loss --as <you>`);
          await overview.screenshot({ path: join(logDir, 'board-overview.png'), fullPage: true });
          await page.screenshot({ path: join(logDir, 'board-run-waiting.png'), fullPage: true });

          await answer(plan, 'approve', { gate: 'accept-data-loss', by: 'bob' });
          // No reload: the page hears of it by its event stream.
          await expect.poll(() => gate.locator('.count').textContent(), { timeout: 15_000 }).toBe('1 of 2');
          expect(await gate.textContent()).toContain('approved so far by bob');
          expect(await gate.locator('.people').textContent()).toBe('dana');
          await page.screenshot({ path: join(logDir, 'board-run-one-of-two.png'), fullPage: true });

          await answer(plan, 'approve', { gate: 'accept-data-loss', by: 'dana' });
          await expect.poll(() => gate.count(), { timeout: 15_000 }).toBe(0);
          const step = page.locator('table.steps tr', { hasText: 'accept-data-loss' });
          await expect.poll(() => step.locator('.status').textContent(), { timeout: 15_000 }).toBe('done');
          expect(await page.locator('#decisions + .scroll').textContent()).toMatch(/accept-data-loss.*approve.*bob/s);
          await cleanPage(page);
        },
      },
    });
    expect(result.outcome).toBe('recovered');
    const restored = /^(\S+):/.exec(result.timeline.find((s) => s.name === 'restore into a new database')!.detail!)![1]!;
    await withClient(inject('pgAdminUrl'), (c) => c.query(`DROP DATABASE ${restored} WITH (FORCE)`));

    // Finished: the overview lists its verdict and its report, which opens with its picture.
    const row = overview.locator('tr', { hasText: id });
    await expect.poll(() => row.locator('a', { hasText: 'report' }).count(), { timeout: 30_000 }).toBe(1);
    expect(await row.textContent()).toContain('recovered');
    await overview.goto(`${board.url}/reports`);
    await overview.locator(`a[href="/reports/${id}"]`).click();
    await overview.waitForURL(`${board.url}/reports/${id}`);
    expect(await overview.locator('.report h1').textContent()).toContain(HOSTILE);
    expect(await overview.locator('.report .timeline svg title').first().textContent()).toContain(`Timeline of L4 incident ${id}`);
    expect(await overview.locator('.report .timeline svg rect.bar').count()).toBe(result.timeline.length);
    await overview.screenshot({ path: join(logDir, 'board-report.png'), fullPage: true });
    await cleanPage(overview);
    await Promise.all([overview.close(), page.close()]);
  });

  it('shows a drill as DRILL, then its verdict while its improvements task is open, then on the drill chart', async () => {
    const drillId = newDrillId();
    const handle = await worker.client.workflow.start('drillWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: drillId,
      args: [{ drillId, target: 'crm', level: 'L1', scenario: {}, requestedBy: 'carol' }],
    });
    const page = await newPage();
    await page.goto(`${board.url}/`);
    const card = page.locator('.cards .card', { hasText: drillId });
    const text = (locator: ReturnType<Page['locator']>) => locator.textContent({ timeout: 1_000 }).catch(() => '');
    await expect.poll(() => text(card.locator('.badge')), { timeout: 30_000 }).toBe('DRILL');
    await expect.poll(() => text(card.locator('.verdict')), { timeout: 120_000 }).toMatch(/PASSED — recovery .* of 1 h/);
    expect(await text(card.locator('.waits'))).toContain('task improvements');
    await answer(handle, 'complete', { task: 'improvements', by: 'carol', note: 'nothing to improve' });
    await expect.poll(() => page.locator('figure.chart rect.bar-ok title', { hasText: drillId }).count(), { timeout: 60_000 }).toBe(1);
    expect(await page.locator('tr', { hasText: drillId }).textContent()).toContain('PASSED');
    await cleanPage(page);
    await page.close();
  });

  it('shows a clock declared long ago in its 80 % band, in words too, on a phone without sideways scrolling', async () => {
    // 85 % of L1's one-hour RTO already gone when it is declared.
    const declaredAt = new Date(Date.now() - 0.85 * 3_600_000).toISOString();
    const record = { table: 'crm_leads', keys: ['3', '4'], includeChildren: true, goodBefore: new Date().toISOString() };
    const id = await declare('L1', 'two leads deleted', { record }, declaredAt);
    try {
      const phone = await newPage(390);
      await phone.goto(`${board.url}/runs/${id}`);
      const clock = phone.locator('.rto-large');
      await expect.poll(() => clock.count(), { timeout: 30_000 }).toBe(1);
      expect(await clock.getAttribute('class')).toContain('rto-critical');
      expect(await clock.locator('.rto-word').textContent()).toBe('critical: over 80 % used');
      expect(await clock.textContent()).toMatch(/8[5-9] % used/);
      await expect.poll(() => waitingNames(worker.client.workflow.getHandle(`${id}-L1`)), { timeout: 120_000 }).toContain('apply-restore');
      await expect.poll(() => phone.locator('[data-item="apply-restore"]').count(), { timeout: 15_000 }).toBe(1);
      const noSidewaysScroll = () => phone.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
      expect(await noSidewaysScroll()).toBe(true);
      await phone.screenshot({ path: join(logDir, 'board-run-phone.png'), fullPage: true });
      await phone.goto(`${board.url}/`);
      expect(await phone.locator('.card', { hasText: id }).locator('.rto').getAttribute('class')).toContain('rto-critical');
      expect(await noSidewaysScroll()).toBe(true);
      await phone.screenshot({ path: join(logDir, 'board-overview-phone.png'), fullPage: true });
      // Keyboard: the skip link is the first stop and leads to the content.
      await phone.keyboard.press('Tab');
      expect(await phone.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
      await cleanPage(phone);
      await phone.close();
    } finally {
      await abort(worker.client, id, { ...as('carol'), reason: 'test over' });
      await runResultOf(worker.client.workflow.getHandle(id)).catch(() => undefined);
    }
  });

  it('costs Temporal the same for twenty viewers as for one, and resumes a stream from its Last-Event-ID', async () => {
    const id = await declare('L1', 'one lead deleted', {
      record: { table: 'crm_leads', keys: ['5'], goodBefore: new Date().toISOString() },
    });
    await expect.poll(() => waitingNames(worker.client.workflow.getHandle(`${id}-L1`)), { timeout: 120_000 }).toContain('apply-restore');
    // A board of its own whose store and schedules are read once, so every poll makes the same calls.
    const counted = await startBoard({ config, env: testEnv(db), port: 0, intervalMs: 200, slowIntervalMs: 3_600_000 });
    const streams: AbortController[] = [];
    const watch = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const stop = new AbortController();
        streams.push(stop);
        const response = await fetch(`${counted.url}/events?page=${encodeURIComponent(`/runs/${id}`)}`, { signal: stop.signal });
        // Each viewer gets the page at once (it saw no snapshot yet).
        const first = new TextDecoder().decode((await response.body!.getReader().read()).value);
        expect(first).toMatch(/^event: update\n/);
      }
    };
    /** Temporal calls of each of `polls` whole polls, counted between snapshots (viewers never call Temporal). */
    const callsPerPoll = (polls: number) =>
      new Promise<number[]>((resolve) => {
        const deltas: number[] = [];
        let last = counted.temporalCalls;
        const off = counted.poller.onSnapshot(() => {
          deltas.push(counted.temporalCalls - last);
          last = counted.temporalCalls;
          if (deltas.length > polls) {
            off();
            resolve(deltas.slice(1));
          }
        });
      });
    try {
      await watch(1);
      const one = await callsPerPoll(5);
      await watch(19);
      expect(counted.hub.viewers).toBe(20);
      const twenty = await callsPerPoll(5);
      expect(one[0]).toBeGreaterThan(0);
      expect(twenty).toEqual(one);

      // A viewer that reconnects with an older id gets the current state at once, with the current id.
      const seq = counted.poller.snapshot.seq;
      const stop = new AbortController();
      streams.push(stop);
      const again = await fetch(`${counted.url}/events?page=/`, { headers: { 'last-event-id': String(seq - 3) }, signal: stop.signal });
      const message = new TextDecoder().decode((await again.body!.getReader().read()).value);
      expect(Number(/\nid: (\d+)/.exec(message)![1])).toBeGreaterThanOrEqual(seq);
      expect(message).toContain(id);
    } finally {
      for (const s of streams) s.abort();
      await counted.stop();
      await abort(worker.client, id, { ...as('carol'), reason: 'test over' });
      await runResultOf(worker.client.workflow.getHandle(id)).catch(() => undefined);
    }
  });
});
