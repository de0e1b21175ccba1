// L3 — major outage (system down), RTO 24 h. The DR document's plan:
// activate response team → communicate to all users → contact vendor support → execute recovery →
// verify all systems → gradual resumption → post-mortem. At a moment (a physical target), recovery
// restores the whole cluster to it into a new data directory instead (moment-recovery.ts) or, declared
// --in-place, production itself after an approval and a safety backup (in-place-moment.ts).
import type { PlanInput, PlanOptions, RunResult } from '../common/plans.js';
import { quick } from './proxies.js';
import { outcomeOf } from './engine/outcome.js';
import { type PlanFacts, type Runbook, planRunbook } from './engine/runbook.js';
import { chooseBackup, dropUnusedDatabase, fullRestore, newDatabaseName } from './restore-steps.js';
import { MomentRecovery, tablesOf } from './moment-recovery.js';
import { InPlaceMomentRecovery } from './in-place-moment.js';

export async function level3Workflow({ context, options }: PlanInput): Promise<RunResult> {
  const run = planRunbook(context, options);
  // Ended after its own clean-up: a plan that failed or was rejected fails, carrying its result to the incident or drill.
  return run.end(await recover(run, options));
}

async function recover(run: Runbook, options: PlanOptions): Promise<RunResult> {
  const { context } = run;
  let backupUsed: PlanFacts['backupUsed'];
  /** A database the restore created: dropped again if the plan does not end recovered. */
  let newDatabase: string | undefined;
  /** At a moment: the whole cluster recovered into a new data directory, removed again if the plan ends before its cut-over. */
  const inPlace = options.moment && options.inPlace && run.inPlaceAtMoment ? new InPlaceMomentRecovery(run, options.moment) : undefined;
  const atMoment = options.moment && !inPlace ? new MomentRecovery(run, options.moment) : undefined;
  try {
    atMoment?.check(options);
    inPlace?.check(options);
    await run.announce(
      'activate response team',
      'critical',
      `Major outage: ${context.summary}`,
      'Response team paged: join the incident thread.',
    );
    await run.announce(
      'communicate to all users',
      'critical',
      'Service unavailable',
      'We are restoring the service; next update within the hour.',
    );
    await run.task('vendor-support', 'Open a ticket with the hosting vendor and record its id as the note.', { deadlineMs: 30 * 60_000 });

    if (inPlace) {
      const recovered = await recoverInPlace(inPlace);
      await resumeOperations(run);
      return { outcome: 'recovered', ...recovered, timeline: run.timeline };
    }
    if (atMoment) {
      const recovered = await recoverAtMoment(atMoment);
      await resumeOperations(run);
      return { outcome: 'recovered', ...recovered, timeline: run.timeline };
    }
    const backup = await chooseBackup(run, 'execute recovery: choose the newest verified backup', context.declaredAt);
    backupUsed = backup;
    run.show({ backupUsed });
    if (!options.inPlace) newDatabase = await newDatabaseName(run);
    const restored = await fullRestore(run, backup, { into: newDatabase, gate: 'restore-in-place' });

    await run.step(
      'verify all systems: critical-function checks',
      () => quick.criticalChecks({ ...run.where, database: restored.database }),
      (c) => c.map((x) => x.check).join(', '),
    );
    if (!options.inPlace)
      await run.task(
        'cut-over',
        `Point the application at database "${restored.database}" (restored from ${backup.id}), then mark this done.`,
      );
    await resumeOperations(run);
    return {
      outcome: 'recovered',
      detail: `restored ${backup.id} into ${restored.database}`,
      timeline: run.timeline,
      backupUsed: backup,
      database: restored.database,
      fingerprints: restored.fingerprints,
    };
  } catch (err) {
    await dropUnusedDatabase(run, newDatabase);
    await atMoment?.removeUnlessHandedOver();
    return { ...outcomeOf(err, run.committed), timeline: run.timeline, backupUsed: backupUsed ?? atMoment?.backup ?? inPlace?.backup };
  }
}

/** Execute recovery at a moment: the cluster restored into a new data directory, verified, and handed over. */
async function recoverAtMoment(at: MomentRecovery): Promise<Omit<RunResult, 'outcome' | 'timeline'>> {
  const cluster = await at.restore('execute recovery');
  const verified = await at.verifyTables();
  await at.criticalChecks();
  await at.cutOver();
  return {
    detail: at.detail,
    backupUsed: at.backup,
    database: cluster.database,
    ...tablesOf(verified),
    recoveredCluster: at.ref,
  };
}

/** Execute recovery in place at a moment: approved, a safety backup, production restored, then verified (no cut-over: it is production). */
async function recoverInPlace(at: InPlaceMomentRecovery): Promise<Omit<RunResult, 'outcome' | 'timeline'>> {
  const restored = await at.restore('execute recovery');
  const verified = await at.verifyTables();
  await at.criticalChecks();
  return { detail: at.detail, backupUsed: at.backup, database: restored.database, ...tablesOf(verified) };
}

/** Gradual resumption, then the post-mortem. */
async function resumeOperations(run: Runbook): Promise<void> {
  for (const stage of ['resume-read-only', 'resume-internal-users', 'resume-all-users']) {
    await run.task(stage, `Gradual resumption: ${stage.replace(/-/g, ' ')}; watch errors and load before the next stage.`);
  }
  await run.task('post-mortem', 'Write the post-mortem and note where it is.');
}
