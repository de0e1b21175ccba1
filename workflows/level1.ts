// L1 — minor data issue (fewer than 10 records), RTO 1 h. The DR document's plan:
// identify affected records → restore from the most recent backup → verify fix → document.
import { L1_RECORD_LIMIT, tooManyRecords, type PlanInput, type PlanOptions, type RunResult } from '../common/plans.js';
import { quick, heavy, quickLocal } from './proxies.js';
import { formatDuration } from '../common/time.js';
import { outcomeOf } from './engine/outcome.js';
import { type PlanFacts, type Runbook, planRunbook } from './engine/runbook.js';
import { chooseBackup, fenceNote, removeSideInstance, restoreSideInstance } from './restore-steps.js';
import type { StagedTable } from '../activities/postgres/staging.js';
import type { TableDiff } from '../activities/postgres/apply.js';

/**
 * Up to this many staged rows the compare, snapshot and check take seconds: they run as local
 * activities (when the plan's start said so); more rows go through the task queue as before.
 */
const LOCAL_STEP_ROWS = 10_000;

export async function level1Workflow({ context, options }: PlanInput): Promise<RunResult> {
  const run = planRunbook(context, options);
  // Ended after its own clean-up: a plan that failed or was rejected fails, carrying its result to the incident or drill.
  return run.end(await recover(run, options));
}

async function recover(run: Runbook, options: PlanOptions): Promise<RunResult> {
  const { context } = run;
  const selection = options.record;
  const { incidentId, target } = context;
  let staged = false;
  let side = false;
  let backupUsed: PlanFacts['backupUsed'];
  try {
    if (!selection) throw new Error('an L1 needs the records to restore: a table and primary keys or a filter');
    if ((selection.keys?.length ?? 0) > L1_RECORD_LIMIT && !selection.overrideRecordLimit)
      throw tooMany(selection.keys!.length, selection.table);

    // 1. Identify affected records: validated before anything runs.
    const staging = (s: StagedTable[]) => s.map((t) => `${t.rows} ${t.table}`).join(', ');
    // At a moment, the rows as they were then: from a side instance restored there (pgBackRest), removed at the end.
    const { moment } = options;
    side = moment !== undefined;
    const restored = moment ? await restoreSideInstance(run, 'identify', moment) : undefined;
    const backup =
      restored?.backup ??
      (await chooseBackup(run, 'identify: choose the newest verified backup before the data went bad', selection.goodBefore, {
        fromRecoveryCopy: true,
      }));
    backupUsed = backup;
    run.show({ backupUsed });
    staged = true; // from here on the staging area may exist, even if staging fails half-way
    const stage = await run.step(
      `identify: stage the affected records from ${restored ? 'the side instance' : 'the backup'}`,
      () =>
        restored
          ? heavy.stageRecordsFromSide({ incidentId, ...run.where, selection, sidePort: restored.port })
          : heavy.stageRecords({ incidentId, ...run.where, backupId: backup.id, selection }),
      staging,
    );
    const local = run.localQuickSteps && stage.reduce((n, t) => n + t.rows, 0) <= LOCAL_STEP_ROWS;
    const q = local ? quickLocal : quick;
    const primary = stage[0]!;
    if (primary.rows > L1_RECORD_LIMIT) {
      if (!selection.overrideRecordLimit) throw tooMany(primary.rows, primary.table);
      await run.gate('record-limit-override', {
        title: `Allow an L1 restore of ${primary.rows} records (more than ${L1_RECORD_LIMIT})`,
        database: await q.describeTarget(run.where),
        tables: stage.map((t) => t.table),
        changes: [`${primary.rows} ${primary.table} rows: the DR document treats this as an L2`],
      });
    }
    // Run locally, the description the approval request shows is read while the comparison runs.
    const described = local ? q.describeTarget(run.where) : undefined;
    void described?.catch(() => undefined); // awaited at the gate: a failure before then is reported there
    const diff = await run.step(
      'identify: compare the backup with production',
      () => q.diffRecords({ incidentId, ...run.where, staged: stage }),
      (d) => d.map(diffLine).join('; '),
    );
    const snapshotStep = 'identify: snapshot the rows that will be overwritten';
    // A drill's test database is disposable: its rows do not belong in the store.
    let snapshot: string | undefined;
    if (context.testDatabase) run.skip(snapshotStep, 'drill: the test database is disposable');
    else snapshot = await run.step(snapshotStep, () => q.snapshotRecords({ incidentId, ...run.where, staged: stage }));

    // 2. Restore from the most recent backup, once approved.
    const now = Date.now();
    const applyStep = 'restore: apply the staged rows in one transaction';
    await run.gate('apply-restore', {
      title: `Restore ${diff.reduce((n, t) => n + t.missingCount + t.changedCount, 0)} rows of ${target} from ${restored ? '' : 'backup '}${backup.id}`,
      database: await (described ?? q.describeTarget(run.where)),
      tables: diff.map((t) => t.table),
      changes: diff.map(changeLine).concat(run.undoNote(applyStep)),
      backup: { ...backup, ageMs: now - Date.parse(backup.startedAt) },
      dataLossWindowMs: Date.parse(selection.goodBefore) - Date.parse(backup.startedAt),
      snapshot,
    });
    const applied = await run.commit(
      applyStep,
      () => heavy.applyRecords({ incidentId, ...run.where, staged: stage }),
      (a) =>
        Object.entries(a)
          .map(([t, c]) => `${t}: +${c.inserted} ~${c.updated}${c.deleted ? ` -${c.deleted}` : ''}`)
          .join(', ') + fenceNote(Object.values(a)[0]),
    );

    // 3. Verify the fix.
    await run.step(
      'verify: the rows equal the backup and integrity checks pass',
      () => q.checkRecords({ incidentId, ...run.where, staged: stage }),
      () => 'all restored rows match; no integrity findings',
    );

    // 4. Document the incident: the incident workflow writes the report from this result.
    const rows = Object.values(applied).reduce((n, c) => n + c.inserted + c.updated, 0);
    return {
      outcome: 'recovered',
      detail: `${rows} rows restored from ${backup.id} (${formatDuration(Date.parse(context.declaredAt) - Date.parse(backup.startedAt))} before the declaration)`,
      timeline: run.timeline,
      backupUsed: backup,
    };
  } catch (err) {
    return { ...outcomeOf(err, run.committed), timeline: run.timeline, backupUsed };
  } finally {
    if (staged)
      await run.cleanup('clean up the staging area', () =>
        (run.localQuickSteps ? quickLocal : quick).dropStaging({ incidentId, ...run.where }),
      );
    if (side) await removeSideInstance(run);
  }
}

/** A table's line of the comparison step. A child without a key (`extra` set) counts copies of its rows. */
function diffLine(t: TableDiff): string {
  if (t.extra !== undefined) return `${t.table}: ${t.missingCount} missing, ${t.extra} extra, ${t.unchanged} unchanged copies`;
  return `${t.table}: ${t.missingCount} missing, ${t.changedCount} changed`;
}

/** A table's line of what the approval changes (a child without a key: its distinct missing rows by digest). */
function changeLine(t: TableDiff): string {
  const listed = (items: string[], count: number, most: number) => `${items.slice(0, most).join(', ')}${count > most ? ', …' : ''}`;
  if (t.extra !== undefined)
    return (
      `${t.table} (no key: its rows referencing the restored rows, as copies): insert ${t.missingCount} missing` +
      `${t.missing.length ? ` (${listed(t.missing, t.missing.length, 10)})` : ''}, delete ${t.extra} extra, keep ${t.unchanged} unchanged`
    );
  return `${t.table}: insert ${t.missingCount} missing row(s)${t.missing.length ? ` (${t.primaryKey} ${listed(t.missing, t.missingCount, 10)})` : ''}, revert ${t.changedCount} changed row(s)${
    t.changed.length
      ? ` (${t.changed
          .slice(0, 5)
          .map((c) => `${c.key}: ${c.columns.join('/')}`)
          .join('; ')})`
      : ''
  }`;
}

function tooMany(count: number, table: string): Error {
  return new Error(tooManyRecords(count, table));
}
