// The incident commander's side of the `lifeboat` command, as a person uses it: bin/lifeboat in a
// process of its own with a configuration file, against the suite's PostgreSQL, S3 store and
// Temporal, while a worker on the configuration's task queue runs what the CLI starts. An L1 is
// declared, followed, approved (after refusals), reviewed and reported; a triaged L1 is rejected;
// a triaged L3 is aborted; bad input is refused with exit 2 before anything starts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { fingerprints, userTables } from '../activities/postgres/inspect.js';
import type { RunReport } from '../activities/reports/report.js';
import { type LifeboatConfig } from '../config/config.js';
import {
  type CliRun,
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  runLifeboat,
  runResultOf,
  startTestWorker,
  cliEnv,
  writeTestConfig,
  testEnv,
  uniqueName,
  observed,
} from './helpers.js';

/** A duration as common/time.ts formatDuration writes it ("12 s", "59 min 48 s", "1 h", "−5 min"). */
const D = String.raw`(?:−?(?:< 1 s|\d+ (?:s|min|h|d)(?: \d+ (?:s|min|h))?))`;
/** A time as common/time.ts formatTime writes it. */
const UTC = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`;

const INCIDENT_ID = /inc-\d{8}-\d{6}-[a-z0-9]{4}/;
const CHILD_TABLES = ['crm_activities', 'crm_lead_notes', 'crm_reminders'] as const;

type Run = CliRun;

describe('incident commander CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-incident-cli-'));
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let config: LifeboatConfig;
  let configFile: string;
  let worker: TestWorker;
  let pristine: Record<string, { rows: number; checksum: string }>;
  /** The three leads a bad script deleted, and how many children each child table had for them. */
  let deleted: string[];
  let childCounts: Record<string, number>;
  /** Three leads nobody touched: the triaged L1 looks at them. */
  let untouched: string[];

  const tableSums = () =>
    withClient(db.url, async (c) =>
      fingerprints(
        c,
        (await userTables(c)).filter((t) => !t.includes('.')),
      ),
    );
  const countChildren = (ids: string[]) =>
    withClient(db.url, async (c) => {
      const counts: Record<string, number> = {};
      for (const t of ['crm_leads', ...CHILD_TABLES]) {
        const column = t === 'crm_leads' ? 'id' : 'lead_id';
        counts[t] = (
          await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} WHERE ${column} = ANY($1::bigint[])`, [ids])
        ).rows[0]!.n;
      }
      return counts;
    });

  const lifeboat = (...args: string[]) => lifeboatWith({}, ...args);

  function lifeboatWith(extraEnv: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
    return runLifeboat(['--config', configFile, ...args], { ...env, ...extraEnv });
  }

  /** Runs `lifeboat status <id>` until its screen matches (bounded); returns that run. */
  async function statusUntil(id: string, pattern: RegExp): Promise<Run> {
    let last: Run | undefined;
    await expect
      .poll(
        async () => {
          last = await lifeboat('status', id);
          return last.code === 0 ? last.stdout : `exit ${last.code}: ${last.stderr}`;
        },
        { timeout: 90_000, interval: 500 },
      )
      .toMatch(pattern);
    return last!;
  }

  /** `lifeboat declare …`: exit 0 and the id it printed. */
  async function declare(...args: string[]): Promise<{ id: string; run: Run }> {
    const run = await lifeboat('declare', ...args);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const id = new RegExp(`^✔ incident (${INCIDENT_ID.source}) declared `).exec(run.stdout)?.[1];
    expect(id, run.stdout).toBeDefined();
    return { id: id!, run };
  }

  /** Waits for the incident workflow itself to close, completed or failed: its report is written just before. */
  const ended = (id: string) => runResultOf(worker.client.workflow.getHandle(id));
  /** How the incident's workflow execution closed, as the Web UI shows it. */
  const closedAs = async (id: string) => (await worker.client.workflow.getHandle(id).describe()).status.name;

  beforeAll(async () => {
    db = await createCrmDatabase(200);
    env = cliEnv(db);
    delete env.LIFEBOAT_USER;
    ({ configFile, config } = writeTestConfig(
      dir,
      {
        prefix: uniqueName('incident-cli'),
        taskQueue: uniqueName('incident-cli'),
        extra: 'approvals:\n  L1: { approvers: [alice, bob] }\n  L3: { approvers: [alice, bob] }',
      },
      env,
    ));
    worker = await startTestWorker(config, testEnv(db));

    // A verified backup, so the L1 has something to restore from.
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    const manifest = (await run('backupWorkflow', [{ target: 'crm', reason: 'before the incident' }])) as { id: string };
    await run('verifyWorkflow', [{ backupId: manifest.id, target: 'crm' }]);
    pristine = await tableSums();

    // The bad script: three leads that have activities, notes and reminders are deleted (their children cascade away).
    const leads = await withClient(db.url, async (c) =>
      (
        await c.query<{ id: string }>(
          `SELECT l.id::text FROM crm_leads l
            WHERE ${CHILD_TABLES.map((t) => `EXISTS (SELECT 1 FROM ${t} x WHERE x.lead_id = l.id)`).join(' AND ')}
            ORDER BY l.id LIMIT 6 OFFSET 10`,
        )
      ).rows.map((r) => r.id),
    );
    expect(leads).toHaveLength(6);
    deleted = leads.slice(0, 3);
    untouched = leads.slice(3);
    childCounts = await countChildren(deleted);
    for (const t of CHILD_TABLES) expect(childCounts[t], t).toBeGreaterThan(0);
    await withClient(db.url, (c) => c.query('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [deleted]));
    expect(await countChildren(deleted)).toEqual({ crm_leads: 0, crm_activities: 0, crm_lead_notes: 0, crm_reminders: 0 });
  });

  afterAll(async () => {
    await worker?.stop();
    if (db) {
      // The L3 restores into a new database beside the target's: drop any it left.
      await withClient(inject('pgAdminUrl'), async (c) => {
        const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
          `${db.name}_restored_%`,
        ]);
        for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      });
      await db.drop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  let l1: string;

  it('declares an L1: exit 0, the incident id and a Web UI link to it', async () => {
    const { id, run } = await declare(
      '--level',
      'L1',
      '--table',
      'crm_leads',
      '--keys',
      deleted.join(','),
      '--children',
      '--summary',
      'a cleanup script deleted 3 leads',
      '--as',
      'carol',
    );
    l1 = id;
    expect(run.stdout).toMatch(new RegExp(`^✔ incident ${id} declared \\(L1, target crm\\)\\n`));
    expect(run.stdout).toContain(`lifeboat status ${id} --watch`);
    expect(run.stdout).toMatch(new RegExp(`Web UI\\s*: https?://\\S+/namespaces/default/workflows/${id}\\n`));
  });

  it('shows the status: level, RTO clock, timeline, then the wait for "apply-restore" with its approvers', async () => {
    const first = await lifeboat('status', l1);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^${l1}  L1  target crm  — a cleanup script deleted 3 leads\\n`));
    expect(first.stdout).toMatch(/^declared by carol at \d{4}-\d{2}-\d{2}T/m);
    expect(first.stdout).toMatch(new RegExp(`^RTO clock: ${D} of 1 h used, ${D} left \\(deadline \\S+\\) — on-track$`, 'm'));
    expect(first.stdout).toMatch(/^step\s+kind\s+status\s+started\s+took\s+by\s+detail/m);
    expect(first.stdout).toMatch(/^document and contact: incident declared\s+notification\s+done\b/m);

    const waiting = await statusUntil(l1, /waiting for approval of "apply-restore"/);
    const screen = waiting.stdout;
    expect(screen).toMatch(new RegExp(`^RTO clock: ${D} of 1 h used`, 'm'));
    expect(screen).toMatch(/^assess: level L1\s+automated\s+skipped\s.*given at declaration/m);
    expect(screen).toMatch(
      /^ {2}identify: choose the newest verified backup before the data went bad\s+automated\s+done\s.*crm-\d{8}T\d{6}Z-[0-9a-f]{6}, taken /m,
    );
    expect(screen).toMatch(/^ {2}apply-restore\s+approval\s+waiting\b/m);
    expect(screen).toMatch(
      /^⏸ waiting for approval of "apply-restore": Restore \d+ rows of crm from backup crm-\d{8}T\d{6}Z-[0-9a-f]{6}$/m,
    );
    expect(screen).toMatch(/^ {2}needs 1 of: alice, bob$/m);
    expect(screen).toMatch(/^ {2}• crm_leads: insert 3 missing row\(s\) \(id /m);
    expect(screen).toContain(`→ lifeboat approve ${l1} --gate apply-restore --as <you>`);
    expect(screen).not.toContain('outcome:');

    // The open incident is listed, running.
    await expect
      .poll(async () => (await lifeboat('list')).stdout, { timeout: 30_000, interval: 1000 })
      .toMatch(new RegExp(`^${l1}\\s+L1\\s+running\\s`, 'm'));
  }, 180_000);

  it("refuses approvers who may not decide (the declarer is not one), then takes alice's approval", async () => {
    const mallory = await lifeboat('approve', l1, '--as', 'mallory');
    expect(mallory.code).toBe(1);
    expect(mallory.stdout).toBe('');
    expect(mallory.stderr).toBe('✖ refused: mallory may not decide gate "apply-restore" of an L1 incident (allowed: alice, bob)\n');

    const carol = await lifeboat('approve', l1, '--as', 'carol');
    expect(carol.code).toBe(1);
    expect(carol.stderr).toBe('✖ refused: carol may not decide gate "apply-restore" of an L1 incident (allowed: alice, bob)\n');

    const wrongGate = await lifeboat('approve', l1, '--gate', 'drop-everything', '--as', 'alice');
    expect(wrongGate.code).toBe(1);
    expect(wrongGate.stderr).toContain('no gate "drop-everything" is waiting (waiting gates: apply-restore)');

    // Nothing was restored by the refusals.
    expect((await countChildren(deleted)).crm_leads).toBe(0);

    const alice = await lifeboat('approve', l1, '--as', 'alice');
    expect(alice.stderr).toBe('');
    expect(alice.code).toBe(0);
    expect(alice.stdout).toBe('✔ alice approved "apply-restore": the plan goes on\n');
  }, 120_000);

  it('completes the review, after which the incident ends recovered within its RTO, the leads back with their children', async () => {
    const reviewing = await statusUntil(l1, /waiting for task "review"/);
    expect(reviewing.stdout).toMatch(/^ {2}apply-restore\s+approval\s+done\s.*alice\s+approved by alice/m);
    expect(reviewing.stdout).toMatch(/^ {2}restore: apply the staged rows in one transaction\s+automated\s+done\b/m);
    expect(reviewing.stdout).toContain(`→ lifeboat complete ${l1} --task review --as <you> --note "…"`);

    // No gate waits now: approving says what the incident waits for instead.
    const stray = await lifeboat('approve', l1, '--as', 'bob');
    expect(stray.code).toBe(1);
    expect(stray.stderr).toBe('✖ no gate is waiting: the incident is waiting for task "review"\n');

    const done = await lifeboat('complete', l1, '--task', 'review', '--as', 'carol', '--note', 'done');
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(done.stdout).toBe('✔ task "review" done by carol\n');

    const end = await statusUntil(l1, /^outcome: /m);
    expect(end.stdout).toMatch(/^outcome: recovered$/m);
    expect(end.stdout).toMatch(new RegExp(`^RTO 1 h: met — recovered in ${D}, ${D} to spare; RPO achieved ${D}$`, 'm'));
    expect(end.stdout).not.toContain('RTO clock:');
    expect(end.stdout).not.toContain('⏸');
    expect(end.stdout).toMatch(/^review\s+human\s+done\s.*carol\s+done$/m);

    const result = await ended(l1);
    expect(result).toMatchObject({ outcome: 'recovered', rto: { verdict: 'met', targetMs: 3_600_000 } });
    expect(await closedAs(l1)).toBe('COMPLETED');
    expect(await countChildren(deleted)).toEqual(childCounts);
    expect(await tableSums()).toEqual(pristine);
  }, 180_000);

  it('prints the report as Markdown with the outcome and the timeline picture, and as JSON', async () => {
    const md = await lifeboat('report', l1);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^# .*L1.*\n/);
    expect(md.stdout).toMatch(new RegExp(`^Incident \`${l1}\` — recovered\\. RTO 1 h: met — recovered in ${D}, ${D} to spare\\.$`, 'm'));
    expect(md.stdout).toMatch(/^\| Outcome \| recovered: \d+ rows restored from crm-\d{8}T\d{6}Z-[0-9a-f]{6} /m);
    expect(md.stdout).toContain('| Declared by | carol |');
    expect(md.stdout).toContain('![timeline](timeline.svg)');
    expect(md.stderr).toContain(`/reports/${l1}/)`);

    const json = await lifeboat('report', l1, '--json');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as RunReport;
    expect(report).toMatchObject({
      kind: 'incident',
      id: l1,
      context: { level: 'L1', declaredBy: 'carol', target: 'crm' },
      result: { outcome: 'recovered', rto: { verdict: 'met' } },
    });
    expect(report.result.timeline.map((s) => s.name)).toEqual(expect.arrayContaining(['apply-restore', 'review']));
  });

  it('refuses bad input with exit 2 and a failed or refused operation with exit 1, starting nothing', async () => {
    const L1_ARGS = ['--table', 'crm_leads', '--keys', untouched.join(','), '--as', 'carol'];
    const eleven = Array.from({ length: 11 }, (_, i) => String(i + 1));
    const keysFile = join(dir, 'eleven.csv');
    writeFileSync(keysFile, `id\n${eleven.join('\n')}\n`);
    const tuples = ['7', '8', '9', '10', '11'].flatMap((k) => ['--key', `id=${k}`]);
    const declareL1 = (...selection: string[]) => [
      'declare',
      '--level',
      'L1',
      '--summary',
      'x',
      '--table',
      'crm_leads',
      ...selection,
      '--as',
      'carol',
    ];
    const TOO_MANY =
      /^✖ 11 crm_leads rows are named: more than 10 records is not an L1 — declare an L2 \(table restore\), or ask an approver to allow it with --override-record-limit — nothing was declared\n$/;
    // One at a time: every run is a process of its own, and the machine may be small.
    const cases: Array<{ args: string[]; env?: NodeJS.ProcessEnv; code: number; stderr: string | RegExp }> = [
      {
        args: ['status', 'not-an-id'],
        code: 2,
        stderr:
          '✖ "not-an-id" is not an incident id: expected inc-YYYYMMDD-HHMMSS-xxxx, or drill-YYYYMMDD-HHMMSS-xxxx for a drill (run "lifeboat list" or "lifeboat drills")\n',
      },
      // Refused before Temporal is reached: the same answer with Temporal unreachable.
      { args: ['status', 'not-an-id'], env: { TEMPORAL_ADDRESS: '127.0.0.1:1' }, code: 2, stderr: /^✖ "not-an-id" is not an incident id/ },
      { args: ['approve', '../../etc/passwd', '--as', 'alice'], code: 2, stderr: /^✖ "\.\.\/\.\.\/etc\/passwd" is not an incident id/ },
      { args: ['status', 'inc-20200101-000000-abcd'], code: 2, stderr: '✖ no incident inc-20200101-000000-abcd (run "lifeboat list")\n' },
      {
        args: ['declare', '--level', 'L1', '--summary', 'x', '--as', 'carol'],
        code: 2,
        stderr: '✖ an L1 needs --table and --keys or --where (the records to bring back)\n',
      },
      // Triage makes this an L1, which needs its records as much as a declared one.
      {
        args: ['declare', '--records', '3', '--summary', 'x', '--as', 'carol'],
        code: 2,
        stderr: '✖ an L1 needs --table and --keys or --where (the records to bring back)\n',
      },
      {
        args: ['declare', '--summary', 'x', '--as', 'carol'],
        code: 2,
        stderr: /^✖ give the level \(--level L1\.\.L4\) or the triage answers/,
      },
      {
        args: ['declare', '--level', 'L9', '--summary', 'x', ...L1_ARGS],
        code: 2,
        stderr: /'L9' is invalid\. Allowed choices are L1, L2, L3, L4/,
      },
      {
        args: ['declare', '--declared-at', 'tomorrow', '--level', 'L1', '--summary', 'x', ...L1_ARGS],
        code: 2,
        stderr: /^✖ --declared-at "tomorrow" is not a past ISO time/,
      },
      {
        args: ['declare', '--declared-at', '2999-01-01T00:00:00Z', '--level', 'L1', '--summary', 'x', ...L1_ARGS],
        code: 2,
        stderr: /^✖ --declared-at "2999-01-01T00:00:00Z" is not a past ISO time/,
      },
      // Checked against the live table by the worker before anything is declared.
      {
        args: ['declare', '--level', 'L1', '--summary', 'x', '--table', 'crm_leads', '--keys', '12,abc', '--as', 'carol'],
        code: 2,
        stderr: /^✖ "abc" is not a valid crm_leads\.id \(bigint\): expected an integer — nothing was declared\n$/,
      },
      {
        args: ['declare', '--level', 'L1', '--summary', 'x', '--table', 'crm_nope', '--keys', '1', '--as', 'carol'],
        code: 2,
        stderr: /^✖ unknown table "crm_nope".* — nothing was declared\n$/,
      },
      {
        args: ['declare', '--level', 'L1', '--summary', 'x', '--table', 'crm_leads', '--where', 'no_such_column=1', '--as', 'carol'],
        code: 2,
        stderr: /^✖ table crm_leads has no column "no_such_column".* — nothing was declared\n$/,
      },
      // More than 10 records named by key is not an L1, however the keys are given: refused at declaration.
      { args: declareL1('--keys', eleven.join(',')), code: 2, stderr: TOO_MANY },
      { args: declareL1(...eleven.flatMap((k) => ['--key', `id=${k}`])), code: 2, stderr: TOO_MANY },
      { args: declareL1('--keys-file', keysFile), code: 2, stderr: TOO_MANY },
      // Values and tuples together, and an L1 by triage, count the same.
      {
        args: ['declare', '--records', '3', '--summary', 'x', '--table', 'crm_leads', '--keys', '1,2,3,4,5,6', ...tuples, '--as', 'carol'],
        code: 2,
        stderr: TOO_MANY,
      },
      // With --override-record-limit the count is left to an approver: the worker's check of the keys comes next.
      {
        args: declareL1('--keys', [...eleven, 'abc'].join(','), '--override-record-limit'),
        code: 2,
        stderr: /^✖ "abc" is not a valid crm_leads\.id \(bigint\): expected an integer — nothing was declared\n$/,
      },
      { args: ['reject', l1, '--as', 'bob'], code: 2, stderr: '✖ a rejection needs a reason (--reason "…")\n' },
      { args: ['abort', l1, '--reason', 'x', '--as', 'carol'], code: 1, stderr: `✖ incident ${l1} has already ended (recovered)\n` },
      // An ended incident waits for nothing.
      { args: ['approve', l1, '--as', 'alice'], code: 1, stderr: `✖ incident ${l1} has already ended (recovered): no gate is waiting\n` },
      { args: ['report', 'inc-20200101-000000-abcd'], code: 1, stderr: /^✖ no report for inc-20200101-000000-abcd in store "main" yet/ },
    ];
    for (const { args, env: extraEnv, code, stderr } of cases) {
      const run = await lifeboatWith(extraEnv ?? {}, ...args);
      const what = `lifeboat ${args.join(' ')}: ${run.stderr}`;
      expect(run.code, what).toBe(code);
      expect(run.stdout, what).toBe('');
      if (typeof stderr === 'string') expect(run.stderr, what).toBe(stderr);
      else expect(run.stderr, what).toMatch(stderr);
    }
    observed('declare with invalid keys', 'exit 2 naming the bad key, and no incident started');
  }, 180_000);

  let triagedL1: string;

  it('triages "--records 3" as an L1; its declarer may not approve it; a rejection ends it without changing anything', async () => {
    const before = await tableSums();
    const { id, run } = await declare(
      '--records',
      '3',
      '--table',
      'crm_leads',
      '--keys',
      untouched.join(','),
      '--summary',
      '3 leads look wrong',
      '--as',
      'alice',
    );
    triagedL1 = id;
    expect(run.stdout).toMatch(new RegExp(`^✔ incident ${id} declared \\(level by triage, target crm\\)\\n`));

    const waiting = await statusUntil(id, /waiting for approval of "apply-restore"/);
    expect(waiting.stdout).toMatch(new RegExp(`^${id}  L1  target crm  — 3 leads look wrong\\n`));
    expect(waiting.stdout).toMatch(/^assess: level L1\s+automated\s+skipped\s.*3 record\(s\) affected: a minor data issue/m);
    expect(waiting.stdout).toMatch(/of 1 h used/);

    // alice may approve L1 gates, but not those of an incident she declared.
    const self = await lifeboat('approve', id, '--as', 'alice');
    expect(self.code).toBe(1);
    expect(self.stderr).toBe('✖ refused: alice declared this incident and self-approval is off: another approver must decide\n');

    const rejected = await lifeboat('reject', id, '--as', 'bob', '--reason', 'nothing is missing');
    expect(rejected.stderr).toBe('');
    expect(rejected.code).toBe(0);
    expect(rejected.stdout).toBe('✔ bob rejected "apply-restore": nothing is changed; the plan stops\n');

    const end = await statusUntil(id, /^outcome: /m);
    expect(end.stdout).toMatch(/^outcome: rejected$/m);
    expect(end.stdout).toMatch(/^ {2}apply-restore\s+approval\s+rejected\s.*bob\s+nothing is missing/m);
    expect(end.stdout).toMatch(new RegExp(`^RTO 1 h: not achieved — the recovery was rejected after ${D} \\(deadline ${UTC}\\)$`, 'm'));
    expect(end.stdout).not.toMatch(/to spare|margin/);
    expect((await ended(id)).outcome).toBe('rejected');
    expect(await closedAs(id)).toBe('FAILED');
    expect(await tableSums()).toEqual(before);
  }, 180_000);

  let l3: string;

  it('triages "--system-down" as an L3: the vendor ticket is recorded, then carol aborts the drill', async () => {
    const { id } = await declare('--system-down', '--summary', 'the CRM is down (drill)', '--as', 'carol');
    l3 = id;

    const waiting = await statusUntil(id, /waiting for task "vendor-support"/);
    expect(waiting.stdout).toMatch(new RegExp(`^${id}  L3  target crm  — the CRM is down \\(drill\\)\\n`));
    expect(waiting.stdout).toMatch(new RegExp(`^RTO clock: ${D} of 24 h used`, 'm'));
    expect(waiting.stdout).toMatch(/^assess: level L3\s+automated\s+skipped\s.*the system is down \(major outage\)/m);
    expect(waiting.stdout).toMatch(/^ {2}activate response team\s+notification\s+done\b/m);
    expect(waiting.stdout).toMatch(
      /^⏸ waiting for task "vendor-support": Open a ticket with the hosting vendor.* \(due \d{4}-\d{2}-\d{2}T\S+\)$/m,
    );

    const ticket = await lifeboat('complete', id, '--task', 'vendor-support', '--as', 'carol', '--note', 'TICKET-1');
    expect(ticket.stderr).toBe('');
    expect(ticket.code).toBe(0);
    expect(ticket.stdout).toBe('✔ task "vendor-support" done by carol\n');

    const abort = await lifeboat('abort', id, '--reason', 'drill over', '--as', 'carol');
    expect(abort.stderr).toBe('');
    expect(abort.code).toBe(0);
    expect(abort.stdout).toMatch(/^✔ abort requested by carol: /);

    const end = await statusUntil(id, /^outcome: /m);
    expect(end.stdout).toMatch(/^outcome: aborted$/m);
    expect(end.stdout).toMatch(/^ {2}vendor-support\s+human\s+done\s.*carol\s+TICKET-1$/m);
    expect(end.stdout).toMatch(new RegExp(`^RTO 24 h: not achieved — the recovery was aborted after ${D} \\(deadline ${UTC}\\)$`, 'm'));
    expect(end.stdout).toMatch(/^recover: run the L3 plan\s+automated\s+done\s.*aborted: drill over/m);
    expect((await ended(id)).outcome).toBe('aborted');
    // An abort a person asked for completes (common/errors.ts runFailureType).
    expect(await closedAs(id)).toBe('COMPLETED');

    const again = await lifeboat('abort', id, '--reason', 'again', '--as', 'carol');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`✖ incident ${id} has already ended (aborted)\n`);
  }, 180_000);

  it('lists none of these incidents as open, and all of them with --all', async () => {
    const ours = () => [l1, triagedL1, l3];
    await expect
      .poll(
        async () => {
          const run = await lifeboat('list');
          return run.code === 0 ? ours().filter((id) => run.stdout.includes(id)) : [`exit ${run.code}`];
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toEqual([]);

    let all = '';
    await expect
      .poll(
        async () => {
          const run = await lifeboat('list', '--all');
          all = run.stdout;
          return run.code === 0
            ? ours().filter((id) =>
                new RegExp(`^${id}\\s+L\\d\\s+(completed|failed)\\s+(met|missed|not-recovered)\\s`, 'm').test(run.stdout),
              )
            : [`exit ${run.code}`];
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toEqual(ours());
    expect(all).toMatch(/^incident\s+level\s+state\s+RTO\s+current step\s+started \(UTC\)/);
    // How each ended, and the current step closed with it: never a step the run has left.
    expect(all).toMatch(new RegExp(`^${l1}\\s+L1\\s+completed\\s+met\\s+ended: recovered\\s`, 'm'));
    expect(all).toMatch(new RegExp(`^${triagedL1}\\s+L1\\s+failed\\s+not-recovered\\s+ended: rejected\\s`, 'm'));
    expect(all).toMatch(new RegExp(`^${l3}\\s+L3\\s+completed\\s+not-recovered\\s+ended: aborted\\s`, 'm'));
  }, 120_000);
});
