// What a person signs when answering a run (see common/proof.ts for how it is checked): the
// statement's fields and its exact text. Signing needs only this, not the curve arithmetic that
// verifying loads, so the CLI's reads and answers start without it.
import { sha256Hex } from './ssh-keys.js';

/** The sshsig namespace Lifeboat's signatures are made under (`ssh-keygen -Y sign -n lifeboat`). */
export const SSH_NAMESPACE = 'lifeboat';

export type Decision = 'approve' | 'reject' | 'complete' | 'abort';

/** What the person signed, field by field. */
export interface Statement {
  /** The Temporal namespace. */
  namespace: string;
  workflowId: string;
  runId: string;
  /** The gate or task answered; "run" for an abort. */
  item: string;
  decision: Decision;
  by: string;
  /** Set when a receiver signs for the person: the channel's immutable user id, e.g. "slack:U024BE7LH". */
  via?: string;
  /** SHA-256 (hex) of the reason or note, "" included. */
  textDigest: string;
  /** ISO time of signing. */
  signedAt: string;
}

/** What travels with a vote, a completion or an abort. */
export interface Proof {
  /** Armored SSH signature over statementText(statement). */
  signature: string;
  signedAt: string;
  via?: string;
}

/** The exact text that is signed: one field a line, in a fixed order. */
export function statementText(s: Statement): string {
  return [
    'lifeboat answer v1',
    `namespace ${s.namespace}`,
    `workflow ${s.workflowId}`,
    `run ${s.runId}`,
    `item ${s.item}`,
    `decision ${s.decision}`,
    `by ${s.by}`,
    ...(s.via ? [`via ${s.via}`] : []),
    `text-sha256 ${s.textDigest}`,
    `signed-at ${s.signedAt}`,
    '',
  ].join('\n');
}

export const digestOf = (text: string | undefined): string => sha256Hex(text ?? '');
