// The `lifeboat` program: its commands, built from one module per subject under commands/. Only
// commander is loaded: each action's module (actions/) is imported when it runs, so `lifeboat
// --help` and quick reads start fast. The completion scripts are generated from this same program.
import { Command } from 'commander';
import { registerAuditCommands } from './commands/audit.js';
import { registerBackupCommands } from './commands/backups.js';
import { registerBoardCommands } from './commands/board.js';
import { registerCompletionCommands } from './commands/completion.js';
import { registerDevCommands } from './commands/dev.js';
import { registerDrillCommands } from './commands/drills.js';
import { registerIncidentCommands } from './commands/incidents.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerPitrCommands } from './commands/pitr.js';
import { registerScheduleCommands } from './commands/schedules.js';
import { registerServerCommands } from './commands/server.js';
import { registerSlackCommands } from './commands/slack.js';

export function buildProgram(): Command {
  const program = new Command('lifeboat')
    .description('Disaster-recovery runbooks for PostgreSQL, run durably on Temporal')
    .option('-c, --config <file>', 'configuration file (default: $LIFEBOAT_CONFIG or config/lifeboat.example.yaml)')
    .showHelpAfterError()
    .exitOverride();

  registerBackupCommands(program);
  registerScheduleCommands(program);
  registerIncidentCommands(program);
  registerKeyCommands(program);
  registerAuditCommands(program);
  registerDrillCommands(program);
  registerDevCommands(program);
  registerSlackCommands(program);
  registerServerCommands(program);
  registerBoardCommands(program);
  registerPitrCommands(program);
  registerCompletionCommands(program);
  return program;
}
