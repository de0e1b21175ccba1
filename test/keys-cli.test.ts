// Signed answers through the `lifeboat` command, as people type it: keys made by ssh-keygen in a
// temporary folder, a configuration whose people list them, and workers on the suite's stack.
// `keys` shows ssh-keygen's own fingerprints and enrols only usable public keys; an approval made
// with --key carries a proof the validator's check accepts, read back from history; no key where
// people are configured is refused before anything is sent; `audit` re-checks a run's decisions
// (exit 0 when all are proven, 1 when one is not).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { parseConfig } from '../config/config.js';
import type { Vote } from '../common/plans.js';
import { checkProof, digestOf } from '../common/proof.js';
import {
  type CliRun,
  type TestDatabase,
  type TestWorker,
  backupAndVerify,
  createCrmDatabase,
  runLifeboat,
  startTestWorker,
  testConfigText,
  testEnv,
  uniqueName,
} from './helpers.js';

const INCIDENT_ID = /inc-\d{8}-\d{6}-[a-z0-9]{4}/;

describe('signed answers through the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-keys-cli-'));
  const key = (name: string) => join(dir, name);
  const fingerprint = (name: string) => execFileSync('ssh-keygen', ['-lf', `${key(name)}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  /** Configuration files: "signed" lists alice and bob under people, "plain" enrols nobody. */
  const files = { signed: join(dir, 'signed.yaml'), plain: join(dir, 'plain.yaml') };
  const workers: Record<keyof typeof files, TestWorker | undefined> = { signed: undefined, plain: undefined };

  const lifeboat = (config: keyof typeof files, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> =>
    runLifeboat(['--config', files[config], ...args], { ...env, ...extraEnv });

  async function declare(config: keyof typeof files, ...args: string[]): Promise<string> {
    const run = await lifeboat(config, ['declare', '--as', 'carol', '--summary', 'signed answers', ...args]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return INCIDENT_ID.exec(run.stdout)![0];
  }

  const statusUntil = (config: keyof typeof files, id: string, pattern: RegExp) =>
    expect.poll(async () => (await lifeboat(config, ['status', id])).stdout, { timeout: 90_000, interval: 500 }).toMatch(pattern);

  beforeAll(async () => {
    for (const [name, type] of [
      ['alice', ['-t', 'ed25519']],
      ['bob', ['-t', 'ecdsa', '-b', '256']],
      ['rsa', ['-t', 'rsa', '-b', '2048']],
    ] as const) {
      execFileSync('ssh-keygen', ['-q', ...type, '-N', '', '-C', `${name}@example`, '-f', key(name)]);
    }
    db = await createCrmDatabase(50);
    env = { ...process.env, ...testEnv(db), TEMPORAL_ADDRESS: inject('temporalAddress') };
    for (const v of ['LIFEBOAT_USER', 'LIFEBOAT_SSH_KEY', 'LIFEBOAT_KEYS_DIR']) delete env[v];
    const approvals = 'approvals:\n  L1: { approvers: [alice, bob] }\n  L3: { approvers: [alice, bob] }';
    const people = `people:\n  alice: { keyFiles: [${key('alice')}.pub] }\n  bob: { keyFiles: [${key('bob')}.pub] }`;
    const prefix = uniqueName('keys-cli');
    for (const [which, extra] of [
      ['signed', `${approvals}\n${people}`],
      ['plain', approvals],
    ] as const) {
      const text = testConfigText({
        prefix,
        taskQueue: uniqueName(`keys-cli-${which}`),
        temporalAddress: '${TEMPORAL_ADDRESS}',
        extra,
        people: false,
      });
      writeFileSync(files[which], text);
      workers[which] = await startTestWorker(parseConfig(text, files[which], env), testEnv(db));
    }
    await backupAndVerify(workers.signed!);
  }, 180_000);

  afterAll(async () => {
    for (const w of Object.values(workers)) await w?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists each person's keys with the fingerprints ssh-keygen -lf prints", async () => {
    const run = await lifeboat('signed', ['keys']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^alice\\s+ssh-ed25519\\s+${fingerprint('alice').replace(/[+/]/g, '\\$&')}\\s+alice@example$`, 'm'),
    );
    expect(run.stdout).toMatch(
      new RegExp(`^bob\\s+ecdsa-sha2-nistp256\\s+${fingerprint('bob').replace(/[+/]/g, '\\$&')}\\s+bob@example$`, 'm'),
    );
    expect(run.stdout).toContain('lifeboat keys enrol <name> <file.pub>');
  });

  it('enrols an Ed25519 key as YAML the configuration loads, and refuses RSA keys and private keys with the reason', async () => {
    const rsa = await lifeboat('signed', ['keys', 'enrol', 'erin', `${key('rsa')}.pub`]);
    expect(rsa.code).toBe(2);
    expect(rsa.stderr).toMatch(/ssh-rsa keys are not supported: use an Ed25519 key \(ssh-keygen -t ed25519\)/);
    const secret = await lifeboat('signed', ['keys', 'enrol', 'erin', key('alice')]);
    expect(secret.code).toBe(2);
    expect(secret.stderr).toMatch(/is a private key: give its \.pub file instead/);

    const enrol = await lifeboat('signed', ['keys', 'enrol', 'erin', `${key('alice')}.pub`]);
    expect(enrol.code).toBe(0);
    expect(enrol.stderr).toContain(fingerprint('alice'));
    const config = parseConfig(testConfigText({ prefix: 'x', extra: enrol.stdout, people: false }), 'enrolled', {});
    expect(config.people.erin!.keys).toEqual([readFileSync(`${key('alice')}.pub`, 'utf8').trim()]);
  });

  it('signs approvals and completions: no key is refused with advice, --key and LIFEBOAT_SSH_KEY sign, and audit verifies them', async () => {
    const ids = await withClient(db.url, async (c) => (await c.query<{ id: string }>('SELECT id FROM crm_leads ORDER BY id LIMIT 2')).rows);
    const id = await declare('signed', '--level', 'L1', '--table', 'crm_leads', '--keys', ids.map((r) => r.id).join(','));
    await statusUntil('signed', id, /waiting for approval of "apply-restore"/);

    const unsigned = await lifeboat('signed', ['approve', id, '--as', 'alice']);
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toBe('✖ give your SSH key with --key or LIFEBOAT_SSH_KEY (lifeboat keys shows how to enrol one)\n');

    const approved = await lifeboat('signed', ['approve', id, '--as', 'alice', '--key', key('alice'), '--reason', 'rows checked']);
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);

    // The accepted vote in the plan's history carries a proof the validator's check accepts.
    const plan = workers.signed!.client.workflow.getHandle(`${id}-L1`);
    const { runId } = await plan.describe();
    const accepted = (await plan.fetchHistory()).events!.map(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input,
    );
    const input = accepted.find((i) => i?.name === 'approve')!;
    const vote = defaultPayloadConverter.fromPayload<Vote>(input.args!.payloads![0]!);
    const policy = { people: { alice: [readFileSync(`${key('alice')}.pub`, 'utf8')] }, receivers: [] };
    const expected = { namespace: 'default', workflowId: `${id}-L1`, runId, item: 'apply-restore', decision: 'approve' as const };
    const proven = checkProof(
      vote.proof,
      { ...expected, by: 'alice', textDigest: digestOf('rows checked') },
      policy,
      Date.parse(vote.proof!.signedAt),
    );
    expect(proven.fingerprint).toBe(fingerprint('alice'));

    await statusUntil('signed', id, /waiting for task "review"/);
    const done = await lifeboat('signed', ['complete', id, '--as', 'bob', '--note', 'looked fine'], { LIFEBOAT_SSH_KEY: key('bob') });
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    await statusUntil('signed', id, /^outcome: recovered$/m);

    const audit = await lifeboat('signed', ['audit', id]);
    expect(audit.stderr).toBe('');
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(
      new RegExp(`apply-restore\\s+approve\\s+alice\\s+${fingerprint('alice').replace(/[+/]/g, '\\$&')}\\s+verified`),
    );
    expect(audit.stdout).toMatch(new RegExp(`review\\s+complete\\s+bob\\s+${fingerprint('bob').replace(/[+/]/g, '\\$&')}\\s+verified`));
    expect(audit.stdout).toContain(`✔ all 2 decisions of ${id} verify`);
  });

  it('with nobody enrolled, a signed answer is refused by the worker and the run waits on; an unknown run exits 2', async () => {
    const id = await declare('plain', '--system-down');
    await statusUntil('plain', id, /waiting for task "vendor-support"/);
    const refused = await lifeboat('plain', ['abort', id, '--as', 'alice', '--key', key('alice'), '--reason', 'rehearsal over']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("alice is not proven: alice has no key in the worker's policy: enrol one (lifeboat keys)");
    const incident = workers.plain!.client.workflow.getHandle(id);
    expect((await incident.describe()).status.name).toBe('RUNNING');
    const history = (await incident.fetchHistory()).events ?? [];
    expect(history.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
    await incident.terminate('test over');

    const unknown = await lifeboat('plain', ['audit', 'inc-20200101-000000-zzzz']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^✖ no run inc-20200101-000000-zzzz/);
  });
});
