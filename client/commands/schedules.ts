// `lifeboat schedule apply` and `schedule list`: the Temporal Schedules of every target, made from
// the configuration. Applying twice changes nothing (see ../schedules.ts).
import { type Command } from 'commander';
import { connectClient } from '../follow.js';
import { table } from '../format.js';
import { applySchedules, listSchedules } from '../schedules.js';
import { configOf } from './common.js';

export function registerScheduleCommands(program: Command): void {
  const config = () => configOf(program);
  const schedule = program.command('schedule').description('Temporal Schedules for backups, verification, retention and freshness');

  schedule
    .command('apply')
    .description('create or update the schedules from the configuration (running it twice changes nothing)')
    .action(async () => {
      const cfg = config();
      const changes = await applySchedules(await connectClient(cfg), cfg);
      console.log(
        table(
          ['schedule', 'cron', 'change'],
          changes.map((c) => [c.id, c.cron, c.change]),
        ),
      );
    });

  schedule
    .command('list')
    .description('list the schedules Lifeboat manages')
    .action(async () => {
      const cfg = config();
      const list = await listSchedules(await connectClient(cfg));
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
    });
}
