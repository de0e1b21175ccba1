// Renders notices as Slack messages (Block Kit plus a plain `text` fallback, which Slack uses for
// notifications and screen readers). Pure functions: the same notice always gives the same message.
import type { types as slack } from '@slack/bolt';
import type { ApprovalRequest } from '../../common/plans.js';
import { formatDuration } from '../../common/time.js';
import type { ApprovalAction, Notice, NoticeAction } from './notifier.js';
import { APPROVE_ACTION, DONE_ACTION, GATE_BLOCK, REJECT_ACTION, encodeButtonValue } from './slack-actions.js';

export interface SlackMessage {
  text: string;
  blocks: slack.KnownBlock[];
}

const EMOJI = { info: 'ℹ️', warning: '⚠️', critical: '🚨' } as const;
const SETTLED = {
  approved: '✅ Approved',
  rejected: '❌ Rejected',
  done: '✅ Done',
  aborted: '⏹ Aborted',
  expired: '⌛ Closed unanswered',
} as const;

/** Slack's mrkdwn control characters; everything else is shown as written. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const ISO_UTC = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?Z(?![\w])/g;

/** A Slack date token: each reader sees the time in their own zone; other clients show the ISO text. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${iso}>`;
}

/** Escapes text for mrkdwn, then turns its ISO-8601 UTC timestamps into Slack date tokens. */
export function mrkdwn(text: string): string {
  // ISO timestamps hold none of & < >, so escaping first leaves them intact for the second pass.
  return escapeMrkdwn(text).replace(ISO_UTC, (iso) => slackDate(iso));
}

/** Cuts raw text so that, rendered, it stays inside a Block Kit limit (escaping and dates grow it). */
function clip(text: string, limit: number): string {
  if (mrkdwn(text).length <= limit) return text;
  let [fits, tooLong] = [0, text.length];
  while (tooLong - fits > 1) {
    const mid = Math.floor((fits + tooLong) / 2);
    if (mrkdwn(text.slice(0, mid)).length < limit) fits = mid;
    else tooLong = mid;
  }
  return `${text.slice(0, fits)}…`;
}

const plain = (text: string, limit: number): slack.PlainTextElement => ({
  type: 'plain_text',
  text: text.length > limit ? `${text.slice(0, limit - 1)}…` : text,
  emoji: true,
});
const md = (text: string): slack.MrkdwnElement => ({ type: 'mrkdwn', text });
const section = (text: string): slack.SectionBlock => ({ type: 'section', text: md(text) });
const context = (text: string): slack.ContextBlock => ({ type: 'context', elements: [md(text)] });

/** Text as sections of at most 3000 characters, split on line ends (at most `max` sections). */
function textSections(text: string, max = 8): slack.SectionBlock[] {
  const chunks: string[] = [];
  let current = '';
  for (const line of text.split('\n').map((l) => clip(l, 2900))) {
    const next = current ? `${current}\n${line}` : line;
    if (mrkdwn(next).length > 3000) {
      chunks.push(current);
      current = line;
    } else current = next;
  }
  if (current.trim()) chunks.push(current);
  const sections = chunks.slice(0, max).map((c) => section(mrkdwn(c)));
  if (chunks.length > max) sections.push(section("_(the rest is in the run's report)_"));
  return sections;
}

const code = (s: string) => `\`${escapeMrkdwn(s.replace(/`/g, "'"))}\``;
const list = (names: string[]) => (names.length ? names.map(escapeMrkdwn).join(', ') : '_nobody_');

function requestBlocks(request: ApprovalRequest): slack.KnownBlock[] {
  const change = [
    `*What will change:* ${mrkdwn(clip(request.title, 500))}`,
    `Database ${code(request.database)} · tables ${request.tables.map(code).join(', ') || '_none_'}`,
    ...request.changes.slice(0, 30).map((c) => `• ${mrkdwn(clip(c, 300))}`),
    ...(request.changes.length > 30 ? [`• _…and ${request.changes.length - 30} more_`] : []),
  ].join('\n');
  const fields: slack.MrkdwnElement[] = [];
  if (request.backup) {
    fields.push(
      md(
        `*Backup used*\n${code(request.backup.id)}\ntaken ${slackDate(request.backup.startedAt)} (${formatDuration(request.backup.ageMs)} old)`,
      ),
    );
  }
  if (request.dataLossWindowMs !== undefined) {
    fields.push(
      md(
        `*Data-loss window*\n${request.dataLossWindowMs > 0 ? `${formatDuration(request.dataLossWindowMs)} of changes before the incident will not come back` : 'none'}`,
      ),
    );
  }
  fields.push(md(`*Safety snapshot*\n${request.snapshot ? code(request.snapshot) : '_none taken_'}`));
  return [section(clip(change, 3000)), { type: 'section', fields }];
}

function approvalStatus({ required, approvedBy, approvers }: ApprovalAction): string {
  const left = Math.max(0, required - approvedBy.length);
  const so = approvedBy.length ? ` — approved so far by ${list(approvedBy)}` : '';
  return `*May approve:* ${list(approvers)}\n*Approvals:* ${approvedBy.length} of ${required}${so}; *${left} more needed*`;
}

function buttons(action: NoticeAction, request: ApprovalRequest | undefined): slack.ActionsBlock {
  const value = encodeButtonValue(action);
  if (action.kind === 'task') {
    return {
      type: 'actions',
      block_id: GATE_BLOCK,
      elements: [{ type: 'button', action_id: DONE_ACTION, text: plain('Mark done', 75), style: 'primary', value }],
    };
  }
  const what = request ? `${request.title} on database ${request.database}` : action.name;
  return {
    type: 'actions',
    block_id: GATE_BLOCK,
    elements: [
      {
        type: 'button',
        action_id: APPROVE_ACTION,
        text: plain('Approve', 75),
        style: 'primary',
        value,
        // Every Lifeboat gate unlocks a destructive step: one stray click must not run it.
        confirm: {
          title: plain('Approve this destructive step?', 100),
          text: plain(`This unlocks: ${what}. A safety snapshot is kept, but the change runs as soon as enough approvals are in.`, 300),
          confirm: plain('Approve', 30),
          deny: plain('Cancel', 30),
          style: 'danger',
        },
      },
      {
        type: 'button',
        action_id: REJECT_ACTION,
        text: plain('Reject', 75),
        style: 'danger',
        value,
        // Rejecting ends the recovery plan: also worth a second look.
        confirm: {
          title: plain('Reject this step?', 100),
          text: plain(`Rejecting ends this recovery plan (${action.incidentId}) without running: ${what}.`, 300),
          confirm: plain('Reject', 30),
          deny: plain('Cancel', 30),
        },
      },
    ],
  };
}

function settledLine(settled: NonNullable<NoticeAction['settled']>): string {
  const why = settled.reason ? ` — ${mrkdwn(clip(settled.reason, 1000))}` : '';
  const by = settled.outcome === 'expired' ? '' : ` by ${escapeMrkdwn(settled.by)}`;
  return `${SETTLED[settled.outcome]}${by} at ${slackDate(settled.at)}${why}`;
}

function actionBlocks(notice: Notice, action: NoticeAction): slack.KnownBlock[] {
  const blocks: slack.KnownBlock[] = [];
  const request = action.kind === 'approval' ? action.request : undefined;
  // An approval's text is the console rendering of its request: show the structured request instead.
  if (request) blocks.push(...requestBlocks(request));
  else blocks.push(...textSections(notice.text));
  if (action.settled) {
    blocks.push(context(settledLine(action.settled)));
    return blocks;
  }
  if (action.kind === 'approval') blocks.push(section(approvalStatus(action)));
  const choices = action.kind === 'task' ? action.choices : undefined;
  const cli =
    action.kind === 'approval'
      ? `lifeboat approve ${action.incidentId} --gate ${action.name} --as <you>`
      : `lifeboat complete ${action.incidentId} --task ${action.name} --as <you>${choices?.map((c) => ` [--choose ${c}]`).join('') ?? ''}`;
  // A button cannot carry a task's choices: such a task is completed from the terminal.
  if (choices?.length) blocks.push(context(`Complete it from a terminal with your choices: ${code(cli)}`));
  else {
    blocks.push(buttons(action, request));
    blocks.push(context(`Or from a terminal: ${code(cli)}`));
  }
  return blocks;
}

/** The Slack message for a notice: a header on a thread's first message, a bold title in replies. */
export function renderNotice(notice: Notice): SlackMessage {
  const title = `${EMOJI[notice.severity]} ${notice.title}`;
  const blocks: slack.KnownBlock[] = [
    notice.thread ? section(`*${mrkdwn(clip(title, 500))}*`) : { type: 'header', text: plain(title, 150) },
  ];
  if (notice.action) blocks.push(...actionBlocks(notice, notice.action));
  else blocks.push(...textSections(notice.text));
  const settled = notice.action?.settled ? ` — ${SETTLED[notice.action.settled.outcome]} by ${notice.action.settled.by}` : '';
  const fallback = `${title}${settled}${notice.text ? `: ${notice.text}` : ''}`;
  return { text: escapeMrkdwn(fallback.length > 3000 ? `${fallback.slice(0, 2999)}…` : fallback), blocks };
}
