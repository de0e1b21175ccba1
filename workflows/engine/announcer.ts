// Telling people: every notice of a run goes through the notifier (a local activity), in the run's
// thread, titled with the incident and level. A failed notification is recorded on the timeline and
// never fails the run; while the notifier is down, step progress is not posted, so it costs no time.
import type { ApprovalRequest, RunContext, StepRecord, StepStatus } from '../../common/plans.js';
import { formatDuration } from '../../common/time.js';
import type { Notice } from '../../activities/notify/notifier.js';
import { notifications } from '../proxies.js';
import { failureText } from './outcome.js';
import type { Timeline } from './timeline.js';

const progressIcons: Partial<Record<StepStatus, string>> = { running: '▶', done: '✅', failed: '❌', aborted: '⏹' };

export class Announcer {
  /** The notifier's thread: a plan's comes from its parent; an incident's first notice starts one. */
  thread?: string;
  /** Set while notifications fail: step progress is then not posted. */
  private notifierDown = false;

  constructor(
    private readonly context: RunContext,
    private readonly timeline: Timeline,
  ) {
    this.thread = context.thread;
  }

  /** Posts a notice; returns the message's reference, or undefined when it could not be delivered. */
  async notify(
    severity: Notice['severity'],
    title: string,
    text: string,
    extra: Pick<Notice, 'action' | 'replaces'> = {},
  ): Promise<string | undefined> {
    try {
      const posted = await notifications.notify({
        severity,
        title: `[${this.context.incidentId} ${this.context.level}] ${title}`,
        text,
        thread: this.thread,
        ...extra,
      });
      this.notifierDown = false;
      this.thread ??= posted?.ref; // the run's first notice starts its thread
      return posted?.ref;
    } catch (err) {
      this.notifierDown = true;
      const record = this.timeline.begin(`notify: ${title}`, 'notification', 'failed');
      this.timeline.end(record, 'failed', { detail: `notification not delivered: ${failureText(err)}` });
      return undefined;
    }
  }

  /** Posts a step as it starts, and replaces that message when it ends; skipped while the notifier is down. */
  async progress(record: StepRecord, posted?: string): Promise<string | undefined> {
    if (this.notifierDown) return undefined;
    const icon = progressIcons[record.status] ?? '•';
    const took = record.finishedAt ? ` (${formatDuration(Date.parse(record.finishedAt) - Date.parse(record.startedAt))})` : '';
    const text = record.status === 'running' ? 'started' : `${record.status}${took}${record.detail ? `: ${record.detail}` : ''}`;
    return this.notify(record.status === 'failed' ? 'warning' : 'info', `${icon} ${record.name}`, text, { replaces: posted });
  }
}

/** An approval request as text: what changes, what protects it, who may approve, and how. */
export function describeRequest(context: RunContext, gate: string, r: ApprovalRequest, approvers: string[], required: number): string {
  const lines = [
    `${r.title} — database ${r.database}, tables ${r.tables.join(', ')}`,
    ...r.changes.map((c) => `• ${c}`),
    r.backup ? `Backup used: ${r.backup.id}, taken ${r.backup.startedAt} (${formatDuration(r.backup.ageMs)} old)` : undefined,
    r.dataLossWindowMs !== undefined
      ? `Data-loss window: ${formatDuration(r.dataLossWindowMs)} of changes before the incident will not come back`
      : undefined,
    r.snapshot ? `Safety snapshot of what will be overwritten: ${r.snapshot}` : undefined,
    `Needs ${required} approval(s) from: ${approvers.join(', ')}`,
    `lifeboat approve ${context.incidentId} --gate ${gate} --as <you>   |   lifeboat reject ${context.incidentId} --gate ${gate} --as <you> --reason "…"`,
  ];
  return lines.filter(Boolean).join('\n');
}
