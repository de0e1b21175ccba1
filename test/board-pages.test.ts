// The board's pure pieces: escaping, the report's Markdown (raw HTML and script links stay text),
// the RTO bands, and which addresses count as loopback.
import { describe, expect, it } from 'vitest';
import { checkExposure, isLoopback } from '../client/board/access.js';
import { html } from '../client/board/html.js';
import { renderReport } from '../client/board/pages/report.js';
import { progressPanel, slackLink } from '../client/board/pages/run-panels.js';
import { type BoardRun, rtoView } from '../client/board/snapshot.js';
import type { RunStatus } from '../common/plans.js';

/** Markup's runs of white space read as one space in a browser. */
const oneLine = (markup: string) => markup.replace(/\s+/g, ' ');

describe('the board pages', () => {
  it('escapes every interpolated text, and keeps its own markup', () => {
    const name = `<script>alert("x")</script>&'`;
    expect(html`<p title="${name}">${name}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>',
    );
    expect(
      html`<ul>
        ${['a<', 'b'].map((x) => html`<li>${x}</li>`)}
      </ul>`.value,
    ).toMatch(/^<ul>\s*<li>a&lt;<\/li><li>b<\/li>\s*<\/ul>$/);
  });

  it("renders a report's Markdown with raw HTML and unsafe links as text, and its picture inline", () => {
    const markdown = [
      '# L1 incident inc-1: <script>window.x = 1</script>',
      '',
      '<img src=x onerror="alert(1)">',
      '',
      '[run me](javascript:alert(1)) and [the docs](https://example.com/a)',
      '',
      '![timeline](timeline.svg)',
    ].join('\n');
    const svg = '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"><title>Timeline of inc-1</title></svg>';
    const page = renderReport('inc-1', markdown, svg).value;
    expect(page).toContain('&lt;script&gt;window.x = 1&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(page).not.toMatch(/<script|<img|javascript:/);
    expect(page).toContain('<a href="https://example.com/a" rel="noopener noreferrer">the docs</a>');
    expect(page).toContain('<svg xmlns="http://www.w3.org/2000/svg"><title>Timeline of inc-1</title></svg>');
    expect(page).not.toContain('<?xml');
  });

  it('puts the RTO clock in its band at 50 %, 80 % and the breach, counting from the declaration', () => {
    const declaredAt = '2026-11-30T10:00:00.000Z';
    const status = { context: { declaredAt, rtoMs: 3_600_000 } } as RunStatus;
    const at = (minutes: number) => rtoView(status, Date.parse(declaredAt) + minutes * 60_000);
    expect([at(10), at(30), at(48), at(60)].map((v) => [v.band, v.label])).toEqual([
      ['ok', 'on track'],
      ['warning', 'warning: over 50 % used'],
      ['critical', 'critical: over 80 % used'],
      ['breached', 'RTO breached'],
    ]);
    expect(at(48)).toMatchObject({ leftMs: 12 * 60_000, share: 0.8 });
  });

  it('listens beyond loopback only with a token long enough', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.5', '::', 'board.example.com'].some(isLoopback)).toBe(false);
    expect(() => checkExposure('127.0.0.1', undefined)).not.toThrow();
    expect(() => checkExposure('0.0.0.0', undefined)).toThrow(/authenticating reverse proxy/);
    expect(() => checkExposure('0.0.0.0', 'short')).toThrow(/at least 16 characters/);
    expect(() => checkExposure('0.0.0.0', 'x'.repeat(32))).not.toThrow();
  });

  it("shows the running step's heartbeat with its rate, and flags it when stale", () => {
    const run = (progress: BoardRun['progress']): BoardRun => ({
      id: 'inc-1',
      kind: 'incident',
      open: true,
      execution: 'running',
      startedAt: '',
      progress,
    });
    const now = Date.parse('2026-11-30T10:01:00Z');
    const beat = {
      activity: 'restoreDatabase',
      attempt: 1,
      phase: 'restoring',
      bytes: 3 * 1024 * 1024,
      rate: 512 * 1024,
      waitingForWorker: false,
    };
    const fresh = oneLine(progressPanel(run({ ...beat, lastHeartbeatAt: '2026-11-30T10:00:58Z', stale: false }), now).value);
    expect(fresh).toMatch(/restoring[\s\S]*3\.0 MiB[\s\S]*512\.0 KiB\/s[\s\S]*2 s ago/);
    expect(fresh).not.toContain('STALE');
    const stale = oneLine(progressPanel(run({ ...beat, lastHeartbeatAt: '2026-11-30T10:00:00Z', stale: true }), now).value);
    expect(stale).toMatch(/1 min ago[\s\S]*STALE<\/span>: its worker may be gone/);
    expect(progressPanel(run({ ...beat, waitingForWorker: true, stale: false }), now).value).toContain('waiting for a worker');
  });

  it("links to a run's Slack thread, or to its channel without the workspace's address", () => {
    expect(slackLink('C0123INCIDENTS:1700000000.123456', 'https://acme.slack.com/')).toBe(
      'https://acme.slack.com/archives/C0123INCIDENTS/p1700000000123456',
    );
    expect(slackLink('C0123INCIDENTS:1700000000.123456', undefined)).toBe('https://slack.com/app_redirect?channel=C0123INCIDENTS');
    expect(slackLink(undefined, 'https://acme.slack.com')).toBeUndefined();
    expect(slackLink('console:thread-1', 'https://acme.slack.com')).toBeUndefined();
  });
});
