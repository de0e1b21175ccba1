// The one policy for which backup a plan recovers from (activities/backups/choice.ts): pure, so
// tested without servers. The plans' own tests (levels, level1, drill) cover it end to end.
import { describe, expect, it } from 'vitest';
import type { BackupManifest, BackupSummary } from '../common/backups.js';
import { rankBackups } from '../activities/backups/choice.js';

function backup(id: string, startedAt: string, extra: { verified?: 'passed' | 'failed'; onlyTables?: string[] } = {}): BackupSummary {
  const manifest = {
    id,
    target: 'crm',
    startedAt,
    tables: { crm_leads: 1 },
    tags: [],
    ...(extra.onlyTables ? { onlyTables: extra.onlyTables } : {}),
  };
  const summary: BackupSummary = { manifest: manifest as unknown as BackupManifest };
  if (extra.verified)
    summary.verification = { backupId: id, verifiedAt: startedAt, result: extra.verified, durationMs: 1, tables: {}, findings: [] };
  return summary;
}

const old = backup('old', '2026-11-01T00:00:00Z', { verified: 'passed' });
const partial = backup('partial', '2026-11-02T00:00:00Z', { verified: 'passed', onlyTables: ['crm_leads'] });
const failed = backup('failed', '2026-11-03T00:00:00Z', { verified: 'failed' });
const unverified = backup('unverified', '2026-11-04T00:00:00Z');
const newest = backup('newest', '2026-11-05T00:00:00Z', { verified: 'passed' });
const all = [old, partial, newest, unverified, failed];

const ranked = (rule: Parameters<typeof rankBackups>[1]) =>
  rankBackups(all, rule).map((c) => [c.summary.manifest.id, c.refused ?? 'usable']);

describe('which backup a plan may recover from', () => {
  it('ranks newest first and never offers a partial backup, whatever the rule', () => {
    expect(ranked({ verified: false })).toEqual([
      ['newest', 'usable'],
      ['unverified', 'usable'],
      ['failed', 'usable'],
      ['partial', 'partial: only crm_leads'],
      ['old', 'usable'],
    ]);
  });

  it('with `verified`, refuses backups never verified or whose verification failed', () => {
    const verdicts = Object.fromEntries(ranked({ verified: true }));
    expect(verdicts).toMatchObject({ newest: 'usable', unverified: 'not verified', failed: 'failed verification', old: 'usable' });
  });

  it('with `before`, refuses backups taken at or after that moment (the data must predate the incident)', () => {
    const rule = { verified: true, before: '2026-11-05T00:00:00Z' };
    expect(ranked(rule)[0]).toEqual(['newest', 'taken at or after 2026-11-05T00:00:00Z']);
    expect(rankBackups(all, rule).find((c) => !c.refused)?.summary.manifest.id).toBe('old');
  });

  it('does not reorder or change the list it is given', () => {
    const copy = [...all];
    rankBackups(all, { verified: true });
    expect(all).toEqual(copy);
  });
});
