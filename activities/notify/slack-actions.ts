// What the notifier's buttons carry and the approval receiver reads back: shared by both sides so
// the two can never drift. A button's value is untrusted input when it comes back (anyone in the
// channel can click, and a forged request may carry anything): parse it, never just cast it.
import { z } from 'zod';

export const APPROVE_ACTION = 'lifeboat_approve';
export const REJECT_ACTION = 'lifeboat_reject';
export const DONE_ACTION = 'lifeboat_done';
export const LIFEBOAT_ACTIONS = [APPROVE_ACTION, REJECT_ACTION, DONE_ACTION] as const;
export type LifeboatActionId = (typeof LIFEBOAT_ACTIONS)[number];

/** The block holding the buttons of a gate or task. */
export const GATE_BLOCK = 'lifeboat_gate';

/**
 * Who a click was made by, as the receiver's proof names it (a statement's `via`) and the worker's
 * policy maps it: the Slack user's immutable id, never their handle, which they may change.
 */
export const slackVia = (userId: string): string => `slack:${userId}`;

/** Slack's limit on a button's value. */
export const MAX_BUTTON_VALUE = 2000;

const id = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._:@/-]+$/, 'unexpected characters');

/** The value of every Lifeboat button: the workflow to send the Update to, the gate/task name, the incident. */
export const buttonValueSchema = z.strictObject({
  w: id,
  n: z.string().min(1).max(200),
  i: id,
});

export interface ButtonTarget {
  workflowId: string;
  name: string;
  incidentId: string;
}

export function encodeButtonValue(target: ButtonTarget): string {
  const value = JSON.stringify({ w: target.workflowId, n: target.name, i: target.incidentId });
  // The parser would refuse it later; refuse it now, where the cause is visible.
  buttonValueSchema.parse(JSON.parse(value));
  if (value.length >= MAX_BUTTON_VALUE) throw new Error(`button value of ${value.length} characters exceeds Slack's ${MAX_BUTTON_VALUE}`);
  return value;
}

/** Reads a button value back; throws (a ZodError or SyntaxError) when it is not one of ours. */
export function parseButtonValue(value: unknown): ButtonTarget {
  if (typeof value !== 'string' || value.length >= MAX_BUTTON_VALUE) throw new Error('not a Lifeboat button value');
  const { w, n, i } = buttonValueSchema.parse(JSON.parse(value));
  return { workflowId: w, name: n, incidentId: i };
}

export function isLifeboatAction(actionId: unknown): actionId is LifeboatActionId {
  return (LIFEBOAT_ACTIONS as readonly unknown[]).includes(actionId);
}
