// What the command modules share: the configuration named by the global --config, the target
// chosen from it, and the options several subjects take. Refusals here are ConfigError or
// InputError, which the entry turns into exit 2 before anything runs.
import { type Command, Option } from 'commander';
import { ConfigError } from '../../common/errors.js';
import { type LifeboatConfig, loadConfig, targetConfig } from '../../config/config.js';
import { type Answerer, whoAmI } from '../incidents.js';
import { keyFileFor } from '../sign.js';

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
export const keyOption = () =>
  new Option('--key <file>', 'your SSH key: a private key file, or a .pub whose private half is in ssh-agent (default: $LIFEBOAT_SSH_KEY)');

/** Who answers (--as) and the key that signs it (--key), settled before Temporal is reached. */
export function answererOf(opts: { as?: string; key?: string }): Answerer {
  const by = whoAmI(opts.as);
  return { by, keyFile: keyFileFor(by, opts.key) };
}

/** For an option given several times: each value kept, in order. */
export const repeatable = (value: string, previous: string[] = []) => [...previous, value];
