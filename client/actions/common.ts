// What the command actions share: the configuration named by the global --config, the target
// chosen from it, and who answers. Refusals here are ConfigError or InputError, which the entry
// turns into exit 2 before anything runs.
import { type Command } from 'commander';
import { ConfigError } from '../../common/errors.js';
import { type LifeboatConfig, loadConfig, targetConfig } from '../../config/config.js';
import { globalsOf } from '../commands/common.js';
import { type Answerer, whoAmI } from '../incidents.js';
import { keyFileFor } from '../sign.js';

/** The configuration the global --config names (or $LIFEBOAT_CONFIG, or the example). */
export function configOf(command: Command): LifeboatConfig {
  return loadConfig(globalsOf(command).config);
}

/** The --target given, or the only configured one. */
export function chooseTarget(cfg: LifeboatConfig, given: string | undefined): string {
  if (given) return (targetConfig(cfg, given), given);
  const names = Object.keys(cfg.targets);
  if (names.length === 1) return names[0]!;
  throw new ConfigError(`several targets are configured (${names.join(', ')}): pass --target`);
}

/** Who answers (--as) and the key that signs it (--key), settled before Temporal is reached. */
export function answererOf(opts: { as?: string; key?: string }): Answerer {
  const by = whoAmI(opts.as);
  return { by, keyFile: keyFileFor(by, opts.key) };
}

/** A --json answer: already validated against its schema by the caller. */
export const printJson = (value: unknown): void => console.log(JSON.stringify(value, null, 2));
