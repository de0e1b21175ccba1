// `lifeboat audit <run>`: every decision of a run (an incident or a drill, and the plans they
// started) re-checked from its history, as the validator checked it when it was accepted.
//
// Guarantees:
// - Only what history holds is trusted: each accepted update's own input, the run's id, and the
//   moment of acceptance (so an answer valid then verifies today, long after it expired).
// - The keys checked against are the run's recorded policy: the worker's `runPolicy` result when
//   the run recorded one (an activity's, or a local activity's marker in newer runs), else the policy in the run's input (older runs); only a run that
//   recorded neither is checked against the auditor's configuration, and its rows say so.
// - An answer without a proof is "unproven", never skipped: the audit passes only when every
//   decision verifies.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { AbortRequest, Completion, Vote } from '../common/plans.js';
import { type Decision, type Proof, type ProofPolicy, checkProof, digestOf } from '../common/proof.js';

type Event = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

export interface AuditRow {
  time: string;
  workflowId: string;
  item: string;
  decision: Decision;
  by: string;
  /** The key's fingerprint, and the channel id when a receiver signed for the person. */
  key: string;
  verdict: string;
  ok: boolean;
}

/** Where the keys came from: the worker's record, the run's input, or (neither) the auditor's configuration. */
type PolicySource = 'recorded' | 'input' | 'this configuration';

const first = (payloads: Payloads): unknown =>
  payloads?.payloads?.[0] ? defaultPayloadConverter.fromPayload(payloads.payloads[0]) : undefined;

/** The first proof policy ({ people, receivers }) anywhere inside `value`: a policy result or a run's input. */
function proofPolicyIn(value: unknown): ProofPolicy | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (v.people && typeof v.people === 'object' && Array.isArray(v.receivers)) return v as unknown as ProofPolicy;
  for (const inner of Object.values(v)) {
    const found = proofPolicyIn(inner);
    if (found) return found;
  }
  return undefined;
}

/** The marker a local activity's result is recorded in (the SDK core's name for it). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** What the run's `runPolicy` returned: as an activity (scheduled, then completed), or as a local activity (a marker). */
function policyResult(events: Event[]): unknown {
  const policyTasks = new Set(
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runPolicy').map((e) => String(e.eventId)),
  );
  const completed = events.find((e) => policyTasks.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)));
  if (completed) return first(completed.activityTaskCompletedEventAttributes?.result);
  for (const e of events) {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== LOCAL_ACTIVITY_MARKER) continue;
    const data = first(marker.details?.data) as { activity_type?: string; activityType?: string } | undefined;
    if ((data?.activity_type ?? data?.activityType) === 'runPolicy') return first(marker.details?.result);
  }
  return undefined;
}

/** The policy the run recorded: the worker's runPolicy result, else its input's. */
function recordedPolicy(events: Event[]): { policy?: ProofPolicy; source: PolicySource } {
  const fromWorker = proofPolicyIn(policyResult(events));
  if (fromWorker) return { policy: fromWorker, source: 'recorded' };
  const fromInput = proofPolicyIn(first(events[0]?.workflowExecutionStartedEventAttributes?.input));
  return fromInput ? { policy: fromInput, source: 'input' } : { source: 'this configuration' };
}

/** What an accepted update claimed: the item, the person, the text they signed a digest of, and the proof. */
function claimOf(name: string, arg: unknown): { item: string; by: string; text?: string; proof?: Proof } | undefined {
  if (name === 'approve' || name === 'reject') {
    const v = arg as Vote;
    return { item: v.gate, by: v.by, text: v.reason, proof: v.proof };
  }
  if (name === 'complete') {
    const c = arg as Completion;
    return { item: c.task, by: c.by, text: c.note, proof: c.proof };
  }
  if (name === 'abort') {
    const a = arg as AbortRequest;
    return { item: 'run', by: a.by, text: a.reason, proof: a.proof };
  }
  return undefined;
}

/**
 * Audits workflow `workflowId` and, depth first, the children it started. `fallback` holds the
 * keys of the auditor's configuration, used only for runs that recorded no policy.
 */
export async function auditRun(client: Client, workflowId: string, fallback: ProofPolicy): Promise<AuditRow[]> {
  const { runId } = await client.workflow.getHandle(workflowId).describe();
  const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  const rows = auditHistory(events, { namespace: client.options.namespace, workflowId, runId }, fallback);
  for (const event of events) {
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    if (child) rows.push(...(await auditRun(client, child, fallback)));
  }
  return rows;
}

/** When an event happened, in ms: from a server's history or one read back from JSON (whose seconds may be a plain number). */
const timeOf = (event: Event): number =>
  Number(String(event.eventTime?.seconds ?? 0)) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);

/** Each decision one run's history accepted, re-checked against the policy it recorded (else `fallback`). */
export function auditHistory(
  events: Event[],
  run: { namespace: string; workflowId: string; runId: string },
  fallback: ProofPolicy,
): AuditRow[] {
  const { policy, source } = recordedPolicy(events);
  const rows: AuditRow[] = [];
  for (const event of events) {
    const accepted = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    const decision = accepted?.name as Decision | undefined;
    const claim = decision && claimOf(decision, first(accepted?.args));
    if (!decision || !claim) continue;
    const at = timeOf(event);
    const row = { time: new Date(at).toISOString(), workflowId: run.workflowId, item: claim.item, decision, by: claim.by };
    if (!claim.proof) {
      rows.push({ ...row, key: '', verdict: 'unproven: no signature', ok: false });
      continue;
    }
    try {
      const proven = checkProof(
        claim.proof,
        { ...run, item: claim.item, decision, by: claim.by, textDigest: digestOf(claim.text) },
        policy ?? fallback,
        at,
      );
      const key = proven.via ? `${proven.fingerprint} via ${proven.via}` : proven.fingerprint;
      rows.push({ ...row, key, verdict: source === 'this configuration' ? 'verified (keys of this configuration)' : 'verified', ok: true });
    } catch (err) {
      rows.push({
        ...row,
        key: claim.proof.via ? `via ${claim.proof.via}` : '',
        verdict: `NOT VERIFIED: ${(err as Error).message}`,
        ok: false,
      });
    }
  }
  return rows;
}
