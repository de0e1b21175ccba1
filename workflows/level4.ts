// L4 — catastrophic data loss, RTO 48–72 h. The DR document's plan:
// emergency activation → all-hands communication → vendor escalation → use latest available
// backup → accept potential data loss (two approvers) → restore → manual data reconstruction → full audit.
// At a moment (a physical target), the whole cluster is restored to it into a new data directory first,
// and the loss accepted is the window to the moment actually recovered to (moment-recovery.ts); declared
// --in-place, the loss is accepted first and production itself is restored (in-place-moment.ts).
import type { ApprovalRequest, PlanInput, PlanOptions, RunResult } from '../common/plans.js';
import { quick, heavy } from './proxies.js';
import { formatDuration } from '../common/time.js';
import { describeMoment, momentTime } from '../common/moments.js';
import { outcomeOf } from './engine/outcome.js';
import { type PlanFacts, type Runbook, planRunbook } from './engine/runbook.js';
import { dropUnusedDatabase, fullRestore, newDatabaseName, skippedText } from './restore-steps.js';
import { MomentRecovery, tablesOf } from './moment-recovery.js';
import { InPlaceMomentRecovery } from './in-place-moment.js';

export async function level4Workflow({ context, options }: PlanInput): Promise<RunResult> {
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

    let restored: Restored;
    if (inPlace) restored = await recoverInPlace(run, inPlace);
    else if (atMoment) restored = await recoverAtMoment(run, atMoment);
    else {
      const usable = await run.step(
        'use latest available backup: newest whose checksum verifies',
        () => heavy.findUsableBackup(run.where),
        (u) => `${u.backup.id}${skippedText(u.skipped)}`,
      );
      backupUsed = usable.backup;
      run.show({ backupUsed });
      const lossWindow = Date.parse(context.declaredAt) - Date.parse(usable.backup.startedAt);
      await acceptDataLoss(run, lossWindow, usable.backup, {
        title: `restore ${context.target} from ${usable.backup.id}`,
        database: await quick.describeTarget(run.where),
        tables: Object.keys(usable.tables),
        changes: [
          `restore every table from ${usable.backup.id} (${Object.values(usable.tables).reduce((a, b) => a + b, 0)} rows)`,
          ...usable.skipped.map((s) => `newer backup ${s.id} skipped: ${s.reason}`),
        ],
      });
      if (!options.inPlace) newDatabase = await newDatabaseName(run);
      const into = await fullRestore(run, usable.backup, { into: newDatabase, gate: 'restore-in-place' });
      if (!options.inPlace) await run.task('cut-over', `Point the application at database "${into.database}", then mark this done.`);
      restored = {
        database: into.database,
        tables: { fingerprints: into.fingerprints },
        backup: usable.backup,
        lossWindow,
        audit: () => quick.auditDatabase({ ...run.where, database: into.database, backupId: usable.backup.id }),
        detail: `restored ${usable.backup.id}`,
      };
    }
    await run.task(
      'manual-reconstruction',
      `Rebuild what was lost in the ${formatDuration(restored.lossWindow)} before the incident (emails, exports, partner systems); note what was recovered.`,
    );
    await run.step('full audit: counts, checksums and integrity of every table', restored.audit, (a) => a);
    await run.task('audit-signoff', 'Review the audit and sign off.');
    return {
      outcome: 'recovered',
      detail: `${restored.detail}; data-loss window ${formatDuration(restored.lossWindow)}`,
      timeline: run.timeline,
      backupUsed: restored.backup,
      database: restored.database,
      ...restored.tables,
      ...(atMoment ? { recoveredCluster: atMoment.ref } : {}),
    };
  } catch (err) {
    await dropUnusedDatabase(run, newDatabase);
    await atMoment?.removeUnlessHandedOver();
    return { ...outcomeOf(err, run.committed), timeline: run.timeline, backupUsed: backupUsed ?? atMoment?.backup ?? inPlace?.backup };
  }
}

/** What the restore gave the plan's last steps: the data, the loss it accepted, and how to audit it. */
interface Restored {
  backup: { id: string; startedAt: string };
  lossWindow: number;
  database: string;
  tables: Pick<RunResult, 'tableRows' | 'fingerprints'>;
  audit: () => Promise<string>;
  detail: string;
}

/** Accept potential data loss: two distinct approvers, shown the window lost (undefined: a moment whose time is not known, before its restore). */
async function acceptDataLoss(
  run: Runbook,
  lossWindow: number | undefined,
  backup: { id: string; startedAt: string },
  request: Pick<ApprovalRequest, 'database' | 'tables' | 'changes'> & { title: string },
): Promise<void> {
  await run.gate(
    'accept-data-loss',
    {
      ...request,
      title: `Accept losing ${lossWindow === undefined ? 'what was written since the moment' : `up to ${formatDuration(lossWindow)} of data`} and ${request.title}`,
      backup: { ...backup, ageMs: Date.now() - Date.parse(backup.startedAt) },
      ...(lossWindow === undefined ? {} : { dataLossWindowMs: lossWindow }),
    },
    { required: 2 },
  );
}

/**
 * At a moment: the cluster restored into a new data directory (nothing of production is touched), its
 * tables verified, then the loss accepted (the window to the moment actually recovered to) and the cut-over.
 */
async function recoverAtMoment(run: Runbook, at: MomentRecovery): Promise<Restored> {
  const cluster = await at.restore('use latest available moment');
  const verified = await at.verifyTables();
  const backup = at.backup!;
  const lossWindow = Date.parse(run.context.declaredAt) - Date.parse(cluster.recoveredTo);
  await acceptDataLoss(run, lossWindow, backup, {
    title: `cut ${run.context.target} over to the cluster recovered to ${cluster.recoveredTo}`,
    database: at.where,
    tables: Object.keys(verified.rows),
    changes: [
      `the application moves to the recovered cluster (${verified.summary}); production's data directory stays as it is`,
      `what was written after ${cluster.recoveredTo} is not in it`,
    ],
  });
  await at.cutOver();
  return {
    backup,
    lossWindow,
    database: cluster.database,
    tables: tablesOf(verified),
    // The plan's own "full audit" step runs this: a step of its own inside it would show twice.
    audit: async () => (await at.inspect()).summary,
    detail: at.detail,
  };
}

/**
 * In place at a moment, in the DR document's order: what the repository holds to reach the moment,
 * the loss accepted by two approvers, then (after the in-place gate and a safety backup) production
 * restored; the plan's "full audit" inspects production as restored.
 */
async function recoverInPlace(run: Runbook, at: InPlaceMomentRecovery): Promise<Restored> {
  const { context } = run;
  await at.useLatest('use latest available moment');
  await acceptDataLoss(
    run,
    at.lossWindow,
    { id: `point-in-time ${describeMoment(at.moment)}`, startedAt: momentTime(at.moment) ?? context.declaredAt },
    {
      title: `restore production of ${context.target} in place to ${describeMoment(at.moment)}`,
      database: await quick.describeTarget(run.where),
      tables: ['every database of the cluster'],
      changes: [`what was written after ${describeMoment(at.moment)} leaves production (a safety backup keeps it)`],
    },
  );
  const restored = await at.restore('restore');
  const verified = await at.verifyTables();
  return {
    backup: at.backup!,
    lossWindow: Date.parse(context.declaredAt) - Date.parse(restored.recoveredTo),
    database: restored.database,
    tables: tablesOf(verified),
    audit: async () => (await at.inspect()).summary,
    detail: at.detail,
  };
}
