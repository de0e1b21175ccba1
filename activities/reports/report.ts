// Run reports: what every recovery run and drill leaves behind, for years after Temporal's history
// is gone. Stored in the backup store as reports/<id>/report.json (the record), report.md (for
// people, renders on GitHub) and timeline.svg (the picture the Markdown shows).
import type { BackupStore } from '../storage/store.js';
import { InputError } from '../../common/errors.js';
import { type StepRecord } from '../../common/plans.js';
import { drillSections } from './drill-markdown.js';
import { row } from './markdown.js';
import { formatMargin, rtoActual, rtoSummary, rtoVerdictOf, verdictWord } from '../../common/rto.js';
import { formatDuration, formatTime, timeOf } from '../../common/time.js';
import type { RunReport } from './run-report.js';
import { renderTimelineSvg } from './timeline-svg.js';

export type { RunReport } from './run-report.js';

/** Marks the stored JSON so a reader years from now knows what it holds. */
const FORMAT = 'lifeboat-report/1';
const PREFIX = 'reports/';
const REPORT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KINDS: readonly RunReport['kind'][] = ['incident', 'drill'];

export const TIMELINE_FILE = 'timeline.svg';

/** The keys of a report's three files; refuses ids that could leave reports/<id>/. */
export function reportKeys(id: string): { json: string; markdown: string; svg: string } {
  if (!REPORT_ID.test(id) || id.includes('..')) {
    throw new InputError(`"${id}" cannot name a report: expected letters, digits, ".", "-" or "_" (an incident or drill id)`);
  }
  const folder = `${PREFIX}${id}/`;
  return { json: `${folder}report.json`, markdown: `${folder}report.md`, svg: `${folder}${TIMELINE_FILE}` };
}

// ───────────────────────────── Markdown ─────────────────────────────

/** A time of the run as HH:MM:SS (with the date when it is not the declaration's day) and T+offset. */
function runTime(iso: string | undefined, declaredAt: string): string {
  const t = timeOf(iso);
  if (t === undefined) return iso ?? '';
  const stamp = new Date(t).toISOString();
  const sameDay = stamp.slice(0, 10) === (timeOf(declaredAt) !== undefined ? new Date(timeOf(declaredAt)!).toISOString().slice(0, 10) : '');
  const clock = sameDay ? stamp.slice(11, 19) : `${stamp.slice(0, 10)} ${stamp.slice(11, 19)}`;
  const declared = timeOf(declaredAt);
  if (declared === undefined) return clock;
  const offset = t - declared;
  return `${clock} (T${offset < 0 ? '−' : '+'}${formatDuration(Math.abs(offset))})`;
}

function stepDuration(step: StepRecord, generatedAt: string): string {
  const start = timeOf(step.startedAt);
  const end = timeOf(step.finishedAt);
  if (start === undefined) return '';
  if (end !== undefined) return formatDuration(end - start);
  const now = timeOf(generatedAt);
  return now === undefined ? 'open' : `${formatDuration(Math.max(0, now - start))} so far`;
}

function formatFact(value: string | number): string {
  return typeof value === 'number' ? new Intl.NumberFormat('en-US').format(value) : value;
}

/**
 * Every answer people gave (votes, completions, aborts) with the key that proved it, so an audit
 * years later can match each one against the signature in the run's history and the enrolled key.
 */
function decisionSection(timeline: StepRecord[], declaredAt: string): string[] {
  const decisions = timeline.flatMap((step) => (step.decisions ?? []).map((d) => ({ step: step.name, ...d })));
  if (!decisions.length) return ['## Decisions', '', 'No decisions were recorded.', ''];
  return [
    '## Decisions',
    '',
    'Each answer as the run accepted it; the key is the SSH fingerprint that proved the person (— when the run asked for no proof).',
    '',
    '| Step | Decision | By | At | Key | Via | Reason or note |',
    '|---|---|---|---|---|---|---|',
    ...decisions.map((d) => row(d.step, d.decision, d.by, runTime(d.at, declaredAt), d.fingerprint, d.via, d.text)),
    '',
  ];
}

export function renderMarkdown(report: RunReport, svgFileName: string = TIMELINE_FILE): string {
  const { context, result } = report;
  const rto = result.rto;
  const deadline =
    rto?.deadline ??
    (timeOf(context.declaredAt) !== undefined ? new Date(timeOf(context.declaredAt)! + context.rtoMs).toISOString() : undefined);
  const lines: string[] = [];
  lines.push(`# ${report.title.replace(/\s*[\r\n]+\s*/g, ' ')}`, '');
  // The RTO reads here as `lifeboat status` prints it (common/rto.ts); a run that did not recover has no margin.
  const recovered = result.outcome === 'recovered';
  const verdict = rto ? rtoVerdictOf(rto, result.outcome) : undefined;
  lines.push(
    `${report.kind === 'drill' ? 'Drill' : 'Incident'} \`${report.id}\` — ${result.outcome}.` +
      (rto ? ` ${rtoSummary(rto, result.outcome)}.` : ''),
    '',
  );

  lines.push('## Summary', '', '| | |', '|---|---|');
  lines.push(row('Kind', report.kind));
  lines.push(row('Level', context.level));
  lines.push(row('Target', context.target));
  lines.push(row('Summary', context.summary));
  lines.push(row('Declared by', context.declaredBy));
  lines.push(row('Declared at', formatTime(context.declaredAt)));
  lines.push(row('Outcome', result.detail ? `${result.outcome}: ${result.detail}` : result.outcome));
  lines.push(row('RTO target', `${formatDuration(rto?.targetMs ?? context.rtoMs)} (deadline ${formatTime(deadline)})`));
  lines.push(
    row('Actual', !rto ? 'not measured' : recovered ? formatDuration(rto.actualMs) : `not recovered: ${rtoActual(rto, result.outcome)}`),
  );
  lines.push(row('Margin', !rto ? 'not measured' : recovered ? formatMargin(rto.marginMs) : 'none: the run did not recover'));
  lines.push(row('Verdict', verdict ? `${verdict === 'met' ? '✅' : '❌'} ${verdictWord(verdict)}` : 'not measured'));
  lines.push(
    row(
      'RPO achieved',
      !recovered && rto
        ? 'none: the run did not recover'
        : rto?.rpoAchievedMs !== undefined
          ? `${formatDuration(rto.rpoAchievedMs)} of data written before the incident was lost`
          : 'no backup used',
    ),
  );
  lines.push(row('Backup used', result.backupUsed ? `${result.backupUsed.id} (taken ${formatTime(result.backupUsed.startedAt)})` : 'none'));
  const cluster = result.recoveredCluster;
  if (cluster)
    lines.push(
      row(
        'Recovered cluster',
        `database ${cluster.database} on ${cluster.host}:${cluster.port}, data directory ${cluster.dataDir}, as of ${formatTime(cluster.recoveredTo)} (restored with archiving off: give it a stanza of its own)`,
      ),
    );
  for (const point of result.restorePoints ?? [])
    lines.push(row('Restore point', `${point.name} at ${point.lsn} (${formatTime(point.createdAt)}), before "${point.step}"`));
  lines.push(row('Report generated', formatTime(report.generatedAt)));
  lines.push('');
  if (report.drill) lines.push(...drillSections(report.drill));

  lines.push('## Timeline', '', `![timeline](${svgFileName})`, '');

  lines.push('## Steps', '');
  if (result.timeline.length) {
    lines.push(
      'Times are UTC; T+ counts from the declaration.',
      '',
      '| # | Step | Kind | Status | Started | Finished | Duration | Actor | Detail |',
      '|---:|---|---|---|---|---|---:|---|---|',
    );
    result.timeline.forEach((step, i) => {
      lines.push(
        row(
          i + 1,
          step.name,
          step.kind,
          step.status,
          runTime(step.startedAt, context.declaredAt),
          step.finishedAt ? runTime(step.finishedAt, context.declaredAt) : 'still open',
          stepDuration(step, report.generatedAt),
          step.actor,
          step.detail,
        ),
      );
    });
  } else {
    lines.push('No steps were recorded.');
  }
  lines.push('');

  lines.push(...decisionSection(result.timeline, context.declaredAt));

  lines.push('## Findings', '');
  if (report.findings?.length) {
    lines.push('| Check | Detail |', '|---|---|');
    for (const f of report.findings) lines.push(row(f.check, f.detail));
  } else {
    lines.push('None.');
  }
  lines.push('');

  const facts = Object.entries(report.extra ?? {});
  if (facts.length) {
    lines.push('## Facts', '', '| Fact | Value |', '|---|---:|');
    for (const [name, value] of facts) lines.push(row(name, formatFact(value)));
    lines.push('');
  }
  return lines.join('\n');
}

// ───────────────────────────── Storage ─────────────────────────────

/** Writes reports/<id>/report.json, report.md, timeline.svg; returns the keys. Idempotent (overwrites). */
export async function writeReport(store: BackupStore, report: RunReport): Promise<string[]> {
  const keys = reportKeys(report.id);
  await Promise.all([
    store.putText(keys.svg, renderTimelineSvg(report)),
    store.putText(keys.markdown, renderMarkdown(report, TIMELINE_FILE)),
  ]);
  // The record goes last: a report that lists has its Markdown and picture beside it.
  await store.putText(keys.json, `${JSON.stringify({ format: FORMAT, ...report }, null, 2)}\n`);
  return [keys.json, keys.markdown, keys.svg];
}

function parseReport(text: string, key: string): RunReport {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${key} is not valid JSON: ${(err as Error).message}`);
  }
  const r = raw as Partial<RunReport> & { format?: unknown };
  const problem =
    typeof raw !== 'object' || raw === null
      ? 'not an object'
      : r.format !== undefined && r.format !== FORMAT
        ? `unknown format ${JSON.stringify(r.format)} (this version reads ${FORMAT})`
        : !KINDS.includes(r.kind as RunReport['kind'])
          ? 'no kind'
          : typeof r.id !== 'string'
            ? 'no id'
            : typeof r.context !== 'object' || r.context === null
              ? 'no context'
              : typeof r.result !== 'object' || r.result === null || !Array.isArray(r.result.timeline)
                ? 'no result timeline'
                : undefined;
  if (problem) throw new Error(`${key} is not a Lifeboat run report: ${problem}`);
  const { format: _format, ...report } = r;
  return report as RunReport;
}

export async function readReport(store: BackupStore, id: string): Promise<RunReport | undefined> {
  const { json } = reportKeys(id);
  const text = await store.getText(json);
  return text === undefined ? undefined : parseReport(text, json);
}

/** Every report of a kind, oldest first by declaration time (reads reports/*\/report.json). */
export async function listReports(store: BackupStore, kind?: RunReport['kind']): Promise<RunReport[]> {
  const keys = (await store.list(PREFIX))
    .map((o) => o.key)
    .filter((key) => /^reports\/[^/]+\/report\.json$/.test(key))
    .sort();
  const reports: RunReport[] = [];
  const BATCH = 8;
  for (let i = 0; i < keys.length; i += BATCH) {
    const batch = await Promise.all(
      keys.slice(i, i + BATCH).map(async (key) => {
        const text = await store.getText(key);
        return text === undefined ? undefined : parseReport(text, key);
      }),
    );
    for (const r of batch) if (r && (!kind || r.kind === kind)) reports.push(r);
  }
  const when = (r: RunReport) => timeOf(r.context.declaredAt) ?? timeOf(r.generatedAt) ?? 0;
  return reports.sort(
    (a, b) => when(a) - when(b) || (timeOf(a.generatedAt) ?? 0) - (timeOf(b.generatedAt) ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}
