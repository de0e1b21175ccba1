// The approval receiver end to end: signed button clicks (built as Slack builds them) reach a real
// L1 incident on real Temporal through the receiver, with a fake Slack Web API. The worker's policy
// trusts the receiver's own (throwaway) key for the user ids it maps. Every abuse case is refused
// with no effect on the run, a group member whose handle is an approver's name included; a double
// click gives one approval, on the record as signed by the receiver's key via the clicker's id; a
// valid click approves and the incident recovers. Socket Mode is exercised against a local
// WebSocket stand-in.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { APPROVE_ACTION, DONE_ACTION, REJECT_ACTION, encodeButtonValue } from '../activities/notify/slack-actions.js';
import { type RunningReceiver, startReceiver } from '../client/slack/receiver.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import { type RunResult, type RunStatus } from '../common/plans.js';
import { statusQuery } from '../workflows/messages.js';
import { type FakeSlack, startFakeSlack } from './fake-slack.js';
import { startFakeSocketMode } from './fake-slack-socket.js';
import {
  type TestDatabase,
  type TestWorker,
  backupAndVerify,
  createCrmDatabase,
  startL1Incident,
  runLifeboat,
  startTestWorker,
  testConfigText,
  testEnv,
  uniqueName,
  observed,
  runResultOf,
} from './helpers.js';
import { blockActionsPayload, post, signedRequest } from './slack-sign.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const CHANNEL = 'C0LIFEBOAT';
const people = {
  U0ALICE: { name: 'alice' },
  U0BOB: { name: 'bob' },
  U0CAROL: { name: 'carol' },
  U0MALLORY: { name: 'mallory' },
  U0NOBODY: { name: 'nobody' },
} as const;
type Person = keyof typeof people;

/** The receiver's throwaway key pair: `slack` (it signs) and `slack.pub` (the worker trusts it). */
const keyDir = mkdtempSync(join(tmpdir(), 'lifeboat-slack-receiver-'));
const RECEIVER_KEY = join(keyDir, 'slack');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'slack-receiver', '-f', RECEIVER_KEY]);
const RECEIVER_FINGERPRINT = execFileSync('ssh-keygen', ['-lf', `${RECEIVER_KEY}.pub`], { encoding: 'utf8' }).split(' ')[1]!;

// Bob is no one's mapped user: he is only in a user group, with the handle "bob".
const slackConfig = (apiUrl: string, transport: 'http' | 'socket' = 'http', signs = true) => `notify:
  slack:
    channel: ${CHANNEL}
    apiUrl: ${apiUrl}
    retries: 0
    receiver: { transport: ${transport}, port: 0, ${signs ? `signingKeyFile: ${RECEIVER_KEY}, ` : ''}publicKeyFiles: [${RECEIVER_KEY}.pub] }
    users: { U0ALICE: alice, U0CAROL: carol, U0MALLORY: mallory }
approvals:
  L1: { approvers: [alice, bob, carol] }`;

describe('Slack approval receiver', () => {
  let db: TestDatabase;
  let slack: FakeSlack;
  let config: LifeboatConfig;
  let configText: string;
  let worker: TestWorker;
  let receiver: RunningReceiver;
  let incidentId: string;
  let incident: WorkflowHandle;
  let plan: WorkflowHandle;
  const logs: string[] = [];

  const env = () => ({ ...testEnv(db), SLACK_BOT_TOKEN: slack.token, SLACK_SIGNING_SECRET: SECRET });
  const value = (name = 'apply-restore', workflowId = `${incidentId}-L1`) => encodeButtonValue({ workflowId, name, incidentId });
  const click = (who: Person, options: { actionId?: string; value?: string } = {}) =>
    blockActionsPayload({
      actionId: options.actionId ?? APPROVE_ACTION,
      value: options.value ?? value(),
      user: { id: who, username: people[who].name },
      channel: CHANNEL,
    });
  const send = (payload: unknown, options: { secret?: string; timestamp?: number; rawBody?: string } = {}) =>
    post(receiver.url!, signedRequest(options.secret ?? SECRET, payload, options));
  const planStatus = (): Promise<RunStatus> => plan.query(statusQuery);
  const ephemeralsTo = (user: string) => slack.ephemerals().filter((e) => e.user === user);
  /** Waits for the n-th ephemeral message to a user and returns its text. */
  const nthEphemeral = async (user: string, n: number): Promise<string> => {
    await expect.poll(() => ephemeralsTo(user).length, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(n);
    return ephemeralsTo(user)[n - 1]!.text!;
  };
  const stillWaiting = async () => {
    const status = await planStatus();
    const gate = status.waiting.find((w) => w.name === 'apply-restore');
    expect(gate, 'the gate still waits').toBeDefined();
    expect(gate!.approvedBy).toEqual([]);
    // Refusals leave no trace: validators reject before the history.
    const accepted = (await plan.fetchHistory()).events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    expect(accepted).toEqual([]);
  };

  /** Deletes three leads and declares an L1 for them (by carol); resolves once its gate waits. */
  async function declareL1(offset: number): Promise<void> {
    const ids = await withClient(db.url, async (c) => {
      const rows = (await c.query<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 3 OFFSET $1', [offset])).rows.map(
        (r) => r.id,
      );
      await c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [rows]);
      return rows;
    });
    ({ incidentId, incident, plan } = await startL1Incident(worker, config, ids, 'a bad script deleted 3 leads'));
    // expect.poll belongs to tests: wait by hand.
    for (const deadline = Date.now() + 90_000; ; await new Promise((ok) => setTimeout(ok, 250))) {
      const waiting = await planStatus().then(
        (s) => s.waiting.map((w) => w.name),
        () => [] as string[],
      );
      if (waiting.includes('apply-restore')) break;
      if (Date.now() > deadline) throw new Error(`the L1 plan of ${incidentId} never waited for apply-restore`);
    }
  }

  beforeAll(async () => {
    db = await createCrmDatabase(200);
    slack = await startFakeSlack({
      token: 'xoxb-receiver-test',
      channels: [CHANNEL],
      users: { ...people },
      userGroups: { S0DBAS: ['U0BOB'] },
    });
    configText = testConfigText({ prefix: uniqueName('slack'), extra: slackConfig(slack.url) });
    config = parseConfig(configText, 'test configuration', {});
    worker = await startTestWorker(config, testEnv(db));
    await backupAndVerify(worker);

    await declareL1(20);

    receiver = await startReceiver({
      slack: config.notify.slack!,
      temporal: worker.client,
      env: env(),
      port: 0,
      host: '127.0.0.1',
      log: (line) => logs.push(line),
    });
  });

  afterAll(async () => {
    await receiver?.stop();
    await worker?.stop();
    await slack?.close();
    await db?.drop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it('listens where it says', () => {
    expect(receiver.transport).toBe('http');
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/slack\/events$/);
  });

  it('refuses a forged signature and a replayed (stale) request with 401, sending no Update', async () => {
    expect((await send(click('U0ALICE'), { secret: 'not-the-secret' })).status).toBe(401);
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    expect((await send(click('U0ALICE'), { timestamp: tenMinutesAgo })).status).toBe(401);
    // A request captured and replayed as is: correct signature, old timestamp.
    const captured = signedRequest(SECRET, click('U0ALICE'), { timestamp: tenMinutesAgo });
    expect((await post(receiver.url!, captured)).status).toBe(401);
    await stillWaiting();
    expect(ephemeralsTo('U0ALICE')).toEqual([]);
    observed('forged or replayed Slack request', 'both answered 401; no Update reached the run');
  });

  it('refuses malformed requests with 400: unparsable body, a bad button value, an unknown action, another interaction type', async () => {
    expect((await send(null, { rawBody: 'payload=%7Bnot-json' })).status).toBe(400);
    expect((await send(click('U0ALICE', { value: '{"w":"x"' }))).status).toBe(400);
    expect(
      (await send(click('U0ALICE', { value: JSON.stringify({ w: `${incidentId}-L1`, n: 'apply-restore', i: incidentId, extra: 1 }) })))
        .status,
    ).toBe(400);
    expect((await send(click('U0ALICE', { actionId: 'delete_everything' }))).status).toBe(400);
    expect((await send({ ...click('U0ALICE'), type: 'view_submission' })).status).toBe(400);
    await stillWaiting();
    expect(ephemeralsTo('U0ALICE')).toEqual([]);
    // Refusals are logged without the payload or the secret.
    expect(logs.some((l) => l.includes('refused interaction (400)'))).toBe(true);
    expect(logs.join('\n')).not.toContain(SECRET);
    expect(logs.join('\n')).not.toContain('not-json');
  });

  it("does not take a user group member whose handle is an approver's name for that approver, nor ask Slack who they are", async () => {
    // In the fake workspace U0BOB's handle is "bob", an L1 approver, and he is in group S0DBAS.
    expect((await send(click('U0BOB'))).status).toBe(200);
    expect(await nthEphemeral('U0BOB', 1)).toMatch(
      /^You are not mapped to a Lifeboat approver: ask an admin to add your Slack id U0BOB to notify\.slack\.users\. Nothing was decided\.$/,
    );
    expect(slack.calls('users.info')).toEqual([]);
    expect(slack.calls('usergroups.users.list')).toEqual([]);
    await stillWaiting();
    observed('Slack group member whose handle is an approver', 'refused; nothing in history; Slack was never asked who they are');
  });

  it('tells an unknown Slack user they are not mapped, and the run keeps waiting', async () => {
    const res = await send(click('U0NOBODY'));
    expect(res.status).toBe(200);
    expect(await nthEphemeral('U0NOBODY', 1)).toMatch(
      /You are not mapped to a Lifeboat approver: ask an admin to add your Slack id U0NOBODY to notify\.slack\.users/,
    );
    expect(ephemeralsTo('U0NOBODY')[0]!.channel).toBe(CHANNEL);
    await stillWaiting();
  });

  it("gives a mapped user who may not decide the gate the validator's reason", async () => {
    expect((await send(click('U0MALLORY'))).status).toBe(200);
    expect(await nthEphemeral('U0MALLORY', 1)).toMatch(
      /^Refused: mallory may not decide gate "apply-restore" of an L1 incident \(allowed: alice, bob, carol\)/,
    );
    // Nor reject it.
    expect((await send(click('U0MALLORY', { actionId: REJECT_ACTION }))).status).toBe(200);
    expect(await nthEphemeral('U0MALLORY', 2)).toMatch(/^Refused: mallory may not decide gate "apply-restore"/);
    await stillWaiting();
  });

  it('refuses the declarer when self-approval is off', async () => {
    expect((await send(click('U0CAROL'))).status).toBe(200);
    expect(await nthEphemeral('U0CAROL', 1)).toMatch(/carol declared this incident and self-approval is off/);
    await stillWaiting();
  });

  it('answers in Socket Mode too (a refusal, so the gate still waits for the HTTP tests)', async () => {
    const socket = await startFakeSocketMode();
    slack.handle('apps.connections.open', () => ({ url: socket.url }));
    const socketConfig = parseConfig(
      testConfigText({ prefix: uniqueName('slack'), extra: slackConfig(slack.url, 'socket') }),
      'socket configuration',
      {},
    );
    // The fake Web API knows one token: the app-level token (apps.connections.open) is that one here.
    const viaSocket = await startReceiver({
      slack: socketConfig.notify.slack!,
      temporal: worker.client,
      env: { ...env(), SLACK_APP_TOKEN: slack.token },
      log: (line) => logs.push(line),
    });
    try {
      expect(viaSocket.transport).toBe('socket');
      await socket.connected();
      socket.send({ envelope_id: 'env-1', type: 'interactive', accepts_response_payload: false, payload: click('U0MALLORY') });
      expect(await nthEphemeral('U0MALLORY', 3)).toMatch(/^Refused: mallory may not decide gate "apply-restore"/);
      expect(socket.acks().map((a) => a.envelope_id)).toEqual(['env-1']);
      // A bad button value over the socket: acked (so Slack does not redeliver it), nothing sent.
      socket.send({
        envelope_id: 'env-2',
        type: 'interactive',
        accepts_response_payload: false,
        payload: click('U0ALICE', { value: 'nope' }),
      });
      await expect.poll(() => socket.acks().map((a) => a.envelope_id), { timeout: 10_000 }).toEqual(['env-1', 'env-2']);
      expect(ephemeralsTo('U0ALICE')).toEqual([]);
      await stillWaiting();
    } finally {
      await viaSocket.stop();
      await socket.close();
    }
  });

  it('gives one approval for a double click, signed by the receiver via the clicker, and tells the second click it was already approved', async () => {
    const request = signedRequest(SECRET, click('U0ALICE'));
    const [first, second] = await Promise.all([post(receiver.url!, request), post(receiver.url!, request)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    const texts = [await nthEphemeral('U0ALICE', 1), await nthEphemeral('U0ALICE', 2)].sort();
    expect(texts[0]).toMatch(new RegExp(`^Approved: gate apply-restore of ${incidentId} — the plan goes on`));
    expect(texts[1]).toMatch(/^Refused: gate apply-restore of .* was already approved by alice/);
    // The ack (the HTTP response) went out before the outcome was posted: the Update came after it.
    const firstEphemeral = slack.calls('chat.postEphemeral').find((c) => c.args.user === 'U0ALICE')!;
    expect(Math.min(first.at, second.at)).toBeLessThanOrEqual(firstEphemeral.at);

    // On the record: alice, proven by the receiver's key, for Slack user U0ALICE.
    const gate = (await planStatus()).timeline.find((s) => s.name === 'apply-restore')!;
    expect(gate).toMatchObject({ status: 'done', actor: 'alice' });
    expect(gate.decisions).toEqual([
      expect.objectContaining({ decision: 'approve', by: 'alice', via: 'slack:U0ALICE', fingerprint: RECEIVER_FINGERPRINT }),
    ]);
  });

  it('completes the review task from a "Mark done" click, and the incident recovers', async () => {
    await expect
      .poll(() => incident.query(statusQuery).then((s) => s.waiting.map((w) => w.name)), { timeout: 60_000, interval: 250 })
      .toContain('review');
    const res = await send(click('U0ALICE', { actionId: DONE_ACTION, value: value('review', incidentId) }));
    expect(res.status).toBe(200);
    expect(await nthEphemeral('U0ALICE', 3)).toMatch(new RegExp(`^Done: task review of ${incidentId}`));
    const result = (await incident.result()) as RunResult;
    expect(result.outcome).toBe('recovered');
    const review = result.timeline.find((s) => s.name === 'review');
    expect(review).toMatchObject({ status: 'done', actor: 'alice' });
    expect(review!.decisions).toEqual([
      expect.objectContaining({ decision: 'complete', by: 'alice', text: 'marked done from Slack by alice', via: 'slack:U0ALICE' }),
    ]);
    // A click on a button of an ended run is refused with what happened.
    await send(click('U0ALICE'));
    expect(await nthEphemeral('U0ALICE', 4)).toMatch(/^Refused: gate apply-restore of .* was already approved by alice/);
  });

  it('rejects from Slack with a reason naming the approver, and the plan stops without changing anything', async () => {
    await declareL1(40);
    const before = ephemeralsTo('U0ALICE').length;
    expect((await send(click('U0ALICE', { actionId: REJECT_ACTION }))).status).toBe(200);
    expect(await nthEphemeral('U0ALICE', before + 1)).toMatch(
      new RegExp(`^Rejected: gate apply-restore of ${incidentId} — nothing is changed`),
    );
    const result = await runResultOf(incident);
    expect(result.outcome).toBe('rejected');
    expect((await incident.describe()).status.name).toBe('FAILED');
    expect(result.detail).toContain('alice rejected "apply-restore": rejected from Slack by alice');
  });

  describe('lifeboat slack serve', () => {
    const LIFEBOAT = fileURLToPath(new URL('../bin/lifeboat', import.meta.url));
    const writeConfig = (text: string) => {
      const file = join(mkdtempSync(join(tmpdir(), 'lifeboat-slack-')), 'lifeboat.yaml');
      writeFileSync(file, text);
      return file;
    };
    const baseEnv = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

    it('refuses (exit 2) without notify.slack, without its signing key, or without the signing secret, naming what is missing', async () => {
      const bare = writeConfig(testConfigText({ prefix: uniqueName('slack') }));
      const none = await runLifeboat(['--config', bare, 'slack', 'serve'], baseEnv());
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('notify.slack is not configured');
      const keyless = writeConfig(testConfigText({ prefix: uniqueName('slack'), extra: slackConfig(slack.url, 'http', false) }));
      const noKey = await runLifeboat(['--config', keyless, 'slack', 'serve'], {
        ...baseEnv(),
        SLACK_BOT_TOKEN: slack.token,
        SLACK_SIGNING_SECRET: SECRET,
      });
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain(
        'notify.slack.receiver.signingKeyFile is not set: the receiver signs every click with its own SSH key',
      );
      const noSecret = await runLifeboat(['--config', writeConfig(configText), 'slack', 'serve'], {
        ...baseEnv(),
        SLACK_BOT_TOKEN: slack.token,
      });
      expect(noSecret.code).toBe(2);
      expect(noSecret.stderr).toContain('set SLACK_SIGNING_SECRET');
    });

    it("lifeboat keys lists the receiver's key with the fingerprint ssh-keygen -lf prints", async () => {
      const keys = await runLifeboat(['--config', writeConfig(configText), 'keys'], baseEnv());
      expect(keys.code).toBe(0);
      expect(keys.stdout).toMatch(
        new RegExp(`^\\(Slack receiver\\)\\s+ssh-ed25519\\s+${RECEIVER_FINGERPRINT.replace(/[+/]/g, '\\$&')}\\s+slack-receiver$`, 'm'),
      );
    });

    it('prints where it listens and stops cleanly on SIGTERM', async () => {
      const file = writeConfig(configText);
      const child = spawn(LIFEBOAT, ['--config', file, 'slack', 'serve'], {
        env: { ...baseEnv(), SLACK_BOT_TOKEN: slack.token, SLACK_SIGNING_SECRET: SECRET },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((ok) => child.on('close', (code) => ok(code)));
      await expect.poll(() => stdout, { timeout: 30_000, interval: 100 }).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+\/slack\/events/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout).toContain('stopped (SIGTERM)');
    });
  });
});
