// The quarterly recovery drill, as the DR document's checklist goes: prepare (notify the team,
// a recent verified backup, an isolated test environment), execute (simulate the loss, run the
// real recovery plan, time it), verify (every table, record counts, critical functions), document
// (report, summary, improvements) — and always drop the test environment. Production is never
// touched: every database step goes to the drill's lifeboat_drill_* database, which the resolver
// refuses to resolve to the production connection.
import {
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  executeChild,
  isCancellation,
  patched,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import {
  type DrillBackup,
  type DrillInput,
  type DrillRecord,
  type DrillResult,
  type DrillSettings,
  type PointInTimeRehearsal,
  type TableCheck,
} from '../common/drills.js';
import { rehearsePointInTime } from './drill-point-in-time.js';
import { DRILL_MARKER_TABLE, drillIdFor, planWorkflowId, testDatabaseFor } from '../common/names.js';
import { drillResultQuery } from './messages.js';
import { type Finding } from '../common/backups.js';
import { type Level, type PlanOptions, type RtoResult, type RunContext, type RunResult, type StepRecord } from '../common/plans.js';
import { level1Workflow } from './level1.js';
import { level2Workflow } from './level2.js';
import { level3Workflow } from './level3.js';
import { level4Workflow } from './level4.js';
import { heavy, quick } from './proxies.js';
import { rtoSummary } from '../common/rto.js';
import { formatDuration } from '../common/time.js';
import { failureText, outcomeOf, planResultOf } from './engine/outcome.js';
import { Runbook } from './engine/runbook.js';

const plans = { L1: level1Workflow, L2: level2Workflow, L3: level3Workflow, L4: level4Workflow } as const;

/** What the drill learns on the way; the verdict and the report are made from it. */
interface Observed {
  backup?: DrillBackup;
  scenario?: { table?: string; keys?: string[]; detail: string };
  /** When the simulated incident began (the scenario has run): the recovery is timed from here. */
  declaredAt?: string;
  plan?: RunResult;
  rto?: RtoResult;
  tables: TableCheck[];
  critical: string[];
  findings: Finding[];
  /** Checks whose failure fails the drill (a skipped corrupt backup alone does not). */
  failed: string[];
  pointInTime?: PointInTimeRehearsal;
}

export async function drillWorkflow(input: DrillInput): Promise<DrillResult> {
  // Asked first, before any activity (README: the rule for patched()); drills recorded before it skip the comparison.
  const compareDatabases = patched('drill-compare-databases');
  const pointInTime = patched('drill-point-in-time');
  const drillId = input.drillId ?? drillIdFor(workflowInfo().startTime, uuid4().replace(/-/g, '').slice(0, 4));
  const settings = await quick.drillSettings(input);
  const { target, level, scenario } = settings;
  const testDatabase = testDatabaseFor(target, drillId);
  const context: RunContext = {
    incidentId: drillId,
    level,
    target,
    summary: `recovery drill: ${scenario.kind}${scenario.kind === 'delete-rows' ? ` (${scenario.records} rows)` : ''}, rehearsed in ${testDatabase}`,
    declaredBy: input.requestedBy ?? 'schedule',
    // Until the scenario has run; then "the incident" starts and the recovery is timed from there.
    declaredAt: new Date().toISOString(),
    rtoMs: settings.rtoMs,
    approvals: { approvers: settings.approvers, gates: settings.gates, selfApproval: settings.selfApproval, proof: settings.proof },
  };
  // No RTO clock: a drill must not page people as an incident would. The child's recovery is timed with finish().
  const run = new Runbook(context, { clock: false });
  let result: DrillResult | undefined;
  // Shown to clients once the report is written: `drill run` prints the verdict and where the report is.
  let published: DrillResult | undefined;
  setHandler(drillResultQuery, () => published);

  const seen: Observed = { tables: [], critical: [], findings: [], failed: [] };
  const fail = (check: string, detail: string) => (seen.findings.push({ check, detail }), seen.failed.push(check));
  let created = false;
  let cancelled: unknown;
  let aborted = false;
  try {
    await rehearse(run, settings, testDatabase, seen, () => (created = true), compareDatabases);
    if (pointInTime && settings.pointInTime) {
      const rehearsal = (seen.pointInTime = await rehearsePointInTime(run, settings, testDatabase));
      if (rehearsal.verdict === 'failed') fail('point in time', rehearsal.detail);
    }
  } catch (err) {
    // A cancelled plan may still end normally (it cleans up and returns): the drill's own scope tells.
    if (isCancellation(err) || CancellationScope.current().consideredCancelled)
      cancelled = isCancellation(err) ? err : new CancelledFailure('the drill was cancelled');
    const { outcome, detail } = outcomeOf(err);
    aborted = cancelled !== undefined || outcome === 'aborted';
    fail('drill', cancelled ? 'the drill was cancelled' : detail);
  }
  if (created)
    await run.cleanup(`always: drop the test environment (${testDatabase} and any database the plan created)`, () =>
      quick.dropTestDatabases({ target, testDatabase }),
    );

  // Document: verdicts, report, summary. Non-cancellable, so a cancelled drill is documented too.
  const { record, runResult } = assess(settings, drillId, testDatabase, seen, aborted);
  result = { drillId, verdict: record.verdict, record, findings: seen.findings };
  const document = async () => {
    const written = await quick
      .writeDrillReport({
        context: { ...context, declaredAt: seen.declaredAt ?? context.declaredAt },
        result: { ...runResult, timeline: drillTimeline(run, seen.plan) },
        record,
        findings: seen.findings,
        workflowId: workflowInfo().workflowId,
      })
      .catch(() => undefined);
    if (written) result = { ...result!, record: { ...record, trend: written.trend }, reportKeys: written.keys };
  };
  await CancellationScope.nonCancellable(async () => {
    await run.step('document: write the drill report', document, () =>
      result!.reportKeys ? result!.reportKeys.join(', ') : 'the report could not be written',
    );
    await run.notify(record.verdict === 'passed' ? 'info' : 'critical', `Drill ${record.verdict.toUpperCase()}`, summaryText(result!));
  });
  if (cancelled) {
    run.close('cancelled');
    throw cancelled;
  }
  published = result;

  // Improvements: optional and human. The verdict is out already; the drill waits for the task
  // until its deadline at most, then ends with it recorded as open (a scheduled drill never hangs).
  if (settings.improvementsDeadlineMs !== undefined) {
    record.improvements = await improvements(run, settings.improvementsDeadlineMs);
    await document();
  }
  // A drill completes whatever its verdict: the drill itself worked, and the verdict is its result (its plan's
  // workflow shows a failed recovery as failed).
  run.close(record.verdict);
  return (published = result!);
}

/** Prepare and execute: every step the DR document's checklist names, up to the verification. */
async function rehearse(
  run: Runbook,
  settings: DrillSettings,
  testDatabase: string,
  seen: Observed,
  markCreated: () => void,
  compareDatabases: boolean,
): Promise<void> {
  const { target, level, scenario, rpoMs } = settings;
  const drillId = run.context.incidentId;
  await run.announce(
    'prepare: notify the team of the drill',
    'info',
    `${level} recovery drill starting`,
    `${run.context.summary}. ${settings.pointInTime ? `Production is not touched, except for this drill's marker rows in ${DRILL_MARKER_TABLE} (drill.pointInTime: a point-in-time recovery needs WAL from a real write), removed at the end.` : 'Production is not touched.'} RTO ${formatDuration(settings.rtoMs)}, RPO ${formatDuration(rpoMs)}.${settings.actAs ? ` Approvals are given by ${settings.actAs}.` : ' Approvals are given by people, as in an incident.'}`,
  );

  const backup = (seen.backup = await run.step(
    'prepare: ensure a recent verified backup (checksum verified, age within the RPO)',
    () => heavy.chooseDrillBackup({ target }),
    (b) =>
      `${b.backup.id}, ${formatDuration(Date.now() - Date.parse(b.backup.startedAt))} old${b.skipped.length ? `; skipped ${b.skipped.map((s) => s.id).join(', ')}` : ''}`,
  ));
  for (const s of backup.skipped)
    seen.findings.push({
      check: 'backup checksum',
      detail: `${s.id} no longer matches its checksum (${s.reason}): marked as failed verification; the drill used ${backup.backup.id}`,
    });
  const ageMs = Date.now() - Date.parse(backup.backup.startedAt);
  if (ageMs > rpoMs)
    seen.findings.push({
      check: 'backup age',
      detail: `the newest usable backup ${backup.backup.id} is ${formatDuration(ageMs)} old: more than the ${level} RPO of ${formatDuration(rpoMs)}`,
    });

  await run.step(
    'prepare: resolve the isolated test database (refused if it is production)',
    () => quick.resolveTestDatabase({ target, testDatabase }),
    (where) => where,
  );
  markCreated(); // from here on the test database may exist, even if creating it fails half-way
  await run.step(`prepare: create the test database ${testDatabase}`, () => quick.createTestDatabase({ target, testDatabase }));

  // L1/L2 damage a copy of the backup; for L3/L4 everything is lost, so the empty test database is
  // the scenario and the reference checksums are those recorded when the backup was verified.
  let reference = backup.verified;
  if (scenario.kind === 'lose-database') {
    run.skip(
      'prepare: restore the backup into the test database',
      `${level}: everything is lost, so the test database stays empty; the reference is the fingerprints recorded when ${backup.backup.id} was verified`,
    );
  } else {
    reference = await run.step(
      `prepare: restore ${backup.backup.id} into the test database and fingerprint every table`,
      () => heavy.restoreTestDatabase({ target, testDatabase, backupId: backup.backup.id }),
      (t) => `${Object.keys(t).length} tables, ${Object.values(t).reduce((n, f) => n + f.rows, 0)} rows`,
    );
  }
  const damage = (seen.scenario = await run.step(
    `execute: simulate the loss (${scenario.kind})`,
    () => quick.simulateScenario({ target, testDatabase, scenario }),
    (s) => s.detail,
  ));

  // The incident starts now: the recovery is timed from here.
  const declaredAt = (seen.declaredAt = new Date().toISOString());
  const childWorkflowId = planWorkflowId(drillId, level);
  run.show({ declaredAt, childWorkflowId });
  let plan: RunResult;
  try {
    plan = await run.step(
      `execute: run the real ${level} plan against the test database`,
      () =>
        executeChild(plans[level], {
          workflowId: childWorkflowId,
          args: [
            {
              context: { ...run.context, declaredAt, thread: run.thread, testDatabase, actAs: settings.actAs },
              options: planOptions(level, damage),
            },
          ],
          // A terminated drill still asks its plan to stop (and clean up after itself).
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        }),
      (r) => `${r.outcome}: ${r.detail}`,
    );
  } catch (err) {
    // A plan that failed or was rejected fails (its step reads so) and carries its result: the drill judges it all the same.
    plan = planResultOf(err);
  }
  seen.plan = plan;
  run.show({ backupUsed: plan.backupUsed });
  seen.rto = await run.step(
    'execute: time the recovery against the RTO',
    () => run.finish(plan.outcome, { backupUsed: plan.backupUsed, declaredAt }),
    (r) => rtoSummary(r, plan.outcome),
  );
  if (plan.outcome !== 'recovered') throw new Error(`the ${level} plan ended ${plan.outcome}: ${plan.detail}`);

  const database = plan.database; // L3/L4: the new database; L1/L2: the test database itself
  // L3/L4 plans fingerprint the database they restored as their own last check: the drill compares
  // those measurements with its own reference rather than reading every table a second time.
  const measured = plan.fingerprints;
  seen.tables = await run.step(
    `verify: every table — row counts against the manifest, checksums against the reference${measured ? ' (as the plan measured them)' : ''}`,
    () => heavy.checkDrillTables({ target, testDatabase, database, manifestTables: backup.manifestTables, reference, measured }),
    (checks) => {
      const bad = checks.filter((c) => c.rows !== c.expectedRows || c.checksum !== 'match');
      return bad.length
        ? `${bad.length} of ${checks.length} tables differ: ${bad.map((c) => c.table).join(', ')}`
        : `${checks.length} tables: counts and checksums match`;
    },
  );
  for (const c of seen.tables) {
    if (c.rows !== c.expectedRows)
      seen.findings.push({ check: `row count ${c.table}`, detail: `${c.rows ?? 'no table'} rows, the manifest says ${c.expectedRows}` });
    if (c.checksum !== 'match') seen.findings.push({ check: `checksum ${c.table}`, detail: c.checksum });
  }
  if (seen.tables.some((c) => c.rows !== c.expectedRows || c.checksum !== 'match')) seen.failed.push('tables');
  if (compareDatabases) {
    const differences = await run.step(
      'verify: the recovered database equals the backup on every aspect (definitions, sequences; not owners and grants)',
      () => heavy.compareDrillDatabase({ target, testDatabase, database, backupId: plan.backupUsed?.id ?? backup.backup.id }),
      (d) => (d.length ? `${d.length} difference(s): ${d.slice(0, 5).join('; ')}${d.length > 5 ? '; …' : ''}` : 'no difference'),
    );
    for (const d of differences.slice(0, 20)) seen.findings.push({ check: 'database comparison', detail: d });
    if (differences.length) seen.failed.push('database comparison');
  }
  try {
    const passed = await run.step(
      'verify: critical-function checks',
      () => quick.criticalChecks({ target, testDatabase, database }),
      (c) => c.map((x) => x.check).join(', ') || 'none configured',
    );
    seen.critical = passed.map((c) => c.check);
  } catch (err) {
    if (isCancellation(err)) throw err;
    seen.findings.push({ check: 'critical functions', detail: failureText(err) });
    seen.failed.push('critical functions');
  }
}

/** What the real plan is told to mend: the deleted keys (L1), the emptied table (L2), everything (L3/L4). */
function planOptions(level: Level, damage: { table?: string; keys?: string[] }): PlanOptions {
  if (level === 'L1')
    return { record: { table: damage.table!, keys: damage.keys!, includeChildren: true, goodBefore: new Date().toISOString() } };
  if (level === 'L2') return { table: damage.table };
  return {};
}

/** The verdicts: passed when the plan recovered within the RTO and RPO and every check holds. */
function assess(
  settings: DrillSettings,
  drillId: string,
  testDatabase: string,
  seen: Observed,
  aborted: boolean,
): { record: DrillRecord; runResult: RunResult } {
  const { rto } = seen;
  const rpoAchievedMs = rto?.rpoAchievedMs;
  const rpoVerdict = rpoAchievedMs === undefined ? 'not measured' : rpoAchievedMs <= settings.rpoMs ? 'met' : 'missed';
  const rtoVerdict = !rto ? 'not measured' : rto.verdict === 'not-recovered' ? 'not achieved' : rto.verdict;
  const passed = seen.plan?.outcome === 'recovered' && rtoVerdict === 'met' && rpoVerdict === 'met' && seen.failed.length === 0;
  if (rtoVerdict === 'missed')
    seen.findings.push({
      check: 'RTO',
      detail: `recovery took ${formatDuration(rto!.actualMs)}, the ${settings.level} RTO is ${formatDuration(rto!.targetMs)}`,
    });
  if (rpoVerdict === 'missed')
    seen.findings.push({
      check: 'RPO',
      detail: `${formatDuration(rpoAchievedMs!)} of data would have been lost, the ${settings.level} RPO is ${formatDuration(settings.rpoMs)}`,
    });
  const record: DrillRecord = {
    drillId,
    target: settings.target,
    level: settings.level,
    scenario: seen.scenario?.detail ?? settings.scenario.kind,
    verdict: passed ? 'passed' : 'failed',
    declaredAt: seen.declaredAt,
    recoveryMs: rto?.actualMs,
    rtoMs: settings.rtoMs,
    rtoVerdict,
    rpoMs: settings.rpoMs,
    rpoAchievedMs,
    rpoVerdict,
    backup: seen.plan?.backupUsed ?? seen.backup?.backup,
    testDatabase,
    recoveredDatabase: seen.plan?.outcome === 'recovered' ? (seen.plan.database ?? testDatabase) : undefined,
    tables: seen.tables,
    criticalChecks: seen.critical,
    improvements: settings.improvementsDeadlineMs === undefined ? 'not asked for (drill.improvements is off)' : 'open',
    trend: [],
    ...(seen.pointInTime ? { pointInTime: seen.pointInTime } : {}),
  };
  const outcome = seen.plan?.outcome ?? (aborted ? 'aborted' : 'failed');
  const detail = passed
    ? `drill passed: ${seen.plan!.detail}`
    : `drill failed: ${seen.findings
        .filter((f) => seen.failed.includes(f.check) || f.check === 'RTO' || f.check === 'RPO')
        .map((f) => `${f.check}: ${f.detail}`)
        .join('; ')}`;
  return { record, runResult: { outcome, detail, timeline: [], backupUsed: record.backup, rto, database: record.recoveredDatabase } };
}

/** The drill's steps with its plan's (named by level) in the order they ran. */
function drillTimeline(run: Runbook, plan: RunResult | undefined): StepRecord[] {
  const child = (plan?.timeline ?? []).map((s) => ({ ...s, name: `${run.context.level} · ${s.name}` }));
  return [...run.timeline, ...child].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
}

function summaryText(r: DrillResult): string {
  const d = r.record;
  return [
    `${d.level} drill of ${d.target}: ${d.verdict.toUpperCase()} — ${d.scenario}`,
    `Recovery ${d.recoveryMs !== undefined ? formatDuration(d.recoveryMs) : 'not measured'} against an RTO of ${formatDuration(d.rtoMs)} (${d.rtoVerdict}); RPO ${d.rpoAchievedMs !== undefined ? formatDuration(d.rpoAchievedMs) : '—'} of ${formatDuration(d.rpoMs)} (${d.rpoVerdict})`,
    ...(d.pointInTime ? [`Point in time: ${d.pointInTime.verdict} — ${d.pointInTime.detail}`] : []),
    ...r.findings.map((f) => `• ${f.check}: ${f.detail}`),
    r.reportKeys ? `Report: ${r.reportKeys.join(', ')}` : 'The report could not be written.',
  ].join('\n');
}

/** The optional "improvements" task: waits until its deadline at most, then the drill ends with it open. */
async function improvements(run: Runbook, deadlineMs: number): Promise<string> {
  const due = new Date(Date.now() + deadlineMs).toISOString();
  const done = await run.optionalTask(
    'improvements',
    `Note what this drill taught (procedures to update, tooling to fix) by ${due}; the drill closes then with the task recorded as open.`,
    deadlineMs,
  );
  return done ? `recorded by ${done.by}${done.note ? `: ${done.note}` : ''}` : `still open at its deadline ${due}`;
}
