// Which backup a plan may recover from: the one policy, written once. Pure (no I/O), so it is
// tested on its own; `find-intact.ts` walks its answer, checking the stored bytes.
// Guarantees: newest first; a partial backup (only some tables, a safety snapshot before a table
// restore) is never a candidate for recovering a database; with `verified`, only backups whose
// last test restore passed; with `before`, only backups taken strictly before that moment.
import type { BackupSummary } from '../../common/backups.js';

export interface BackupRule {
  /** Only backups whose last verification (test restore) passed. */
  verified: boolean;
  /** Only backups taken strictly before this ISO time (the data must predate the incident). */
  before?: string;
}

export interface Candidate {
  summary: BackupSummary;
  /** Why the rule refuses this backup; absent when it may be used. */
  refused?: string;
}

function refusal({ manifest, verification }: BackupSummary, rule: BackupRule): string | undefined {
  if (manifest.onlyTables) return `partial: only ${manifest.onlyTables.join(', ')}`;
  if (rule.verified && verification?.result !== 'passed') return verification ? 'failed verification' : 'not verified';
  if (rule.before !== undefined && !(manifest.startedAt < rule.before)) return `taken at or after ${rule.before}`;
  return undefined;
}

/** Every backup, newest first, each with the rule's reason to refuse it (if any). */
export function rankBackups(summaries: readonly BackupSummary[], rule: BackupRule): Candidate[] {
  return [...summaries]
    .sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt))
    .map((summary) => ({ summary, refused: refusal(summary, rule) }));
}
