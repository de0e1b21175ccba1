// Signs a person's answer to a run with their SSH key, the way git signs commits: `ssh-keygen -Y
// sign` with a private key file, or with a public key file whose private half is in ssh-agent.
// The private key never leaves ssh-keygen.
import { execFile } from 'node:child_process';
import { InputError } from '../common/errors.js';
import { type Proof, SSH_NAMESPACE, type Statement, statementText } from '../common/proof.js';

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
