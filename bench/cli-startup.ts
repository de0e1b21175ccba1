// Benchmark: how long the `lifeboat` command takes to start, against `node -e 0` (Node starting and
// doing nothing) measured in the same run, with hyperfine (installed by setup).
//
//   npm run bench:cli [-- --runs N]
//
// `lifeboat --help` loads only the command definitions; `lifeboat status <id> --json` loads the
// configuration, connects to Temporal and queries a real incident: an L1 waiting for its approval on
// the embedded stack, with a worker. Its output is checked against the status schema before timing
// (a command that fails fast would look fast); that first run also writes the command's code cache.
// The same command without the code cache (LIFEBOAT_CODE_CACHE=off), and the TypeScript entry under
// tsx, as bin/lifeboat ran it before it ran the compiled JavaScript, are timed beside them for
// reference. The last line:
//   RESULT cli help_ratio=<help/node> status_ratio=<status/node> node_s=… help_s=… status_s=… status_cpu_s=… status_nocache_s=…
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { withClient } from '../activities/postgres/connection.js';
import { table } from '../client/format.js';
import { incidentInput } from '../client/incidents.js';
import { REPO_ROOT } from '../client/stack/processes.js';
import { statusJsonSchema } from '../client/status-json.js';
import { loadConfig } from '../config/config.js';
import { statusQuery } from '../workflows/messages.js';
import { benchMain, log, parseIntegerOptions, seedBenchCrm, sleep, withHarness } from './common.js';

const USAGE = 'usage: npm run bench:cli -- [--runs N]   (N: 5 to 200 timed runs per command, default 30)';
const run = promisify(execFile);

interface Timing {
  command: string;
  mean: number;
  /** CPU seconds (means): less swayed than wall time by what else the machine runs. */
  user: number;
  system: number;
  stddev: number;
  median: number;
  min: number;
  max: number;
}

async function hyperfine(commands: Record<string, string>, runs: number, env: NodeJS.ProcessEnv, scratch: string): Promise<Timing[]> {
  const out = join(scratch, 'hyperfine.json');
  const names = Object.keys(commands).flatMap((name) => ['--command-name', name]);
  // -N: no shell in between, so the shell's own start is not counted.
  await run('hyperfine', ['-N', '--warmup', '3', '--runs', String(runs), '--export-json', out, ...names, ...Object.values(commands)], {
    cwd: REPO_ROOT,
    env,
  });
  return (JSON.parse(readFileSync(out, 'utf8')) as { results: Timing[] }).results;
}

async function main(argv: string[]): Promise<void> {
  const { runs } = parseIntegerOptions(argv, { runs: { default: 30, min: 5, max: 200 } });
  await withHarness(async ({ stack, scratch, startWorker, connect }) => {
    const { env, url } = await seedBenchCrm(stack, 100);
    const worker = await startWorker(env);
    const cliEnv = { ...process.env, ...env, LIFEBOAT_CONFIG: worker.configFile };
    const config = loadConfig(worker.configFile, cliEnv);
    const client = await connect(env.TEMPORAL_ADDRESS!);
    const execute = (type: string, args: unknown[]) =>
      client.workflow.execute(type, { taskQueue: config.temporal.taskQueue, workflowId: `bench-cli-${type}-${Date.now()}`, args });

    // A real incident to ask about: an L1 whose plan waits for the approval of its restore.
    const backup = (await execute('backupWorkflow', [{ target: 'crm', reason: 'bench cli' }])) as { id: string };
    await execute('verifyWorkflow', [{ backupId: backup.id, target: 'crm' }]);
    const lost = await withClient(url, async (c) =>
      (
        await c.query<{ id: string }>('DELETE FROM crm_leads WHERE id IN (SELECT id FROM crm_leads ORDER BY id LIMIT 2) RETURNING id::text')
      ).rows.map((r) => r.id),
    );
    const input = incidentInput({
      target: 'crm',
      summary: 'bench: two leads deleted',
      declaredBy: 'carol',
      level: 'L1',
      options: { record: { table: 'crm_leads', keys: lost, includeChildren: true, goodBefore: new Date().toISOString() } },
    });
    await client.workflow.start('incidentWorkflow', { taskQueue: config.temporal.taskQueue, workflowId: input.incidentId, args: [input] });
    const plan = client.workflow.getHandle(`${input.incidentId}-L1`);
    log(`incident ${input.incidentId} declared; waiting for its plan to ask for approval`);
    for (let waited = 0; ; waited += 500) {
      const waiting = await plan.query(statusQuery).then(
        (s) => s.waiting.map((w) => w.name),
        (): string[] => [],
      );
      if (waiting.includes('apply-restore')) break;
      if (waited > 120_000) throw new Error(`the plan of ${input.incidentId} did not ask for approval within 2 min`);
      await sleep(500);
    }

    const lifeboat = join(REPO_ROOT, 'bin/lifeboat');
    const status = await run(lifeboat, ['status', input.incidentId, '--json'], { env: cliEnv });
    const parsed = statusJsonSchema.parse(JSON.parse(status.stdout));
    if (parsed.waiting[0]?.name !== 'apply-restore') throw new Error(`status --json did not show the waiting approval: ${status.stdout}`);
    log(
      `status --json answers with the documented shape (waiting: ${parsed.waiting.map((w) => w.name).join(', ')}); timing ${runs} runs each`,
    );

    const load = loadavg()[0]!;
    const results = await hyperfine(
      {
        'node -e 0': 'node -e 0',
        'lifeboat --help': `${lifeboat} --help`,
        'lifeboat status <id> --json': `${lifeboat} status ${input.incidentId} --json`,
        // What the code cache (client/code-cache.ts) saves: the same command compiled from source.
        '(no code cache) lifeboat status <id> --json': `env LIFEBOAT_CODE_CACHE=off ${lifeboat} status ${input.incidentId} --json`,
        '(before) tsx client/cli.ts --help': `${join(REPO_ROOT, 'node_modules/.bin/tsx')} ${join(REPO_ROOT, 'client/cli.ts')} --help`,
      },
      runs,
      cliEnv,
      scratch,
    );
    const node = results[0]!;
    const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
    console.log(
      `\n${table(
        ['command', 'mean', '± σ', 'median', 'min', 'max', 'vs node -e 0', 'CPU (user+sys)', 'CPU vs node -e 0'],
        results.map((r) => [
          r.command,
          ms(r.mean),
          ms(r.stddev),
          ms(r.median),
          ms(r.min),
          ms(r.max),
          `${(r.mean / node.mean).toFixed(2)}×`,
          ms(r.user + r.system),
          `${((r.user + r.system) / (node.user + node.system)).toFixed(2)}×`,
        ]),
      )}\n(1-minute load average at the start: ${load.toFixed(2)}; ${runs} runs each after 3 warm-ups)\n`,
    );
    const [, help, statusTiming, uncached] = results as [Timing, Timing, Timing, Timing];
    console.log(
      `RESULT cli help_ratio=${(help.mean / node.mean).toFixed(2)} status_ratio=${(statusTiming.mean / node.mean).toFixed(2)} node_s=${node.mean.toFixed(3)} help_s=${help.mean.toFixed(3)} status_s=${statusTiming.mean.toFixed(3)} status_cpu_s=${(statusTiming.user + statusTiming.system).toFixed(3)} status_nocache_s=${uncached.mean.toFixed(3)}`,
    );
  });
}

await benchMain(USAGE, main);
