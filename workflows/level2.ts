// L2 — moderate outage (a feature unavailable), RTO 4 h. The DR document's plan:
// notify affected users → diagnose → roll back code if needed → restore data if needed →
// test functionality → resume operations → post-incident review.
import type { PlanInput, PlanOptions, RunResult } from '../common/plans.js';
import { quick, heavy } from './proxies.js';
import { outcomeOf } from './engine/outcome.js';
import { type PlanFacts, type Runbook, planRunbook } from './engine/runbook.js';
import { chooseBackup, fenceNote, removeSideInstance, restoreSideInstance, safetySnapshot } from './restore-steps.js';

export async function level2Workflow({ context, options }: PlanInput): Promise<RunResult> {
  const run = planRunbook(context, options);
  // Ended after its own clean-up: a plan that failed or was rejected fails, carrying its result to the incident or drill.
  return run.end(await recover(run, options));
}

async function recover(run: Runbook, options: PlanOptions): Promise<RunResult> {
  const { context } = run;
  const { incidentId, target } = context;
  let staged = false;
  let side = false;
  let backupUsed: PlanFacts['backupUsed'];
  try {
    await run.announce(
      'notify affected users',
      'warning',
      `Degraded service: ${context.summary}`,
      'We are working on it; updates follow in this thread.',
    );

    const health = await run.step(
      'diagnose: automated health checks',
      () => quick.healthChecks(run.where),
      (h) => h.map((c) => `${c.check}: ${c.ok ? 'ok' : c.detail}`).join('; '),
    );
    const confirmed = await run.task(
      'confirm-cause',
      `Confirm the cause and choose the actions. Health checks: ${health.map((c) => `${c.check} ${c.ok ? 'ok' : `FAILED (${c.detail})`}`).join('; ')}. ` +
        `Complete with --choose rollback and/or --choose restore${options.table ? ` (table ${options.table})` : ' (give --table at declaration)'}, or neither.`,
      // A drill rehearses the data restore; it never rolls back real code.
      { deadlineMs: 30 * 60_000, choices: ['rollback', 'restore'], drillChoices: ['restore'] },
    );
    const actions = new Set(confirmed.choices ?? []);

    if (actions.has('rollback')) {
      await run.gate('code-rollback', {
        title: `Roll back the application code of ${target}`,
        database: await quick.describeTarget(run.where),
        tables: [],
        changes: ['runs the configured rollback hook'],
      });
      await run.commit(
        'roll back code (hook)',
        () => quick.runTargetHook({ incidentId, ...run.where, role: 'rollback' }),
        (r) => `${r.hook}: ${r.ok ? 'ok' : 'FAILED'} ${r.output.slice(-200)}${fenceNote(r)}`,
      );
    } else run.skip('roll back code', 'not chosen at confirm-cause');

    if (actions.has('restore')) {
      const table = options.table;
      if (!table) throw new Error('restore was chosen but the incident names no table (declare with --table)');
      // At a moment: the table from a side instance restored there (pgBackRest), removed at the end; else from a backup.
      const { moment } = options;
      side = moment !== undefined;
      const restored = moment ? await restoreSideInstance(run, 'restore', moment) : undefined;
      const backup =
        restored?.backup ??
        (await chooseBackup(run, 'restore: choose the newest verified backup', context.declaredAt, { fromRecoveryCopy: true }));
      backupUsed = backup;
      run.show({ backupUsed });
      const source = restored ? 'the side instance' : 'the backup';
      const snapshot = await safetySnapshot(run, `restore: safety snapshot of ${table}`, {
        tables: [table],
        reason: `before restoring ${table}`,
      });
      staged = true;
      const selection = { table, goodBefore: context.declaredAt };
      const stage = await run.step(
        `restore: stage ${table} from ${source}`,
        () =>
          restored
            ? heavy.stageRecordsFromSide({ incidentId, ...run.where, selection, wholeTable: true, sidePort: restored.port })
            : heavy.stageRecords({ incidentId, ...run.where, backupId: backup.id, selection, wholeTable: true }),
        (s) => `${s[0]!.rows} rows`,
      );
      const [diff] = await run.step(
        `restore: compare ${source} with production`,
        () => quick.diffRecords({ incidentId, ...run.where, staged: stage, wholeTable: true }),
        (d) => `${d[0]!.missingCount} missing, ${d[0]!.changedCount} changed, ${d[0]!.extra ?? 0} not in ${source}`,
      );
      await run.gate('table-restore', {
        title: `Restore table ${table} of ${target} from ${restored ? '' : 'backup '}${backup.id}`,
        database: await quick.describeTarget(run.where),
        tables: [table],
        changes: [
          `${table}: insert ${diff!.missingCount}, revert ${diff!.changedCount}, delete ${diff!.extra ?? 0} rows not in ${source} (rows of tables referencing them may go with them)`,
        ],
        backup: { ...backup, ageMs: Date.now() - Date.parse(backup.startedAt) },
        dataLossWindowMs: Date.parse(context.declaredAt) - Date.parse(backup.startedAt),
        snapshot,
      });
      await run.commit(
        `restore: apply ${table} in one transaction`,
        () => heavy.applyRecords({ incidentId, ...run.where, staged: stage, wholeTable: true }),
        (a) =>
          Object.entries(a)
            .map(([t, c]) => `${t}: +${c.inserted} ~${c.updated} -${c.deleted}`)
            .join(', ') + fenceNote(Object.values(a)[0]),
      );
      await run.step(
        `restore: ${table} equals ${source}`,
        () => quick.checkRecords({ incidentId, ...run.where, staged: stage }),
        () => 'every row matches',
      );
    } else run.skip('restore data', 'not chosen at confirm-cause');

    await run.step(
      'test functionality: critical-function checks',
      () => quick.criticalChecks(run.where),
      (c) => c.map((x) => `${x.check}: ok`).join('; '),
    );
    await run.task('resume-operations', 'Resume normal operations, then mark this done.');
    await run.announce('announce resumption', 'info', 'Service restored', context.summary);
    await run.task('post-incident-review', 'Hold the post-incident review and note its conclusions.');
    return {
      outcome: 'recovered',
      detail: `actions: ${[...actions].join(', ') || 'none'}`,
      timeline: run.timeline,
      backupUsed,
    };
  } catch (err) {
    return { ...outcomeOf(err, run.committed), timeline: run.timeline, backupUsed };
  } finally {
    if (staged) await run.cleanup('clean up the staging area', () => quick.dropStaging({ incidentId, ...run.where }));
    if (side) await removeSideInstance(run);
  }
}
