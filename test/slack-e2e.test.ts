// The two halves of the Slack work joined: a worker whose notifier is the real SlackNotifier and the
// real approval receiver, both against one fake Slack. An L1 incident posts its approval request
// into the fake's thread; the button clicked is the one in THAT message (its action_id and value),
// signed as Slack signs it. Every abuse case is refused first with no effect on the run (the gate
// still waits with no approval, no Update was accepted, the message keeps its buttons); then one
// allowed click approves (twice sent, one approval), the incident recovers with the deleted rows
// back, and the thread reads: declaration, the approval request updated in place, the final summary.
// The worker's policy trusts the receiver's own key (and alice's personal one): the approval is on the
// record as signed by the receiver's key via alice's Slack id, and `lifeboat audit` verifies it; an
// Update that claims that Slack id but is signed with alice's own key is refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { fingerprints, userTables } from '../activities/postgres/inspect.js';
import { selectNotifier } from '../activities/notify/select.js';
import { SlackNotifier } from '../activities/notify/slack.js';
import { APPROVE_ACTION, DONE_ACTION, GATE_BLOCK, parseButtonValue } from '../activities/notify/slack-actions.js';
import { type RunningReceiver, startReceiver } from '../client/slack/receiver.js';
import { auditRun } from '../client/audit.js';
import { prove } from '../client/sign.js';
import { digestOf } from '../common/proof.js';
import type { LifeboatConfig } from '../config/config.js';
import { type RunResult } from '../common/plans.js';
import { approveUpdate, statusQuery } from '../workflows/messages.js';
import { type FakeMessage, type FakeSlack, startFakeSlack } from './fake-slack.js';
import {
  type TestDatabase,
  type TestWorker,
  backupAndVerify,
  createCrmDatabase,
  startL1Incident,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  waitingNames,
} from './helpers.js';
import { blockActionsPayload, post, signedRequest } from './slack-sign.js';

const TOKEN = 'xoxb-e2e-test-token';
const SECRET = 'e2e-signing-secret-0123456789abcdef';
const CHANNEL = 'C0LIFEBOAT';
const people = {
  U0ALICE: { name: 'alice' },
  U0CAROL: { name: 'carol' },
  U0MALLORY: { name: 'mallory' },
  U0NOBODY: { name: 'nobody' },
} as const;
type Person = keyof typeof people;

/** Throwaway keys: the receiver's (`slack`) and alice's own (`alice`), each with its .pub. */
const keyDir = mkdtempSync(join(tmpdir(), 'lifeboat-slack-e2e-'));
const keyFile = (name: 'slack' | 'alice') => join(keyDir, name);
const fingerprint = (name: 'slack' | 'alice') =>
  execFileSync('ssh-keygen', ['-lf', `${keyFile(name)}.pub`], { encoding: 'utf8' }).split(' ')[1]!;

/** The children of a lead: cascade-deleted (or set null) with it, and restored with it. */
const CHILDREN = ['crm_activities', 'crm_reminders', 'crm_lead_notes', 'crm_notifications'] as const;

type Button = { type: string; action_id: string; value: string };
type Block = { type: string; block_id?: string; elements?: Button[] };
const buttonsOf = (blocks: unknown): Button[] =>
  ((blocks ?? []) as Block[]).filter((b) => b.type === 'actions' && b.block_id === GATE_BLOCK).flatMap((b) => b.elements ?? []);
const blocksText = (blocks: unknown) => JSON.stringify(blocks ?? []);

describe('Slack end to end: the notifier posts, a signed click on the posted button approves', () => {
  let db: TestDatabase;
  let slack: FakeSlack;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let receiver: RunningReceiver;
  const logs: string[] = [];

  let id: string;
  let incident: WorkflowHandle;
  let plan: WorkflowHandle;
  let deleted: string[];
  let rowsBefore: Record<string, unknown[]>;
  let tablesBefore: Record<string, unknown>;
  /** The approval request as found in the thread, and its Approve button, read from the posted blocks. */
  let approval: FakeMessage;
  let approve: Button;
  let versionsWhenFound: number;

  const ephemeralsTo = (user: Person) => slack.ephemerals().filter((e) => e.user === user);
  const nthEphemeral = async (user: Person, n: number) => {
    await expect.poll(() => ephemeralsTo(user).length, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(n);
    return ephemeralsTo(user)[n - 1]!;
  };
  /** A click on a button of a posted message, as Slack sends it for that message. */
  const clickOn = (message: FakeMessage, button: Button, who: Person) =>
    blockActionsPayload({
      actionId: button.action_id,
      value: button.value,
      user: { id: who, username: people[who].name },
      channel: message.channel,
      messageTs: message.ts,
      threadTs: message.thread_ts,
    });
  const send = (payload: unknown, options: { secret?: string; timestamp?: number; rawBody?: string } = {}) =>
    post(receiver.url!, signedRequest(options.secret ?? SECRET, payload, options));

  const tableSums = () =>
    withClient(db.url, async (c) =>
      fingerprints(
        c,
        (await userTables(c)).filter((t) => !t.includes('.')),
      ),
    );
  /** The deleted leads and their children, whole rows, in a stable order. */
  const rowsOf = (ids: string[]) =>
    withClient(db.url, async (c) => {
      const rows: Record<string, unknown[]> = {};
      for (const [table, column] of [['crm_leads', 'id'], ...CHILDREN.map((t) => [t, 'lead_id'])] as const) {
        rows[table] = (
          await c.query(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE ${column} = ANY($1::bigint[]) ORDER BY id`, [ids])
        ).rows.map((r) => r.row);
      }
      return rows;
    });
  /** Updates the plan accepted: a refused click leaves none (validators reject before the history). */
  const acceptedUpdates = async () =>
    (await plan.fetchHistory()).events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;

  /** No effect on the run: the gate still waits with no approval, no Update accepted, the message untouched with its buttons. */
  const unaffected = async () => {
    const gate = (await plan.query(statusQuery)).waiting.find((w) => w.name === 'apply-restore');
    expect(gate, 'the gate still waits').toBeDefined();
    expect(gate!.approvedBy).toEqual([]);
    expect(await acceptedUpdates()).toBe(0);
    const message = slack.message(`${approval.channel}:${approval.ts}`)!;
    expect(message.versions).toHaveLength(versionsWhenFound);
    expect(buttonsOf(message.blocks).map((b) => b.action_id)).toContain(APPROVE_ACTION);
  };

  beforeAll(async () => {
    for (const name of ['slack', 'alice'] as const) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile(name)]);
    db = await createCrmDatabase(200);
    slack = await startFakeSlack({ token: TOKEN, channels: [CHANNEL], users: { ...people } });
    config = testConfig({
      prefix: uniqueName('slack_e2e'),
      people: false,
      extra: `notify:
  slack:
    channel: ${CHANNEL}
    apiUrl: ${slack.url}
    receiver: { transport: http, port: 0, signingKeyFile: ${keyFile('slack')}, publicKeyFiles: [${keyFile('slack')}.pub] }
    users: { U0ALICE: alice, U0CAROL: carol, U0MALLORY: mallory }
people:
  alice: { keyFiles: [${keyFile('alice')}.pub] }
approvals:
  L1: { approvers: [alice, bob, carol] }`,
    });
    // Both halves as production chooses and starts them, against the same fake.
    const notifier = selectNotifier(config, { SLACK_BOT_TOKEN: TOKEN });
    expect(notifier).toBeInstanceOf(SlackNotifier);
    worker = await startTestWorker(config, testEnv(db), { notifier });
    receiver = await startReceiver({
      slack: config.notify.slack!,
      temporal: worker.client,
      env: { SLACK_BOT_TOKEN: TOKEN, SLACK_SIGNING_SECRET: SECRET },
      log: (line) => logs.push(line),
    });

    await backupAndVerify(worker);
  });

  afterAll(async () => {
    await receiver?.stop();
    await worker?.stop();
    await slack?.close();
    await db?.drop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it('declares an L1 for deleted leads and posts its approval request, with buttons, into the incident thread', async () => {
    // The receiver took its (loopback) listen address from the configuration's default.
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/slack\/events$/);

    tablesBefore = await tableSums();
    deleted = await withClient(db.url, async (c) =>
      (
        await c.query<{ id: string }>(
          'SELECT l.id::text FROM crm_leads l WHERE EXISTS (SELECT 1 FROM crm_activities a WHERE a.lead_id = l.id) ORDER BY l.id LIMIT 4 OFFSET 10',
        )
      ).rows.map((r) => r.id),
    );
    expect(deleted).toHaveLength(4);
    rowsBefore = await rowsOf(deleted);
    expect(rowsBefore.crm_activities!.length).toBeGreaterThan(0);
    await withClient(db.url, (c) => c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [deleted]));
    const damaged = await rowsOf(deleted);
    expect([damaged.crm_leads, damaged.crm_activities]).toEqual([[], []]);

    ({ incidentId: id, incident, plan } = await startL1Incident(worker, config, deleted, 'a bad script deleted 4 leads'));

    // The approval request for apply-restore, found by the button the notifier drew in it.
    const isOurRequest = (m: FakeMessage) =>
      buttonsOf(m.blocks).some(
        (b) =>
          b.action_id === APPROVE_ACTION &&
          (() => {
            try {
              const target = parseButtonValue(b.value);
              return target.incidentId === id && target.name === 'apply-restore';
            } catch {
              return false;
            }
          })(),
      );
    await expect.poll(() => slack.messages(CHANNEL).some(isOurRequest), { timeout: 90_000, interval: 200 }).toBe(true);
    approval = slack.messages(CHANNEL).find(isOurRequest)!;
    approve = buttonsOf(approval.blocks).find((b) => b.action_id === APPROVE_ACTION)!;
    versionsWhenFound = approval.versions.length;

    const root = slack.message(`${CHANNEL}:${approval.thread_ts}`)!;
    expect(root.thread_ts).toBeUndefined();
    expect(root.text).toContain(`[${id} L1] L1 incident declared by carol`);
    expect(approval.text).toContain(`[${id} L1] Approval needed`);
    expect(parseButtonValue(approve.value)).toEqual({ workflowId: `${id}-L1`, name: 'apply-restore', incidentId: id });
    await expect.poll(() => waitingNames(plan), { timeout: 20_000 }).toContain('apply-restore');
    await unaffected();
  });

  it('refuses a forged signature and a request older than 5 minutes with 401, and a malformed payload with 400: no effect', async () => {
    const ephemerals = slack.ephemerals().length;
    expect((await send(clickOn(approval, approve, 'U0ALICE'), { secret: 'not-the-signing-secret' })).status).toBe(401);
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
    expect((await send(clickOn(approval, approve, 'U0ALICE'), { timestamp: sixMinutesAgo })).status).toBe(401);
    // Correctly signed, but not a payload: unparsable JSON, then the posted button with a tampered value.
    expect((await send(null, { rawBody: 'payload=%7B%22type%22%3A%22block_actions%22' })).status).toBe(400);
    expect(
      (await send(clickOn(approval, { ...approve, value: approve.value.replace('apply-restore', 'apply-restore"') }, 'U0ALICE'))).status,
    ).toBe(400);
    expect(slack.ephemerals()).toHaveLength(ephemerals);
    await unaffected();
  });

  it('tells an unknown Slack user they are not mapped: 200, an ephemeral refusal, no effect', async () => {
    expect((await send(clickOn(approval, approve, 'U0NOBODY'))).status).toBe(200);
    const answer = await nthEphemeral('U0NOBODY', 1);
    expect(answer.text).toMatch(/^You are not mapped to a Lifeboat approver: .*U0NOBODY.* Nothing was decided\.$/);
    expect(answer).toMatchObject({ channel: CHANNEL, thread_ts: approval.thread_ts });
    await unaffected();
  });

  it("gives a mapped user who is not an L1 approver the validator's reason: no effect", async () => {
    expect((await send(clickOn(approval, approve, 'U0MALLORY'))).status).toBe(200);
    expect((await nthEphemeral('U0MALLORY', 1)).text).toMatch(
      /^Refused: mallory may not decide gate "apply-restore" of an L1 incident \(allowed: alice, bob, carol\)/,
    );
    await unaffected();
  });

  it('refuses the declarer, self-approval being off: no effect', async () => {
    expect((await send(clickOn(approval, approve, 'U0CAROL'))).status).toBe(200);
    expect((await nthEphemeral('U0CAROL', 1)).text).toMatch(/^Refused: .*carol declared this incident and self-approval is off/);
    await unaffected();
  });

  it("refuses an Update claiming alice's Slack id but signed with her own key, and an unsigned one: no effect", async () => {
    const { runId } = await plan.describe();
    const { namespace } = worker.client.options;
    const answer = { namespace, workflowId: plan.workflowId, runId, item: 'apply-restore', decision: 'approve' as const, by: 'alice' };
    const forged = await prove({ ...answer, via: 'slack:U0ALICE', textDigest: digestOf(undefined) }, keyFile('alice'));
    const pinned = worker.client.workflow.getHandle(plan.workflowId, runId);
    const refusal = (proof?: typeof forged) =>
      pinned.executeUpdate(approveUpdate, { args: [{ gate: 'apply-restore', by: 'alice', proof }] }).then(
        () => undefined,
        (err: unknown) => err,
      );
    const viaForged = await refusal(forged);
    expect(viaForged).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((viaForged as WorkflowUpdateFailedError).cause?.message).toMatch(
      /alice is not proven: the signing key SHA256:\S+ is not an allowed key/,
    );
    const unsigned = await refusal(undefined);
    expect((unsigned as WorkflowUpdateFailedError).cause?.message).toMatch(/alice's answer is not signed/);
    await unaffected();
  });

  it('approves once from an allowed click sent twice; the second answer says it was already approved', async () => {
    const click = signedRequest(SECRET, clickOn(approval, approve, 'U0ALICE'));
    expect((await post(receiver.url!, click)).status).toBe(200);
    const first = await nthEphemeral('U0ALICE', 1);
    expect(first.text).toMatch(new RegExp(`^Approved: gate apply-restore of ${id} — the plan goes on`));
    expect(first).toMatchObject({ channel: CHANNEL, thread_ts: approval.thread_ts });
    // The very same signed request again (a second click, or Slack retrying): still one approval.
    expect((await post(receiver.url!, click)).status).toBe(200);
    expect((await nthEphemeral('U0ALICE', 2)).text).toMatch(
      new RegExp(`^Refused: gate apply-restore of ${id} was already approved by alice`),
    );
    expect(await acceptedUpdates()).toBe(1);
    const gate = (await plan.query(statusQuery)).timeline.filter((s) => s.name === 'apply-restore');
    expect(gate).toEqual([expect.objectContaining({ kind: 'approval', status: 'done', actor: 'alice' })]);
    // Proven by the receiver's key, for Slack user U0ALICE: not by alice's own key.
    expect(gate[0]!.decisions).toEqual([
      expect.objectContaining({ decision: 'approve', by: 'alice', via: 'slack:U0ALICE', fingerprint: fingerprint('slack') }),
    ]);
    expect(fingerprint('slack')).not.toBe(fingerprint('alice'));
  });

  it('recovers: the deleted rows are back, and the thread holds the declaration, the request updated in place and the summary', async () => {
    // The review task, from its own posted "Mark done" button.
    const isReview = (m: FakeMessage) => m.thread_ts === approval.thread_ts && buttonsOf(m.blocks).some((b) => b.action_id === DONE_ACTION);
    await expect.poll(() => slack.messages(CHANNEL).some(isReview), { timeout: 60_000, interval: 200 }).toBe(true);
    const review = slack.messages(CHANNEL).find(isReview)!;
    expect(parseButtonValue(buttonsOf(review.blocks)[0]!.value)).toMatchObject({ name: 'review', incidentId: id });
    expect((await send(clickOn(review, buttonsOf(review.blocks)[0]!, 'U0ALICE'))).status).toBe(200);
    expect((await nthEphemeral('U0ALICE', 3)).text).toMatch(new RegExp(`^Done: task review of ${id}`));

    const result = (await incident.result()) as RunResult;
    expect(result.outcome).toBe('recovered');
    expect(result.rto?.verdict).toBe('met');
    expect(result.timeline.filter((s) => s.kind === 'notification' && s.status === 'failed')).toEqual([]);
    expect(result.timeline.filter((s) => s.name === 'apply-restore')).toEqual([
      expect.objectContaining({ status: 'done', actor: 'alice' }),
    ]);

    // The data: the deleted leads and their children exactly as before, and every table as before.
    expect(await rowsOf(deleted)).toEqual(rowsBefore);
    expect(await tableSums()).toEqual(tablesBefore);

    // The thread, in order.
    const thread = slack.thread(approval.thread_ts!);
    const root = thread[0]!;
    expect(root.ts).toBe(approval.thread_ts);
    expect(root.text).toContain(`[${id} L1] L1 incident declared by carol`);
    expect(blocksText(root.blocks)).toMatch(/deadline <!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|\d{4}-\d\d-\d\dT[\d:.]+Z>/);
    expect(thread.slice(1).every((m) => m.thread_ts === root.ts && m.channel === CHANNEL)).toBe(true);

    // The approval request: one message, updated in place (same ts); buttons first, then who and when.
    const requests = thread.filter((m) => m.versions[0]!.text?.includes(`[${id} L1] Approval needed`));
    expect(requests.map((m) => m.ts)).toEqual([approval.ts]);
    const decided = requests[0]!;
    const at = thread.indexOf(decided);
    expect(at).toBeGreaterThan(0);
    expect(decided.versions.length).toBeGreaterThanOrEqual(2);
    expect(buttonsOf(decided.versions[0]!.blocks).map((b) => b.action_id)).toContain(APPROVE_ACTION);
    expect(buttonsOf(decided.blocks)).toEqual([]);
    expect(blocksText(decided.blocks)).toMatch(
      /✅ Approved by alice at <!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|\d{4}-\d\d-\d\dT[\d:.]+Z>/,
    );
    expect(decided.text).toContain('Approved by alice');
    expect(slack.calls('chat.update').some((c) => c.args.ts === approval.ts && c.status === 200 && !c.error)).toBe(true);

    // The final summary closes the thread: RTO verdict and where the report is.
    const summary = thread[thread.length - 1]!;
    expect(thread.indexOf(summary)).toBeGreaterThan(at);
    expect(summary.text).toContain(`[${id} L1] Incident recovered`);
    expect(summary.text).toMatch(/RTO 1 h: met — recovered in .+ to spare; RPO achieved /);
    expect(summary.text).toContain(`reports/${id}/report.md`);

    // Alice alone was told "approved" (ephemerals reach only the clicker); nothing secret was logged.
    expect(ephemeralsTo('U0ALICE')[0]!.text).toMatch(/^Approved: /);
    expect(
      slack
        .ephemerals()
        .filter((e) => /^Approved: /.test(e.text ?? ''))
        .map((e) => e.user),
    ).toEqual(['U0ALICE']);
    expect(logs.join('\n')).not.toContain(SECRET);
    expect(logs.join('\n')).not.toContain(TOKEN);

    // The audit re-checks both Slack answers from history against the policy the run recorded.
    const audit = (await auditRun(worker.client, id, { people: {}, receivers: [] })).sort((a, b) => a.time.localeCompare(b.time));
    expect(audit.filter((r) => r.item === 'apply-restore' || r.item === 'review').map((r) => [r.item, r.by, r.key, r.verdict])).toEqual([
      ['apply-restore', 'alice', `${fingerprint('slack')} via slack:U0ALICE`, 'verified'],
      ['review', 'alice', `${fingerprint('slack')} via slack:U0ALICE`, 'verified'],
    ]);
    expect(audit.every((r) => r.ok)).toBe(true);
  });
});
