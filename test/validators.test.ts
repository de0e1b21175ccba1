// The Updates' validators as pure functions, without Temporal: every refusal an approver, a task
// owner or an incident commander can meet, with the message that tells them what to do next.
import { describe, expect, it } from 'vitest';
import type { AbortRequest, ApprovalRequest, Completion, Vote } from '../common/plans.js';
import {
  type OpenGate,
  type OpenItem,
  type OpenTask,
  type VotePolicy,
  isPending,
  validateAbort,
  validateApproval,
  validateCompletion,
  validateVote,
} from '../workflows/engine/validators.js';

const request: ApprovalRequest = { title: 'Restore 3 rows', database: 'crm', tables: ['crm_leads'], changes: [] };
const policy: VotePolicy = { level: 'L1', declaredBy: 'carol', approvals: { approvers: ['alice', 'bob'], gates: {}, selfApproval: false } };
const since = '2026-11-22T10:15:00.000Z';

const gate = (extra: Partial<OpenGate> = {}): OpenGate => ({
  kind: 'approval',
  name: 'apply-restore',
  prompt: request.title,
  since,
  approvers: ['alice', 'bob', 'carol'],
  required: 1,
  approvedBy: [],
  request,
  ...extra,
});
const task = (extra: Partial<OpenTask> = {}): OpenTask => ({ kind: 'human', name: 'review', prompt: 'Review it', since, ...extra });
const vote = (by: string, name = 'apply-restore'): Vote => ({ gate: name, by });

describe('validateVote (approve and reject)', () => {
  it('accepts an allowed approver and returns the gate', () => {
    const open = gate();
    expect(validateVote(open, policy, vote('alice'), [open])).toBe(open);
  });

  it('refuses a vote without a name', () => {
    expect(() => validateVote(gate(), policy, vote('  '), [gate()])).toThrow('say who you are (--as <name>)');
  });

  it('refuses an unknown gate, naming what the run waits for', () => {
    expect(() => validateVote(undefined, policy, vote('alice', 'drop-everything'), [gate(), task()])).toThrow(
      'gate "drop-everything" is not waiting for a vote (this run is waiting for gate "apply-restore", task "review")',
    );
    expect(() => validateVote(undefined, policy, vote('alice', 'drop-everything'), [])).toThrow('(this run is waiting for nothing)');
  });

  it('refuses a vote on a task, or on a gate already decided', () => {
    expect(() => validateVote(task(), policy, vote('alice', 'review'), [task()])).toThrow('gate "review" is not waiting for a vote');
    const decided = gate({ decided: { approved: true, by: 'bob' } });
    expect(() => validateVote(decided, policy, vote('alice'), [])).toThrow('gate "apply-restore" is not waiting for a vote');
  });

  it('refuses someone who is not an approver of the gate', () => {
    expect(() => validateVote(gate(), policy, vote('mallory'), [gate()])).toThrow(
      'mallory may not decide gate "apply-restore" of an L1 incident (allowed: alice, bob, carol)',
    );
    expect(() => validateVote(gate({ approvers: [] }), policy, vote('mallory'), [])).toThrow(
      '(allowed: nobody is configured: add approvers to approvals.L1)',
    );
  });

  it('refuses the declarer while self-approval is off, and accepts them when it is on', () => {
    expect(() => validateVote(gate(), policy, vote('carol'), [gate()])).toThrow(
      'carol declared this incident and self-approval is off: another approver must decide',
    );
    const selfApproval: VotePolicy = { ...policy, approvals: { ...policy.approvals, selfApproval: true } };
    expect(() => validateVote(gate(), selfApproval, vote('carol'), [gate()])).not.toThrow();
  });
});

describe('validateApproval', () => {
  it('refuses a second approval by the same person under the two-person rule', () => {
    const open = gate({ required: 2, approvedBy: ['alice'] });
    expect(() => validateApproval(open, policy, vote('alice'), [open])).toThrow(
      'alice already approved "apply-restore": it needs 2 distinct approvers (1 so far)',
    );
    expect(() => validateApproval(open, policy, vote('bob'), [open])).not.toThrow();
  });

  it('applies every vote refusal first', () => {
    expect(() => validateApproval(gate(), policy, vote('mallory'), [])).toThrow('mallory may not decide gate');
  });
});

describe('validateCompletion', () => {
  const complete = (by: string, name = 'review'): Completion => ({ task: name, by });

  it('accepts a named person completing a waiting task', () => {
    expect(() => validateCompletion(task(), complete('dave'), [task()])).not.toThrow();
  });

  it('refuses a completion without a name', () => {
    expect(() => validateCompletion(task(), complete(''), [task()])).toThrow('say who you are (--as <name>)');
  });

  it('refuses a task that is not waiting: unknown, a gate, or done already', () => {
    const waiting: OpenItem[] = [gate()];
    expect(() => validateCompletion(undefined, complete('dave', 'cut-over'), waiting)).toThrow(
      'no task "cut-over" is waiting (this run is waiting for gate "apply-restore")',
    );
    expect(() => validateCompletion(gate(), complete('dave', 'apply-restore'), waiting)).toThrow('no task "apply-restore" is waiting');
    const done = task({ completion: complete('erin') });
    expect(() => validateCompletion(done, complete('dave'), [])).toThrow('no task "review" is waiting (this run is waiting for nothing)');
  });
});

describe('validateAbort', () => {
  const request = (by: string, reason: string): AbortRequest => ({ by, reason });

  it('accepts a named abort with a reason on a running run', () => {
    expect(() => validateAbort({}, request('carol', 'false alarm'))).not.toThrow();
  });

  it('refuses an abort without a name or without a reason', () => {
    expect(() => validateAbort({}, request(' ', 'false alarm'))).toThrow('say who you are (--as <name>)');
    expect(() => validateAbort({}, request('carol', ' '))).toThrow('an abort needs a reason (--reason "…")');
  });

  it('refuses an abort once the run has ended', () => {
    expect(() => validateAbort({ outcome: 'recovered' }, request('carol', 'too late'))).toThrow('the run has already ended (recovered)');
  });

  it('refuses a second abort', () => {
    expect(() => validateAbort({ aborted: request('alice', 'first') }, request('carol', 'second'))).toThrow(
      'an abort was already requested by alice',
    );
  });
});

describe('isPending', () => {
  it('holds a gate until decided and a task until completed', () => {
    expect(
      [gate(), gate({ decided: { approved: false, by: 'bob' } }), task(), task({ completion: { task: 'review', by: 'dave' } })].map(
        isPending,
      ),
    ).toEqual([true, false, true, false]);
  });
});
