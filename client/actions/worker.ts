// The action of `lifeboat worker` (client/commands/dev.ts).
import { NativeConnection } from '@temporalio/worker';
import { type Command } from 'commander';
import { describeNotifier } from '../../activities/notify/select.js';
import { Redactor, workerSecrets } from '../../common/redact.js';
import { installRedactedLogging } from '../../worker/logging.js';
import { createWorker } from '../../worker/worker.js';
import { CliError } from '../cli-process.js';
import { configOf } from './common.js';

export async function worker(_opts: unknown, command: Command): Promise<void> {
  const cfg = configOf(command);
  installRedactedLogging(new Redactor(workerSecrets(cfg, process.env)));
  const connection = await NativeConnection.connect({ address: cfg.temporal.address }).catch((err: Error) => {
    throw new CliError(`cannot reach Temporal at ${cfg.temporal.address}: ${err.message}`, 1);
  });
  const running = await createWorker({ config: cfg, connection });
  console.log(`notifications go to ${describeNotifier(cfg, process.env)}`);
  // Every answer must be signed by an enrolled key: say so now, not at the first refused approval.
  if (!cfg.backup.manifestKeyEnv)
    console.log('backup.manifestKeyEnv is not set: manifests are not signed, and whoever can write to the bucket can swap a dump');
  if (!Object.keys(cfg.people).length)
    console.log('nobody is enrolled under people: every approval, task and abort will be refused (lifeboat keys enrol <name> <file.pub>)');
  console.log(`worker polling task queue "${cfg.temporal.taskQueue}" on ${cfg.temporal.address} (Ctrl-C to stop)`);
  await running.run();
  await connection.close();
}
