// Turns a verified button click into the Temporal Update the CLI would send, and the outcome
// into the sentence the clicking user sees. The workflow's validators decide who may act: the
// receiver only says who the clicker is, and signs that with its own key. A refusal leaves no
// trace in the run's history.
//
// Guarantees:
// - Every Update carries a proof signed with the receiver's key for exactly this run (its current
//   run id, looked up first; the Update goes to that run only), item, decision, person, text and
//   Slack user id (`via slack:<id>`); the worker's policy decides whether that user may be that person.
// - Nothing is sent when the answer cannot be signed.
import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { approveUpdate, completeUpdate, rejectUpdate, statusQuery } from '../../workflows/messages.js';
import { InputError } from '../../common/errors.js';
import { type RunStatus } from '../../common/plans.js';
import { slackVia } from '../../activities/notify/slack-actions.js';
import { runResultOf } from '../run-result.js';
import { answerTo } from '../sign.js';

export type ClickKind = 'approve' | 'reject' | 'done';

export interface Click {
  kind: ClickKind;
  workflowId: string;
  incidentId: string;
  /** The gate (approve/reject) or task (done). */
  name: string;
}

const what = (click: Click) => `${click.kind === 'done' ? 'task' : 'gate'} ${click.name} of ${click.incidentId}`;
const cli = (click: Click, by: string) =>
  click.kind === 'done'
    ? `lifeboat complete ${click.incidentId} --task ${click.name} --as ${by}`
    : `lifeboat ${click.kind} ${click.incidentId} --gate ${click.name} --as ${by}`;

/** Who clicked: the approver the configuration maps their Slack user id to, and that id. */
export interface Clicker {
  by: string;
  userId: string;
}

/**
 * Signs the answer for a click with the receiver's key file and sends its Update; returns the
 * message for the clicking user, never throws. `log` gets what the user is not shown.
 */
export async function decide(
  client: Client,
  click: Click,
  clicker: Clicker,
  keyFile: string,
  log: (line: string) => void = () => undefined,
): Promise<string> {
  const { by } = clicker;
  const decision = click.kind === 'done' ? 'complete' : click.kind;
  const text =
    click.kind === 'approve' ? undefined : click.kind === 'reject' ? `rejected from Slack by ${by}` : `marked done from Slack by ${by}`;
  try {
    const via = slackVia(clicker.userId);
    const { handle, proof } = await answerTo(client.workflow, click.workflowId, { item: click.name, decision, by, text, via }, keyFile);
    if (click.kind === 'approve') {
      const left = await handle.executeUpdate(approveUpdate, { args: [{ gate: click.name, by, proof }] });
      if (!left) return `Approved: ${what(click)} — the plan goes on.`;
      const more = left.required! - left.approvedBy!.length;
      const others = left.approvers!.filter((a) => !left.approvedBy!.includes(a));
      return `Approved: ${what(click)} — ${more} more approval${more === 1 ? '' : 's'} needed (from: ${others.join(', ')}).`;
    }
    if (click.kind === 'reject') {
      await handle.executeUpdate(rejectUpdate, { args: [{ gate: click.name, by, reason: text, proof }] });
      return `Rejected: ${what(click)} — nothing is changed; the plan stops.`;
    }
    await handle.executeUpdate(completeUpdate, { args: [{ task: click.name, by, note: text, proof }] });
    return `Done: ${what(click)} — the plan goes on.`;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) {
      const reason =
        err instanceof WorkflowUpdateFailedError ? (err.cause?.message ?? err.message) : `the run ${click.workflowId} is not running`;
      return `Refused: ${(await alreadySettled(client, click)) ?? reason}`;
    }
    // ssh-keygen refused the receiver's key: the reason names the key file, for the operator's eyes only.
    if (err instanceof InputError) {
      log(`could not sign ${click.kind} of ${what(click)} for ${by}: ${err.message}`);
      return `The receiver could not sign your answer: nothing was decided. Tell whoever runs lifeboat slack serve (its log says why), or use \`${cli(click, by)}\`.`;
    }
    // Temporal unreachable or similar: nothing was decided; the CLI is the fallback.
    return `Could not reach Lifeboat (${(err as Error).message}): nothing was decided. Try again, or use \`${cli(click, by)}\`.`;
  }
}

/**
 * When the gate or task is no longer waiting, says how it was settled ("already approved by alice"):
 * a second click must read as such, not as a puzzling "not waiting". Undefined when still open.
 */
async function alreadySettled(client: Client, click: Click): Promise<string | undefined> {
  const kind = click.kind === 'done' ? 'human' : 'approval';
  // Just after the deciding Update the step is settled but not yet closed on the timeline: look again briefly.
  for (let attempt = 0; attempt < 10; attempt++) {
    const handle = client.workflow.getHandle(click.workflowId);
    // A finished plan answers with its result: no worker need replay it for a query.
    const { status: state } = await handle.describe().catch(() => ({ status: undefined }));
    const status: Pick<RunStatus, 'waiting' | 'timeline'> | undefined =
      state && state.name !== 'RUNNING'
        ? await runResultOf(handle).then(
            (r) => ({ waiting: [], timeline: r.timeline }),
            () => undefined,
          )
        : await handle.query(statusQuery).catch(() => undefined);
    if (!status) return undefined;
    const stillOpen = status.waiting.some((w) => w.name === click.name && w.kind === kind);
    const step = [...status.timeline].reverse().find((s) => s.name === click.name && s.kind === kind);
    if (stillOpen || !step) return undefined;
    const by = step.actor ? ` by ${step.actor}` : '';
    switch (step.status) {
      case 'done':
        return `${what(click)} was already ${kind === 'human' ? 'done' : 'approved'}${by}.`;
      case 'rejected':
        return `${what(click)} was already rejected${by}${step.detail ? ` (${step.detail})` : ''}.`;
      case 'aborted':
        return `${what(click)} was aborted: the run stopped.`;
      case 'waiting':
        await new Promise((ok) => setTimeout(ok, 200));
        continue;
      default:
        return undefined;
    }
  }
  return `${what(click)} has already been decided.`;
}
