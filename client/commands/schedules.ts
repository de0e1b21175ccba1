// `lifeboat schedule apply` and `schedule list`: the Temporal Schedules of every target, made from
// the configuration (the actions: client/actions/schedules.ts). Applying twice changes nothing.
import { type Command } from 'commander';
import { jsonOption, lazy } from './common.js';

const actions = () => import('../actions/schedules.js');

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('Temporal Schedules for backups, verification, retention and freshness');

  schedule
    .command('apply')
    .description('create or update the schedules from the configuration (running it twice changes nothing)')
    .action(lazy(actions, (m) => m.apply));

  schedule
    .command('list')
    .description('list the schedules Lifeboat manages')
    .addOption(jsonOption())
    .action(lazy(actions, (m) => m.list));
}
