// `lifeboat worker` and `lifeboat dev`: the long-running processes, each until Ctrl-C. The worker
// executes the configured targets' workflows and activities; dev brings up the embedded stack
// (Temporal with its Web UI, PostgreSQL with the demo CRM, an S3 store) with a worker inside.
import { NativeConnection } from '@temporalio/worker';
import { type Command } from 'commander';
import { describeNotifier } from '../../activities/notify/select.js';
import { Redactor, workerSecrets } from '../../common/redact.js';
import { installRedactedLogging } from '../../worker/logging.js';
import { createWorker } from '../../worker/worker.js';
import { CliError } from '../follow.js';
import { configOf } from './common.js';

export function registerDevCommands(program: Command): void {
  program
    .command('worker')
    .description('run a worker: executes the workflows and activities for the configured targets')
    .action(async () => {
      const cfg = configOf(program);
      installRedactedLogging(new Redactor(workerSecrets(cfg, process.env)));
      const connection = await NativeConnection.connect({ address: cfg.temporal.address }).catch((err: Error) => {
        throw new CliError(`cannot reach Temporal at ${cfg.temporal.address}: ${err.message}`, 1);
      });
      const worker = await createWorker({ config: cfg, connection });
      console.log(`notifications go to ${describeNotifier(cfg, process.env)}`);
      // Every answer must be signed by an enrolled key: say so now, not at the first refused approval.
      if (!cfg.backup.manifestKeyEnv)
        console.log('backup.manifestKeyEnv is not set: manifests are not signed, and whoever can write to the bucket can swap a dump');
      if (!Object.keys(cfg.people).length)
        console.log(
          'nobody is enrolled under people: every approval, task and abort will be refused (lifeboat keys enrol <name> <file.pub>)',
        );
      console.log(`worker polling task queue "${cfg.temporal.taskQueue}" on ${cfg.temporal.address} (Ctrl-C to stop)`);
      await worker.run();
      await connection.close();
    });

  program
    .command('dev')
    .description('start the embedded stack (Temporal with its Web UI, PostgreSQL with the demo CRM, S3 store) and a worker, until Ctrl-C')
    .option('--leads <n>', 'size of the demo CRM', '10000')
    .action(async (opts: { leads: string }) => {
      // Loaded on demand: the embedded stack is only needed here.
      const { runDev } = await import('../dev.js');
      await runDev({ leads: Number(opts.leads) });
    });
}
