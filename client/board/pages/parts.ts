// Pieces several board pages show the same way: badges, the RTO clock, times and durations (read
// as common/time.ts writes them everywhere else), and the links to the Web UI and reports.
import { recoveryVsTarget } from '../../../activities/reports/drill-markdown.js';
import type { LifeboatConfig } from '../../../config/config.js';
import { rtoSummary } from '../../../common/rto.js';
import { formatDuration, formatTime } from '../../../common/time.js';
import { type SafeHtml, html } from '../html.js';
import { type BoardRun, type RtoView, clockedRun, rtoView } from '../snapshot.js';

export const badge = (run: BoardRun): SafeHtml =>
  run.kind === 'drill' ? html`<span class="badge drill">DRILL</span>` : html`<span class="badge live">LIVE</span>`;

export const when = (iso: string | undefined): SafeHtml =>
  iso ? html`<time datetime="${iso}">${formatTime(iso)}</time>` : html`<span class="muted">—</span>`;

const percent = (share: number) => `${Math.round(share * 100)} %`;

/** The countdown: time left, share used, and the band as a class and as words (colour is never the only signal). */
export function rtoClock(view: RtoView, size: 'small' | 'large'): SafeHtml {
  const left = view.leftMs >= 0 ? `${formatDuration(view.leftMs)} left` : `${formatDuration(-view.leftMs)} past the deadline`;
  const used = Math.min(100, Math.round(view.share * 100));
  return html`<div class="rto rto-${view.band} rto-${size}" data-band="${view.band}">
    <p class="rto-left"><strong>${left}</strong> of RTO ${formatDuration(view.rtoMs)}</p>
    <p class="rto-label">
      <span class="rto-word">${view.label}</span> · ${percent(view.share)} used · deadline
      ${formatTime(new Date(view.deadline).toISOString())}
    </p>
    <div class="meter" role="img" aria-label="${percent(view.share)} of the RTO used">
      <span class="fill w${Math.round(used / 5) * 5}"></span><span class="mark m50"></span><span class="mark m80"></span>
    </div>
  </div>`;
}

/** The clock of an open run, or what stands in for it (a drill before its plan starts). */
export function runClock(run: BoardRun, now: number, size: 'small' | 'large'): SafeHtml {
  const clocked = clockedRun(run);
  if (!clocked)
    return html`<p class="muted">${run.kind === 'drill' ? 'RTO clock starts when the loss has been simulated' : 'status not read yet'}</p>`;
  return rtoClock(rtoView(clocked, now), size);
}

export interface Links {
  uiUrl: string;
  namespace: string;
}

export const linksOf = (config: LifeboatConfig): Links => ({
  uiUrl: config.temporal.uiUrl.replace(/\/+$/, ''),
  namespace: config.temporal.namespace,
});

export const webUi = (links: Links, workflowId: string): string =>
  `${links.uiUrl}/namespaces/${encodeURIComponent(links.namespace)}/workflows/${encodeURIComponent(workflowId)}`;

export const runHref = (id: string) => `/runs/${encodeURIComponent(id)}`;
export const reportHref = (id: string) => `/reports/${encodeURIComponent(id)}`;

/** How a finished run ended, in words. */
export function verdictOf(run: BoardRun): string {
  if (run.kind === 'drill' && run.drill) {
    const d = run.drill.record;
    return `${d.verdict.toUpperCase()} — recovery ${recoveryVsTarget(d.recoveryMs, d.rtoMs)}, RTO ${d.rtoVerdict}`;
  }
  // An incident has its outcome before its workflow ends (it may wait for its review).
  const r = run.result ?? (run.status?.outcome ? { outcome: run.status.outcome, rto: run.status.rto } : undefined);
  if (!r) return run.open ? 'running' : `${run.execution} (no result)`;
  return `${r.outcome}${r.rto ? ` — ${rtoSummary(r.rto, r.outcome)}` : ''}`;
}

export const good = (run: BoardRun): boolean =>
  run.drill ? run.drill.verdict === 'passed' : (run.result?.outcome ?? run.status?.outcome) === 'recovered';

/** The verdict is known: the clock has stopped, though the run may still wait for its review or improvements. */
export const ended = (run: BoardRun): boolean => !run.open || Boolean(run.drill ?? run.status?.outcome);

/** A table cell with a class (the colour of a verdict; its words say it too). */
class Cell {
  constructor(
    readonly content: unknown,
    readonly className: string,
  ) {}
}
export const cell = (content: unknown, className: string): Cell => new Cell(content, className);

const td = (c: unknown): SafeHtml => (c instanceof Cell ? html`<td class="${c.className}">${c.content}</td>` : html`<td>${c}</td>`);

/** A table in a box of its own that scrolls sideways when the screen is narrow (the page never does). */
export function dataTable<T>(headers: string[], items: T[], cells: (item: T) => unknown[], className = ''): SafeHtml {
  return html`<div class="scroll">
    <table class="${className}">
      <thead>
        <tr>
          ${headers.map((h) => html`<th>${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (item) =>
            html`<tr>
              ${cells(item).map(td)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
