// Benchmark: a full L3 recovery drill (the database lost, the real L3 plan restoring the verified
// backup into an isolated database on the drill server, every table counted and checksummed
// against the backup, the critical functions, the report) against the raw work it stands for:
// `pg_restore -j2` of the same backup into a fresh database plus counting every table.
//
//   npm run bench:drill -- --leads 1000000 [--runs 1]
//
// OURS is timed from the drill's start to its verdict (the drillResult query answers), with the
// drill's own identity answering the plan's gates and tasks, as a scheduled drill does. A drill
// that does not pass fails the benchmark: the time of a wrong result is worthless. RAW is
// `createdb` + `pg_restore -j2` of the backup's dump, downloaded beforehand to a local file, then
// a count of every table. The two alternate (each goes first in turn); medians are compared. The last line:
//   RESULT drill ratio=<ours/raw> ours_s=<median> raw_s=<median> leads=<N>
import type { Client } from '@temporalio/client';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { withClient } from '../activities/postgres/connection.js';
import { newDrillId } from '../client/drill.js';
import { driveIncident } from '../client/drive.js';
import { table } from '../client/format.js';
import { DEFAULT_CONFIG_PATH, type LifeboatConfig, loadConfig } from '../config/config.js';
import { type DrillResult } from '../common/drills.js';
import { drillResultQuery, statusQuery } from '../workflows/messages.js';
import { type StepRecord } from '../common/plans.js';
import {
  backupToFile,
  benchMain,
  checkpoint,
  log,
  mb,
  median,
  parseIntegerOptions,
  rawRestore,
  secs,
  seedBenchCrm,
  sleep,
  withHarness,
} from './common.js';

const USAGE = 'usage: npm run bench:drill -- [--leads N] [--runs R]   (N: positive integer, default 100000; R: 1 to 5, default 1)';
/** How often the verdict is looked for: half of it, on average, is added to OURS. */
const POLL_MS = 50;

interface OursRun {
  drillId: string;
  ms: number;
  result: DrillResult;
  steps: StepRecord[];
}

async function oursRun(client: Client, config: LifeboatConfig, adminUrl: string, round: number): Promise<OursRun> {
  await checkpoint(adminUrl);
  const drillId = newDrillId();
  const t = performance.now();
  const handle = await client.workflow.start('drillWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId: drillId,
    args: [{ drillId, target: 'crm', level: 'L3', scenario: { kind: 'lose-database' }, requestedBy: 'bench' }],
  });
  let result: DrillResult | undefined;
  // Before its first workflow task the drill answers no queries: that is "no verdict yet" too.
  while (!(result = await handle.query(drillResultQuery).catch(() => undefined))) await sleep(POLL_MS);
  const ms = performance.now() - t;
  if (result.verdict !== 'passed')
    throw new Error(
      `run ${round}: drill ${drillId} ${result.verdict}: ${result.findings.map((f) => `${f.check}: ${f.detail}`).join('; ')}`,
    );
  const bad = result.record.tables.filter((c) => c.rows !== c.expectedRows || c.checksum !== 'match');
  if (!result.record.tables.length || bad.length)
    throw new Error(
      `run ${round}: drill ${drillId} passed with tables that do not match: ${bad.map((c) => c.table).join(', ') || 'none checked'}`,
    );
  const left = await withClient(adminUrl, async (c) =>
    (await c.query<{ n: string }>("SELECT datname AS n FROM pg_database WHERE datname LIKE 'lifeboat_drill_%'")).rows.map((r) => r.n),
  );
  // Not timed: the improvements task is the team's, weeks later; closing it ends the workflow.
  await driveIncident(
    client,
    drillId,
    { improvements: { complete: { by: 'bench', note: 'bench run' } } },
    { pollMs: 200, timeoutMs: 120_000 },
  );
  if (left.length) throw new Error(`run ${round}: drill ${drillId} left databases behind: ${left.join(', ')}`);
  const drill = await handle.query(statusQuery);
  const plan = drill.childWorkflowId ? await client.workflow.getHandle(drill.childWorkflowId).query(statusQuery) : undefined;
  const steps = [...drill.timeline, ...(plan?.timeline ?? []).map((s) => ({ ...s, name: `  L3 · ${s.name}` }))];
  log(
    `run ${round}: lifeboat L3 drill ${secs(ms)} s (${drillId}): ${result.record.tables.length} tables match, recovery ${secs(result.record.recoveryMs ?? NaN)} s of the RTO`,
  );
  return { drillId, ms, result, steps };
}

const took = (s: StepRecord) => (s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : NaN);

await benchMain(USAGE, async (argv) => {
  const { leads, runs } = parseIntegerOptions(argv, { leads: { default: 100_000, min: 1 }, runs: { default: 1, min: 1, max: 5 } });
  const outcome = await withHarness(async ({ stack, scratch, startWorker, connect }) => {
    const adminUrl = stack.postgres.adminUrl;
    const { env } = await seedBenchCrm(stack, leads);
    const fullEnv = { ...process.env, ...env };
    const config = loadConfig(DEFAULT_CONFIG_PATH, fullEnv);
    log('starting the worker (bin/lifeboat worker)');
    const worker = await startWorker(env);
    const client = await connect(env.TEMPORAL_ADDRESS!);
    const { manifest, file } = await backupToFile(client, config, fullEnv, scratch, 'drill');
    const rounds: Array<{ load: number; ours: OursRun; rawMs: number; countMs: number }> = [];
    for (let i = 1; i <= runs; i++) {
      const load = loadavg()[0]!;
      // The sides take turns going first, so neither always inherits the other's after-effects.
      const rawFirst = i % 2 === 0;
      const rawBefore = rawFirst ? await rawRestore(adminUrl, file, manifest, `run ${i}`) : undefined;
      const ours = await oursRun(client, config, adminUrl, i);
      const raw = rawBefore ?? (await rawRestore(adminUrl, file, manifest, `run ${i}`));
      rounds.push({ load, ours, rawMs: raw.restoreMs + raw.countMs, countMs: raw.countMs });
    }
    return { manifest, rounds, peak: worker.memory.current() };
  });

  const ours = median(outcome.rounds.map((r) => r.ours.ms)) / 1000;
  const raw = median(outcome.rounds.map((r) => r.rawMs)) / 1000;
  console.log('');
  console.log(
    table(
      ['run', 'lifeboat L3 drill (s)', 'raw pg_restore -j2 + counts (s)', 'of which counts (s)', 'ours/raw', 'load avg', 'drill'],
      [
        ...outcome.rounds.map((r, i) => [
          String(i + 1),
          secs(r.ours.ms),
          secs(r.rawMs),
          secs(r.countMs),
          (r.ours.ms / r.rawMs).toFixed(3),
          r.load.toFixed(2),
          r.ours.drillId,
        ]),
        ['median', ours.toFixed(3), raw.toFixed(3), '', (ours / raw).toFixed(3), '', ''],
      ],
    ),
  );
  console.log("\nWhere the drill's time goes (last run; workflow clock):\n");
  const last = outcome.rounds.at(-1)!.ours;
  console.log(
    table(
      ['step', 'ms'],
      last.steps.map((s) => [s.name, Number.isNaN(took(s)) ? '—' : String(took(s))]),
    ),
  );
  console.log(`\nbackup ${outcome.manifest.id}; worker peak ${mb(Math.max(outcome.peak.mainPeakRssKiB, outcome.peak.mainHwmKiB))} MB`);
  console.log(`RESULT drill ratio=${(ours / raw).toFixed(3)} ours_s=${ours.toFixed(3)} raw_s=${raw.toFixed(3)} leads=${leads}`);
});
