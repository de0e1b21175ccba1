// `lifeboat server prepare`: the Temporal server made ready for Lifeboat (client/prepare.ts), on any
// server, as often as wanted; it says what it did, or that there was nothing to do.
import { type Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { connectClient } from '../follow.js';
import { prepareServer } from '../prepare.js';
import { configOf } from './common.js';

const DAY_MS = 24 * 3_600_000;

export function registerServerCommands(program: Command): void {
  const server = program.command('server').description('the Temporal server Lifeboat runs on');

  server
    .command('prepare')
    .description("create the configured namespace and Lifeboat's search attributes where missing (idempotent)")
    .option('--retention-days <n>', "a namespace created here keeps closed runs' histories this many days (audit reads them)", '30')
    .action(async (opts: { retentionDays: string }) => {
      const cfg = configOf(program);
      const days = Number(opts.retentionDays);
      if (!Number.isSafeInteger(days) || days < 1)
        throw new InputError(`--retention-days must be a whole number of days, not "${opts.retentionDays}"`);
      const { namespace, address } = cfg.temporal;
      const { lines, changed } = await prepareServer(await connectClient(cfg), namespace, days * DAY_MS);
      for (const line of lines) console.log(line);
      console.log(
        changed
          ? `✔ Temporal at ${address} is ready for Lifeboat (namespace "${namespace}")`
          : `nothing to do: Temporal at ${address} was already ready for Lifeboat (namespace "${namespace}")`,
      );
    });
}
