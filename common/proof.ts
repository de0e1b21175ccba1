// Proof of who answered a run: every approve, reject, completion and abort carries an SSH signature
// over a statement that binds it to one namespace, workflow and run, one gate or task, one decision,
// the reason's digest and the moment it was signed. The run's validator checks it deterministically
// (common/sshsig.ts) against the keys the worker's policy lists for that person.
//
// Guarantees:
// - A proof made for another run, item, decision, person or reason does not verify.
// - A proof older than PROOF_MAX_AGE_MS (or signed in the future beyond the allowed skew) is refused.
// - A person is proven only by their own keys, or by a receiver key (Slack) that the policy allows
//   to vote for them, and then only through the Slack user id the policy maps to that person.
import { type SshPublicKey, SignatureError, parsePublicKey } from './ssh-keys.js';
import { verifySshSignature } from './sshsig.js';
import { type Proof, type Statement, SSH_NAMESPACE, statementText } from './statement.js';

export { type Decision, type Proof, type Statement, SSH_NAMESPACE, digestOf, statementText } from './statement.js';

/** How long a signed answer stays valid: long enough to type it, too short to replay it later. */
export const PROOF_MAX_AGE_MS = 5 * 60_000;
/** Clock skew allowed between the signer and the server. */
export const PROOF_MAX_SKEW_MS = 60_000;

/** Who may prove what, from the worker's configuration, fixed when the run starts. */
export interface ProofPolicy {
  /** Each person's public keys, as lines of a .pub file. */
  people: Record<string, string[]>;
  /** Receivers (the Slack receiver) that sign for people: their keys, and which channel ids map to whom. */
  receivers: Array<{ name: string; keys: string[]; users: Record<string, string> }>;
}

export interface ProvenAnswer {
  by: string;
  fingerprint: string;
  via?: string;
}

const parseKeys = (lines: readonly string[]): SshPublicKey[] => lines.map(parsePublicKey);

/**
 * Checks `proof` for an answer by `by` in the context given; returns who was proven and by which
 * key, or throws an Error whose message says what is wrong and what to do.
 */
export function checkProof(
  proof: Proof | undefined,
  expected: Omit<Statement, 'signedAt' | 'via'>,
  policy: ProofPolicy,
  nowMs: number,
): ProvenAnswer {
  if (!proof?.signature) {
    throw new Error(
      `${expected.by}'s answer is not signed: answer with the lifeboat CLI and your SSH key (--key or LIFEBOAT_SSH_KEY), or from Slack`,
    );
  }
  const signedMs = Date.parse(proof.signedAt);
  if (Number.isNaN(signedMs)) throw new Error(`the proof's time "${proof.signedAt}" is not a time`);
  if (nowMs - signedMs > PROOF_MAX_AGE_MS)
    throw new Error(
      `the signature is ${Math.round((nowMs - signedMs) / 1000)} s old: answers expire after ${PROOF_MAX_AGE_MS / 60_000} min, sign again`,
    );
  if (signedMs - nowMs > PROOF_MAX_SKEW_MS)
    throw new Error(`the signature is dated ${proof.signedAt}, in the future: check the signer's clock`);
  const statement = statementText({ ...expected, signedAt: proof.signedAt, via: proof.via });
  try {
    if (proof.via) {
      const receiver = policy.receivers.find((r) => r.users[proof.via!] !== undefined);
      if (!receiver) throw new SignatureError(`${proof.via} is not mapped to anyone in the worker's policy`);
      if (receiver.users[proof.via] !== expected.by)
        throw new SignatureError(`${proof.via} is mapped to ${receiver.users[proof.via]}, not ${expected.by}`);
      const { key } = verifySshSignature(proof.signature, statement, SSH_NAMESPACE, parseKeys(receiver.keys));
      return { by: expected.by, fingerprint: key.fingerprint, via: proof.via };
    }
    const keys = policy.people[expected.by];
    if (!keys?.length) throw new SignatureError(`${expected.by} has no key in the worker's policy: enrol one (lifeboat keys)`);
    const { key } = verifySshSignature(proof.signature, statement, SSH_NAMESPACE, parseKeys(keys));
    return { by: expected.by, fingerprint: key.fingerprint };
  } catch (err) {
    if (err instanceof SignatureError) throw new Error(`${expected.by} is not proven: ${err.message}`);
    throw err;
  }
}
