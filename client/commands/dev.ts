// `lifeboat worker` and `lifeboat dev`: the long-running processes, each until Ctrl-C. The worker
// executes the configured targets' workflows and activities; dev brings up the embedded stack
// (Temporal with its Web UI, PostgreSQL, an S3 store) with a worker inside, on the example
// configuration or the one --config names.
import { type Command } from 'commander';
import { lazy } from './common.js';

export function registerDevCommands(program: Command): void {
  program
    .command('worker')
    .description('run a worker: executes the workflows and activities for the configured targets')
    .action(
      lazy(
        () => import('../actions/worker.js'),
        (m) => m.worker,
      ),
    );

  program
    .command('dev')
    .description(
      'start the embedded stack (Temporal with its Web UI, PostgreSQL with the demo CRM, S3 store) and a worker, until Ctrl-C; with --config, the targets of that file',
    )
    .option('--leads <n>', 'size of the demo CRM', '10000')
    .action(
      lazy(
        () => import('../dev.js'),
        (m) => m.devCommand,
      ),
    );
}
