// The actions of `lifeboat schedule apply` and `schedule list` (client/commands/schedules.ts).
import { type Command } from 'commander';
import { connectClient } from '../follow.js';
import { table } from '../format.js';
import { schedulesJson } from '../read-json.js';
import { applySchedules, listSchedules } from '../schedules.js';
import { configOf, printJson } from './common.js';

export async function apply(_opts: unknown, command: Command): Promise<void> {
  const cfg = configOf(command);
  const changes = await applySchedules(await connectClient(cfg), cfg);
  console.log(
    table(
      ['schedule', 'cron', 'change'],
      changes.map((c) => [c.id, c.cron, c.change]),
    ),
  );
}

export async function list(opts: { json?: boolean }, command: Command): Promise<void> {
  const list = await listSchedules(await connectClient(configOf(command)));
  if (opts.json) return printJson(schedulesJson(list));
  if (!list.length) return console.log('no Lifeboat schedules yet (run "lifeboat schedule apply")');
  console.log(
    table(
      ['schedule', 'workflow', 'cron', 'timezone', 'next run (UTC)', 'paused'],
      list.map((s) => [
        s.id,
        s.workflowType,
        s.cron,
        s.timezone,
        s.nextRun?.toISOString().slice(0, 16).replace('T', ' ') ?? '-',
        s.paused ? 'yes' : 'no',
      ]),
    ),
  );
}
