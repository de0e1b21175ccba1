// `lifeboat drill schedule`, `lifeboat drill run` and `lifeboat drills`: the quarterly drill from
// the command line (the actions: client/actions/drills.ts) — its schedule, a drill now with its
// steps on screen and the verdict at the end (exit 0 passed, 1 failed), and the history of drills
// read from their reports. A drill's settings are checked before it starts, so a drill that would
// be refused exits 2 and leaves no run.
import { type Command, Option } from 'commander';
import type { ScenarioKind } from '../../common/drills.js';
import { jsonOption, lazy } from './common.js';

const scenarios: ScenarioKind[] = ['delete-rows', 'truncate-table', 'lose-database'];
const actions = () => import('../actions/drills.js');

export function registerDrillCommands(program: Command): void {
  const drill = program
    .command('drill')
    .description('the recovery drill: the real plans rehearsed on an isolated test database, timed against the RTO');

  drill
    .command('schedule')
    .description(
      'create or update the quarterly drill schedule from the configuration (schedules.drill, schedules.timezone) and show its next runs',
    )
    .action(lazy(actions, (m) => m.schedule));

  drill
    .command('run')
    .description('run a drill now: steps on screen, the verdict at the end (exit 0 passed, 1 failed)')
    .option('-t, --target <name>', 'target database, by its configured name (default: drill.target or the only one)')
    .addOption(new Option('--level <level>', 'the plan rehearsed (default: drill.level)').choices(['L1', 'L2', 'L3', 'L4']))
    .addOption(new Option('--scenario <kind>', "the loss simulated (default: the level's)").choices(scenarios))
    .option('--records <n>', 'delete-rows: how many rows (1–10, default drill.records)')
    .option('--table <name>', 'delete-rows / truncate-table: the table damaged (default drill.table, else chosen from the foreign keys)')
    .option('--as <name>', 'who starts it (default: $LIFEBOAT_USER or your login)')
    .action(lazy(actions, (m) => m.run));

  program
    .command('drills')
    .description('the history of drills: date, level, recovery time against the RTO, verdict (from their reports)')
    .option('-t, --target <name>', 'target (default: drill.target or the only one)')
    .addOption(jsonOption())
    .action(lazy(actions, (m) => m.history));
}
