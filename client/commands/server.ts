// `lifeboat server prepare`: the Temporal server made ready for Lifeboat (client/prepare.ts), on any
// server, as often as wanted; it says what it did, or that there was nothing to do.
import { type Command } from 'commander';
import { lazy } from './common.js';

export function registerServerCommands(program: Command): void {
  const server = program.command('server').description('the Temporal server Lifeboat runs on');

  server
    .command('prepare')
    .description("create the configured namespace and Lifeboat's search attributes where missing (idempotent)")
    .option('--retention-days <n>', "a namespace created here keeps closed runs' histories this many days (audit reads them)", '30')
    .action(
      lazy(
        () => import('../actions/server.js'),
        (m) => m.prepare,
      ),
    );
}
