// The panels of a run's page that answer "who are we waiting for" and "what is it doing": open
// gates and tasks with who may answer and the exact command, the running step's heartbeat, the
// RPO, verification results and the decisions so far.
import { parseRef } from '../../../activities/notify/slack.js';
import { formatDuration } from '../../../common/time.js';
import { bytes } from '../../../common/sizes.js';
import type { StatusJson } from '../../status-json.js';
import { type SafeHtml, html } from '../html.js';
import { type ActivityProgress, type BoardRun, waitingOf } from '../snapshot.js';
import { cell, dataTable, when } from './parts.js';

/** Where a run's Slack thread is: its message with a workspace address, else the channel (Slack's redirect). */
export function slackLink(thread: string | undefined, workspaceUrl: string | undefined): string | undefined {
  if (!thread) return undefined;
  try {
    const { channel, ts } = parseRef(thread);
    return workspaceUrl
      ? `${workspaceUrl.replace(/\/+$/, '')}/archives/${channel}/p${ts.replace('.', '')}`
      : `https://slack.com/app_redirect?channel=${channel}`;
  } catch {
    return undefined;
  }
}

export function waitingPanel(status: StatusJson, now: number, slack: string | undefined): SafeHtml {
  if (!status.waiting.length) return html`<p>Nothing waits for a person now.</p>`;
  return html`<ul class="cards">
    ${status.waiting.map((w) => {
      const approval = w.kind === 'approval';
      const more = approval ? w.required! - w.approvedBy.length : 0;
      return html`<li class="card waiting" data-item="${w.name}">
        <h3>${approval ? 'Approval' : 'Task'} <code>${w.name}</code></h3>
        <p>${w.prompt}</p>
        ${
          approval
            ? html`<p class="votes">
                  <strong class="count">${w.approvedBy.length} of ${w.required}</strong>
                  approvals${more > 0 ? html` — needs ${more} more` : ''}${
                    w.approvedBy.length ? html`; approved so far by ${w.approvedBy.join(', ')}` : ''
                  }
                </p>
                <p>
                  Who may answer:
                  ${w.allowed?.length ? html`<span class="people">${w.allowed.join(', ')}</span>` : html`<span class="bad">nobody left who may approve</span>`}
                </p>`
            : html`<p>Who may answer: anyone enrolled under <code>people</code></p>`
        }
        ${
          w.changes.length
            ? html`<p>What it will change:</p>
                <ul>
                  ${w.changes.map((c) => html`<li>${c}</li>`)}
                </ul>`
            : ''
        }
        <p>
          Waiting for ${formatDuration(Math.max(0, now - Date.parse(w.since)))} (since
          ${when(w.since)})${w.deadline ? html`, due ${when(w.deadline)}` : ''}
        </p>
        <p>Answer with:</p>
        ${w.commands.map((c) => html`<pre class="command"><code>${c}</code></pre>`)}
        ${slack ? html`<p><a href="${slack}" rel="noopener noreferrer">Answer in the Slack thread</a></p>` : ''}
      </li>`;
    })}
  </ul>`;
}

export function progressPanel(run: BoardRun, now: number): SafeHtml {
  const p: ActivityProgress | undefined = run.progress;
  if (!p) return html`<p class="muted">No activity is running right now.</p>`;
  if (p.waitingForWorker)
    return html`<p class="bad">
      <span class="word">waiting for a worker</span>:
      ${p.activity}${p.attempt > 1 ? html` (after a failed attempt: ${p.lastFailure ?? ''})` : ''}
    </p>`;
  return html`<dl class="facts">
    <dt>Activity</dt>
    <dd>${p.activity}${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}</dd>
    <dt>Phase</dt>
    <dd>${p.phase ?? '—'}${p.detail ? ` — ${p.detail}` : ''}</dd>
    <dt>Bytes</dt>
    <dd>${p.bytes !== undefined ? bytes(p.bytes) : '—'}</dd>
    <dt>Rate</dt>
    <dd>${p.rate !== undefined ? `${bytes(p.rate)}/s` : '—'}</dd>
    <dt>Last heartbeat</dt>
    <dd>
      ${
        p.lastHeartbeatAt
          ? html`${when(p.lastHeartbeatAt)} (${formatDuration(Math.max(0, now - Date.parse(p.lastHeartbeatAt)))}
            ago)${p.stale ? html` <strong class="bad"><span class="word">STALE</span>: its worker may be gone</strong>` : ''}`
          : html`<span class="muted">none yet</span>`
      }
    </dd>
  </dl>`;
}

/** A backup taken after the declared time (an incident declared late, with an earlier --declared-at) says so. */
const ageAtIncident = (ageMs: number) =>
  ageMs >= 0 ? formatDuration(ageMs) : `none: taken ${formatDuration(-ageMs)} after the declared time`;

export function rpoPanel(status: StatusJson, run: BoardRun): SafeHtml {
  const backup = status.backupUsed;
  const gate = waitingOf(run).find((w) => w.request?.dataLossWindowMs !== undefined);
  if (!backup && !gate) return html`<p class="muted">No backup chosen yet.</p>`;
  const declared = Date.parse(status.context.declaredAt);
  const windowMs = gate?.request?.dataLossWindowMs ?? (backup ? declared - Date.parse(backup.startedAt) : undefined);
  const used = backup ?? gate?.request?.backup;
  return html`<dl class="facts">
    <dt>Backup used</dt>
    <dd>${used ? html`<code>${used.id}</code> taken ${when(used.startedAt)}` : '—'}</dd>
    <dt>Its age at the incident</dt>
    <dd>${used ? ageAtIncident(declared - Date.parse(used.startedAt)) : '—'}</dd>
    <dt>Data-loss window</dt>
    <dd>
      ${windowMs !== undefined ? html`writes of the last <strong>${formatDuration(windowMs)}</strong> before the incident are not in this backup` : '—'}
    </dd>
    ${
      status.rto.rpoAchievedMs !== null
        ? html`<dt>RPO achieved</dt>
            <dd>${formatDuration(status.rto.rpoAchievedMs)}</dd>`
        : ''
    }
  </dl>`;
}

export function verificationPanel(status: StatusJson, run: BoardRun): SafeHtml {
  const checks = status.timeline.filter((s) => /^verif/i.test(s.name));
  const tables = run.drill?.record.tables ?? [];
  if (!checks.length && !tables.length) return html`<p class="muted">No verification has run yet.</p>`;
  return html`${
    checks.length
      ? html`<ul>
          ${checks.map((s) => html`<li><span class="status s-${s.status}">${s.status}</span> ${s.name}${s.detail ? html` — ${s.detail}` : ''}</li>`)}
        </ul>`
      : ''
  }
  ${
    tables.length
      ? dataTable(['Table', 'Rows', 'Manifest', 'Checksum'], tables, (t) => [
          t.table,
          t.rows ?? 'missing',
          t.expectedRows ?? '—',
          cell(t.checksum, t.checksum === 'match' ? 'ok' : 'bad'),
        ])
      : ''
  }`;
}

export function decisionsPanel(status: StatusJson): SafeHtml {
  if (!status.votes.length) return html`<p class="muted">No decisions yet.</p>`;
  return dataTable(['Step', 'Decision', 'By', 'When', 'Reason or note'], status.votes, (v) => [
    v.step,
    v.decision,
    `${v.by}${v.via ? ` (via ${v.via})` : ''}`,
    when(v.at),
    v.text ?? '',
  ]);
}
