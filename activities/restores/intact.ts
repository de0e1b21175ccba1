// The checks every recovery makes before it uses a backup: it exists, and its stored bytes still
// match its manifest. A refusal is non-retryable (BackupNotFound, ChecksumMismatch): no retry
// brings a backup back or mends its bytes.
import type { BackupManifest, Finding } from '../../common/backups.js';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { heartbeater } from '../heartbeat.js';
import type { Resolver } from '../resolve.js';
import { checksumFindings } from '../storage/checksum.js';

/** The manifest of a target's backup; refused when the target has no such backup. */
export async function manifestOf(resolve: Resolver, target: string, backupId: string): Promise<BackupManifest> {
  const found = await resolve.catalogOf(target).find(backupId, target);
  if (!found) throw refuse(`no backup "${backupId}" of target "${target}"`, FailureType.backupNotFound);
  return found.manifest;
}

/** Refuses a backup whose stored bytes differ from its manifest (`findings` from a checksum pass). */
export function refuseDamaged(manifest: BackupManifest, findings: Finding[]): void {
  if (findings.length)
    throw refuse(`backup ${manifest.id} cannot be used: ${findings.map((f) => f.detail).join('; ')}`, FailureType.checksumMismatch);
}

/** Reads the stored backup once to check its size and SHA-256; refuses it when they differ. */
export async function assertIntact(resolve: Resolver, manifest: BackupManifest): Promise<void> {
  const beat = heartbeater();
  refuseDamaged(
    manifest,
    await checksumFindings(resolve.storeOf(manifest.target), manifest, (bytes) => beat({ phase: 'checksumming', bytes })),
  );
}
