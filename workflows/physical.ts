// Physical backups of the DR document's plan, by pgBackRest: a scheduled full, differential or
// incremental backup (after checking what pgBackRest needs of the target), the repository's
// verification reported like a failed backup verification, and the WAL freshness alarm.
import { ActivityFailure, patched } from '@temporalio/workflow';
import type { PhysicalBackup, PhysicalBackupType, PhysicalCatalog } from '../activities/pgbackrest/backups.js';
import type { WarmCopyOutcome, WarmState } from '../activities/pgbackrest/warm-copy.js';
import type { PhysicalSetup } from '../activities/pgbackrest/setup.js';
import type { SweepEntry } from '../activities/pgbackrest/sweep.js';
import type { TableChanges } from '../activities/pgbackrest/wal-changes.js';
import type { WalFreshness } from '../activities/pgbackrest/wal-freshness.js';
import { formatDuration } from '../common/time.js';
import { alarm } from './backup.js';
import { heavy, quick } from './proxies.js';

export interface PhysicalBackupInput {
  target: string;
  type: PhysicalBackupType;
}

export type WarmCopyResult = WarmCopyOutcome | { status: 'failed'; note: string; undeliveredNotice?: string };

export async function physicalBackupWorkflow(input: PhysicalBackupInput): Promise<PhysicalBackup & { warmCopy?: WarmCopyResult }> {
  // Asked first (README: patches before any local activity): runs from before it take no warm copy.
  const warm = patched('physical-warm-copy');
  // A stanza, archiving or a check that fails is refused here with its fix, before the backup runs.
  await quick.preparePhysical({ target: input.target });
  const backup = await heavy.physicalBackup({ target: input.target, type: input.type });
  if (!warm) return backup;
  return { ...backup, warmCopy: await warmCopy(input.target, backup.label) };
}

/**
 * The warm copy prepared from the backup just taken (activities/pgbackrest/warm-copy.ts): a test
 * restore of it too, so a copy that cannot be made is alarmed like a failed verification; the
 * backup itself stands either way.
 */
async function warmCopy(target: string, label?: string): Promise<WarmCopyResult> {
  try {
    return await heavy.prepareWarmCopy({ target, label });
  } catch (err) {
    const note = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
    const undeliveredNotice = await alarm({
      severity: 'critical',
      title: `${label ? `Physical backup ${label}` : 'The newest physical backup'} of ${target} did not restore into its warm copy`,
      text: note,
    });
    return { status: 'failed', note, ...(undeliveredNotice ? { undeliveredNotice } : {}) };
  }
}

/** `lifeboat pitr warm`: the warm copy prepared now from the newest physical backup. */
export async function physicalWarmCopyWorkflow(input: { target: string }): Promise<WarmCopyResult> {
  return warmCopy(input.target);
}

/** The physical backups of a target and the WAL the repository holds, as its worker's pgBackRest sees them, and its warm copy. */
export async function physicalCatalogWorkflow(input: { target: string }): Promise<PhysicalCatalog & { warmCopy?: WarmState }> {
  return quick.physicalBackups({ target: input.target });
}

export interface PhysicalVerification {
  target: string;
  result: 'passed' | 'failed';
  report: string;
  undeliveredNotice?: string;
}

export async function physicalVerifyWorkflow(input: { target: string }): Promise<PhysicalVerification> {
  try {
    const { report } = await heavy.verifyPhysical({ target: input.target });
    return { target: input.target, result: 'passed', report };
  } catch (err) {
    const report = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
    const undeliveredNotice = await alarm({
      severity: 'critical',
      title: `The pgBackRest repository of ${input.target} failed verification`,
      text: report,
    });
    return { target: input.target, result: 'failed', report, ...(undeliveredNotice ? { undeliveredNotice } : {}) };
  }
}

export async function walFreshnessWorkflow(input: { target: string }): Promise<WalFreshness & { undeliveredNotice?: string }> {
  const result = await quick.walFreshness({ target: input.target });
  if (result.fresh) return result;
  const age =
    result.ageMs === undefined
      ? 'no segment has ever been archived'
      : `the newest archived segment, ${result.newestArchivedWal}, is ${formatDuration(result.ageMs)} old`;
  const failing = result.failingWal ? `; archiving ${result.failingWal} fails (see PostgreSQL's log for archive_command)` : '';
  const undeliveredNotice = await alarm({
    severity: 'critical',
    title: `WAL archiving of ${input.target} is behind`,
    text: `${age} (limit ${formatDuration(result.maxAgeMs)}) while ${result.waitingBytes} bytes of WAL wait to be archived${failing}: point-in-time recovery cannot reach past ${result.archivedAt ?? 'the last backup'}. Check archive_command, or set archive_timeout below the limit on a quiet database`,
  });
  return { ...result, ...(undeliveredNotice ? { undeliveredNotice } : {}) };
}

/**
 * Stops and removes the side instances whose plan is no longer running, on the target's side-sweep
 * schedule: a plan terminated, or whose worker died for good while another worker serves the queue,
 * would otherwise hold its instance's port and disk until the next restore to a moment.
 */
export async function sideSweepWorkflow(input: { target: string }): Promise<SweepEntry[]> {
  return quick.sweepOrphanSides(input);
}

/** Checks (and where allowed sets up) what pgBackRest needs of a target: `lifeboat pitr prepare`. */
export async function preparePhysicalWorkflow(input: { target: string }): Promise<PhysicalSetup> {
  return quick.preparePhysical({ target: input.target });
}

/** The transactions that deleted or changed rows of a table, from the archived WAL: `lifeboat pitr find`. */
export async function findTableChangesWorkflow(input: {
  target: string;
  table: string;
  since?: string;
  until?: string;
}): Promise<TableChanges> {
  return heavy.findTableChanges(input);
}
