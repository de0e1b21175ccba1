// The overview: every open incident and drill with its clock and what it waits for, the recent
// finished runs with their verdicts, and per target the newest verified backup, the next scheduled
// work and the drill history.
import { formatDuration } from '../../../common/time.js';
import { type SafeHtml, html } from '../html.js';
import { type BoardRun, type Snapshot, type TargetView, currentStep, waitingOf } from '../snapshot.js';
import { drillChart } from './drill-chart.js';
import { badge, cell, dataTable, ended, good, reportHref, runClock, runHref, verdictOf, when } from './parts.js';

function waitingLine(run: BoardRun): SafeHtml | string {
  const waiting = waitingOf(run);
  if (!waiting.length) return '';
  return html`<p class="waits">
    Waits for
    ${waiting.map((w, i) =>
      w.kind === 'approval'
        ? html`${i ? '; ' : ''}approval of <strong>${w.name}</strong> (${w.approvedBy.length} of ${w.required})`
        : html`${i ? '; ' : ''}task <strong>${w.name}</strong>`,
    )}
  </p>`;
}

function openCard(run: BoardRun, now: number): SafeHtml {
  const context = run.status?.context;
  return html`<li class="card">
    <h3>${badge(run)} <a href="${runHref(run.id)}">${run.id}</a> <span class="level">${context?.level ?? run.level ?? '?'}</span></h3>
    <p>
      ${context ? html`target <strong>${context.target}</strong> — ${context.summary}` : html`<span class="muted">status not read yet</span>`}
    </p>
    <p>Current step: <strong>${currentStep(run) ?? '—'}</strong></p>
    ${ended(run) ? html`<p class="verdict ${good(run) ? 'ok' : 'bad'}"><span class="word">${good(run) ? '✔ ' : '✖ '}</span>${verdictOf(run)}</p>` : runClock(run, now, 'small')}
    ${waitingLine(run)}
  </li>`;
}

function finishedCells(run: BoardRun, reports: Set<string>): unknown[] {
  return [
    html`${badge(run)} <a href="${runHref(run.id)}">${run.id}</a>`,
    run.status?.context.level ?? run.level ?? '?',
    when(run.closedAt),
    cell(html`<span class="word">${good(run) ? '✔ ' : '✖ '}</span>${verdictOf(run)}`, good(run) ? 'ok' : 'bad'),
    reports.has(run.id) ? html`<a href="${reportHref(run.id)}">report</a>` : html`<span class="muted">none yet</span>`,
  ];
}

function targetSection(t: TargetView, now: number): SafeHtml {
  const b = t.newestVerified;
  const age = b ? now - Date.parse(b.startedAt) : undefined;
  const fresh = age !== undefined && age <= t.maxAgeMs;
  return html`<section class="target" aria-labelledby="target-${t.name}">
    <h3 id="target-${t.name}">Target ${t.name} <span class="muted">(store ${t.store})</span></h3>
    ${t.storeProblem ? html`<p class="bad">${t.storeProblem}</p>` : ''}
    <dl class="facts">
      <dt>Newest verified backup</dt>
      <dd>
        ${
          b
            ? html`<code>${b.id}</code> taken ${when(b.startedAt)} —
                <span class="${fresh ? 'ok' : 'bad'}"
                  ><span class="word">${fresh ? 'fresh' : 'STALE'}</span>: ${formatDuration(age!)} old, limit
                  ${formatDuration(t.maxAgeMs)}</span
                >`
            : html`<span class="bad"><span class="word">none</span>: no backup has passed verification</span>`
        }
      </dd>
      <dt>Next backup</dt>
      <dd>${t.next.backup ? when(t.next.backup) : html`<span class="muted">not scheduled (lifeboat schedule apply)</span>`}</dd>
      <dt>Next verification</dt>
      <dd>${t.next.verify ? when(t.next.verify) : html`<span class="muted">not scheduled</span>`}</dd>
      <dt>Next drill</dt>
      <dd>${t.next.drill ? when(t.next.drill) : html`<span class="muted">not scheduled (lifeboat drill schedule)</span>`}</dd>
    </dl>
    <h4>Drill history</h4>
    ${drillChart(t.name, t.drills)}
  </section>`;
}

export function renderOverview(snapshot: Snapshot): SafeHtml {
  const open = snapshot.runs.filter((r) => r.open);
  const finished = snapshot.runs.filter((r) => !r.open);
  const reports = new Set(snapshot.reports);
  return html`<h1>Recoveries</h1>
    <p class="muted">As of ${when(new Date(snapshot.now).toISOString())}</p>
    ${
      snapshot.problems.length
        ? html`<ul class="problems">
            ${snapshot.problems.map((p) => html`<li>${p}</li>`)}
          </ul>`
        : ''
    }
    <section aria-labelledby="open-runs">
      <h2 id="open-runs">Open incidents and drills (${open.length})</h2>
      ${
        open.length
          ? html`<ul class="cards">
              ${open.map((r) => openCard(r, snapshot.now))}
            </ul>`
          : html`<p>No incident or drill is running.</p>`
      }
    </section>
    <section aria-labelledby="finished-runs">
      <h2 id="finished-runs">Recently finished</h2>
      ${
        finished.length
          ? dataTable(['Run', 'Level', 'Ended', 'Verdict', 'Report'], finished, (r) => finishedCells(r, reports))
          : html`<p class="muted">None yet.</p>`
      }
    </section>
    <section aria-labelledby="targets">
      <h2 id="targets">Backups and schedules</h2>
      ${snapshot.targets.map((t) => targetSection(t, snapshot.now))}
    </section>`;
}
