// The board's pure pieces: escaping, the report's Markdown (raw HTML and script links stay text),
// the RTO bands, and which addresses count as loopback.
import { describe, expect, it } from 'vitest';
import { checkExposure, isLoopback } from '../client/board/access.js';
import { html } from '../client/board/html.js';
import { renderReport } from '../client/board/pages/report.js';
import { rtoView } from '../client/board/snapshot.js';
import type { RunStatus } from '../common/plans.js';

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
});
