// The drill's sections of a report: the verdicts first, then each table against the backup, then
// the trend of earlier drills (recovery time against the target, quarter by quarter).
import type { DrillRecord, TrendRow } from '../../common/drills.js';
import { row } from './markdown.js';
import { DRILL_MARKER_TABLE } from '../../common/names.js';
import { formatDuration, formatTime } from '../../common/time.js';

const mark = (verdict: string) =>
  verdict === 'met' || verdict === 'passed' ? `✅ ${verdict}` : verdict === 'not measured' ? verdict : `❌ ${verdict}`;

/** "2026-Q1" for a time. */
export function quarterOf(iso: string): string {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-Q${Math.floor(d.getUTCMonth() / 3) + 1}`;
}

/** Recovery time against the target, e.g. "4 min 10 s of 1 h (7 %)". */
export function recoveryVsTarget(recoveryMs: number | undefined, rtoMs: number): string {
  if (recoveryMs === undefined) return `not measured (RTO ${formatDuration(rtoMs)})`;
  const share = (recoveryMs / rtoMs) * 100;
  return `${formatDuration(recoveryMs)} of ${formatDuration(rtoMs)} (${share < 10 ? +share.toFixed(1) : Math.round(share)} %)`;
}

function trendTable(trend: TrendRow[]): string[] {
  const lines = ['| Quarter | Drill | Date | Level | Recovery time vs RTO | Verdict |', '|---|---|---|---|---:|---|'];
  for (const t of trend)
    lines.push(row(t.quarter, t.drillId, t.date.slice(0, 10), t.level, recoveryVsTarget(t.recoveryMs, t.rtoMs), mark(t.verdict)));
  return lines;
}

export function drillSections(d: DrillRecord): string[] {
  const lines = ['## Drill verdict', '', '| | |', '|---|---|'];
  lines.push(row('Verdict', mark(d.verdict)));
  lines.push(row('Scenario', d.scenario));
  lines.push(row('Incident started (scenario done)', d.declaredAt ? formatTime(d.declaredAt) : 'the scenario did not run'));
  lines.push(row('Recovery time vs RTO', recoveryVsTarget(d.recoveryMs, d.rtoMs)));
  lines.push(row('RTO verdict', mark(d.rtoVerdict)));
  lines.push(
    row(
      'RPO achieved vs RPO',
      d.rpoAchievedMs === undefined
        ? `not measured (RPO ${formatDuration(d.rpoMs)})`
        : `${formatDuration(d.rpoAchievedMs)} of ${formatDuration(d.rpoMs)}`,
    ),
  );
  lines.push(row('RPO verdict', mark(d.rpoVerdict)));
  lines.push(row('Backup', d.backup ? `${d.backup.id} (taken ${formatTime(d.backup.startedAt)})` : 'none usable'));
  lines.push(row('Test database', `${d.testDatabase} (dropped at the end)`));
  lines.push(row('Recovered into', d.recoveredDatabase ?? '—'));
  lines.push(row('Critical functions', d.criticalChecks.join(', ') || 'not run'));
  lines.push(row('Improvements', d.improvements));
  if (d.pointInTime)
    lines.push(
      row(
        `Point-in-time rehearsal (marker rows written on production in ${DRILL_MARKER_TABLE}, removed at the end)`,
        `${d.pointInTime.verdict === 'skipped' ? 'skipped' : mark(d.pointInTime.verdict)} — ${d.pointInTime.detail}`,
      ),
    );
  lines.push('');
  if (d.tables.length) {
    lines.push('### Tables against the backup', '', '| Table | Rows | Manifest | Checksum |', '|---|---:|---:|---|');
    for (const t of d.tables) lines.push(row(t.table, t.rows ?? 'missing', t.expectedRows, t.checksum));
    lines.push('');
  }
  lines.push('## Trend of drills', '');
  lines.push(...(d.trend.length ? trendTable(d.trend) : ['No drills recorded.']), '');
  return lines;
}
