// The full-restore steps L3 and L4 share: into a new database by default (non-destructive), or in
// place after a safety snapshot and an approval; then every table checked against the backup. A plan
// keeps the new database's name itself, to drop it again if it does not end recovered.
import { patched } from '@temporalio/workflow';
import { quick, heavy } from './proxies.js';
import type { SkippedBackup, TableFingerprint } from '../common/backups.js';
import { type Moment, describeMoment } from '../common/moments.js';
import { instanceIdFor } from '../common/names.js';
import { type Runbook } from './engine/runbook.js';
import { pointInTime } from './moment-recovery.js';

/** "; skipped <id> (<why>), …": the backups a choice passed over, as every plan shows them. */
export function skippedText(skipped: readonly SkippedBackup[] | undefined): string {
  return skipped?.length ? `; skipped ${skipped.map((s) => `${s.id} (${s.reason})`).join(', ')}` : '';
}

/**
 * " (already applied by attempt 1 at …)" when a destructive step's retry found the first attempt's
 * fence and changed nothing (activities/fence.ts); "" otherwise. Results recorded before fences have
 * no such field, so their step details (and the notices carrying them) come out byte for byte as
 * before and no command changes: no patched() is needed.
 */
export function fenceNote(result: { alreadyApplied?: string } | undefined): string {
  return result?.alreadyApplied ? ` (${result.alreadyApplied})` : '';
}

/**
 * L1–L3's choice: the newest verified backup taken before `before` whose checksum verifies (L1, L2:
 * or whose kept recovery copy exists, as their rows come from it), as a
 * step that names every newer backup it skipped. Checksumming reads the dumps, so it runs on the
 * heavy profile (heartbeats, hours) from this version on; runs that chose before keep the quick one.
 */
export async function chooseBackup(
  run: Runbook,
  name: string,
  before: string,
  options: { fromRecoveryCopy?: boolean } = {},
): Promise<{ id: string; startedAt: string }> {
  const { id, startedAt } = await run.step(
    name,
    // Plans started before the patch was asked at their start ask it here, where their history has it.
    // An activity's input is not part of what a replay checks: fromRecoveryCopy needs no patch.
    () => (run.heavyChoice || patched('choose-backup-heavy') ? heavy : quick).chooseBackup({ ...run.where, before, ...options }),
    // Runs recorded before the choice checksummed have no `skipped`.
    (b) => `${b.id}, taken ${b.startedAt}${skippedText(b.skipped)}`,
  );
  return { id, startedAt };
}

/** Names the new database a full restore goes into (unless it restores in place). */
export function newDatabaseName(run: Runbook): Promise<string> {
  return quick.newDatabaseName({ ...run.where, incidentId: run.context.incidentId });
}

/** Restores `backup` into the new database `into` or, without one, in place once the gate is approved. */
export async function fullRestore(
  run: Runbook,
  backup: { id: string; startedAt: string },
  options: { into?: string; gate: string },
): Promise<{ database: string; fingerprints: Record<string, TableFingerprint> }> {
  const { incidentId, target } = run.context;
  const database = options.into;
  if (database === undefined) {
    const snapshot = await inPlaceSnapshot(run);
    await run.gate(options.gate, {
      title: `Replace the production database of ${target} with backup ${backup.id}`,
      database: await quick.describeTarget(run.where),
      tables: ['every table'],
      changes: ['every table is dropped and restored from the backup in one transaction'],
      backup: { ...backup, ageMs: Date.now() - Date.parse(backup.startedAt) },
      dataLossWindowMs: Date.parse(run.context.declaredAt) - Date.parse(backup.startedAt),
      snapshot,
    });
  }
  // In place, the restore replaces production: a committed change. Into a new database, it is not.
  const restored = await (database === undefined ? run.commit.bind(run) : run.step.bind(run))(
    database === undefined ? 'restore in place (one transaction)' : `restore into a new database`,
    () => heavy.restoreDatabase({ ...run.where, backupId: backup.id, database, incidentId }),
    // `created` (an in-place restore that recreated a dropped database) is absent from older results: their details stay as they were.
    (r) => `${r.database}: ${r.tables} tables${r.created ? ` (${r.created})` : ''}${fenceNote(r)}`,
  );
  const compared = await run.step(
    'verify all tables: counts and checksums against the backup',
    () => quick.compareWithBackup({ ...run.where, database: restored.database, backupId: backup.id }),
    (c) => c.summary,
  );
  return { database: restored.database, fingerprints: compared.tables };
}

/**
 * The safety snapshot before an in-place restore. A database that was dropped (the L3/L4 scenario
 * itself) has nothing to overwrite and nothing to dump: the step is skipped, saying so, and the
 * restore recreates it. Runs from before this check took the snapshot unconditionally.
 */
async function inPlaceSnapshot(run: Runbook): Promise<string | undefined> {
  const name = 'safety snapshot of the production database';
  if (run.checksDroppedDatabase) {
    const target = await quick.findTargetDatabase(run.where);
    if (!target.exists) {
      run.skip(name, `${target.where} does not exist (dropped): nothing to overwrite; the restore recreates it`);
      return undefined;
    }
  }
  return safetySnapshot(run, name, { reason: 'before an in-place restore' });
}

/** A plan that ends without recovering drops the new database it restored into: nothing half-used stays. */
export async function dropUnusedDatabase(run: Runbook, database: string | undefined): Promise<void> {
  if (database) await run.cleanup(`drop the unused database ${database}`, () => quick.dropRestoredDatabase({ ...run.where, database }));
}

/**
 * A safety backup of what is about to be overwritten; returns where it is. A drill's test database
 * is disposable and no backup of it may enter the target's catalogue: there the step is skipped.
 */
export async function safetySnapshot(
  run: Runbook,
  name: string,
  input: { tables?: string[]; reason: string },
): Promise<string | undefined> {
  if (run.context.testDatabase) {
    run.skip(name, 'drill: the test database is disposable');
    return undefined;
  }
  const { incidentId, target } = run.context;
  const manifest = await run.step(
    name,
    () => heavy.safetyBackup({ incidentId, target, ...input }),
    (m) => m.id,
  );
  return `backup ${manifest.id}${input.tables ? ` (${input.tables.join(', ')})` : ''}`;
}

/**
 * The data as it was at a moment (L1, L2): the target's cluster restored there by pgBackRest into
 * the incident's side instance. The moment actually recovered to stands where a backup's start
 * would, so the RPO is measured from it. The plan removes the instance with `removeSideInstance`
 * in its `finally`, whether this step succeeded or not.
 */
export async function restoreSideInstance(
  run: Runbook,
  phase: string,
  moment: Moment,
): Promise<{ port: number; backup: { id: string; startedAt: string } }> {
  const side = await run.step(
    `${phase}: restore the cluster to ${describeMoment(moment)} into a side instance`,
    () => heavy.restoreToMoment({ target: run.context.target, moment, sideId: instanceIdFor(run.context.incidentId) }),
    (s) => `recovered to ${s.recoveredTo} (${s.stoppedAt})`,
  );
  return { port: side.port, backup: pointInTime(side.recoveredTo) };
}

/** Stops and removes the incident's side instance (nothing there is fine): a clean-up step, run whatever the outcome. */
export function removeSideInstance(run: Runbook): Promise<void> {
  const { target, incidentId } = run.context;
  return run.cleanup('clean up the side instance', () => quick.removeSideInstance({ target, sideId: instanceIdFor(incidentId) }));
}
