// Walks the policy's candidates newest first and takes the first whose stored bytes still match
// its manifest (size and SHA-256): the one place backups are checksummed while choosing. Every
// newer backup passed over is returned with the reason, so plans can show what they skipped.
// A backup the plan will read from its kept recovery copy (L1, L2) needs no checksum pass: the copy
// is a restore of it that passed verification, and its dump is not read (a copy gone by the time
// the plan stages is replaced by a download that checks size and SHA-256 on the way).
import type { BackupManifest, BackupSummary, Finding } from '../../common/backups.js';
import { heartbeater } from '../heartbeat.js';
import { checksumFindings } from '../storage/checksum.js';
import type { BackupStore } from '../storage/store.js';
import type { Candidate } from './choice.js';

export interface Skipped {
  id: string;
  reason: string;
  /** refused: by the policy; damaged: its bytes no longer match; unreadable: it could not be read. */
  why: 'refused' | 'damaged' | 'unreadable';
}

export interface IntactSearch {
  store: BackupStore;
  /** A backup that cannot be read is skipped instead of failing the search (and its retries). */
  skipUnreadable: boolean;
  /**
   * Whether the plan reads a candidate from a copy of it rather than from its dump (its kept
   * recovery copy exists): such a candidate is taken without reading its bytes.
   */
  readFromCopy?: (manifest: BackupManifest) => Promise<boolean>;
  /** Told about each damaged backup, with how long the check took (the drill records it as failed verification). */
  onDamaged?: (manifest: BackupManifest, findings: Finding[], durationMs: number) => Promise<void>;
}

/** The newest candidate whose checksum verifies (undefined when none does), and every newer one skipped. */
export async function findIntact(
  candidates: readonly Candidate[],
  search: IntactSearch,
): Promise<{ chosen?: BackupSummary; skipped: Skipped[] }> {
  const beat = heartbeater();
  const skipped: Skipped[] = [];
  for (const { summary, refused } of candidates) {
    const { manifest } = summary;
    if (refused) {
      skipped.push({ id: manifest.id, reason: refused, why: 'refused' });
      continue;
    }
    if (await search.readFromCopy?.(manifest)) return { chosen: summary, skipped };
    const started = Date.now();
    let findings: Finding[];
    try {
      findings = await checksumFindings(search.store, manifest, (bytes) => beat({ phase: `checksumming ${manifest.id}`, bytes }));
    } catch (err) {
      if (!search.skipUnreadable) throw err;
      skipped.push({ id: manifest.id, reason: (err as Error).message, why: 'unreadable' });
      continue;
    }
    if (!findings.length) return { chosen: summary, skipped };
    await search.onDamaged?.(manifest, findings, Date.now() - started);
    skipped.push({ id: manifest.id, reason: findings.map((f) => f.detail).join('; '), why: 'damaged' });
  }
  return { skipped };
}
