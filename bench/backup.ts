// Benchmark: a Lifeboat backup (pg_dump streamed through the worker into S3, row counts, manifest)
// against a plain `pg_dump -Fc` to a local file, on the same CRM database of N leads.
//
//   npm run bench:backup -- --leads 1000000
//
// The worker runs as its own process (bin/lifeboat worker), as in production, so its memory is
// measured alone. Raw dumps and Lifeboat backups alternate, so drifts of the machine (page cache,
// other load) hit both sides alike; the medians are compared. The last line is machine-readable:
//   RESULT backup ratio=<ours/raw> ours_s=<median> raw_s=<median> leads=<N>
import type { Client } from '@temporalio/client';
import { rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { libpqEnv, pgTool } from '../activities/postgres/connection.js';
import { runTool } from '../activities/postgres/tool.js';
import { bytes } from '../common/sizes.js';
import { table } from '../client/format.js';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/config.js';
import { type BackupManifest } from '../common/backups.js';
import { parseBackupId } from '../common/names.js';
import { benchMain, log, mb, median, parseLeads, secs, seedBenchCrm, sleep, withHarness } from './common.js';
import type { TreeMemory } from './proc-memory.js';

const RUNS = 3;
const USAGE = 'usage: npm run bench:backup -- [--leads N]   (N: positive integer, default 100000)';

interface Run {
  /** 1-minute load average when the run started: the machine may be shared, and this shows it. */
  load: number;
  rawMs: number;
  rawBytes: number;
  oursMs: number;
  ours: BackupManifest;
}

interface Outcome {
  leads: number;
  seedMs: number;
  databaseBytes: number;
  runs: Run[];
  idle: TreeMemory;
  peak: TreeMemory;
}

async function bench(leads: number): Promise<Outcome> {
  return withHarness(async ({ stack, scratch, startWorker, connect }) => {
    const { env, url, seedMs, databaseBytes } = await seedBenchCrm(stack, leads);

    // The raw dump uses the configured compression, so both sides compress alike.
    const compression = loadConfig(DEFAULT_CONFIG_PATH, { ...process.env, ...env }).backup.compression;

    log('starting the worker (bin/lifeboat worker)');
    const worker = await startWorker(env);
    const idle = worker.memory.current();
    log(`worker polling; its node process (pid ${idle.mainPid}) holds ${mb(idle.mainPeakRssKiB)} MB`);

    const client: Client = await connect(env.TEMPORAL_ADDRESS!);
    const runs: Run[] = [];
    const ids = new Set<string>();
    let lastBackupStart = 0;
    for (let i = 1; i <= RUNS; i++) {
      const file = join(scratch, 'crm.dump');
      const load = loadavg()[0]!;
      let t = performance.now();
      await runTool(pgTool('pg_dump'), ['--format=custom', `--compress=${compression}`, '--no-password', `--file=${file}`], {
        env: libpqEnv(url),
      });
      const rawMs = performance.now() - t;
      const rawBytes = statSync(file).size;
      rmSync(file);
      log(`run ${i}: raw pg_dump ${secs(rawMs)} s, ${bytes(rawBytes)}`);

      // Backup ids have one-second resolution and are stamped by the server at workflow start; an id
      // already taken would make the activity return the earlier manifest at once. Start only after
      // the second of the previous backup's start is over on this clock (the server's is the same).
      const wait = lastBackupStart + 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      t = performance.now();
      const ours = (await client.workflow.execute('backupWorkflow', {
        taskQueue: 'lifeboat',
        workflowId: `bench-backup-${Date.now()}-${i}`,
        args: [{ target: 'crm', reason: 'bench' }],
      })) as BackupManifest;
      const oursMs = performance.now() - t;
      if (ids.has(ours.id)) throw new Error(`backup id ${ours.id} came back twice: the timing would be of a cached result`);
      ids.add(ours.id);
      lastBackupStart = parseBackupId(ours.id).startedAt.getTime();
      log(`run ${i}: lifeboat backup ${secs(oursMs)} s, ${bytes(ours.sizeBytes)} (${ours.id})`);
      runs.push({ load, rawMs, rawBytes, oursMs, ours });
    }
    const peak = worker.memory.current();
    return { leads, seedMs, databaseBytes, runs, idle, peak };
  });
}

function report(o: Outcome): void {
  const raw = median(o.runs.map((r) => r.rawMs)) / 1000;
  const ours = median(o.runs.map((r) => r.oursMs)) / 1000;
  const m = o.runs[0]!.ours;
  console.log('');
  console.log(
    `Backup benchmark: ${o.leads} leads, database ${bytes(o.databaseBytes)}, seeded in ${secs(o.seedMs)} s, ${availableParallelism()} CPUs`,
  );
  console.log('');
  console.log(
    table(
      ['run', 'raw pg_dump (s)', 'raw size', 'lifeboat (s)', 'lifeboat size', 'ours/raw', 'load avg', 'backup id'],
      [
        ...o.runs.map((r, i) => [
          String(i + 1),
          secs(r.rawMs),
          bytes(r.rawBytes),
          secs(r.oursMs),
          bytes(r.ours.sizeBytes),
          (r.oursMs / r.rawMs).toFixed(3),
          r.load.toFixed(2),
          r.ours.id,
        ]),
        ['median', raw.toFixed(3), '', ours.toFixed(3), '', (ours / raw).toFixed(3), '', ''],
      ],
    ),
  );
  console.log('');
  console.log(
    `dump size: raw file ${o.runs.map((r) => r.rawBytes).join(' / ')} bytes, manifest.sizeBytes ${o.runs.map((r) => r.ours.sizeBytes).join(' / ')} bytes`,
  );
  console.log(`rows in the manifest: ${Object.values(m.tables).reduce((a, b) => a + b, 0)} (${Object.keys(m.tables).length} tables)`);
  console.log(
    `worker memory (node process pid ${o.peak.mainPid}): idle ${mb(o.idle.mainPeakRssKiB)} MB, peak ${mb(Math.max(o.peak.mainPeakRssKiB, o.peak.mainHwmKiB))} MB ` +
      `(sampled VmRSS max ${mb(o.peak.mainPeakRssKiB)} MB, VmHWM ${mb(o.peak.mainHwmKiB)} MB); ` +
      `whole tree incl. tsx launcher and pg_dump: peak ${mb(o.peak.treePeakRssKiB)} MB`,
  );
  console.log(`RESULT backup ratio=${(ours / raw).toFixed(3)} ours_s=${ours.toFixed(3)} raw_s=${raw.toFixed(3)} leads=${o.leads}`);
}

await benchMain(USAGE, async (argv) => report(await bench(parseLeads(argv))));
