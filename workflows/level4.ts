// L4 — catastrophic data loss, RTO 48–72 h. The DR document's plan:
// emergency activation → all-hands communication → vendor escalation → use latest available
// backup → accept potential data loss (two approvers) → restore → manual data reconstruction → full audit.
import type { PlanInput, PlanOptions, RunResult } from '../common/plans.js';
import { quick, heavy } from './proxies.js';
import { formatDuration } from '../common/time.js';
import { outcomeOf } from './engine/outcome.js';
import { type PlanFacts, type Runbook, planRunbook } from './engine/runbook.js';
import { dropUnusedDatabase, fullRestore, newDatabaseName, skippedText } from './restore-steps.js';

export async function level4Workflow({ context, options }: PlanInput): Promise<RunResult> {
  const run = planRunbook(context, options);
  // Ended after its own clean-up: a plan that failed or was rejected fails, carrying its result to the incident or drill.
  return run.end(await recover(run, options));
}

async function recover(run: Runbook, options: PlanOptions): Promise<RunResult> {
  const { context } = run;
  const { target } = context;
  let backupUsed: PlanFacts['backupUsed'];
  /** A database the restore created: dropped again if the plan does not end recovered. */
  let newDatabase: string | undefined;
  try {
    await run.announce(
      'emergency activation',
      'critical',
      `CATASTROPHIC data loss: ${context.summary}`,
      'All hands: join the incident thread now.',
    );
    await run.announce(
      'all-hands communication',
      'critical',
      'Service down, data loss possible',
      'Leadership and all staff informed; customer communication follows.',
    );
    await run.task('vendor-escalation', 'Escalate to the vendor at the highest severity; record the ticket id as the note.', {
      deadlineMs: 15 * 60_000,
    });

    const usable = await run.step(
      'use latest available backup: newest whose checksum verifies',
      () => heavy.findUsableBackup(run.where),
      (u) => `${u.backup.id}${skippedText(u.skipped)}`,
    );
    backupUsed = usable.backup;
    run.show({ backupUsed });
    const lossWindow = Date.parse(context.declaredAt) - Date.parse(usable.backup.startedAt);
    await run.gate(
      'accept-data-loss',
      {
        title: `Accept losing up to ${formatDuration(lossWindow)} of data and restore ${target} from ${usable.backup.id}`,
        database: await quick.describeTarget(run.where),
        tables: Object.keys(usable.tables),
        changes: [
          `restore every table from ${usable.backup.id} (${Object.values(usable.tables).reduce((a, b) => a + b, 0)} rows)`,
          ...usable.skipped.map((s) => `newer backup ${s.id} skipped: ${s.reason}`),
        ],
        backup: { ...usable.backup, ageMs: Date.now() - Date.parse(usable.backup.startedAt) },
        dataLossWindowMs: lossWindow,
      },
      { required: 2 },
    );
    if (!options.inPlace) newDatabase = await newDatabaseName(run);
    const restored = await fullRestore(run, usable.backup, { into: newDatabase, gate: 'restore-in-place' });
    if (!options.inPlace) await run.task('cut-over', `Point the application at database "${restored.database}", then mark this done.`);
    await run.task(
      'manual-reconstruction',
      `Rebuild what was lost in the ${formatDuration(lossWindow)} before the incident (emails, exports, partner systems); note what was recovered.`,
    );
    await run.step(
      'full audit: counts, checksums and integrity of every table',
      () => quick.auditDatabase({ ...run.where, database: restored.database, backupId: usable.backup.id }),
      (a) => a,
    );
    await run.task('audit-signoff', 'Review the audit and sign off.');
    return {
      outcome: 'recovered',
      detail: `restored ${usable.backup.id}; data-loss window ${formatDuration(lossWindow)}`,
      timeline: run.timeline,
      backupUsed: usable.backup,
      database: restored.database,
      fingerprints: restored.fingerprints,
    };
  } catch (err) {
    await dropUnusedDatabase(run, newDatabase);
    return { ...outcomeOf(err, run.committed), timeline: run.timeline, backupUsed };
  }
}
