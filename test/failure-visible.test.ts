// Failure looks like failure (issue 11): an incident whose plan failed or was rejected ends with its
// workflow execution FAILED, as the Web UI shows it, its plan's too; the failure carries the run's
// result; the report was written before; `lifeboat status` and the report read its RTO in the same
// words ("not achieved", never a margin); and LifeboatCurrentStep says how the run ended. A recovered
// run, and one a person aborted, complete.
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunReport, readReport, renderMarkdown } from '../activities/reports/report.js';
import { dropKeptCopy } from '../activities/postgres/recovery-copy.js';
import { openStore } from '../activities/storage/open.js';
import { abort } from '../client/incidents.js';
import type { LifeboatConfig } from '../config/config.js';
import type { RunResult } from '../common/plans.js';
import { rpoSummary, rtoSummary } from '../common/rto.js';
import { currentStepSA, rtoStatusSA } from '../workflows/messages.js';
import {
  type TestDatabase,
  type TestWorker,
  as,
  backupAndVerify,
  cliEnv,
  createCrmDatabase,
  damageStoredDump,
  driveIncident,
  runLifeboat,
  runResultOf,
  startL1Incident,
  startTestWorker,
  testEnv,
  uniqueName,
  waitingNames,
  writeTestConfig,
} from './helpers.js';

describe('a failed or rejected run looks failed', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  let dir: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  const prefix = uniqueName('failure');
  /** Every incident and plan this file ran; the incidents' histories must replay (a query on an ended run replays it). */
  const ran: string[] = [];

  beforeAll(async () => {
    db = await createCrmDatabase(50);
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-failure-'));
    env = cliEnv(db);
    ({ configFile, config } = writeTestConfig(
      dir,
      { prefix, taskQueue: uniqueName('failure'), extra: 'approvals:\n  L1: { approvers: [alice, bob] }' },
      env,
    ));
    worker = await startTestWorker(config, testEnv(db));
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Declares an L1 bringing back two leads, as carol; remembers its runs for the replay below. */
  async function declareL1(summary: string) {
    const started = await startL1Incident(worker, config, ['3', '4'], summary);
    ran.push(started.incidentId, started.plan.workflowId);
    return started;
  }

  /** How a workflow execution closed, its current step and RTO status, as the Web UI and `lifeboat list` show them. */
  async function closed(handle: WorkflowHandle) {
    const d = await handle.describe();
    return {
      status: d.status.name,
      closeTime: d.closeTime,
      currentStep: d.typedSearchAttributes.get(currentStepSA),
      rtoStatus: d.typedSearchAttributes.get(rtoStatusSA),
    };
  }

  /** The failure a failed run's execution ended with. */
  async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return cause as ApplicationFailure;
  }

  /** The incident's report, and the RTO line `lifeboat status` and `lifeboat report` print for it: the same words. */
  async function rtoAsPrinted(id: string): Promise<{ report: RunReport; line: string }> {
    const report = (await readReport(openStore('main', config.stores.main!, testEnv(db)), id))!;
    expect(report, `the report of ${id}`).toBeDefined();
    const line = rtoSummary(report.result.rto!, report.result.outcome);
    const status = await runLifeboat(['--config', configFile, 'status', id], env);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    // The status adds the RPO of a run that recovered from a backup, after the same RTO words.
    const rpo = rpoSummary(report.result.rto!, report.result.outcome);
    expect(status.stdout.split('\n')).toContain(rpo ? `${line}; ${rpo}` : line);
    const printed = await runLifeboat(['--config', configFile, 'report', id], env);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`${line}.`);
    expect(renderMarkdown(report)).toContain(`${line}.`);
    return { report, line };
  }

  /** Everything a failed or rejected incident must show, from its execution to its report. */
  async function expectFailedRun(id: string, plan: WorkflowHandle, outcome: 'failed' | 'rejected', type: string): Promise<RunResult> {
    const incident = worker.client.workflow.getHandle(id);
    const result = await runResultOf(incident);
    expect(result.outcome).toBe(outcome);

    // FAILED in the Web UI, the incident and its plan alike, each with its result as the failure's details.
    const ended = await closed(incident);
    expect(ended).toMatchObject({ status: 'FAILED', currentStep: `ended: ${outcome}`, rtoStatus: 'not-recovered' });
    const failure = await failureOf(incident);
    expect(failure).toMatchObject({ type, nonRetryable: true, message: `${outcome}: ${result.detail}` });
    expect(failure.details?.[0]).toEqual(result);
    expect(await closed(plan)).toMatchObject({ status: 'FAILED', currentStep: `ended: ${outcome}` });
    const planFailure = await failureOf(plan);
    expect(planFailure.type).toBe(type);
    const planResult = await runResultOf(plan);
    expect(planResult).toMatchObject({ outcome, detail: result.detail });
    // The incident's step that ran the plan reads as the plan ended, not "done".
    expect(result.timeline.find((s) => s.name === 'recover: run the L1 plan')).toMatchObject({
      status: 'failed',
      detail: `${outcome}: ${result.detail}`,
    });

    // No achieved RTO: not "missed" by some margin, nor time to spare.
    expect(result.rto).toMatchObject({ verdict: 'not-recovered', targetMs: 3_600_000 });
    const verb = outcome === 'failed' ? 'failed' : 'was rejected';
    const { report, line } = await rtoAsPrinted(id);
    expect(line).toMatch(
      new RegExp(
        `^RTO 1 h: not achieved — the recovery ${verb} after (< 1 s|\\d+ s|\\d+ min( \\d+ s)?) \\(deadline \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\)$`,
      ),
    );
    expect(renderMarkdown(report)).toContain('| Verdict | ❌ not achieved |');
    expect(renderMarkdown(report)).toContain('| Margin | none: the run did not recover |');
    // The report was written first, then the execution failed; it holds the result the failure carries.
    expect({ ...report.result, reportKeys: result.reportKeys }).toEqual(result);
    expect(Date.parse(report.generatedAt)).toBeLessThanOrEqual(ended.closeTime!.getTime());
    return result;
  }

  it('a plan with no intact backup left fails, and so does its incident, after writing the report', async () => {
    const damaged = await backupAndVerify(worker);
    await damageStoredDump(prefix, damaged);
    // The verification kept a copy of that backup, from which an L1 would still take its rows: gone too.
    await dropKeptCopy(inject('pgAdminUrl'), 'crm', damaged);
    const { incidentId, plan } = await declareL1('nothing intact to restore from');
    // Nobody is asked anything: the plan fails at its first step.
    await driveIncident(worker.client, incidentId, {});
    const result = await expectFailedRun(incidentId, plan, 'failed', 'RunFailed');
    expect(result.detail).toMatch(/no verified, intact backup of crm/);
  });

  it('a rejected L1 fails, with the rejection as its detail', async () => {
    await backupAndVerify(worker); // intact this time
    const { incidentId, plan } = await declareL1('rejected by bob');
    await driveIncident(worker.client, incidentId, { 'apply-restore': { reject: { by: 'bob', reason: 'not these leads' } } });
    const result = await expectFailedRun(incidentId, plan, 'rejected', 'RunRejected');
    expect(result.detail).toContain('bob rejected "apply-restore": not these leads');
  });

  it('a recovered L1 completes, its RTO met, its current step closed', async () => {
    const { incidentId, incident, plan } = await declareL1('recovered');
    const result = await driveIncident(worker.client, incidentId, {
      'apply-restore': { approve: ['alice'] },
      review: { complete: { by: 'carol' } },
    });
    expect(result.outcome).toBe('recovered');
    expect(await incident.result()).toEqual(result);
    expect(await closed(incident)).toMatchObject({ status: 'COMPLETED', currentStep: 'ended: recovered', rtoStatus: 'met' });
    expect(await closed(plan)).toMatchObject({ status: 'COMPLETED', currentStep: 'ended: recovered' });
    const { line } = await rtoAsPrinted(incidentId);
    expect(line).toMatch(/^RTO 1 h: met — recovered in .+, .+ to spare$/);
  });

  it('an aborted L1 completes (a person stopped it), its RTO not achieved and its current step closed', async () => {
    const { incidentId, incident, plan } = await declareL1('aborted by carol');
    await expect.poll(() => waitingNames(plan), { timeout: 60_000, interval: 200 }).toContain('apply-restore');
    await abort(worker.client, incidentId, { ...as('carol'), reason: 'declared by mistake' });
    const result = await runResultOf(incident);
    expect(result.outcome).toBe('aborted');
    expect(await closed(incident)).toMatchObject({ status: 'COMPLETED', currentStep: 'ended: aborted', rtoStatus: 'not-recovered' });
    expect(await closed(plan)).toMatchObject({ status: 'COMPLETED', currentStep: 'ended: aborted' });
    const { line } = await rtoAsPrinted(incidentId);
    expect(line).toMatch(/^RTO 1 h: not achieved — the recovery was aborted after /);
  });

  it('replays the histories of every incident above, failed ones included', async () => {
    // The incidents only: a plan's history may hold the older "choose-backup-heavy" patch right after a notice (a
    // local activity), and such a history does not always replay on this SDK (1.24), failed or not.
    const incidents = ran.filter((id) => !id.endsWith('-L1'));
    expect(incidents).toHaveLength(4);
    const failures: string[] = [];
    for (const workflowId of incidents) {
      const history = await worker.client.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, workflowId).catch(
        (err: Error) => failures.push(`${workflowId}: ${err.message}`),
      );
    }
    expect(failures).toEqual([]);
  });
});
