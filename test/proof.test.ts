// Proofs of who answered, checked as the run's validator checks them: signatures made by the real
// `ssh-keygen -Y sign` (the reference implementation) over the statement, verified in pure
// JavaScript. Every way of forging, replaying or borrowing an answer must be refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROOF_MAX_AGE_MS, type ProofPolicy, type Statement, checkProof, digestOf, statementText } from '../common/proof.js';
import { SignatureError, parsePublicKey } from '../common/ssh-keys.js';
import { verifySshSignature } from '../common/sshsig.js';
import { prove, sshSign } from '../client/sign.js';

let dir: string;
const key = (name: string) => join(dir, name);
const pub = (name: string) => readFileSync(`${key(name)}.pub`, 'utf8').trim();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-proof-'));
  for (const [name, type] of [
    ['alice', ['-t', 'ed25519']],
    ['bob', ['-t', 'ecdsa', '-b', '256']],
    ['carol', ['-t', 'ecdsa', '-b', '384']],
    ['slack', ['-t', 'ed25519']],
    ['rsa', ['-t', 'rsa', '-b', '2048']],
  ] as const) {
    execFileSync('ssh-keygen', ['-q', ...type, '-N', '', '-C', `${name}@example`, '-f', key(name)]);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = Date.parse('2026-11-30T12:00:00Z');
const expected: Omit<Statement, 'signedAt' | 'via'> = {
  namespace: 'default',
  workflowId: 'inc-20261130-115500-ab12-L1',
  runId: '0193-run',
  item: 'apply-restore',
  decision: 'approve',
  by: 'alice',
  textDigest: digestOf('rows checked'),
};
const policy = (): ProofPolicy => ({
  people: { alice: [pub('alice')], bob: [pub('bob')], carol: [pub('carol')] },
  receivers: [{ name: 'slack', keys: [pub('slack')], users: { 'slack:U0ALICE': 'alice', 'slack:U0BOB': 'bob' } }],
});
const at = (ms: number) => new Date(ms);

describe('SSH signatures', () => {
  it('verifies Ed25519 and ECDSA P-256/P-384 signatures made by ssh-keygen, with its fingerprints', async () => {
    for (const name of ['alice', 'bob', 'carol']) {
      const signature = await sshSign('hello\n', key(name));
      const k = parsePublicKey(pub(name));
      const fingerprint = execFileSync('ssh-keygen', ['-lf', `${key(name)}.pub`], { encoding: 'utf8' }).split(' ')[1];
      expect(verifySshSignature(signature, 'hello\n', 'lifeboat', [k]).key.fingerprint).toBe(fingerprint);
      expect(() => verifySshSignature(signature, 'hello!\n', 'lifeboat', [k])).toThrow(/does not match what was signed/);
    }
  });

  it('refuses another namespace, a key not allowed, a damaged signature, and RSA keys with advice', async () => {
    const signature = await sshSign('hello\n', key('alice'));
    const alice = parsePublicKey(pub('alice'));
    expect(() => verifySshSignature(signature, 'hello\n', 'git', [alice])).toThrow(/namespace "lifeboat", not "git"/);
    expect(() => verifySshSignature(signature, 'hello\n', 'lifeboat', [parsePublicKey(pub('bob'))])).toThrow(/is not an allowed key/);
    const body = signature.split('\n');
    body[2] = body[2]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    expect(() => verifySshSignature(body.join('\n'), 'hello\n', 'lifeboat', [alice])).toThrow(SignatureError);
    expect(() => verifySshSignature('not a signature', 'hello\n', 'lifeboat', [alice])).toThrow(
      /expected the armored output of "ssh-keygen -Y sign"/,
    );
    expect(() => parsePublicKey(pub('rsa'))).toThrow(/ssh-rsa keys are not supported: use an Ed25519 key/);
    expect(() => parsePublicKey('ssh-ed25519 !!!')).toThrow(/not valid base64/);
  });
});

describe('proof of an answer', () => {
  it('proves the person whose key signed exactly this answer', async () => {
    const proof = await prove(expected, key('alice'), at(NOW - 10_000));
    expect(checkProof(proof, expected, policy(), NOW)).toEqual({ by: 'alice', fingerprint: parsePublicKey(pub('alice')).fingerprint });
  });

  it('refuses an answer bound to anything else: run, workflow, item, decision, person, reason', async () => {
    const proof = await prove(expected, key('alice'), at(NOW));
    for (const other of [
      { runId: 'another-run' },
      { workflowId: 'inc-20261130-115500-ab12-L2' },
      { item: 'restore-in-place' },
      { decision: 'reject' as const },
      { textDigest: digestOf('other words') },
      { namespace: 'prod' },
    ]) {
      expect(() => checkProof(proof, { ...expected, ...other }, policy(), NOW)).toThrow(
        /alice is not proven: the signature by SHA256:\S+ does not match/,
      );
    }
    // The declarer signing with their own key while claiming to be someone else.
    const bobs = await prove({ ...expected, by: 'bob' }, key('alice'), at(NOW));
    expect(() => checkProof(bobs, { ...expected, by: 'bob' }, policy(), NOW)).toThrow(
      /bob is not proven: the signing key SHA256:\S+ is not an allowed key/,
    );
    expect(() => checkProof(proof, { ...expected, by: 'mallory' }, policy(), NOW)).toThrow(/mallory has no key in the worker's policy/);
  });

  it('refuses a missing, expired or future-dated proof with what to do', async () => {
    expect(() => checkProof(undefined, expected, policy(), NOW)).toThrow(
      /alice's answer is not signed: answer with the lifeboat CLI and your SSH key/,
    );
    const old = await prove(expected, key('alice'), at(NOW - PROOF_MAX_AGE_MS - 1000));
    expect(() => checkProof(old, expected, policy(), NOW)).toThrow(/answers expire after 5 min, sign again/);
    const future = await prove(expected, key('alice'), at(NOW + 5 * 60_000));
    expect(() => checkProof(future, expected, policy(), NOW)).toThrow(/in the future/);
  });

  it('accepts the receiver signing for the person its user id maps to, and nobody else', async () => {
    const viaSlack = await prove({ ...expected, via: 'slack:U0ALICE' }, key('slack'), at(NOW));
    expect(checkProof(viaSlack, expected, policy(), NOW)).toMatchObject({ by: 'alice', via: 'slack:U0ALICE' });
    // The same Slack user cannot vote as bob, and an unmapped user as nobody.
    const asBob = await prove({ ...expected, by: 'bob', via: 'slack:U0ALICE' }, key('slack'), at(NOW));
    expect(() => checkProof(asBob, { ...expected, by: 'bob' }, policy(), NOW)).toThrow(/slack:U0ALICE is mapped to alice, not bob/);
    const stranger = await prove({ ...expected, via: 'slack:U0EVE' }, key('slack'), at(NOW));
    expect(() => checkProof(stranger, expected, policy(), NOW)).toThrow(/slack:U0EVE is not mapped to anyone/);
    // A person's own key cannot pose as the receiver.
    const forged = await prove({ ...expected, via: 'slack:U0ALICE' }, key('alice'), at(NOW));
    expect(() => checkProof(forged, expected, policy(), NOW)).toThrow(/is not an allowed key/);
    // Nor the receiver as a person: without `via` (dropped from its proof, or never signed) its key proves nobody.
    const { via: _, ...stripped } = viaSlack;
    expect(() => checkProof(stripped, expected, policy(), NOW)).toThrow(
      /alice is not proven: the signing key SHA256:\S+ is not an allowed key/,
    );
    const bare = await prove(expected, key('slack'), at(NOW));
    expect(() => checkProof(bare, expected, policy(), NOW)).toThrow(
      /alice is not proven: the signing key SHA256:\S+ is not an allowed key/,
    );
  });

  it('signs a stable, readable statement', () => {
    expect(statementText({ ...expected, signedAt: '2026-11-30T12:00:00.000Z' })).toBe(
      [
        'lifeboat answer v1',
        'namespace default',
        'workflow inc-20261130-115500-ab12-L1',
        'run 0193-run',
        'item apply-restore',
        'decision approve',
        'by alice',
        `text-sha256 ${digestOf('rows checked')}`,
        'signed-at 2026-11-30T12:00:00.000Z',
        '',
      ].join('\n'),
    );
  });
});
