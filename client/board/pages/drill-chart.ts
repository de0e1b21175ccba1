// The drill history as a small picture: one bar per drill, its recovery time as a share of the
// RTO it was held to, grouped by quarter, with the RTO line at 100 %. Inline SVG drawn here from
// the drills' records; every bar also carries its numbers as text (<title>, and the table beside).
import type { TrendRow } from '../../../common/drills.js';
import { formatDuration } from '../../../common/time.js';
import { type SafeHtml, html } from '../html.js';

const WIDTH = 360;
const HEIGHT = 150;
const LEFT = 34;
const TOP = 14;
const BOTTOM = 118;

export function drillChart(target: string, drills: TrendRow[]): SafeHtml {
  if (!drills.length) return html`<p class="muted">No drills of ${target} yet.</p>`;
  const shown = drills.slice(-12);
  const top = Math.max(1.2, ...shown.map((d) => (d.recoveryMs ?? 0) / d.rtoMs));
  // A recovery of seconds against an hour still shows as a sliver, never as nothing.
  const y = (share: number) => Math.min(BOTTOM - 2, BOTTOM - (share / top) * (BOTTOM - TOP));
  const slot = Math.min(40, (WIDTH - LEFT - 8) / shown.length);
  const bars = shown.map((d, i) => {
    const share = d.recoveryMs === undefined ? 0 : d.recoveryMs / d.rtoMs;
    const x = LEFT + i * slot + slot * 0.2;
    const text = `${d.quarter} ${d.level} ${d.drillId}: ${d.recoveryMs === undefined ? 'not measured' : `${formatDuration(d.recoveryMs)} of ${formatDuration(d.rtoMs)}`} — ${d.verdict}`;
    const cls = d.verdict === 'passed' && share <= 1 ? 'bar-ok' : 'bar-bad';
    const firstOfQuarter = i === 0 || shown[i - 1]!.quarter !== d.quarter;
    return html`<rect
        class="${cls}"
        x="${x.toFixed(1)}"
        y="${y(share).toFixed(1)}"
        width="${(slot * 0.6).toFixed(1)}"
        height="${(BOTTOM - y(share)).toFixed(1)}"
        ><title>${text}</title></rect
      >${firstOfQuarter ? html`<text x="${x.toFixed(1)}" y="${BOTTOM + 14}" class="axis">${d.quarter}</text>` : ''}`;
  });
  return html`<figure class="chart">
    <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Recovery time of each drill of ${target} against its RTO, by quarter">
      <line class="grid" x1="${LEFT}" y1="${BOTTOM}" x2="${WIDTH - 4}" y2="${BOTTOM}" />
      <line class="rto-line" x1="${LEFT}" y1="${y(1).toFixed(1)}" x2="${WIDTH - 4}" y2="${y(1).toFixed(1)}" />
      <text class="axis" x="2" y="${(y(1) + 4).toFixed(1)}">RTO</text>
      <text class="axis" x="2" y="${BOTTOM + 4}">0</text>
      ${bars}
    </svg>
    <figcaption>Recovery time per drill as a share of its RTO (line: 100 %), by quarter; red: over the RTO or failed.</figcaption>
  </figure>`;
}
