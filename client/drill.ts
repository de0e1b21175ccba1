// Following a drill from a client: each step on screen as it ends, then the verdict. Used by
// `lifeboat drill run` (commands/drills.ts) and the demo; never changes the drill it watches.
import { type Client, type WorkflowHandle, WorkflowFailedError } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { recoveryVsTarget } from '../activities/reports/drill-markdown.js';
import { type DrillResult } from '../common/drills.js';
import { drillIdFor } from '../common/names.js';
import { type StepRecord } from '../common/plans.js';
import { formatDuration } from '../common/time.js';
import type { drillWorkflow } from '../workflows/index.js';
import { drillResultQuery } from '../workflows/messages.js';
import { CliError } from './cli-process.js';
import { rootCause, runAndPlanStatus } from './follow.js';

export function newDrillId(at = new Date()): string {
  return drillIdFor(at, randomBytes(2).toString('hex'));
}

const icon: Partial<Record<StepRecord['status'], string>> = {
  done: '✔',
  failed: '✖',
  rejected: '✖',
  aborted: '⏹',
  skipped: '–',
  waiting: '⏸',
};

function stepLine(step: StepRecord, indent: string): string {
  const took = step.finishedAt ? ` (${formatDuration(Date.parse(step.finishedAt) - Date.parse(step.startedAt))})` : '';
  const detail = step.detail ? ` — ${step.detail.replace(/\s+/g, ' ').slice(0, 140)}` : '';
  return `${indent}${icon[step.status] ?? '•'} ${step.name}${took}${step.actor ? ` [${step.actor}]` : ''}${detail}`;
}

/**
 * Prints each step of the drill and of its plan once it ends (and what waits for a person), until
 * the verdict is known; the optional improvements task may still be open then.
 */
export async function watchDrill(
  client: Client,
  handle: WorkflowHandle<typeof drillWorkflow>,
  write: (line: string) => void = (l) => console.error(l),
): Promise<DrillResult> {
  const shown = new Set<string>();
  let closed: { error: unknown } | undefined;
  const ended = handle.result().then(
    () => undefined,
    (error: unknown) => (closed = { error }),
  );
  for (;;) {
    const { run: drill, plan } = await runAndPlanStatus(client, handle);
    for (const [run, indent] of [
      [drill, '  '],
      [plan, '      '],
    ] as const) {
      for (const [i, step] of (run?.timeline ?? []).entries()) {
        const key = `${run!.workflowId}/${i}/${step.status}`;
        if (step.status === 'running' || shown.has(key)) continue;
        shown.add(key);
        write(stepLine(step, indent));
      }
      for (const w of run?.waiting ?? []) {
        if (shown.has(`${run!.workflowId}/waiting/${w.name}`)) continue;
        shown.add(`${run!.workflowId}/waiting/${w.name}`);
        write(
          `${indent}⏸ waiting for ${w.kind === 'approval' ? `approval "${w.name}" (${w.approvers?.join(', ')})` : `task "${w.name}"`}: ${w.prompt}`,
        );
      }
    }
    const result = await handle.query(drillResultQuery).catch(() => undefined);
    if (result) return result;
    if (closed) {
      const err = closed.error;
      throw new CliError(
        `drill ${handle.workflowId} ${err instanceof WorkflowFailedError ? `ended without a verdict: ${rootCause(err)}` : `could not be followed: ${(err as Error).message}`}`,
        1,
      );
    }
    await Promise.race([ended, new Promise((ok) => setTimeout(ok, 1000))]);
  }
}

export function renderVerdict(r: DrillResult): string[] {
  const d = r.record;
  const lines = [
    `${d.verdict === 'passed' ? '✔' : '✖'} ${d.level} drill ${r.drillId} of ${d.target}: ${d.verdict.toUpperCase()}`,
    `  scenario      : ${d.scenario}`,
    `  recovery time : ${recoveryVsTarget(d.recoveryMs, d.rtoMs)} — RTO ${d.rtoVerdict}`,
    `  RPO           : ${d.rpoAchievedMs !== undefined ? `${formatDuration(d.rpoAchievedMs)} of data at risk` : 'not measured'} — RPO ${d.rpoVerdict}`,
    `  tables        : ${d.tables.length ? `${d.tables.filter((t) => t.checksum === 'match' && t.rows === t.expectedRows).length} of ${d.tables.length} match the backup` : 'not checked'}`,
    `  test database : ${d.testDatabase} (dropped)`,
    ...r.findings.map((f) => `  ✖ ${f.check}: ${f.detail}`),
  ];
  if (r.reportKeys) lines.push(`  report        : ${r.reportKeys.join(', ')}`);
  if (d.improvements === 'open') lines.push(`  improvements  : open — lifeboat complete ${r.drillId} --task improvements --note "…"`);
  return lines;
}
