// The Slack notifier against the local fake Web API (no mocks of the client): threads, in-place
// updates, approval and task messages, Slack's date tokens and escaping, bounded retries when Slack
// is down or rate-limiting; then a whole L1 incident posting into one thread, and one that
// recovers while Slack is down, its failed notifications recorded on the timeline.
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { ConsoleNotifier, type NoticeAction } from '../activities/notify/notifier.js';
import { selectNotifier } from '../activities/notify/select.js';
import { SlackNotifier } from '../activities/notify/slack.js';
import { APPROVE_ACTION, DONE_ACTION, GATE_BLOCK, REJECT_ACTION, parseButtonValue } from '../activities/notify/slack-actions.js';
import type { LifeboatConfig, SlackConfig } from '../config/config.js';
import { type ApprovalRequest, type RunResult } from '../common/plans.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from './fake-slack.js';
import {
  type TestDatabase,
  type TestWorker,
  backupAndVerify,
  createCrmDatabase,
  startL1Incident,
  driveIncident,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  answer,
  observed,
} from './helpers.js';

const TOKEN = 'xoxb-test-1234567890-secret';
const CHANNEL = 'C0LIFEBOAT';

const slackYaml = (url: string, retries = 2) => `notify:\n  slack:\n    channel: ${CHANNEL}\n    apiUrl: ${url}\n    retries: ${retries}`;
const configWith = (url: string, retries = 2, extra = ''): LifeboatConfig =>
  testConfig({ prefix: uniqueName('slack'), extra: `${slackYaml(url, retries)}\n${extra}` });
const slackConfig = (url: string, retries = 2): SlackConfig => configWith(url, retries).notify.slack!;

/** Every string anywhere in a message's blocks, joined: what a reader could see. */
const allText = (m: FakeMessage | undefined) => JSON.stringify(m?.blocks ?? []);
type Block = {
  type: string;
  block_id?: string;
  elements?: Array<Record<string, any>>;
  text?: { text: string };
  fields?: Array<{ text: string }>;
};
const blocksOf = (m: FakeMessage | undefined) => (m?.blocks ?? []) as Block[];

const request: ApprovalRequest = {
  title: 'Restore 7 lead(s) of crm_leads',
  database: 'crm_prod',
  tables: ['crm_leads', 'crm_activities'],
  changes: ['crm_leads: insert 5 missing row(s), revert 2 changed row(s)', 'crm_activities: insert 12 missing row(s)'],
  backup: { id: 'crm-20261122T020000Z', startedAt: '2026-11-22T02:00:00.000Z', ageMs: 8 * 3_600_000 + 15 * 60_000 },
  dataLossWindowMs: 7 * 3_600_000,
  snapshot: 'incidents/inc-20261122-101500-abcd/snapshot/',
};

const gate = (extra: Partial<NoticeAction> = {}): NoticeAction => ({
  kind: 'approval',
  workflowId: 'inc-20261122-101500-abcd-L1',
  incidentId: 'inc-20261122-101500-abcd',
  name: 'apply-restore',
  request,
  approvers: ['alice', 'bob', 'carol'],
  required: 2,
  approvedBy: [],
  ...extra,
});

describe('Slack notifier against the fake Web API', () => {
  let slack: FakeSlack;
  let notifier: SlackNotifier;

  beforeAll(async () => {
    slack = await startFakeSlack({ token: TOKEN, channels: [CHANNEL] });
    notifier = new SlackNotifier(slackConfig(slack.url), TOKEN, { minRetryMs: 20, maxRetryMs: 50 });
  });
  afterAll(async () => {
    await slack?.close();
  });
  beforeEach(async () => {
    await slack.setDown(false);
    slack.reset();
  });

  it('starts a thread with the first notice and posts every later one into it', async () => {
    const root = await notifier.notify({ severity: 'critical', title: 'Incident declared: L1', text: 'a bad script deleted 5 leads' });
    expect(root.ref).toMatch(new RegExp(`^${CHANNEL}:\\d+\\.\\d{6}$`));
    const rootTs = root.ref!.split(':')[1]!;
    const step = await notifier.notify({ severity: 'info', title: 'Step started: stage backup', text: 'staging', thread: root.ref });
    const warning = await notifier.notify({ severity: 'warning', title: 'RTO 50 %', text: '30 min left', thread: root.ref });
    expect(new Set([root.ref, step.ref, warning.ref]).size).toBe(3);

    const thread = slack.thread(rootTs);
    expect(thread.map((m) => m.text?.split(':')[0])).toEqual(['🚨 Incident declared', 'ℹ️ Step started', '⚠️ RTO 50 %']);
    expect(thread[0]!.thread_ts).toBeUndefined();
    expect(thread.slice(1).every((m) => m.thread_ts === rootTs && m.channel === CHANNEL)).toBe(true);
    // The declaration gets a header; replies a bold title.
    expect(blocksOf(thread[0])[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: '🚨 Incident declared: L1' } });
    expect(blocksOf(thread[1])[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn', text: '*ℹ️ Step started: stage backup*' } });
    expect(slack.calls('chat.postMessage').every((c) => typeof c.args.text === 'string' && (c.args.text as string).length > 0)).toBe(true);
  });

  it('replaces a message in place: same ts, new content, every version kept', async () => {
    const root = await notifier.notify({ severity: 'info', title: 'Incident', text: 'declared' });
    const started = await notifier.notify({ severity: 'info', title: 'Step started: verify fix', text: 'running', thread: root.ref });
    const ended = await notifier.notify({
      severity: 'info',
      title: 'Step done: verify fix',
      text: 'all checks passed',
      thread: root.ref,
      replaces: started.ref,
    });
    expect(ended.ref).toBe(started.ref);
    const message = slack.message(started.ref!)!;
    expect(message.text).toContain('Step done: verify fix');
    expect(allText(message)).toContain('all checks passed');
    expect(message.versions.map((v) => v.text?.split(':')[0])).toEqual(['ℹ️ Step started', 'ℹ️ Step done']);
    expect(slack.calls('chat.update')).toHaveLength(1);
    expect(slack.calls('chat.update')[0]!.args).toMatchObject({ channel: CHANNEL, ts: started.ref!.split(':')[1] });
    expect(slack.messages()).toHaveLength(2);
  });

  it('renders an approval with what will change, what protects it, who may approve, and guarded buttons', async () => {
    const root = await notifier.notify({ severity: 'critical', title: 'Incident', text: 'declared' });
    const posted = await notifier.notify({
      severity: 'warning',
      title: 'Approval needed: Restore 7 lead(s)',
      text: 'console text',
      thread: root.ref,
      action: gate({ approvedBy: ['alice'] }),
    });
    const message = slack.message(posted.ref!)!;
    const text = allText(message);
    for (const fact of [
      'Restore 7 lead(s) of crm_leads',
      '`crm_prod`',
      '`crm_leads`',
      '`crm_activities`',
      'insert 5 missing row(s), revert 2 changed row(s)',
      'insert 12 missing row(s)',
      '`crm-20261122T020000Z`',
      '8 h 15 min old',
      '7 h of changes before the incident',
      'incidents/inc-20261122-101500-abcd/snapshot/',
      'alice, bob, carol',
      '1 of 2',
      'approved so far by alice',
      '1 more needed',
    ]) {
      expect(text).toContain(fact);
    }
    const actions = blocksOf(message).find((b) => b.type === 'actions')!;
    expect(actions.block_id).toBe(GATE_BLOCK);
    const [approve, reject] = actions.elements!;
    expect(approve).toMatchObject({
      type: 'button',
      action_id: APPROVE_ACTION,
      style: 'primary',
      confirm: { title: { text: expect.any(String) }, confirm: { text: 'Approve' }, deny: { text: 'Cancel' } },
    });
    expect(approve!.confirm.text.text).toContain('Restore 7 lead(s) of crm_leads');
    expect(reject).toMatchObject({ type: 'button', action_id: REJECT_ACTION, style: 'danger' });
    for (const button of [approve!, reject!]) {
      expect(button.value.length).toBeLessThan(2000);
      expect(parseButtonValue(button.value)).toEqual({
        workflowId: 'inc-20261122-101500-abcd-L1',
        name: 'apply-restore',
        incidentId: 'inc-20261122-101500-abcd',
      });
    }
    expect(() => parseButtonValue('{"w":"x"}')).toThrow();
    expect(() => parseButtonValue('not json')).toThrow();
  });

  it('replaces the buttons with who decided, when and why once settled', async () => {
    const root = await notifier.notify({ severity: 'critical', title: 'Incident', text: 'declared' });
    const open = await notifier.notify({ severity: 'warning', title: 'Approval needed', text: '', thread: root.ref, action: gate() });
    await notifier.notify({
      severity: 'warning',
      title: 'Approval needed',
      text: '',
      thread: root.ref,
      replaces: open.ref,
      action: gate({ approvedBy: ['alice'] }),
    });
    const at = '2026-11-22T10:20:00.000Z';
    await notifier.notify({
      severity: 'info',
      title: 'Approved',
      text: '',
      thread: root.ref,
      replaces: open.ref,
      action: gate({ approvedBy: ['alice', 'bob'], settled: { outcome: 'approved', by: 'alice, bob', at } }),
    });
    const message = slack.message(open.ref!)!;
    expect(message.versions).toHaveLength(3);
    expect(allText({ ...message, blocks: message.versions[1]!.blocks })).toContain('approved so far by alice');
    expect(blocksOf(message).some((b) => b.type === 'actions')).toBe(false);
    const unix = Date.parse(at) / 1000;
    expect(allText(message)).toContain(`✅ Approved by alice, bob at <!date^${unix}^{date_short_pretty} {time_secs}|${at}>`);
    expect(message.text).toContain('Approved by alice, bob');

    const other = await notifier.notify({ severity: 'warning', title: 'Approval needed', text: '', thread: root.ref, action: gate() });
    await notifier.notify({
      severity: 'warning',
      title: 'Rejected',
      text: '',
      thread: root.ref,
      replaces: other.ref,
      action: gate({ settled: { outcome: 'rejected', by: 'bob', at, reason: 'wrong backup <use the 03:00 one>' } }),
    });
    const rejected = slack.message(other.ref!)!;
    expect(blocksOf(rejected).some((b) => b.type === 'actions')).toBe(false);
    expect(allText(rejected)).toContain(`❌ Rejected by bob at <!date^${unix}^`);
    expect(allText(rejected)).toContain('— wrong backup &lt;use the 03:00 one&gt;');
  });

  it('gives a human task a "Mark done" button, then who did it and their note', async () => {
    const root = await notifier.notify({ severity: 'critical', title: 'Incident', text: 'declared' });
    const action: NoticeAction = {
      kind: 'task',
      workflowId: 'inc-20261122-101500-abcd',
      incidentId: 'inc-20261122-101500-abcd',
      name: 'review',
    };
    const open = await notifier.notify({
      severity: 'info',
      title: 'Task waiting: review',
      text: 'Write the post-incident review',
      thread: root.ref,
      action,
    });
    const buttons = blocksOf(slack.message(open.ref!)).find((b) => b.type === 'actions')!;
    expect(buttons.block_id).toBe(GATE_BLOCK);
    expect(buttons.elements).toEqual([
      expect.objectContaining({ action_id: DONE_ACTION, text: expect.objectContaining({ text: 'Mark done' }) }),
    ]);
    expect(parseButtonValue(buttons.elements![0]!.value)).toMatchObject({ name: 'review', workflowId: 'inc-20261122-101500-abcd' });
    expect(allText(slack.message(open.ref!))).toContain('Write the post-incident review');

    await notifier.notify({
      severity: 'info',
      title: 'Task done: review',
      text: 'Write the post-incident review',
      thread: root.ref,
      replaces: open.ref,
      action: { ...action, settled: { outcome: 'done', by: 'carol', at: '2026-11-22T11:00:00.000Z', reason: 'script fixed' } },
    });
    const done = slack.message(open.ref!)!;
    expect(blocksOf(done).some((b) => b.type === 'actions')).toBe(false);
    expect(allText(done)).toMatch(
      /✅ Done by carol at <!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|2026-11-22T11:00:00.000Z> — script fixed/,
    );
  });

  it('closes an optional task left unanswered at its deadline: no button, no one named', async () => {
    const action: NoticeAction = {
      kind: 'task',
      workflowId: 'drill-20261122-101500-abcd',
      incidentId: 'drill-20261122-101500-abcd',
      name: 'improvements',
    };
    const open = await notifier.notify({
      severity: 'info',
      title: 'Task waiting: improvements',
      text: 'Note what the drill taught',
      action,
    });
    await notifier.notify({
      severity: 'info',
      title: 'Task closed unanswered: improvements',
      text: 'Note what the drill taught',
      replaces: open.ref,
      action: {
        ...action,
        settled: { outcome: 'expired', by: 'nobody', at: '2026-12-06T10:15:00.000Z', reason: 'still open at its deadline' },
      },
    });
    const closed = slack.message(open.ref!)!;
    expect(blocksOf(closed).some((b) => b.type === 'actions')).toBe(false);
    expect(allText(closed)).toMatch(/⌛ Closed unanswered at <!date\^\d+\^[^>]+> — still open at its deadline/);
    expect(allText(closed)).not.toContain('nobody');
  });

  it('sends a task that needs choices to the terminal instead of offering a button', async () => {
    const action: NoticeAction = {
      kind: 'task',
      workflowId: 'inc-20261122-101500-abcd-L2',
      incidentId: 'inc-20261122-101500-abcd',
      name: 'confirm-cause',
      choices: ['rollback', 'restore'],
    };
    const open = await notifier.notify({ severity: 'info', title: 'Task waiting: confirm-cause', text: 'Confirm the cause', action });
    const message = slack.message(open.ref!)!;
    expect(blocksOf(message).some((b) => b.type === 'actions')).toBe(false);
    expect(allText(message)).toContain(
      'lifeboat complete inc-20261122-101500-abcd --task confirm-cause --as &lt;you&gt; [--choose rollback] [--choose restore]',
    );
  });

  it('renders ISO UTC times as Slack date tokens and escapes <, > and &', async () => {
    const text = 'Declared 2026-11-22T10:15:00.000Z, RTO deadline 2026-11-22T11:15:00Z. <!channel> a<b && c>d <https://evil|click>';
    const posted = await notifier.notify({ severity: 'critical', title: 'L1 <script> & co', text });
    const message = slack.message(posted.ref!)!;
    const section = blocksOf(message).find((b) => b.type === 'section')!.text!.text;
    const t1 = Date.parse('2026-11-22T10:15:00.000Z') / 1000;
    const t2 = Date.parse('2026-11-22T11:15:00Z') / 1000;
    expect(section).toBe(
      `Declared <!date^${t1}^{date_short_pretty} {time_secs}|2026-11-22T10:15:00.000Z>, RTO deadline <!date^${t2}^{date_short_pretty} {time_secs}|2026-11-22T11:15:00Z>. ` +
        '&lt;!channel&gt; a&lt;b &amp;&amp; c&gt;d &lt;https://evil|click&gt;',
    );
    // The fallback is escaped too (Slack parses it as mrkdwn), and the plain-text header needs no escaping.
    expect(message.text).toContain('&lt;script&gt; &amp; co');
    expect(message.text).not.toContain('<!channel>');
    expect(blocksOf(message)[0]!.text!.text).toBe('🚨 L1 <script> & co');
  });

  it('keeps long texts inside Block Kit limits', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `line ${i} <&> 2026-11-22T10:15:00.000Z ${'x'.repeat(60)}`).join('\n');
    const posted = await notifier.notify({ severity: 'info', title: 'T'.repeat(300), text: long });
    expect(slack.message(posted.ref!)).toBeDefined(); // the fake refuses blocks over Slack's limits
    expect(blocksOf(slack.message(posted.ref!)).every((b) => !b.text || b.text.text.length <= 3000)).toBe(true);
  });

  it('throws after the configured retries when Slack is down, and calls exactly retries + 1 times', async () => {
    await slack.setDown(true);
    const err = await notifier.notify({ severity: 'info', title: 'x', text: 'y' }).then(
      () => undefined,
      (e: unknown) => e as Error & { nonRetryable?: boolean; type?: string },
    );
    expect(err?.message).toMatch(/Slack chat\.postMessage failed after 3 attempt\(s\): HTTP 503/);
    expect(err).toMatchObject({ nonRetryable: true, type: 'SlackFailed' });
    expect(slack.calls('chat.postMessage')).toHaveLength(3);

    await slack.setDown(true, 'refuse');
    await expect(notifier.notify({ severity: 'info', title: 'x', text: 'y' })).rejects.toThrow(/failed after 3 attempt\(s\): unreachable/);
    await slack.setDown(false);

    const none = new SlackNotifier(slackConfig(slack.url, 0), TOKEN);
    slack.reset();
    slack.failNext('chat.postMessage', 1, { status: 500 });
    await expect(none.notify({ severity: 'info', title: 'x', text: 'y' })).rejects.toThrow(/after 1 attempt\(s\): HTTP 500/);
    expect(slack.calls('chat.postMessage')).toHaveLength(1);
  });

  it('recovers from a short outage within its retries', async () => {
    slack.failNext('chat.postMessage', 2, { status: 503 });
    const posted = await notifier.notify({ severity: 'info', title: 'x', text: 'y' });
    expect(slack.message(posted.ref!)).toBeDefined();
    expect(slack.calls('chat.postMessage').map((c) => c.status)).toEqual([503, 503, 200]);
  });

  it('waits out a 429 with Retry-After, but never longer than its budget', async () => {
    slack.failNext('chat.postMessage', 1, { retryAfter: 1 });
    const started = Date.now();
    const posted = await notifier.notify({ severity: 'info', title: 'rate limited', text: 'then fine' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(slack.message(posted.ref!)?.text).toContain('rate limited');
    expect(slack.calls('chat.postMessage').map((c) => c.status)).toEqual([429, 200]);

    // A Retry-After beyond the budget fails at once instead of outliving the activity's time-out.
    slack.reset();
    slack.failNext('chat.postMessage', 1, { retryAfter: 120 });
    const t0 = Date.now();
    await expect(notifier.notify({ severity: 'info', title: 'x', text: 'y' })).rejects.toThrow(/rate limited \(retry after 120 s\)/);
    expect(Date.now() - t0).toBeLessThan(1000);
    // And rate limits count against the same retries.
    slack.reset();
    slack.failNext('chat.update', 5, { retryAfter: 0 });
    const root = await notifier.notify({ severity: 'info', title: 'x', text: 'y' });
    await expect(notifier.notify({ severity: 'info', title: 'x', text: 'z', replaces: root.ref })).rejects.toThrow(
      /chat\.update failed after 3 attempt\(s\): rate limited/,
    );
    expect(slack.calls('chat.update')).toHaveLength(3);
  });

  it("fails at once on Slack's own refusal, and never lets the token out", async () => {
    slack.failNext('chat.postMessage', 1, { error: 'channel_not_found' });
    await expect(notifier.notify({ severity: 'info', title: 'x', text: 'y' })).rejects.toThrow(
      'Slack chat.postMessage failed: Slack refused: channel_not_found',
    );
    expect(slack.calls('chat.postMessage')).toHaveLength(1);

    const wrong = new SlackNotifier(slackConfig(slack.url), 'xoxb-wrong-token-value');
    const err = (await wrong.notify({ severity: 'info', title: 'x', text: 'y' }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('invalid_auth');
    expect(err.message).not.toContain('xoxb-wrong-token-value');
    const posted = await notifier.notify({ severity: 'info', title: 'x', text: 'y' });
    for (const seen of [JSON.stringify(posted), JSON.stringify(notifier), JSON.stringify(slack.calls()), String(Object.values(notifier))]) {
      expect(seen).not.toContain(TOKEN);
    }
    await expect(notifier.notify({ severity: 'info', title: 'x', text: 'y', thread: 'nonsense' })).rejects.toThrow(
      /not a Slack message reference/,
    );
  });

  it('is chosen only when notify.slack is configured and its token variable is set', () => {
    const config = configWith(slack.url);
    expect(selectNotifier(config, { SLACK_BOT_TOKEN: TOKEN })).toBeInstanceOf(SlackNotifier);
    expect(selectNotifier(config, {})).toBeInstanceOf(ConsoleNotifier);
    expect(selectNotifier(config, { SLACK_BOT_TOKEN: '' })).toBeInstanceOf(ConsoleNotifier);
    expect(selectNotifier(testConfig({ prefix: 'x' }), { SLACK_BOT_TOKEN: TOKEN })).toBeInstanceOf(ConsoleNotifier);
  });
});

describe('an L1 incident posting into Slack', () => {
  let slack: FakeSlack;
  let db: TestDatabase;
  let worker: TestWorker;
  let config: LifeboatConfig;
  let offset = 100;

  beforeAll(async () => {
    slack = await startFakeSlack({ token: TOKEN, channels: [CHANNEL] });
    db = await createCrmDatabase(300);
    config = configWith(slack.url, 2, 'approvals:\n  L1: { approvers: [alice, bob, carol] }');
    // Chosen as the worker chooses it: from the configuration and the token variable.
    const notifier = selectNotifier(config, { SLACK_BOT_TOKEN: TOKEN });
    expect(notifier).toBeInstanceOf(SlackNotifier);
    worker = await startTestWorker(config, testEnv(db), { notifier });
    await backupAndVerify(worker);
  });

  afterAll(async () => {
    await worker?.stop();
    await slack?.close();
    await db?.drop();
  });

  /** Deletes five leads (a fresh five each time) and declares an L1 incident to bring them back. */
  async function declareL1(): Promise<string> {
    const keys = await withClient(db.url, async (c) => {
      const ids = (await c.query<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 5 OFFSET $1', [offset])).rows.map(
        (r) => r.id,
      );
      await c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [ids]);
      return ids;
    });
    offset += 20;
    return (await startL1Incident(worker, config, keys, 'a bad script deleted 5 leads')).incidentId;
  }

  const blocksText = (blocks: unknown) => JSON.stringify(blocks ?? []);
  const hasButtons = (blocks: unknown) => ((blocks ?? []) as Block[]).some((b) => b.type === 'actions' && b.block_id === GATE_BLOCK);

  it('holds the declaration, the steps, the approval updated in place and the final summary in one thread', async () => {
    const id = await declareL1();
    let seenOpen: FakeMessage | undefined;
    const result = await driveIncident(
      worker.client,
      id,
      {
        'apply-restore': {
          act: async (handle: WorkflowHandle) => {
            // The request is in the thread with its buttons before anyone decides.
            await expect
              .poll(() => slack.messages().find((m) => m.text?.includes(`[${id} L1] Approval needed`) && hasButtons(m.blocks)), {
                timeout: 20_000,
              })
              .toBeDefined();
            seenOpen = slack.messages().find((m) => m.text?.includes(`[${id} L1] Approval needed`));
            await answer(handle, 'approve', { gate: 'apply-restore', by: 'alice' });
          },
        },
        review: { complete: { by: 'carol', note: 'script fixed' } },
      },
      { timeoutMs: 90_000 },
    );
    expect(result.outcome).toBe('recovered');

    const mine = slack.messages(CHANNEL).filter((m) => m.versions.some((v) => v.text?.includes(id)));
    const root = mine[0]!;
    expect(root.thread_ts).toBeUndefined();
    expect(root.text).toContain(`[${id} L1] L1 incident declared by carol`);
    expect(blocksText(root.blocks)).toMatch(/deadline <!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|\d{4}-\d\d-\d\dT[\d:.]+Z>/);
    // One thread: every other message of this incident is a reply to the declaration.
    expect(mine.slice(1).every((m) => m.thread_ts === root.ts)).toBe(true);
    expect(slack.thread(root.ts)).toHaveLength(mine.length);

    // Steps are posted as they start and replaced in place when they end.
    const steps = mine.filter((m) => m.versions[0]!.text?.includes('▶'));
    expect(steps.length).toBeGreaterThanOrEqual(3);
    expect(steps.every((m) => m.versions.length === 2 && m.text!.includes('✅'))).toBe(true);

    // The approval: buttons while open, then in place who approved and when.
    expect(seenOpen).toBeDefined();
    const approval = slack.message(seenOpen!.ts)!;
    expect(blocksText(approval.versions[0]!.blocks)).toContain('insert 5 missing row(s)');
    expect(hasButtons(approval.versions[0]!.blocks)).toBe(true);
    expect(hasButtons(approval.blocks)).toBe(false);
    expect(blocksText(approval.blocks)).toMatch(/✅ Approved by alice at <!date\^\d+\^/);
    const buttonValue = (approval.versions[0]!.blocks as Block[]).find((b) => b.type === 'actions')!.elements![0]!.value as string;
    expect(parseButtonValue(buttonValue)).toEqual({ workflowId: `${id}-L1`, name: 'apply-restore', incidentId: id });

    // The review task: a "Mark done" button, then who did it.
    const review = mine.find((m) => m.versions[0]!.text?.includes('Task waiting: review'))!;
    expect(blocksText(review.versions[0]!.blocks)).toContain(DONE_ACTION);
    expect(blocksText(review.blocks)).toMatch(/✅ Done by carol at <!date\^\d+\^.*— script fixed/);

    // The final summary closes the thread with the RTO verdict, the RPO and the report.
    const summary = mine[mine.length - 1]!;
    expect(summary.text).toContain(`[${id} L1] Incident recovered`);
    expect(summary.text).toMatch(/RTO 1 h: met — recovered in .+ to spare; RPO achieved /);
    expect(summary.text).toContain('RPO achieved');
    expect(summary.text).toContain(`reports/${id}/report.md`);
    expect(result.timeline.filter((s) => s.kind === 'notification' && s.status === 'failed')).toEqual([]);
  });

  it('recovers while Slack is down, recording the undelivered notifications on the timeline', async () => {
    await slack.setDown(true);
    try {
      const id = await declareL1();
      const result = (await driveIncident(
        worker.client,
        id,
        {
          'apply-restore': { approve: ['bob'] },
          review: { complete: { by: 'carol' } },
        },
        { timeoutMs: 90_000 },
      )) as RunResult;
      expect(result.outcome).toBe('recovered');
      expect(result.rto?.verdict).toBe('met');
      const failed = result.timeline.filter((s) => s.kind === 'notification' && s.status === 'failed');
      expect(failed.length).toBeGreaterThanOrEqual(3);
      expect(failed.map((s) => s.name)).toEqual(
        expect.arrayContaining([expect.stringContaining('incident declared'), expect.stringContaining('Approval needed')]),
      );
      expect(failed[0]!.detail).toMatch(/notification not delivered: .*Slack chat\.postMessage failed after 3 attempt\(s\): HTTP 503/);
      expect(slack.messages().filter((m) => m.text?.includes(id))).toEqual([]);
    } finally {
      await slack.setDown(false);
    }
    observed('Slack down', 'the incident recovered with Slack refusing every call; each undelivered notice is on the timeline');
  });
});
