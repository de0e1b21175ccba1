// What the command definitions share: options several subjects take, and `lazy`, which loads a
// command's action module only when that command runs. Definitions import commander and nothing
// heavy (no Temporal client, AWS SDK, pg, zod or YAML), so `lifeboat --help` starts at once.
import { type Command, Option } from 'commander';

export const targetOption = () => new Option('-t, --target <name>', 'target database, by its configured name');
export const asOption = () => new Option('--as <name>', 'who you are (default: $LIFEBOAT_USER or your login)');
export const keyOption = () =>
  new Option('--key <file>', 'your SSH key: a private key file, or a .pub whose private half is in ssh-agent (default: $LIFEBOAT_SSH_KEY)');
export const jsonOption = (what = 'print JSON (the shape: README.md, "Scripting")') => new Option('--json', what);

/** For an option given several times: each value kept, in order. */
export const repeatable = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The action of a command, imported when the command runs: `pick` names it in its module. Commander
 * calls it with the command's arguments, its options and the command itself (actions read the
 * global --config from that command).
 */
export function lazy<M, A extends unknown[]>(load: () => Promise<M>, pick: (module: M) => (...args: A) => unknown) {
  return async (...args: A): Promise<void> => {
    await pick(await load())(...args);
  };
}

/** The global options, as any command of the program sees them. */
export const globalsOf = (command: Command) => command.optsWithGlobals<{ config?: string }>();
