// An incident, as the DR document's immediate actions go: stop (freeze writes), document and
// contact (declare and notify), assess (the level), recover (the level's plan), verify, review.
// The RTO clock runs here, from the declared time, across the whole plan. The RTO targets and who
// may approve what are the worker's (read by the runPolicy activity and so recorded in history),
// never the declaring client's. A failed or rejected incident writes its report, tells people, and
// then fails its workflow execution with its result as the details (an aborted one completes).
import { ParentClosePolicy, executeChild, patched, workflowInfo } from '@temporalio/workflow';
import { planWorkflowId } from '../common/names.js';
import type { IncidentInput, RunContext, RunPolicy, RunResult } from '../common/plans.js';
import { level1Workflow } from './level1.js';
import { level2Workflow } from './level2.js';
import { level3Workflow } from './level3.js';
import { level4Workflow } from './level4.js';
import { quick, quickLocal } from './proxies.js';
import { formatDuration } from '../common/time.js';
import { rpoSummary, rtoSummary } from '../common/rto.js';
import { outcomeOf, planResultOf } from './engine/outcome.js';
import { Runbook, askEndPatchEarly } from './engine/runbook.js';
import { triage } from './triage.js';

const plans = { L1: level1Workflow, L2: level2Workflow, L3: level3Workflow, L4: level4Workflow } as const;

/**
 * The policy read and the report written as local activities, with no task-queue round trip each;
 * runs begun before keep the remote ones they recorded.
 */
const QUICK_STEPS_LOCAL = 'incident-quick-steps-local';

/** The worker's policy; runs started before the worker owned it keep the one their client sent. */
async function policyOf(input: IncidentInput, q: typeof quick): Promise<RunPolicy> {
  if (patched('worker-owns-policy')) return q.runPolicy();
  return { rtoMs: input.rtoMs!, approvals: input.approvals! };
}

export async function incidentWorkflow(input: IncidentInput): Promise<RunResult> {
  // Every patch is asked before the run's first local activity (README: patches at the start).
  const local = patched(QUICK_STEPS_LOCAL);
  if (local) askEndPatchEarly();
  const q = local ? quickLocal : quick;
  const policy = await policyOf(input, q);
  const assessed = input.level ? { level: input.level, why: 'given at declaration' } : triage(input.triage ?? {});
  const context: RunContext = {
    incidentId: input.incidentId,
    level: assessed.level,
    target: input.target,
    summary: input.summary,
    declaredBy: input.declaredBy,
    declaredAt: input.declaredAt,
    rtoMs: policy.rtoMs[assessed.level],
    approvals: policy.approvals[assessed.level],
  };
  const run = new Runbook(context, { clock: true });
  const { incidentId, target } = context;
  let result: RunResult;
  let frozen = false;
  try {
    await run.announce(
      'document and contact: incident declared',
      'critical',
      `${assessed.level} incident declared by ${input.declaredBy}`,
      `${input.summary}\nTarget: ${target}. RTO ${formatDuration(context.rtoMs)}, deadline ${new Date(Date.parse(input.declaredAt) + context.rtoMs).toISOString()}.`,
    );
    if (input.freezeWrites) {
      frozen = true;
      await run.step(
        'stop: freeze writes',
        () => quick.runTargetHook({ incidentId, target, role: 'freezeWrites' }),
        (r) => `${r.hook}: ${r.ok ? 'ok' : `FAILED: ${r.output.slice(-200)}`}`,
      );
    }
    run.skip(`assess: level ${assessed.level}`, assessed.why);

    const childWorkflowId = planWorkflowId(incidentId, assessed.level);
    run.show({ childWorkflowId });
    let plan: RunResult;
    try {
      plan = await run.step(
        `recover: run the ${assessed.level} plan`,
        () =>
          executeChild(plans[assessed.level], {
            workflowId: childWorkflowId,
            args: [{ context: { ...context, thread: run.thread }, options: input.options }],
            parentClosePolicy: ParentClosePolicy.TERMINATE,
          }),
        (r) => `${r.outcome}: ${r.detail}`,
      );
    } catch (err) {
      // A plan that failed or was rejected fails (its step reads so) and carries its result; anything else ends the incident failed.
      plan = planResultOf(err);
    }
    run.show({ backupUsed: plan.backupUsed });
    result = plan;
  } catch (err) {
    result = { ...outcomeOf(err), timeline: [] };
  }
  if (frozen) await run.cleanup('resume writes', () => quick.runTargetHook({ incidentId, target, role: 'unfreezeWrites' }));
  if (result.outcome === 'recovered' && (assessed.level === 'L1' || assessed.level === 'L4')) {
    // L2 and L3 hold their own review; the others end with the DR document's "review".
    await run.task('review', 'Review the incident: cause, timeline, what to change. Note the conclusions.').catch(() => undefined);
  }
  const rto = await run.finish(result.outcome, { backupUsed: result.backupUsed });
  const final: RunResult = { ...result, rto, timeline: [...run.timeline, ...result.timeline] };
  final.reportKeys = await q.writeIncidentReport({ context, result: final, workflowId: workflowInfo().workflowId }).catch(() => undefined);
  const rpo = rpoSummary(rto, result.outcome);
  await run.notify(
    result.outcome === 'recovered' ? 'info' : 'critical',
    `Incident ${result.outcome}`,
    `${result.detail}\n${rtoSummary(rto, result.outcome)}${rpo ? `; ${rpo}` : ''}${final.reportKeys ? `\nReport: ${final.reportKeys.join(', ')}` : ''}`,
  );
  // Last, once the report is written and people are told: a failed or rejected incident fails here.
  return run.end(final);
}
