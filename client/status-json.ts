// The shapes `lifeboat status --json` and `lifeboat list --json` print: defined once here as zod
// schemas, which the commands validate their output against before printing and README.md
// documents. Guarantees: every key is always present (null or [] when there is nothing), so a
// script never meets a missing key; `version` changes only when a key changes meaning or goes.
import { z } from 'zod';
import type { RunResult, RunStatus, StepRecord } from '../common/plans.js';
import { type IncidentRow, answerCommands, rtoLine } from './incidents.js';

const iso = z.iso.datetime({ offset: true });
const run = z.enum(['incident', 'plan']);
const outcome = z.enum(['recovered', 'rejected', 'aborted', 'failed']);

const step = z.strictObject({
  run,
  name: z.string(),
  kind: z.enum(['automated', 'human', 'approval', 'notification']),
  status: z.enum(['running', 'waiting', 'done', 'failed', 'rejected', 'skipped', 'aborted']),
  startedAt: iso,
  finishedAt: iso.nullable(),
  tookMs: z.number().int().nullable(),
  by: z.string().nullable(),
  detail: z.string().nullable(),
});

const vote = z.strictObject({
  run,
  /** The step the answer went to (an abort: the step it interrupted). */
  step: z.string(),
  decision: z.enum(['approve', 'reject', 'complete', 'abort']),
  by: z.string(),
  at: iso,
  text: z.string().nullable(),
  /** The signing key's fingerprint ("SHA256:…"). */
  fingerprint: z.string().nullable(),
  via: z.string().nullable(),
});

const waiting = z.strictObject({
  run,
  /** The workflow the answer is sent to. */
  workflowId: z.string(),
  kind: z.enum(['approval', 'task']),
  name: z.string(),
  prompt: z.string(),
  since: iso,
  deadline: iso.nullable(),
  /** Who may answer now: an approval's approvers who have not voted (without the declarer when self-approval is off); null for a task, which anyone enrolled under people may complete. */
  allowed: z.array(z.string()).nullable(),
  required: z.number().int().nullable(),
  approvedBy: z.array(z.string()),
  /** What an approval will change, as its request lists it. */
  changes: z.array(z.string()),
  /** The exact commands that answer it (approve then reject; or complete), with <you> to fill in. */
  commands: z.array(z.string()).min(1),
});

export const statusJsonSchema = z.strictObject({
  version: z.literal(1),
  incidentId: z.string(),
  /** The plan run as the incident's child, once it started. */
  planWorkflowId: z.string().nullable(),
  context: z.strictObject({
    level: z.enum(['L1', 'L2', 'L3', 'L4']),
    target: z.string(),
    summary: z.string(),
    declaredBy: z.string(),
    declaredAt: iso,
  }),
  /** "running" until the incident has its outcome (it may still write its report). */
  state: z.enum(['running', 'ended']),
  rto: z.strictObject({
    targetMs: z.number().int(),
    deadline: iso,
    /** While running: on-track, warning, critical, breached; once ended: the verdict. */
    status: z.enum(['on-track', 'warning', 'critical', 'breached', 'met', 'missed', 'not-recovered']),
    /** From the declaration to now, or to the incident's end. */
    elapsedMs: z.number().int(),
    /** Until the deadline, while running. */
    leftMs: z.number().int().nullable(),
    verdict: z.enum(['met', 'missed', 'not-recovered']).nullable(),
    /** Deadline minus the end, for an incident that recovered. */
    marginMs: z.number().int().nullable(),
    rpoAchievedMs: z.number().int().nullable(),
    /** The line `lifeboat status` prints. */
    text: z.string(),
  }),
  timeline: z.array(step),
  waiting: z.array(waiting),
  votes: z.array(vote),
  outcome: outcome.nullable(),
  /** The result's detail, once the incident's workflow has closed. */
  detail: z.string().nullable(),
  backupUsed: z.strictObject({ id: z.string(), startedAt: iso }).nullable(),
  /** Databases the recovery created (an L3 or L4 restored into a new database), once known. */
  databasesCreated: z.array(z.string()),
  /** An L3 or L4 at a moment: the cluster recovered into a new data directory and kept for the cut-over, once known. */
  recoveredCluster: z
    .strictObject({ host: z.string(), port: z.number().int(), dataDir: z.string(), database: z.string(), recoveredTo: iso })
    .nullable(),
  /** The report's keys in the store, once written. */
  reportKeys: z.array(z.string()),
});
export type StatusJson = z.infer<typeof statusJsonSchema>;

export const listJsonSchema = z.array(
  z.strictObject({
    incidentId: z.string(),
    level: z.string().nullable(),
    /** The workflow execution's status, lower case: running, completed, failed, terminated, … */
    state: z.string(),
    rtoStatus: z.string().nullable(),
    currentStep: z.string().nullable(),
    startedAt: iso,
  }),
);
export type ListJson = z.infer<typeof listJsonSchema>;

/** An absent value as JSON's null, so every key of a documented shape is always there. */
export const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function steps(records: StepRecord[], which: z.infer<typeof run>): StatusJson['timeline'] {
  return records.map((s) => ({
    run: which,
    name: s.name,
    kind: s.kind,
    status: s.status,
    startedAt: s.startedAt,
    finishedAt: orNull(s.finishedAt),
    tookMs: s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : null,
    by: orNull(s.actor),
    detail: orNull(s.detail),
  }));
}

function votes(records: StepRecord[], which: z.infer<typeof run>): StatusJson['votes'] {
  return records.flatMap((s) =>
    (s.decisions ?? []).map((d) => ({
      run: which,
      step: s.name,
      decision: d.decision,
      by: d.by,
      at: d.at,
      text: orNull(d.text),
      fingerprint: orNull(d.fingerprint),
      via: orNull(d.via),
    })),
  );
}

/** The incident's status as `status --json` prints it; `result` once its workflow has closed. */
export function statusJson(status: { incident: RunStatus; plan?: RunStatus; result?: RunResult }, now = Date.now()): StatusJson {
  const { incident, plan, result } = status;
  const c = incident.context;
  const declared = Date.parse(c.declaredAt);
  const rto = incident.rto;
  const ended = Boolean(incident.outcome && rto);
  const runs = [...(plan ? [{ status: plan, which: 'plan' as const }] : []), { status: incident, which: 'incident' as const }];
  return statusJsonSchema.parse({
    version: 1,
    incidentId: c.incidentId,
    planWorkflowId: orNull(incident.childWorkflowId),
    context: { level: c.level, target: c.target, summary: c.summary, declaredBy: c.declaredBy, declaredAt: c.declaredAt },
    state: ended ? 'ended' : 'running',
    rto: {
      targetMs: c.rtoMs,
      deadline: new Date(declared + c.rtoMs).toISOString(),
      status: incident.rtoStatus,
      elapsedMs: ended ? rto!.actualMs : now - declared,
      leftMs: ended ? null : declared + c.rtoMs - now,
      verdict: ended ? rto!.verdict : null,
      marginMs: ended && incident.outcome === 'recovered' ? rto!.marginMs : null,
      rpoAchievedMs: orNull(rto?.rpoAchievedMs),
      text: rtoLine(incident, now),
    },
    // The incident's steps, its plan's after them, as the status screen lists them.
    timeline: [...steps(incident.timeline, 'incident'), ...(plan ? steps(plan.timeline, 'plan') : [])],
    waiting: runs.flatMap(({ status: r, which }) =>
      r.waiting.map((w) => ({
        run: which,
        workflowId: r.workflowId,
        kind: w.kind === 'approval' ? 'approval' : 'task',
        name: w.name,
        prompt: w.prompt,
        since: w.since,
        deadline: orNull(w.deadline),
        allowed:
          w.kind === 'approval'
            ? w.approvers.filter((a) => !w.approvedBy.includes(a) && (c.approvals.selfApproval || a !== c.declaredBy))
            : null,
        required: w.kind === 'approval' ? w.required : null,
        approvedBy: w.approvedBy ?? [],
        changes: w.request?.changes ?? [],
        commands: answerCommands(c.incidentId, w),
      })),
    ),
    votes: [...votes(incident.timeline, 'incident'), ...(plan ? votes(plan.timeline, 'plan') : [])],
    outcome: orNull(incident.outcome),
    detail: orNull(result?.detail),
    backupUsed: orNull(incident.backupUsed ?? plan?.backupUsed),
    // A recovered cluster's database keeps its name, on a cluster of its own: not a database created beside production's.
    databasesCreated: result?.database && !result.recoveredCluster ? [result.database] : [],
    recoveredCluster: orNull(result?.recoveredCluster),
    reportKeys: result?.reportKeys ?? [],
  });
}

export function listJson(rows: IncidentRow[]): ListJson {
  return listJsonSchema.parse(rows);
}
