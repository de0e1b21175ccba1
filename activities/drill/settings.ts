// A drill's settings: which target, level, scenario, RTO/RPO and approvals (with the people's keys
// when people answer) it runs with, from the worker's configuration and the request. Pure: the
// drill's first activity calls it, and the CLI calls it before starting a drill so that a bad
// request is refused at once.
import { type LifeboatConfig, durationMs } from '../../config/config.js';
import { InputError } from '../../common/errors.js';
import { type DrillInput, type DrillSettings, type ScenarioKind, SCENARIO_OF } from '../../common/drills.js';
import type { Level } from '../../common/plans.js';
import { proofPolicy } from '../policy.js';

/** The level a scenario rehearses when only the scenario is given. */
function levelOf(kind: ScenarioKind, configured: Level): Level {
  if (kind === 'lose-database') return configured === 'L4' ? 'L4' : 'L3';
  return kind === 'delete-rows' ? 'L1' : 'L2';
}

/** A drill's settings from the configuration and the request; refuses what the plans cannot mend. Used by the CLI before starting, too. */
export function drillSettings(config: LifeboatConfig, input: DrillInput): DrillSettings {
  const targets = Object.keys(config.targets);
  const target = input.target ?? config.drill.target ?? (targets.length === 1 ? targets[0]! : undefined);
  if (!target)
    throw new InputError(`several targets are configured (${targets.join(', ')}): name the drill's target (--target, or drill.target)`);
  if (!config.targets[target]) throw new InputError(`unknown target "${target}" (configured targets: ${targets.join(', ')})`);
  const kind = input.scenario?.kind;
  const level = input.level ?? (kind ? levelOf(kind, config.drill.level) : config.drill.level);
  if (kind && kind !== SCENARIO_OF[level]) {
    throw new InputError(`the ${level} plan does not mend a "${kind}" scenario: ${level} rehearses "${SCENARIO_OF[level]}"`);
  }
  const records = input.scenario?.records ?? config.drill.records;
  if (!Number.isSafeInteger(records) || records < 1 || records > 10)
    throw new InputError(`an L1 drill deletes 1 to 10 records, not ${records}`);
  if (config.drill.pointInTime && !config.targets[target]!.physical)
    throw new InputError(
      `drill.pointInTime rehearses a point-in-time recovery, which needs physical backups of ${target}: add "physical: pgbackrest" to the target, or turn drill.pointInTime off`,
    );
  const policy = config.approvals[level];
  return {
    target,
    level,
    scenario: { kind: SCENARIO_OF[level], records, table: input.scenario?.table ?? config.drill.table },
    rtoMs: durationMs(config.levels[level].rto),
    rpoMs: durationMs(config.levels[level].rpo),
    actAs: config.drill.approvals === 'drill' ? config.drill.approveAs : undefined,
    approvers: config.drill.approvals === 'drill' ? [config.drill.approveAs] : policy.approvers,
    gates: config.drill.approvals === 'drill' ? {} : policy.gates,
    selfApproval: config.approvals.selfApproval,
    proof: proofPolicy(config),
    improvementsDeadlineMs: config.drill.improvements ? durationMs(config.drill.improvementsDeadline) : undefined,
    ...(config.drill.pointInTime ? { pointInTime: true } : {}),
  };
}
