// The action of `lifeboat server prepare` (client/commands/server.ts).
import { type Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { connectClient } from '../follow.js';
import { prepareServer } from '../prepare.js';
import { configOf } from './common.js';

const DAY_MS = 24 * 3_600_000;

export async function prepare(opts: { retentionDays: string }, command: Command): Promise<void> {
  const cfg = configOf(command);
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
}
