// The `lifeboat` command: the program, built from one module per subject under commands/.
// Exit codes: 0 done, 1 the operation failed (a failed verification included), 2 the request was
// refused before anything ran (bad input or configuration).
import { Command, CommanderError } from 'commander';
import { ConfigError, InputError } from '../common/errors.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerBackupCommands } from './commands/backups.js';
import { registerDevCommands } from './commands/dev.js';
import { registerDrillCommands } from './commands/drills.js';
import { registerIncidentCommands } from './commands/incidents.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerPitrCommands } from './commands/pitr.js';
import { registerScheduleCommands } from './commands/schedules.js';
import { registerServerCommands } from './commands/server.js';
import { registerSlackCommands } from './commands/slack.js';
import { CliError, closeClients } from './follow.js';

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
registerPitrCommands(program);

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
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

process.exitCode = await main(process.argv);
