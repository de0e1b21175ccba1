// Answers an incident's tasks and gates from a script, as the people would: for tests,
// benchmarks and automated rehearsals that run a plan end to end with nobody at the keyboard.
// A scripted person whose key file is given signs each answer as the CLI does (client/sign.ts).
// The driver looks as soon as the incident's or its plan's history grows (client/history-changes.ts),
// so a gate is answered as it opens, and it no longer asks a plan that has closed.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { type RunResult } from '../common/plans.js';
import { approveUpdate, completeUpdate, rejectUpdate, statusQuery } from '../workflows/messages.js';
import { tryStatus } from './follow.js';
import { HistoryChanges } from './history-changes.js';
import { runResultOf } from './run-result.js';
import { answerTo, keyFileFor } from './sign.js';

/** How a script answers what a run waits for: a task's completion, the approvers of a gate in turn, a rejection, or anything else. */
export type Answer =
  | { complete: { by: string; note?: string; choices?: string[] } }
  | { approve: string[] }
  | { reject: { by: string; reason: string } }
  | { act: (handle: WorkflowHandle) => Promise<void> };

export interface DriveOptions {
  /** How long to wait at most before looking again when nothing seems to change (the driver looks at once when something does). */
  pollMs?: number;
  /** An incident still running after this long is stuck: fail rather than wait for ever. */
  timeoutMs?: number;
  /** Person → SSH key file (private, or .pub with ssh-agent) that signs their answers; default as the CLI finds one (client/sign.ts keyFileFor). */
  keys?: Record<string, string>;
}

/**
 * Plays the people of an incident: whenever the incident or its plan waits on a task or gate
 * named in `answers`, answers it; returns the incident's result, however it ended (a failed or
 * rejected incident's comes from its failure). Anything else waiting is an error.
 */
export async function driveIncident(
  client: Client,
  incidentId: string,
  answers: Record<string, Answer>,
  options: DriveOptions = {},
): Promise<RunResult> {
  const { pollMs = 1000, timeoutMs = 30 * 60_000, keys = {} } = options;
  const signed = (workflowId: string, item: string, decision: 'approve' | 'reject' | 'complete', by: string, text?: string) =>
    answerTo(client.workflow, workflowId, { item, decision, by, text }, keyFileFor(by, keys[by]));
  const incident = client.workflow.getHandle(incidentId);
  const answered = new Set<string>();
  let outcome: { result: RunResult } | { error: unknown } | undefined;
  const done = runResultOf(incident).then(
    (result) => (outcome = { result }),
    (error: unknown) => (outcome = { error }),
  );
  const deadline = Date.now() + timeoutMs;
  const changes = new HistoryChanges(client, pollMs);
  changes.watch(incidentId);
  let planId: string | undefined;
  const statusOf = (id: string | undefined) => (id && !changes.closed(id) ? tryStatus(client, id) : undefined);
  try {
    while (!outcome) {
      if (Date.now() > deadline) throw new Error(`incident ${incidentId} did not end within ${timeoutMs / 60_000} min`);
      // Before its first workflow task an incident cannot answer queries yet: look again next round.
      // Its plan, once known, is asked at the same time; a plan that has closed waits for nothing.
      const [status, known] = await Promise.all([incident.query(statusQuery).catch(() => undefined), statusOf(planId)]);
      const plan = known ?? (status?.childWorkflowId !== planId ? await statusOf(status?.childWorkflowId) : undefined);
      planId = status?.childWorkflowId ?? planId;
      if (planId) changes.watch(planId);
      for (const run of [plan, status]) {
        for (const item of run?.waiting ?? []) {
          const key = `${run!.workflowId}/${item.name}`;
          if (answered.has(key)) continue;
          const answer = answers[item.name];
          if (!answer) throw new Error(`incident ${incidentId} waits for ${item.kind} "${item.name}", which this script does not answer`);
          answered.add(key);
          const workflowId = run!.workflowId;
          if ('complete' in answer) {
            const { by, note } = answer.complete;
            const { handle, proof } = await signed(workflowId, item.name, 'complete', by, note);
            await handle.executeUpdate(completeUpdate, { args: [{ task: item.name, ...answer.complete, proof }] });
          } else if ('reject' in answer) {
            const { by, reason } = answer.reject;
            const { handle, proof } = await signed(workflowId, item.name, 'reject', by, reason);
            await handle.executeUpdate(rejectUpdate, { args: [{ gate: item.name, ...answer.reject, proof }] });
          } else if ('act' in answer) await answer.act(client.workflow.getHandle(workflowId));
          else
            for (const by of answer.approve) {
              const { handle, proof } = await signed(workflowId, item.name, 'approve', by);
              await handle.executeUpdate(approveUpdate, { args: [{ gate: item.name, by, proof }] });
            }
        }
      }
      await Promise.race([done, changes.next(pollMs)]);
    }
  } finally {
    changes.stop();
  }
  if ('error' in outcome) throw outcome.error;
  return outcome.result;
}
