// Which backups a grandfather-father-son policy keeps: the newest backup of each of the last N
// days, N ISO weeks and N months that have backups; tagged backups until deleted by name; and
// always the newest backup, whatever its age.
import type { RetentionDecision } from '../common/backups.js';

export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

export interface DatedBackup {
  id: string;
  startedAt: string;
  tags: string[];
}

function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const buckets: Array<[keyof RetentionPolicy, (d: Date) => string]> = [
  ['daily', (d) => d.toISOString().slice(0, 10)],
  ['weekly', isoWeek],
  ['monthly', (d) => d.toISOString().slice(0, 7)],
];

export function planRetention(backups: DatedBackup[], policy: RetentionPolicy): RetentionDecision[] {
  const newestFirst = [...backups].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const reasons = new Map<string, string[]>(newestFirst.map((b) => [b.id, []]));
  for (const [generation, periodOf] of buckets) {
    const seen = new Set<string>();
    for (const backup of newestFirst) {
      const period = periodOf(new Date(backup.startedAt));
      if (seen.has(period)) continue;
      if (seen.size >= policy[generation]) break;
      seen.add(period);
      reasons.get(backup.id)!.push(`${generation} ${period}`);
    }
  }
  for (const backup of newestFirst) {
    if (backup.tags.length) reasons.get(backup.id)!.push(`tagged ${backup.tags.join(', ')}`);
  }
  if (newestFirst[0]) reasons.get(newestFirst[0].id)!.push('newest');
  return newestFirst.map((b) => {
    const why = reasons.get(b.id)!;
    return { id: b.id, startedAt: b.startedAt, keep: why.length > 0, reasons: why.length ? why : ['outside every generation'] };
  });
}
