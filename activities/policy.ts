// The run's policy from the worker's configuration: each level's RTO target and who may approve
// what, with the people's keys that prove them. The incident reads it through the runPolicy
// activity when it starts, so it is recorded in the run's history and never comes from the client
// that declares; a drill with people answering takes the same proof policy.
//
// Guarantees:
// - Every answer must be signed by a key the configuration lists for the person who gives it:
//   with nobody enrolled under `people`, nobody can answer (the refusal says to enrol a key).
import { type LifeboatConfig, durationMs } from '../config/config.js';
import type { ApprovalPolicy, Level, RunPolicy } from '../common/plans.js';
import type { ProofPolicy } from '../common/proof.js';

const LEVELS: readonly Level[] = ['L1', 'L2', 'L3', 'L4'];

/** The people's keys. Receivers (Slack) are not configured yet. */
export function proofPolicy(config: LifeboatConfig): ProofPolicy {
  return { people: Object.fromEntries(Object.entries(config.people).map(([who, person]) => [who, person.keys])), receivers: [] };
}

/** One level's approval policy. */
export function approvalPolicy(config: LifeboatConfig, level: Level): ApprovalPolicy {
  return {
    approvers: config.approvals[level].approvers,
    gates: config.approvals[level].gates,
    selfApproval: config.approvals.selfApproval,
    proof: proofPolicy(config),
  };
}

export function runPolicy(config: LifeboatConfig): RunPolicy {
  const each = <T>(of: (level: Level) => T) => Object.fromEntries(LEVELS.map((level) => [level, of(level)])) as Record<Level, T>;
  return {
    rtoMs: each((level) => durationMs(config.levels[level].rto)),
    approvals: each((level) => approvalPolicy(config, level)),
  };
}
