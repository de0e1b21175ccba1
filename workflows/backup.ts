// The backup plans of the DR document as workflows: take a backup, verify it by a test restore,
// keep the right generations, and alarm when the newest verified backup is too old. A verification
// that passes keeps its restore as the backup's recovery copy (activities/postgres/recovery-copy.ts).
import { ActivityFailure, log, patched, workflowInfo } from '@temporalio/workflow';
import type { Notice } from '../activities/notify/notifier.js';
import {
  type BackupInput,
  type BackupManifest,
  type Finding,
  type FreshnessInput,
  type FreshnessResult,
  type RetentionInput,
  type RetentionResult,
  type VerificationRecord,
  type VerifyInput,
} from '../common/backups.js';
import { backupIdFor, backupSuffixOf, verifyDatabaseFor } from '../common/names.js';
import { formatDuration } from '../common/time.js';
import { heavy, quick } from './proxies.js';
import { planRetention } from './retention.js';

export async function backupWorkflow(input: BackupInput): Promise<BackupManifest> {
  const { runStartTime, runId } = workflowInfo();
  // Two backups of one target started in the same second once shared an id (and one overwrote the
  // other): the run's own suffix keeps them apart. Runs started before keep their suffix-less id.
  const id = patched('backup-id-run-suffix')
    ? backupIdFor(input.target, runStartTime, backupSuffixOf(runId))
    : backupIdFor(input.target, runStartTime);
  // A wrong address or a missing bucket fails in seconds here; the dump's own retries span minutes.
  if (patched('backup-preflight')) await quick.checkBackupSources({ target: input.target });
  return heavy.createBackup({ id, target: input.target, tags: input.tags ?? [], reason: input.reason ?? 'scheduled' });
}

function failureMessage(err: unknown): string {
  return err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
}

export async function verifyWorkflow(input: VerifyInput): Promise<VerificationRecord> {
  // Asked at the start, as every patch is: before any local activity (see planRunbook).
  const keepsCopy = patched('keep-recovery-copy');
  const started = Date.now();
  const { manifest } = await quick.getBackup({ backupId: input.backupId, target: input.target });
  const database = verifyDatabaseFor(manifest.id, workflowInfo().runId);
  const findings: Finding[] = [];
  let tables: VerificationRecord['tables'] = {};
  try {
    // The restore checks size and SHA-256 as it reads the dump: a backup that fails them is never restored.
    findings.push(...(await heavy.restoreToScratch({ manifest, database })));
    if (findings.length === 0) {
      const inspected = await heavy.inspectDatabase({ target: manifest.target, database });
      tables = inspected.tables;
      findings.push(...inspected.findings, ...compareCounts(manifest, tables, inspected.partitioned, inspected.families));
    }
  } catch (err) {
    findings.push({ check: 'restore', detail: failureMessage(err) });
  } finally {
    // A restore that passed stays as the backup's recovery copy: L1 and L2 read their rows from it.
    if (findings.length === 0 && keepsCopy)
      await quick.keepRecoveryCopy({ target: manifest.target, database, backupId: manifest.id, startedAt: manifest.startedAt });
    else await quick.dropScratchDatabase({ target: manifest.target, database });
  }

  const record: VerificationRecord = {
    backupId: manifest.id,
    verifiedAt: new Date().toISOString(),
    result: findings.length === 0 ? 'passed' : 'failed',
    durationMs: Date.now() - started,
    tables,
    findings,
  };
  await quick.recordVerification({ target: manifest.target, record });
  if (record.result === 'failed') {
    const undelivered = await alarm({
      severity: 'critical',
      title: `Backup ${manifest.id} failed verification`,
      text: findings.map((f) => `${f.check}: ${f.detail}`).join('; '),
    });
    if (undelivered) return { ...record, undeliveredNotice: undelivered };
  }
  return record;
}

/**
 * Posts an alarm. A notifier that is down must not fail the backup, verification or freshness run
 * whose outcome it reports (the outcome is recorded anyway): the failure is logged and returned,
 * and goes into the run's result. Catching around the same activity call leaves the commands as
 * they were, so histories replay.
 */
export async function alarm(notice: Notice): Promise<string | undefined> {
  try {
    await quick.notify(notice);
    return undefined;
  } catch (err) {
    const why = `notice "${notice.title}" not delivered: ${failureMessage(err)}`;
    log.warn(why);
    return why;
  }
}

/**
 * The manifest's row counts against the restored tables'. A manifest from before partitions were
 * counted alone also lists each partitioned table: its rows are its partitions' sum (`partitioned`,
 * absent from inspections recorded before it existed, whose findings stay as they were); one from
 * before inheritance parents were counted alone counts a parent with its children (`families`,
 * likewise absent from older inspections).
 */
function compareCounts(
  manifest: BackupManifest,
  tables: VerificationRecord['tables'],
  partitioned?: Record<string, number>,
  families?: Record<string, number>,
): Finding[] {
  const findings: Finding[] = [];
  for (const [table, expected] of Object.entries(manifest.tables)) {
    const restored = tables[table]?.rows ?? partitioned?.[table];
    if (restored !== expected && families?.[table] !== expected) {
      findings.push({ check: `row count ${table}`, detail: `manifest says ${expected}, restore holds ${restored ?? 'no such table'}` });
    }
  }
  return findings;
}

export async function retentionWorkflow(input: RetentionInput): Promise<RetentionResult> {
  const [{ retention }, backups] = await Promise.all([
    quick.targetPolicy({ target: input.target }),
    quick.listBackups({ target: input.target }),
  ]);
  const decisions = planRetention(
    backups.map(({ manifest }) => ({ id: manifest.id, startedAt: manifest.startedAt, tags: manifest.tags })),
    retention,
  );
  const doomed = decisions.filter((d) => !d.keep).map((d) => d.id);
  if (!input.dryRun && doomed.length) await quick.deleteBackups({ target: input.target, ids: doomed });
  return { target: input.target, dryRun: input.dryRun, decisions, deleted: input.dryRun ? [] : doomed };
}

export async function freshnessWorkflow(input: FreshnessInput): Promise<FreshnessResult> {
  const [{ freshnessMaxAgeMs }, backups] = await Promise.all([
    quick.targetPolicy({ target: input.target }),
    quick.listBackups({ target: input.target }),
  ]);
  const newest = backups.find((b) => b.verification?.result === 'passed');
  const ageMs = newest ? Date.now() - Date.parse(newest.manifest.startedAt) : undefined;
  const fresh = ageMs !== undefined && ageMs <= freshnessMaxAgeMs;
  let undeliveredNotice: string | undefined;
  if (!fresh) {
    undeliveredNotice = await alarm({
      severity: 'critical',
      title: `No fresh verified backup of ${input.target}`,
      text: newest
        ? `the newest verified backup, ${newest.manifest.id}, is ${formatDuration(ageMs!)} old (limit ${formatDuration(freshnessMaxAgeMs)}): run "lifeboat backup --target ${input.target}" then "lifeboat verify latest --target ${input.target}"`
        : `no backup of ${input.target} has passed verification (limit ${formatDuration(freshnessMaxAgeMs)}): run "lifeboat backup --target ${input.target}" then "lifeboat verify latest --target ${input.target}"`,
    });
  }
  return {
    target: input.target,
    newestVerifiedId: newest?.manifest.id,
    ageMs,
    maxAgeMs: freshnessMaxAgeMs,
    fresh,
    ...(undeliveredNotice ? { undeliveredNotice } : {}),
  };
}
