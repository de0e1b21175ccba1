// The steps L3 and L4 take declared --in-place at a moment (a physical target): production itself
// restored by pgBackRest to the moment (`restore --delta` over its own data directory, archiving left
// on). The approval comes first (the `restore-in-place` gate, the same approvers as a logical in-place
// restore): nothing of production is touched before it. Then a safety backup of production as it is
// (pgBackRest, incremental), the restore point Runbook.commit makes before every destructive step,
// and the restore (stopped, restored, started, promoted: activities/pgbackrest/in-place.ts, once per
// incident whatever the retries). Each step's detail says how to undo it. No cut-over: production is
// the recovered cluster.
import type { InPlaceRestore } from '../activities/pgbackrest/in-place.js';
import type { TableFingerprint } from '../common/backups.js';
import {
  IN_PLACE_AT_MOMENT_NEEDS_PHYSICAL,
  type InPlaceUndo,
  type Moment,
  describeMoment,
  inPlaceUndo,
  momentTime,
} from '../common/moments.js';
import { restorePointName } from '../common/names.js';
import type { PlanOptions } from '../common/plans.js';
import { formatDuration } from '../common/time.js';
import type { Runbook } from './engine/runbook.js';
import { type RecoveredTables, criticalChecksStep, pointInTime, verifyTablesStep } from './moment-recovery.js';
import { heavy, quick } from './proxies.js';

/** The approval gate before the restore: its approvers are those of a logical in-place restore. */
export const IN_PLACE_GATE = 'restore-in-place';

export class InPlaceMomentRecovery {
  private restored?: InPlaceRestore;
  private safety?: string;

  constructor(
    private readonly run: Runbook,
    readonly moment: Moment,
  ) {}

  /** Refuses what an in-place restore to a moment cannot do, before any step runs. */
  check(options: PlanOptions): void {
    if (!options.physical) throw new Error(IN_PLACE_AT_MOMENT_NEEDS_PHYSICAL);
    if (this.run.context.testDatabase)
      throw new Error('a drill cannot restore production in place to a moment: drills never touch production');
  }

  /** What the plan used, for its RPO: the moment recovered to. */
  get backup(): { id: string; startedAt: string } | undefined {
    return this.restored && pointInTime(this.restored.recoveredTo);
  }

  /** The data lost, as far as it is known before the restore: from the moment (when its time is known) to the declaration. */
  get lossWindow(): number | undefined {
    const known = momentTime(this.moment);
    return known ? Math.max(0, Date.parse(this.run.context.declaredAt) - Date.parse(known)) : undefined;
  }

  private stepName(phase: string): string {
    return `${phase}: restore production in place to ${describeMoment(this.moment)} (pgbackrest restore --delta)`;
  }

  /** The restore point Runbook.commit makes just before the restore step (physical targets, not drills). */
  private undoPoint(phase: string): string | undefined {
    return this.run.makesRestorePoints ? restorePointName(this.run.context.incidentId, this.stepName(phase)) : undefined;
  }

  /** L4's "use latest available backup": what the repository holds to reach the moment (read only). */
  async useLatest(phase: string): Promise<void> {
    await this.run.step(
      `${phase}: the physical backups and archived WAL reaching ${describeMoment(this.moment)}`,
      () => heavy.physicalBackups({ target: this.run.context.target }),
      (c) => `${c.backups.length} backups, newest ${c.backups.at(-1)?.label ?? 'none'}; WAL ${c.walMin ?? '–'} to ${c.walMax ?? '–'}`,
    );
  }

  /** The approval, the safety backup, then production restored in place (a committed change, after its restore point). */
  async restore(phase: string): Promise<InPlaceRestore> {
    const { context } = this.run;
    const window = this.lossWindow;
    await this.run.gate(IN_PLACE_GATE, {
      title: `Restore the production cluster of ${context.target} in place to ${describeMoment(this.moment)} (pgbackrest restore --delta)`,
      database: await quick.describeTarget(this.run.where),
      tables: ['every database of the cluster'],
      changes: [
        'a safety backup of production first (pgBackRest, incremental), then a restore point',
        `production stopped (pg_ctl stop -m fast, or physical.stopCommand), its data directory restored to ${describeMoment(this.moment)}, started again as it was and promoted onto a new timeline, archiving on`,
        `what was written after ${describeMoment(this.moment)} leaves production (the safety backup and the archive keep it)${window === undefined ? '' : `: up to ${formatDuration(window)}`}`,
        inPlaceUndo(context.target, { restorePoint: this.undoPoint(phase) }),
      ],
      ...(window === undefined ? {} : { dataLossWindowMs: window }),
    });
    const backup = await this.run.step(
      'safety backup of the production cluster (pgBackRest, incremental)',
      () => heavy.physicalSafetyBackup({ target: context.target, incidentId: context.incidentId }),
      (b) => `${b.label} (${b.type}, ended ${b.stoppedAt}); ${inPlaceUndo(context.target, { safetyBackup: b.label })}`,
    );
    this.safety = backup.label;
    let undo: InPlaceUndo = { restorePoint: this.undoPoint(phase), safetyBackup: backup.label };
    this.restored = await this.run.commit(
      this.stepName(phase),
      () => {
        // Runbook.commit has just made the point: its time lets the undo start from the newest backup before it.
        const point = this.run.restorePoints.at(-1);
        if (point) undo = { ...undo, restorePointCreatedAt: point.createdAt };
        return heavy.restoreClusterInPlace({ target: context.target, incidentId: context.incidentId, moment: this.moment, undo });
      },
      (r) =>
        `recovered to ${r.recoveredTo} (${r.stoppedAt}) from backup ${r.set ?? 'the newest'}; production ${r.dataDir} on port ${r.port} promoted onto timeline ${r.timeline}, archiving on` +
        `${r.alreadyRestored ? ` (${r.alreadyRestored})` : ''}. ${inPlaceUndo(context.target, undo)}`,
    );
    this.run.show({ backupUsed: this.backup });
    return this.restored;
  }

  /** Where the plan left the data, for the result's detail. */
  get detail(): string {
    const r = this.restored!;
    return `restored production (${r.dataDir}) in place to ${r.recoveredTo}; safety backup ${this.safety}`;
  }

  /** Every table of production's database as restored fingerprinted, and the integrity checks clean. */
  inspect(): Promise<{ summary: string; tables: Record<string, TableFingerprint> }> {
    return heavy.inspectRecoveredCluster({ target: this.run.context.target });
  }

  verifyTables(): Promise<RecoveredTables> {
    return verifyTablesStep(this.run, 'production as restored');
  }

  criticalChecks(): Promise<void> {
    return criticalChecksStep(this.run);
  }
}
