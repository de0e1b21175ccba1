// Reading an incident: its status, its plan's, and its result once it has ended. `status --json`
// asks the plan at the same time as the incident when the plan's id is known without the incident's
// answer, so it waits for one round trip through the worker instead of two.
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { assertIncidentId, planWorkflowId } from '../common/names.js';
import type { Level, RunResult, RunStatus } from '../common/plans.js';
import { levelSA, statusQuery } from '../workflows/messages.js';
import { tryStatus } from './follow.js';
import { CliError } from './cli-process.js';
import { runResultOf } from './run-result.js';

const LEVELS: readonly string[] = ['L1', 'L2', 'L3', 'L4'] satisfies Level[];

async function queryIncident(client: Client, incidentId: string): Promise<RunStatus> {
  try {
    return await client.workflow.getHandle(incidentId).query(statusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no incident ${incidentId} (run "lifeboat list")`, 2);
    throw err;
  }
}

/** The incident's status and, while or after it ran, its plan's. */
export async function incidentStatus(client: Client, incidentId: string): Promise<{ incident: RunStatus; plan?: RunStatus }> {
  assertIncidentId(incidentId);
  const incident = await queryIncident(client, incidentId);
  if (!incident.childWorkflowId) return { incident };
  return { incident, plan: await tryStatus(client, incident.childWorkflowId) };
}

/**
 * The incident's status, its plan's and, once its workflow has closed (completed or failed), its
 * result. The plan of a declared level has a known id (the incident's search attribute names the
 * level), so it is asked while the incident is; a triaged incident's plan is asked once the incident
 * has named it. A plan asked too early (not started yet) is asked again.
 */
export async function incidentSnapshot(
  client: Client,
  incidentId: string,
): Promise<{ incident: RunStatus; plan?: RunStatus; result?: RunResult }> {
  assertIncidentId(incidentId);
  const handle = client.workflow.getHandle(incidentId);
  const described = handle.describe();
  const early = described.then(
    async (d) => {
      const level = d.typedSearchAttributes.get(levelSA);
      if (!level || !LEVELS.includes(level)) return undefined;
      const planId = planWorkflowId(incidentId, level as Level);
      return { planId, status: await tryStatus(client, planId) };
    },
    () => undefined, // the incident's own query says what is wrong
  );
  const incident = await queryIncident(client, incidentId);
  const planId = incident.childWorkflowId;
  const guessed = await early;
  const plan = !planId ? undefined : guessed?.planId === planId && guessed.status ? guessed.status : await tryStatus(client, planId);
  const { status } = await described;
  const result = status.name === 'RUNNING' ? undefined : await runResultOf(handle).catch(() => undefined);
  return { incident, plan, result };
}
