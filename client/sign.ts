// Signs a person's answer to a run with their SSH key, the way git signs commits: `ssh-keygen -Y
// sign` with a private key file, or with a public key file whose private half is in ssh-agent.
// The private key never leaves ssh-keygen. A proof names the run it answers, looked up just before
// signing, and the answer is sent to that run only.
import type { WorkflowClient, WorkflowHandle } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../common/errors.js';
import { type Decision, type Proof, SSH_NAMESPACE, type Statement, digestOf, statementText } from '../common/statement.js';

/** Runs `ssh-keygen -Y sign` over `message`; returns the armored signature. */
export function sshSign(message: string, keyFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'ssh-keygen',
      ['-q', '-Y', 'sign', '-f', keyFile, '-n', SSH_NAMESPACE],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) {
          const why = (stderr || err.message).trim().split('\n').slice(-2).join(' ');
          reject(
            new InputError(
              `cannot sign with ${keyFile}: ${why} (give your SSH key with --key or LIFEBOAT_SSH_KEY; a .pub file uses ssh-agent)`,
            ),
          );
        } else resolve(stdout);
      },
    );
    child.stdin?.end(message);
  });
}

/** The proof for a statement, signed now. */
export async function prove(statement: Omit<Statement, 'signedAt'>, keyFile: string, now = new Date()): Promise<Proof> {
  const signedAt = now.toISOString();
  const signature = await sshSign(statementText({ ...statement, signedAt }), keyFile);
  return { signature, signedAt, ...(statement.via ? { via: statement.via } : {}) };
}

/**
 * The key file that signs `by`'s answers: --key, else $LIFEBOAT_SSH_KEY, else the embedded dev
 * stack's throwaway key for that person ($LIFEBOAT_KEYS_DIR/<name>). With none, the worker would
 * refuse the answer, so it is refused here first, with what to do.
 */
export function keyFileFor(by: string, given?: string, env = process.env): string {
  // A name is a file name there, never a path: --as ../x reads nothing outside the folder.
  const devKey = env.LIFEBOAT_KEYS_DIR && basename(by) === by && join(env.LIFEBOAT_KEYS_DIR, by);
  const found = given ?? env.LIFEBOAT_SSH_KEY ?? (devKey && existsSync(devKey) ? devKey : undefined);
  if (found) return found;
  throw new InputError('give your SSH key with --key or LIFEBOAT_SSH_KEY (lifeboat keys shows how to enrol one)');
}

/**
 * Where to send an answer to workflow `workflowId`, and its proof: the workflow's current run is
 * looked up first, the proof names it and the handle is pinned to it, so the answer reaches
 * exactly the run it was signed for. `via` is set when a receiver signs for the person (the Slack
 * receiver: "slack:<user id>").
 */
export async function answerTo(
  workflows: WorkflowClient,
  workflowId: string,
  answer: { item: string; decision: Decision; by: string; text?: string; via?: string },
  keyFile: string,
  signedAt = new Date(),
): Promise<{ handle: WorkflowHandle; proof: Proof }> {
  const { runId } = await workflows.getHandle(workflowId).describe();
  const { namespace } = workflows.options;
  const { item, decision, by, text, via } = answer;
  const proof = await prove({ namespace, workflowId, runId, item, decision, by, via, textDigest: digestOf(text) }, keyFile, signedAt);
  return { handle: workflows.getHandle(workflowId, runId), proof };
}
