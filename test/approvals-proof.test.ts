// Proven approvals on the real stack: with people enrolled in the WORKER's configuration, every
// approve, reject, completion and abort must carry an SSH signature bound to the run, the item,
// the decision, the person and the reason. Each forgery an insider could try is refused with the
// reason, as a typed non-retryable failure, leaving nothing in history; the policy (approvers,
// keys, RTO) is the worker's, whatever the declaring client sends; `actAs` answers nothing outside
// a drill; and the report lists every decision with the fingerprint of the key that proved it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { readReport } from '../activities/reports/report.js';
import { openStore } from '../activities/storage/open.js';
import { incidentInput } from '../client/incidents.js';
import { prove } from '../client/sign.js';
import { venvTool } from '../client/stack/processes.js';
import type { LifeboatConfig } from '../config/config.js';
import { FailureType } from '../common/errors.js';
import type { IncidentInput, PlanInput, RunResult, RunStatus } from '../common/plans.js';
import { type Decision, digestOf } from '../common/proof.js';
import { abortUpdate, approveUpdate, completeUpdate, statusQuery } from '../workflows/messages.js';
import {
  type TestDatabase,
  type TestWorker,
  backupAndVerify,
  createCrmDatabase,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  waitingNames,
  observed,
} from './helpers.js';

const PEOPLE = ['alice', 'bob', 'carol', 'mallory'] as const;
type Person = (typeof PEOPLE)[number];

describe('approvals that prove who approved', () => {
  let keys: string;
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  const keyFile = (who: Person) => join(keys, who);
  const fingerprint = (who: Person) => execFileSync('ssh-keygen', ['-lf', `${keyFile(who)}.pub`], { encoding: 'utf8' }).split(' ')[1]!;

  beforeAll(async () => {
    keys = mkdtempSync(join(tmpdir(), 'lifeboat-approvals-'));
    for (const who of PEOPLE) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${who}@example`, '-f', keyFile(who)]);
    // mallory has a key but is not enrolled: the worker knows alice, bob and carol only.
    const people = (['alice', 'bob', 'carol'] as const)
      .map((who) => `  ${who}: { keys: ["${readFileSync(`${keyFile(who)}.pub`, 'utf8').trim()}"] }`)
      .join('\n');
    db = await createCrmDatabase(200);
    config = testConfig({
      people: false,
      prefix: uniqueName('proof'),
      extra: `approvals:\n  L1: { approvers: [alice, bob] }\n  L4: { approvers: [alice, bob] }\npeople:\n${people}`,
    });
    worker = await startTestWorker(config, testEnv(db));
    await backupAndVerify(worker);
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
    if (keys) rmSync(keys, { recursive: true, force: true });
  });

  /** A run's identity, as a signer binds an answer to it. */
  async function runOf(handle: WorkflowHandle) {
    const { runId } = await handle.describe();
    return { namespace: 'default', workflowId: handle.workflowId, runId };
  }

  /** A proof made with `signer`'s key for an answer claimed by `by`; `override` forges single fields. */
  async function signed(
    handle: WorkflowHandle,
    signer: Person,
    answer: { item: string; decision: Decision; by: string; text?: string },
    override: { runId?: string; item?: string } = {},
  ) {
    const run = await runOf(handle);
    return prove(
      {
        ...run,
        ...override,
        item: override.item ?? answer.item,
        decision: answer.decision,
        by: answer.by,
        textDigest: digestOf(answer.text),
      },
      keyFile(signer),
    );
  }

  async function approve(handle: WorkflowHandle, gate: string, by: Person, signer: Person = by) {
    const proof = await signed(handle, signer, { item: gate, decision: 'approve', by });
    return handle.executeUpdate(approveUpdate, { args: [{ gate, by, proof }] });
  }

  async function complete(handle: WorkflowHandle, task: string, by: Person, note?: string) {
    const proof = await signed(handle, by, { item: task, decision: 'complete', by, text: note });
    await handle.executeUpdate(completeUpdate, { args: [{ task, by, note, proof }] });
  }

  /** The refusal a sender gets: a non-retryable ApprovalRefused failure carrying the reason. */
  async function refusal(update: Promise<unknown>): Promise<ApplicationFailure> {
    const err = await update.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(FailureType.approvalRefused);
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    return cause as ApplicationFailure;
  }

  const waitFor = async (handle: WorkflowHandle, name: string): Promise<RunStatus> => {
    await expect.poll(() => waitingNames(handle), { timeout: 60_000, interval: 200 }).toContain(name);
    return handle.query(statusQuery);
  };

  /** The Updates the run accepted, from its history. */
  async function acceptedUpdates(handle: WorkflowHandle): Promise<string[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? [])
      .filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
      .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.name!);
  }

  async function declare(input: IncidentInput) {
    const handle = await worker.client.workflow.start('incidentWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: input.incidentId,
      args: [input],
    });
    return { handle, plan: worker.client.workflow.getHandle(`${input.incidentId}-${input.level}`) };
  }

  const leadsDigest = () =>
    withClient(
      db.url,
      async (c) => (await c.query("SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS d FROM crm_leads t")).rows[0].d as string,
    );
  const leadIds = (offset: number) =>
    withClient(db.url, async (c) =>
      (await c.query<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 3 OFFSET $1', [offset])).rows.map((r) => r.id),
    );
  const leadsPresent = (ids: string[]) =>
    withClient(db.url, async (c) =>
      Number((await c.query('SELECT count(*) FROM crm_leads WHERE id = ANY($1::bigint[])', [ids])).rows[0].count),
    );

  it('L1: refuses unsigned, borrowed, misdirected and raw answers, then accepts a proven approval and brings the rows back', async () => {
    const ids = await leadIds(50);
    await withClient(db.url, (c) => c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [ids]));
    const input = incidentInput({
      target: 'crm',
      summary: 'a script deleted 3 leads',
      declaredBy: 'carol',
      level: 'L1',
      options: { record: { table: 'crm_leads', keys: ids, includeChildren: true, goodBefore: new Date().toISOString() } },
    });
    const { handle, plan } = await declare(input);
    await waitFor(plan, 'apply-restore');
    const gate = 'apply-restore';

    // Unsigned: the reason says how to sign.
    expect((await refusal(plan.executeUpdate(approveUpdate, { args: [{ gate, by: 'alice' }] }))).message).toContain(
      "alice's answer is not signed",
    );
    // The declarer signs with her own key while claiming to be bob.
    expect((await refusal(approve(plan, gate, 'bob', 'carol'))).message).toContain('bob is not proven');
    // alice's real signature, made for another run or another gate.
    const incidentRun = (await runOf(handle)).runId;
    const otherRun = await signed(plan, 'alice', { item: gate, decision: 'approve', by: 'alice' }, { runId: incidentRun });
    expect((await refusal(plan.executeUpdate(approveUpdate, { args: [{ gate, by: 'alice', proof: otherRun }] }))).message).toContain(
      'alice is not proven',
    );
    const otherGate = await signed(plan, 'alice', { item: gate, decision: 'approve', by: 'alice' }, { item: 'record-limit-override' });
    expect((await refusal(plan.executeUpdate(approveUpdate, { args: [{ gate, by: 'alice', proof: otherGate }] }))).message).toContain(
      'alice is not proven',
    );
    // A raw update from the Temporal CLI, as an insider with server access would send it.
    // Asynchronously: this process runs the worker that must answer it.
    const raw = await new Promise<{ code: number | null; output: string }>((resolve) =>
      execFile(
        venvTool('temporal'),
        [
          'workflow',
          'update',
          'execute',
          '--address',
          inject('temporalAddress'),
          '--workflow-id',
          plan.workflowId,
          '--name',
          'approve',
          '--input',
          JSON.stringify({ gate, by: 'alice' }),
        ],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, output: stdout + stderr }),
      ),
    );
    expect(raw.code).not.toBe(0);
    expect(raw.output).toContain("alice's answer is not signed");
    expect(raw.output).toContain(FailureType.approvalRefused);
    // None of it entered the history.
    expect(await acceptedUpdates(plan)).toEqual([]);
    expect((await plan.query(statusQuery)).waiting[0]!.approvedBy).toEqual([]);

    // Signed by alice for this run and gate: accepted (the signature verified inside the workflow sandbox).
    expect(await approve(plan, gate, 'alice')).toBeNull();
    await waitFor(handle, 'review');
    await complete(handle, 'review', 'carol', 'a script without a WHERE clause');
    const result: RunResult = await handle.result();
    expect(result.outcome).toBe('recovered');
    expect(await leadsPresent(ids)).toBe(3);
    expect(await acceptedUpdates(plan)).toEqual(['approve']);

    // On the record and in the report: who decided, with the key that proved them.
    const approval = result.timeline.find((s) => s.name === gate)!.decisions!;
    expect(approval).toEqual([expect.objectContaining({ decision: 'approve', by: 'alice', fingerprint: fingerprint('alice') })]);
    const store = openStore('main', config.stores.main!, testEnv(db));
    const report = (await readReport(store, input.incidentId))!;
    expect(report.result.timeline.flatMap((s) => s.decisions ?? []).map((d) => [d.decision, d.by, d.fingerprint])).toEqual([
      ['complete', 'carol', fingerprint('carol')], // the incident's own steps come first, then its plan's
      ['approve', 'alice', fingerprint('alice')],
    ]);
    const markdown = await store.getText(`reports/${input.incidentId}/report.md`);
    expect(markdown).toContain('## Decisions');
    expect(markdown).toContain(`| apply-restore | approve | alice |`);
    expect(markdown).toContain(fingerprint('alice'));
    expect(markdown).toContain(fingerprint('carol'));
    observed(
      'approve --as another person (unproven)',
      "an answer signed with another key than the named person's was refused with the reason; nothing in history",
    );
    observed(
      'raw update with "by":"alice", unsigned or borrowed proof',
      'unsigned, other-run and other-gate proofs refused at the validator; rows unchanged until the proven approval',
    );
  });

  it("the policy is the worker's: a client sending mallory as sole approver with self-approval changes nothing", async () => {
    const forged: IncidentInput = {
      ...incidentInput({
        target: 'crm',
        summary: 'mallory wants to approve her own restore',
        declaredBy: 'mallory',
        level: 'L1',
        options: { record: { table: 'crm_leads', keys: await leadIds(80), goodBefore: new Date().toISOString() } },
      }),
      rtoMs: { L1: 1000, L2: 1000, L3: 1000, L4: 1000 },
      approvals: Object.fromEntries(
        (['L1', 'L2', 'L3', 'L4'] as const).map((l) => [l, { approvers: ['mallory'], gates: {}, selfApproval: true }]),
      ) as IncidentInput['approvals'],
    };
    const { handle, plan } = await declare(forged);
    const status = await waitFor(plan, 'apply-restore');
    expect(status.waiting[0]!.approvers).toEqual(['alice', 'bob']);
    expect(status.context.rtoMs).toBe(60 * 60_000);
    expect(status.context.approvals.selfApproval).toBe(false);
    expect((await refusal(approve(plan, 'apply-restore', 'mallory'))).message).toContain('mallory may not decide gate "apply-restore"');
    // A proven abort ends it, recorded on the step it interrupted.
    const reason = 'declared without authority';
    const proof = await signed(plan, 'alice', { item: 'run', decision: 'abort', by: 'alice', text: reason });
    await plan.executeUpdate(abortUpdate, { args: [{ by: 'alice', reason, proof }] });
    const result: RunResult = await handle.result();
    expect(result.outcome).toBe('aborted');
    expect(result.timeline.flatMap((s) => s.decisions ?? [])).toContainEqual(
      expect.objectContaining({ decision: 'abort', by: 'alice', text: reason, fingerprint: fingerprint('alice') }),
    );
    observed("client's config naming mallory sole approver", "the run used the worker's approvers and RTO; mallory's approval was refused");
  });

  it('L4: one person voting as two names is refused; two proven people pass the two-person gate', async () => {
    const input = incidentInput({ target: 'crm', summary: 'the server is gone', declaredBy: 'carol', level: 'L4', options: {} });
    const { handle, plan } = await declare(input);
    await waitFor(plan, 'vendor-escalation');
    await complete(plan, 'vendor-escalation', 'carol', 'SEV1-99');
    await waitFor(plan, 'accept-data-loss');
    expect(await approve(plan, 'accept-data-loss', 'alice')).toMatchObject({ approvedBy: ['alice'] });
    expect((await refusal(approve(plan, 'accept-data-loss', 'bob', 'alice'))).message).toContain('bob is not proven');
    expect((await refusal(approve(plan, 'accept-data-loss', 'alice'))).message).toContain('alice already approved');
    expect(await approve(plan, 'accept-data-loss', 'bob')).toBeNull();
    // The restore runs; carol signs off each task after it (cut-over, audit, sign-off) as it opens, until the incident's review.
    const next = async () => {
      const [planWaits, incidentWaits] = await Promise.all([waitingNames(plan), waitingNames(handle)]);
      return incidentWaits.includes('review') ? 'review' : planWaits[0];
    };
    for (;;) {
      await expect.poll(next, { timeout: 120_000 }).toBeDefined();
      const task = (await next())!;
      if (task === 'review') break;
      await complete(plan, task, 'carol');
    }
    await waitFor(handle, 'review');
    await complete(handle, 'review', 'carol');
    const result: RunResult = await handle.result();
    expect(result.outcome).toBe('recovered');
    const gate = result.timeline.find((s) => s.name === 'accept-data-loss')!;
    expect(gate.decisions!.map((d) => [d.by, d.fingerprint])).toEqual([
      ['alice', fingerprint('alice')],
      ['bob', fingerprint('bob')],
    ]);
    if (result.database && result.database !== db.name)
      await withClient(inject('pgAdminUrl'), (c) => c.query(`DROP DATABASE IF EXISTS ${result.database} WITH (FORCE)`));
    observed(
      'one person approving as two names (L4)',
      "the second name, signed with the first person's key, was refused; two proven people passed the gate",
    );
  });

  it('a plan started directly, with its own approvers and actAs, is refused before it does anything', async () => {
    const before = await leadsDigest();
    const input: PlanInput = {
      context: {
        incidentId: uniqueName('inc'),
        level: 'L1',
        target: 'crm',
        summary: 'mallory starts a plan that answers itself',
        declaredBy: 'mallory',
        declaredAt: new Date().toISOString(),
        rtoMs: 3_600_000,
        approvals: { approvers: ['mallory'], gates: {}, selfApproval: true },
        actAs: 'mallory',
      },
      options: { record: { table: 'crm_leads', keys: await leadIds(120), goodBefore: new Date().toISOString() } },
    };
    const handle = await worker.client.workflow.start('level1Workflow', {
      taskQueue: worker.taskQueue,
      workflowId: `${input.context.incidentId}-L1`,
      args: [input],
    });
    const failure = await handle.result().then(
      () => undefined,
      (err: Error) => err.cause as ApplicationFailure,
    );
    expect(failure?.type).toBe('ApprovalRefused');
    expect(failure?.nonRetryable).toBe(true);
    expect(failure?.message).toContain('an L1 plan runs only inside an incident or a drill');
    const scheduled = (await handle.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled).toEqual([]);
    expect(await leadsDigest()).toBe(before);
    observed(
      'plan started directly with its own approvers and actAs',
      'failed at once (ApprovalRefused, non-retryable) with no activity scheduled; crm_leads unchanged',
    );
  });
});
