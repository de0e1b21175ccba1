// Writes a drill's report: the run report (kind "drill") with the drill's record, whose trend is
// read from the earlier drill reports of the same target in the store.
import { type DrillRecord, type TrendRow } from '../../common/drills.js';
import { type Finding } from '../../common/backups.js';
import { type RunContext, type RunResult } from '../../common/plans.js';
import type { BackupStore } from '../storage/store.js';
import { quarterOf } from './drill-markdown.js';
import { type RunReport, listReports, writeReport } from './report.js';

export function trendRow(d: DrillRecord, at: string): TrendRow {
  return {
    quarter: quarterOf(at),
    drillId: d.drillId,
    date: at,
    level: d.level,
    recoveryMs: d.recoveryMs,
    rtoMs: d.rtoMs,
    verdict: d.verdict,
  };
}

/** Every drill of a target the store holds, oldest first (reports without a drill record are skipped). */
export async function listDrills(store: BackupStore, target?: string): Promise<{ report: RunReport; drill: DrillRecord }[]> {
  return (await listReports(store, 'drill'))
    .filter((r) => r.drill && (!target || r.drill.target === target))
    .map((report) => ({ report, drill: report.drill! }));
}

export async function writeDrillReport(
  store: BackupStore,
  input: { context: RunContext; result: RunResult; record: DrillRecord; findings: Finding[]; workflowId: string },
): Promise<{ keys: string[]; trend: TrendRow[] }> {
  const { context, record } = input;
  const earlier = (await listDrills(store, record.target)).filter((d) => d.drill.drillId !== record.drillId);
  const trend = [...earlier.map((d) => trendRow(d.drill, d.report.context.declaredAt)), trendRow(record, context.declaredAt)];
  const report: RunReport = {
    kind: 'drill',
    id: record.drillId,
    title: `${record.level} drill ${record.drillId}: ${record.verdict.toUpperCase()}`,
    context,
    result: input.result,
    generatedAt: new Date().toISOString(),
    findings: input.findings,
    extra: { workflow: input.workflowId, 'test database': record.testDatabase },
    drill: { ...record, trend },
  };
  return { keys: await writeReport(store, report), trend };
}
