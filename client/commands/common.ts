// What the command modules share: the configuration named by the global --config, the target
// chosen from it, and the options several subjects take. Refusals here are ConfigError or
// InputError, which the entry turns into exit 2 before anything runs.
import { type Command, Option } from 'commander';
import { ConfigError } from '../../common/errors.js';
import { type LifeboatConfig, loadConfig, targetConfig } from '../../config/config.js';

/** The configuration the global --config names (or $LIFEBOAT_CONFIG, or the example). */
export function configOf(program: Command): LifeboatConfig {
  return loadConfig(program.opts<{ config?: string }>().config);
}

/** The --target given, or the only configured one. */
export function chooseTarget(cfg: LifeboatConfig, given: string | undefined): string {
  if (given) return (targetConfig(cfg, given), given);
  const names = Object.keys(cfg.targets);
  if (names.length === 1) return names[0]!;
  throw new ConfigError(`several targets are configured (${names.join(', ')}): pass --target`);
}

export const targetOption = () => new Option('-t, --target <name>', 'target database, by its configured name');
export const asOption = () => new Option('--as <name>', 'who you are (default: $LIFEBOAT_USER or your login)');

/** For an option given several times: each value kept, in order. */
export const repeatable = (value: string, previous: string[] = []) => [...previous, value];
