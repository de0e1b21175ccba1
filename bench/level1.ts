// Benchmark: a Lifeboat L1 incident (10 deleted leads brought back, with their activities, notes,
// reminders and notifications, from a verified backup) against the DR document's own method, a
// full `pg_restore -j2` of the same backup into a fresh database, on the CRM of N leads.
//
//   npm run bench:level1 -- --leads 1000000 [--runs 3] [--baseline 100000]
//
// OURS is timed from the incident's start to its result: declare, the L1 plan (choose the backup,
// stage the records from it, compare, snapshot, approval, apply, check, clean up), the review task
// and the report. The people are played by a driver that answers at once: alice approves
// "apply-restore", carol (who declared) completes "review". Every run must end "recovered" with
// every table's fingerprint equal to the one taken right before the deletion, or the benchmark
// fails: a time of a wrong result is worthless. RAW is `createdb` + `pg_restore -j2` of the
// backup's dump, downloaded beforehand to a local file (pg_restore -j needs a seekable file).
// The two alternate, and medians are compared. Each OURS run also times its first staged row: a
// separate session polls the incident's staging table of crm_leads (level1-probes.ts) from
// the incident's start until it holds a row. Last, one more OURS run with no recovery copy: the
// verification's kept copy is dropped first, so the plan restores the tables the selection needs
// into a scratch database (selective restore), as it does for a backup that was not the newest
// verified. The last lines are machine-readable:
//   RESULT level1 ratio=<ours/raw> ours_s=<median> raw_s=<median> leads=<N>
//   RESULT level1-first-row ratio=<first staged row/raw> first_row_s=<median> raw_s=<median> leads=<N>
//   RESULT level1-no-copy ratio=<ours without a copy/raw> ours_s=<s> first_row_s=<s> raw_s=<median> leads=<N>
// With --baseline B (e.g. --leads 1000000 --baseline 100000), a run at B leads comes first, on a
// stack of its own, and a last line compares the two:
//   RESULT level1-growth ratio=<ours at N / ours at B> ours_s=<s> baseline_s=<s> leads=<N> baseline=<B>
import type { Client } from '@temporalio/client';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { withClient } from '../activities/postgres/connection.js';
import { FIRST_ROW_POLL_MS, dropKeptCopy, watchFirstRow } from './level1-probes.js';
import { fingerprintDatabase } from '../activities/postgres/inspect.js';
import { declare, incidentInput } from '../client/incidents.js';
import { bytes } from '../common/sizes.js';
import { table } from '../client/format.js';
import { DEFAULT_CONFIG_PATH, type LifeboatConfig, loadConfig } from '../config/config.js';
import { type BackupManifest, type TableFingerprint } from '../common/backups.js';
import { type RunResult, type StepRecord } from '../common/plans.js';
import { statusQuery } from '../workflows/messages.js';
import { type Answer, driveIncident } from '../client/drive.js';
import {
  UsageError,
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
  withHarness,
} from './common.js';
import type { TreeMemory } from './proc-memory.js';

const USAGE =
  'usage: npm run bench:level1 -- [--leads N] [--runs R] [--baseline B]   (N: positive integer, default 100000; R: 1 to 10, default 3; B: leads of a first, smaller run to compare with, default 0: none)';
/** Leads deleted before each OURS run: the most an L1 takes (L1_RECORD_LIMIT). */
const DELETED_PER_RUN = 10;
/** An incident still running after this long is stuck: the benchmark fails rather than wait for ever. */
const INCIDENT_TIMEOUT_MS = 30 * 60_000;

// ───────────────────────────────────── The people: a driver ─────────────────────────────────────

const L1_ANSWERS: Record<string, Answer> = {
  'apply-restore': { approve: ['alice'] },
  review: { complete: { by: 'carol', note: 'bench: nothing to review' } },
};

// ─────────────────────────────────────────── Database ───────────────────────────────────────────

type Sums = Record<string, TableFingerprint>;

/** Fingerprints of every table of the public schema (not the plan's staging schemas), on two connections. */
const tableSums = (url: string): Promise<Sums> => fingerprintDatabase(url, { include: (t) => !t.includes('.') });

/** The tables whose fingerprint differs, in words; empty when both sides are equal. */
function sumDifferences(expected: Sums, actual: Sums): string[] {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return names
    .filter((t) => expected[t]?.checksum !== actual[t]?.checksum)
    .map(
      (t) =>
        `${t}: expected ${expected[t] ? `${expected[t].rows} rows (${expected[t].checksum})` : 'no table'}, got ${actual[t] ? `${actual[t].rows} rows (${actual[t].checksum})` : 'no table'}`,
    );
}

/** Deletes `n` random leads not deleted before (their activities, notes and reminders cascade; notifications lose the lead). */
async function deleteRandomLeads(url: string, n: number, used: Set<string>): Promise<string[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      'SELECT id::text AS id FROM crm_leads WHERE NOT (id = ANY($1::bigint[])) ORDER BY random() LIMIT $2',
      [[...used], n],
    );
    const ids = rows.map((r) => r.id);
    if (ids.length !== n) throw new Error(`only ${ids.length} leads are left to delete, ${n} needed: use more --leads or fewer --runs`);
    const { rowCount } = await c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [ids]);
    if (rowCount !== n) throw new Error(`deleted ${rowCount} leads, expected ${n}`);
    for (const id of ids) used.add(id);
    return ids.sort((a, b) => Number(a) - Number(b));
  });
}

const stagingSchemas = (url: string) =>
  withClient(url, async (c) =>
    (await c.query<{ n: string }>("SELECT nspname AS n FROM pg_namespace WHERE nspname LIKE 'lifeboat_staging_%'")).rows.map((r) => r.n),
  );

// ─────────────────────────────────────────── The runs ───────────────────────────────────────────

interface OursRun {
  incidentId: string;
  ms: number;
  /** From the incident's start to the first row in its staging table (NaN: never seen). */
  firstRowMs: number;
  /** Wall-clock (epoch ms) start and end, to place the timeline's steps. */
  startedAt: number;
  endedAt: number;
  deleted: string[];
  result: RunResult;
  /** How many of the timeline's first steps are the incident's own; the rest are the plan's. */
  incidentSteps: number;
}

interface Round {
  load: number;
  ours: OursRun;
  rawMs: number;
}

interface Outcome {
  leads: number;
  seedMs: number;
  databaseBytes: number;
  manifest: BackupManifest;
  backupMs: number;
  verifyMs: number;
  rounds: Round[];
  /** The extra run with no recovery copy (selective restore). */
  noCopy: OursRun;
  idle: TreeMemory;
  peak: TreeMemory;
}

async function oursRun(client: Client, config: LifeboatConfig, url: string, round: number | string, used: Set<string>): Promise<OursRun> {
  const before = await tableSums(url);
  const deleted = await deleteRandomLeads(url, DELETED_PER_RUN, used);
  log(`run ${round}: deleted leads ${deleted.join(', ')}`);
  await checkpoint(url);

  const startedAt = Date.now();
  const t = performance.now();
  const input = incidentInput({
    target: 'crm',
    summary: `bench: a bad script deleted ${deleted.length} leads`,
    declaredBy: 'carol',
    level: 'L1',
    options: { record: { table: 'crm_leads', keys: deleted, includeChildren: true, goodBefore: new Date().toISOString() } },
  });
  const watcher = watchFirstRow(url, input.incidentId, t);
  let result: RunResult;
  try {
    await declare(client, config, input);
    result = await driveIncident(client, input.incidentId, L1_ANSWERS, { timeoutMs: INCIDENT_TIMEOUT_MS });
  } finally {
    await watcher.stop();
  }
  const ms = performance.now() - t;
  const firstRowMs = await watcher.stop();
  const endedAt = Date.now();

  if (result.outcome !== 'recovered')
    throw new Error(`run ${round}: incident ${input.incidentId} ended ${result.outcome}, not recovered: ${result.detail}`);
  const after = await tableSums(url);
  const differences = sumDifferences(before, after);
  if (differences.length)
    throw new Error(
      `run ${round}: incident ${input.incidentId} says recovered, but the database differs from before the deletion: ${differences.join('; ')}`,
    );
  const left = await stagingSchemas(url);
  if (left.length) throw new Error(`run ${round}: incident ${input.incidentId} left staging schemas behind: ${left.join(', ')}`);
  // The incident's own steps come first in result.timeline, then the plan's.
  const own = await client.workflow
    .getHandle(input.incidentId)
    .query(statusQuery)
    .then(
      (s) => s.timeline.length,
      () => result.timeline.length,
    );
  log(
    `run ${round}: lifeboat L1 ${secs(ms)} s, first staged row at ${secs(firstRowMs)} s (${input.incidentId}): ${result.detail}; all ${Object.keys(after).length} tables equal their fingerprints before the deletion`,
  );
  return { incidentId: input.incidentId, ms, firstRowMs, startedAt, endedAt, deleted, result, incidentSteps: own };
}

async function bench(leads: number, runs: number): Promise<Outcome> {
  if (leads < DELETED_PER_RUN * (runs + 1))
    throw new UsageError(
      `--leads ${leads} is too few to delete ${DELETED_PER_RUN} different leads in each of ${runs} runs and one without a recovery copy`,
    );
  return withHarness(async ({ stack, scratch, startWorker, connect }) => {
    const adminUrl = stack.postgres.adminUrl;
    const { env, url, seedMs, databaseBytes } = await seedBenchCrm(stack, leads);
    const fullEnv = { ...process.env, ...env };
    const config = loadConfig(DEFAULT_CONFIG_PATH, fullEnv);

    log('starting the worker (bin/lifeboat worker)');
    const worker = await startWorker(env);
    const idle = worker.memory.current();
    log(`worker polling; its node process (pid ${idle.mainPid}) holds ${mb(idle.mainPeakRssKiB)} MB`);
    const client = await connect(env.TEMPORAL_ADDRESS!);

    // L1 only uses verified backups: take one and verify it.
    const { manifest, backupMs, verifyMs, file } = await backupToFile(client, config, fullEnv, scratch, 'level1');

    const rounds: Round[] = [];
    const used = new Set<string>();
    for (let i = 1; i <= runs; i++) {
      const load = loadavg()[0]!;
      const ours = await oursRun(client, config, url, i, used);
      const { restoreMs: rawMs } = await rawRestore(adminUrl, file, manifest, `run ${i}`);
      rounds.push({ load, ours, rawMs });
    }
    await dropKeptCopy(adminUrl, manifest.id);
    const noCopy = await oursRun(client, config, url, 'without a recovery copy', used);
    return { leads, seedMs, databaseBytes, manifest, backupMs, verifyMs, rounds, noCopy, idle, peak: worker.memory.current() };
  });
}

// ─────────────────────────────────────────── The report ───────────────────────────────────────────

const took = (s: StepRecord) => (s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : NaN);

/**
 * Every step of every OURS run, by name, with its duration per run; plan steps indented under
 * the incident's "recover" step; and what lies between the steps (workflow and activity
 * dispatch, the report and the final notice, which are not steps).
 */
function stepTable(runs: OursRun[], labels: string[]): string {
  interface Row {
    label: string;
    kind: string;
    ms: number[];
  }
  const rows: Row[] = [];
  const index = new Map<string, Row>();
  const add = (key: string, label: string, kind: string, r: number, ms: number) => {
    let row = index.get(key);
    if (!row) {
      row = { label, kind, ms: runs.map(() => NaN) };
      index.set(key, row);
      rows.push(row);
    }
    row.ms[r] = ms;
  };
  runs.forEach((o, r) => {
    const own = o.result.timeline.slice(0, o.incidentSteps);
    const plan = o.result.timeline.slice(o.incidentSteps);
    const seen = new Map<string, number>();
    const keyOf = (prefix: string, name: string) => {
      const k = `${prefix}${name}`;
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      return `${k}#${n}`;
    };
    const first = Math.min(...own.map((s) => Date.parse(s.startedAt)));
    const last = Math.max(...own.map((s) => Date.parse(s.finishedAt ?? s.startedAt)));
    add('start', '(start: declare → first step)', '', r, first - o.startedAt);
    let stepsMs = 0;
    for (const s of own) {
      add(keyOf('', s.name), s.name, s.kind, r, took(s));
      stepsMs += took(s) || 0;
      if (s.name.startsWith('recover:') && plan.length) {
        let planMs = 0;
        for (const p of plan) {
          add(keyOf('  ', p.name), `  ${p.name}`, p.kind, r, took(p));
          planMs += took(p) || 0;
        }
        add('plan-gaps', '  (plan: between its steps, start and end)', '', r, took(s) - planMs);
      }
    }
    add('gaps', "(between the incident's steps)", '', r, last - first - stepsMs);
    add('end', '(end: last step → result: report, final notice)', '', r, o.endedAt - last);
    add('first-row', `first staged row (incident start → first row in staging, seen every ${FIRST_ROW_POLL_MS} ms)`, '', r, o.firstRowMs);
    add('total', 'total (incident start → result)', '', r, o.ms);
  });
  const cell = (ms: number) => (Number.isNaN(ms) ? '' : secs(ms));
  return table(
    ['step', 'kind', ...labels.map((l) => `${l} (s)`)],
    rows.map((row) => [row.label.slice(0, 90), row.kind, ...row.ms.map(cell)]),
  );
}

function report(o: Outcome): void {
  const ours = median(o.rounds.map((r) => r.ours.ms)) / 1000;
  const raw = median(o.rounds.map((r) => r.rawMs)) / 1000;
  const firstRow = median(o.rounds.map((r) => r.ours.firstRowMs)) / 1000;
  const noCopy = o.noCopy.ms / 1000;
  const noCopyFirst = o.noCopy.firstRowMs / 1000;
  console.log('');
  console.log(
    `L1 benchmark: ${o.leads} leads, database ${bytes(o.databaseBytes)}, seeded in ${secs(o.seedMs)} s, backup ${o.manifest.id} ` +
      `(${bytes(o.manifest.sizeBytes)}, taken in ${secs(o.backupMs)} s, verified in ${secs(o.verifyMs)} s), ${availableParallelism()} CPUs`,
  );
  console.log('');
  console.log(
    table(
      [
        'run',
        'lifeboat L1 (s)',
        'first staged row (s)',
        'raw pg_restore -j2 (s)',
        'ours/raw',
        'first row/raw',
        'load avg',
        'incident',
        'deleted leads',
      ],
      [
        ...o.rounds.map((r, i) => [
          String(i + 1),
          secs(r.ours.ms),
          secs(r.ours.firstRowMs),
          secs(r.rawMs),
          (r.ours.ms / r.rawMs).toFixed(4),
          (r.ours.firstRowMs / r.rawMs).toFixed(4),
          r.load.toFixed(2),
          r.ours.incidentId,
          r.ours.deleted.join(' '),
        ]),
        ['median', ours.toFixed(3), firstRow.toFixed(3), raw.toFixed(3), (ours / raw).toFixed(4), (firstRow / raw).toFixed(4), '', '', ''],
        [
          'no copy',
          noCopy.toFixed(3),
          noCopyFirst.toFixed(3),
          `${raw.toFixed(3)} (median)`,
          (noCopy / raw).toFixed(4),
          (noCopyFirst / raw).toFixed(4),
          '',
          o.noCopy.incidentId,
          o.noCopy.deleted.join(' '),
        ],
      ],
    ),
  );
  console.log('');
  console.log("Where the L1 time goes (the incident's timeline; workflow clock, ms resolution):");
  console.log('');
  console.log(stepTable([...o.rounds.map((r) => r.ours), o.noCopy], [...o.rounds.map((_, i) => `run ${i + 1}`), 'no copy']));
  console.log('');
  console.log(
    `worker memory (node process pid ${o.peak.mainPid}): idle ${mb(o.idle.mainPeakRssKiB)} MB, peak ${mb(Math.max(o.peak.mainPeakRssKiB, o.peak.mainHwmKiB))} MB; ` +
      `whole tree incl. tsx launcher and psql: peak ${mb(o.peak.treePeakRssKiB)} MB`,
  );
  console.log(`RESULT level1 ratio=${(ours / raw).toFixed(4)} ours_s=${ours.toFixed(3)} raw_s=${raw.toFixed(3)} leads=${o.leads}`);
  console.log(
    `RESULT level1-first-row ratio=${(firstRow / raw).toFixed(4)} first_row_s=${firstRow.toFixed(3)} raw_s=${raw.toFixed(3)} leads=${o.leads}`,
  );
  console.log(
    `RESULT level1-no-copy ratio=${(noCopy / raw).toFixed(4)} ours_s=${noCopy.toFixed(3)} first_row_s=${noCopyFirst.toFixed(3)} raw_s=${raw.toFixed(3)} leads=${o.leads}`,
  );
}

await benchMain(USAGE, async (argv) => {
  const { leads, runs, baseline } = parseIntegerOptions(argv, {
    leads: { default: 100_000, min: 1 },
    runs: { default: 3, min: 1, max: 10 },
    baseline: { default: 0, min: 0 },
  });
  // With --baseline, the smaller CRM first (a stack of its own), then --leads: how L1 grows with the data.
  const small = baseline ? await bench(baseline, runs) : undefined;
  if (small) report(small);
  const big = await bench(leads, runs);
  report(big);
  if (small) {
    const ours = (o: Outcome) => median(o.rounds.map((r) => r.ours.ms)) / 1000;
    console.log(
      `RESULT level1-growth ratio=${(ours(big) / ours(small)).toFixed(4)} ours_s=${ours(big).toFixed(3)} baseline_s=${ours(small).toFixed(3)} leads=${leads} baseline=${baseline}`,
    );
  }
});
