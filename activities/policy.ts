// The run's policy from the worker's configuration: each level's RTO target and who may approve
// what, with the people's keys that prove them. The incident reads it through the runPolicy
// activity when it starts, so it is recorded in the run's history and never comes from the client
// that declares; a drill with people answering takes the same proof policy.
//
// Guarantees:
// - Every answer must be signed by a key the configuration lists for the person who gives it, or by
//   the Slack receiver's key for the person `notify.slack.users` maps the clicking user's id to:
//   with nobody enrolled, nobody can answer (the refusal says to enrol a key).
import { type LifeboatConfig, durationMs } from '../config/config.js';
import type { ApprovalPolicy, Level, RunPolicy } from '../common/plans.js';
import type { ProofPolicy } from '../common/proof.js';
import { slackVia } from './notify/slack-actions.js';

const LEVELS: readonly Level[] = ['L1', 'L2', 'L3', 'L4'];

/** The people's keys and the Slack receiver's. */
export function proofPolicy(config: LifeboatConfig): ProofPolicy {
  return {
    people: Object.fromEntries(Object.entries(config.people).map(([who, person]) => [who, person.keys])),
    receivers: slackReceivers(config),
  };
}

/** The Slack receiver, when its key is configured: it may vote only for the mapped user ids, each as one person. */
function slackReceivers(config: LifeboatConfig): ProofPolicy['receivers'] {
  const slack = config.notify.slack;
  if (!slack?.receiver.publicKeys.length) return [];
  const users = Object.fromEntries(Object.entries(slack.users).map(([id, who]) => [slackVia(id), who]));
  return [{ name: 'slack', keys: slack.receiver.publicKeys, users }];
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
