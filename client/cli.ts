// The `lifeboat` command (client/program.ts) run on this process's arguments.
// Exit codes: 0 done, 1 the operation failed (a failed verification included), 2 the request was
// refused before anything ran (bad input or configuration).
import { CommanderError } from 'commander';
import { ConfigError, InputError } from '../common/errors.js';
import { CliError, closeClients } from './cli-process.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError || err instanceof InputError) {
      console.error(`✖ ${err.message}`);
      return 2;
    }
    console.error(`✖ ${(err as Error).message}`);
    return err instanceof CliError ? err.exitCode : 1;
  } finally {
    // The answer is known: nothing still waited for (a drill's open task) may keep the process.
    await closeClients();
  }
}

// Not a top-level await: the bundle runs as CommonJS (scripts/bundle-cli.js).
void main(process.argv).then((code) => {
  process.exitCode = code;
});
