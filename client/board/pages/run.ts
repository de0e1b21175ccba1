// A run's page: the RTO clock, the RPO, who it waits for, what runs now, the steps (as a table and
// as the report's timeline picture drawn from the live timeline), verification, decisions, links.
import { renderTimelineSvg } from '../../../activities/reports/timeline-svg.js';
import type { StepRecord } from '../../../common/plans.js';
import { formatDuration } from '../../../common/time.js';
import { type StatusJson, statusJson } from '../../status-json.js';
import { type SafeHtml, html, inlineSvg, trusted } from '../html.js';
import { type BoardRun, currentStep } from '../snapshot.js';
import { type Links, badge, cell, dataTable, ended, reportHref, runClock, verdictOf, webUi, when } from './parts.js';
import { decisionsPanel, progressPanel, rpoPanel, slackLink, verificationPanel, waitingPanel } from './run-panels.js';

export interface RunPageSettings {
  links: Links;
  /** The Slack workspace's address (https://acme.slack.com), for links to a run's thread; absent: Slack not configured. */
  slack?: { workspaceUrl?: string };
}

/** The picture of the live timeline, as the report will draw it (without the XML prologue, to sit inside the page). */
function timeline(run: BoardRun, now: number): SafeHtml {
  const status = run.status!;
  const steps: StepRecord[] = [...status.timeline, ...(run.plan?.timeline ?? [])].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const svg = renderTimelineSvg({
    title: `${status.context.level} ${run.kind} ${run.id}: ${status.context.summary}`,
    kind: run.kind,
    context: { ...status.context, declaredAt: run.plan?.context.declaredAt ?? status.context.declaredAt },
    generatedAt: new Date(now).toISOString(),
    result: { timeline: steps, rto: run.result?.rto ?? status.rto, outcome: run.result?.outcome ?? status.outcome },
  });
  return trusted(`<div class="timeline">${inlineSvg(svg)}</div>`);
}

function stepsTable(status: StatusJson, now: number): SafeHtml {
  return dataTable(
    ['Step', 'Status', 'Started', 'Took', 'By', 'Detail'],
    status.timeline,
    (s) => [
      html`${s.run === 'plan' ? html`<span class="muted">plan ·</span> ` : ''}${s.name} <span class="muted">(${s.kind})</span>`,
      html`<span class="status s-${s.status}">${s.status}</span>`,
      when(s.startedAt),
      s.tookMs !== null ? formatDuration(s.tookMs) : `${formatDuration(Math.max(0, now - Date.parse(s.startedAt)))} so far`,
      s.by ?? '',
      cell(s.detail ?? '', 'detail'),
    ],
    'steps',
  );
}

export function renderRun(run: BoardRun, now: number, hasReport: boolean, settings: RunPageSettings): SafeHtml {
  const links = html`<p class="links">
    <a href="${webUi(settings.links, run.id)}" rel="noopener noreferrer">Temporal Web UI</a>${
      run.status?.childWorkflowId
        ? html` · <a href="${webUi(settings.links, run.status.childWorkflowId)}" rel="noopener noreferrer">its plan in the Web UI</a>`
        : ''
    }${hasReport ? html` · <a href="${reportHref(run.id)}">Report</a>` : html` · <span class="muted">report: written when the run ends</span>`}
  </p>`;
  if (!run.status)
    return html`<h1>${badge(run)} ${run.id}</h1>
      <p>${run.open ? 'Its status cannot be read yet (no worker, or it has just started).' : verdictOf(run)}</p>
      ${links}`;
  const status = statusJson({ incident: run.status, plan: run.plan, result: run.result }, now);
  const c = status.context;
  const slack = settings.slack ? slackLink(run.status.context.thread, settings.slack.workspaceUrl) : undefined;
  return html`<h1>${badge(run)} <span class="level">${c.level}</span> ${run.id}</h1>
    <p class="summary">${c.summary}</p>
    <p>
      Target <strong>${c.target}</strong> · declared by ${c.declaredBy} at ${when(c.declaredAt)} ·
      ${run.open ? html`current step: <strong>${currentStep(run) ?? '—'}</strong>` : html`ended ${when(run.closedAt)}`}
    </p>
    ${links}
    <div class="grid">
      <section aria-labelledby="rto">
        <h2 id="rto">RTO clock</h2>
        ${ended(run) ? html`<p class="verdict">${verdictOf(run)}</p>` : runClock(run, now, 'large')}
      </section>
      <section aria-labelledby="rpo">
        <h2 id="rpo">RPO</h2>
        ${rpoPanel(status, run)}
      </section>
    </div>
    <section aria-labelledby="waits">
      <h2 id="waits">Who it waits for</h2>
      ${waitingPanel(status, now, slack)}
    </section>
    <section aria-labelledby="progress">
      <h2 id="progress">Running now</h2>
      ${progressPanel(run, now)}
    </section>
    <section aria-labelledby="steps">
      <h2 id="steps">Steps</h2>
      ${timeline(run, now)}${stepsTable(status, now)}
    </section>
    <section aria-labelledby="verification">
      <h2 id="verification">Verification</h2>
      ${verificationPanel(status, run)}
    </section>
    <section aria-labelledby="decisions">
      <h2 id="decisions">Decisions</h2>
      ${decisionsPanel(status)}
    </section>`;
}
