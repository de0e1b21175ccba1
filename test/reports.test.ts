// Run reports: what a recovery leaves in the backup store for years. The JSON must read back as
// written, the Markdown must say how the run went, and the timeline must be a valid SVG whose
// geometry matches the run's times.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listReports, readReport, renderMarkdown, type RunReport, writeReport } from '../activities/reports/report.js';
import { renderTimelineSvg } from '../activities/reports/timeline-svg.js';
import { rtoSummary } from '../common/rto.js';
import { formatDuration } from '../common/time.js';
import { LocalStore } from '../activities/storage/local.js';
import { InputError } from '../common/errors.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * An L1 incident declared at 04:05:12 whose first step starts 10 minutes later. Met: the last step
 * ends at +42 min (18 min to spare). Missed: every step takes 1.6 times as long (+67 min 12 s).
 */
function sampleReport(options: { missed?: boolean; id?: string; declaredAt?: string; kind?: RunReport['kind'] } = {}): RunReport {
  const declaredAt = options.declaredAt ?? '2026-11-22T04:05:12.000Z';
  const declared = Date.parse(declaredAt);
  const k = options.missed ? 1.6 : 1;
  const at = (min: number) => new Date(declared + min * MINUTE).toISOString();
  const id = options.id ?? 'inc-20261122-040512-ab12';
  const backupAt = new Date(declared - 2 * HOUR - 5 * MINUTE).toISOString();
  const actualMs = 42 * k * MINUTE;
  return {
    kind: options.kind ?? 'incident',
    id,
    title: `L1 incident ${id}: 7 leads deleted by a bad script`,
    context: {
      incidentId: id,
      level: 'L1',
      target: 'crm',
      summary: '7 leads deleted by a bad script',
      declaredBy: 'alice',
      declaredAt,
      rtoMs: HOUR,
      approvals: { approvers: ['bob', 'carol'], gates: {}, selfApproval: false },
    },
    result: {
      outcome: 'recovered',
      detail: '7 leads restored from crm-20261122T020000Z',
      backupUsed: { id: 'crm-20261122T020000Z', startedAt: backupAt },
      rto: {
        targetMs: HOUR,
        deadline: at(60),
        actualMs,
        marginMs: HOUR - actualMs,
        verdict: actualMs <= HOUR ? 'met' : 'missed',
        rpoAchievedMs: declared - Date.parse(backupAt),
      },
      timeline: [
        {
          name: 'identify affected records',
          kind: 'automated',
          status: 'done',
          startedAt: at(10),
          finishedAt: at(10.5),
          detail: '7 rows in crm_leads',
        },
        {
          name: 'stage the backup <script>alert(1)</script>',
          kind: 'automated',
          status: 'done',
          startedAt: at(10.5),
          finishedAt: at(16 * k),
        },
        {
          name: 'approve restore',
          kind: 'approval',
          status: 'rejected',
          startedAt: at(16 * k),
          finishedAt: at(22 * k),
          actor: 'carol',
          detail: 'wrong backup |\nuse the 02:00 one',
        },
        { name: 'approve restore again', kind: 'approval', status: 'done', startedAt: at(22 * k), finishedAt: at(30 * k), actor: 'bob' },
        { name: 'apply the restore', kind: 'automated', status: 'done', startedAt: at(30 * k), finishedAt: at(36 * k) },
        { name: 'verify fix', kind: 'automated', status: 'aborted', startedAt: at(36 * k), finishedAt: at(38 * k) },
        {
          name: 'confirm with the sales team',
          kind: 'human',
          status: 'done',
          startedAt: at(38 * k),
          finishedAt: at(42 * k),
          actor: 'alice',
        },
        { name: 'post-incident review', kind: 'human', status: 'waiting', startedAt: at(42 * k) },
      ],
    },
    generatedAt: at(45 * k),
    findings: [{ check: 'activities of a missing lead', detail: '0 rows | none' }],
    extra: { 'rows restored': 7, 'rows snapshotted': 12345 },
  };
}

type XmlNode = Record<string, unknown>;

/** Every element with the given tag name, anywhere in a parsed document. */
function elements(node: unknown, tag: string, found: XmlNode[] = []): XmlNode[] {
  if (Array.isArray(node)) for (const child of node) elements(child, tag, found);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === tag) for (const el of value as XmlNode[]) found.push(el);
      if (!key.startsWith('@_')) elements(value, tag, found);
    }
  }
  return found;
}

function parseSvg(svg: string): XmlNode {
  const valid = XMLValidator.validate(svg);
  expect(valid).toBe(true);
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
  }).parse(svg) as XmlNode;
}

const num = (el: XmlNode, attr: string) => Number(el[`@_${attr}`]);
const escapeXmlText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

describe('formatDuration', () => {
  it('writes durations the way people do', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(400)).toBe('< 1 s');
    expect(formatDuration(45_000)).toBe('45 s');
    expect(formatDuration(12 * MINUTE + 5_000)).toBe('12 min 5 s');
    expect(formatDuration(HOUR + 12 * MINUTE + 40_000)).toBe('1 h 12 min');
    expect(formatDuration(72 * HOUR)).toBe('72 h');
    expect(formatDuration(-90_000)).toBe('−1 min 30 s');
  });
});

describe('run reports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-reports-'));
  const store = new LocalStore('reports', { type: 'local', path: dir, prefix: 'store' });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes exactly the JSON, Markdown and SVG under reports/<id>/, and the JSON reads back as written', async () => {
    const report = sampleReport();
    const keys = await writeReport(store, report);
    const expected = [
      'reports/inc-20261122-040512-ab12/report.json',
      'reports/inc-20261122-040512-ab12/report.md',
      'reports/inc-20261122-040512-ab12/timeline.svg',
    ];
    expect(keys).toEqual(expected);
    expect((await store.list('')).map((o) => o.key).sort()).toEqual(expected);

    expect(await readReport(store, report.id)).toEqual(report);
    expect(await store.getText(expected[1]!)).toBe(renderMarkdown(report, 'timeline.svg'));
    expect(await store.getText(expected[2]!)).toBe(renderTimelineSvg(report));

    // Idempotent: writing again overwrites in place.
    expect(await writeReport(store, report)).toEqual(expected);
    expect((await store.list('')).map((o) => o.key).sort()).toEqual(expected);
    expect(await readReport(store, report.id)).toEqual(report);
  });

  it('reads nothing for an unknown id and refuses ids that would leave the reports folder', async () => {
    expect(await readReport(store, 'inc-20200101-000000-zzzz')).toBeUndefined();
    await expect(readReport(store, '../backups')).rejects.toBeInstanceOf(InputError);
    await expect(writeReport(store, { ...sampleReport(), id: 'a/../../b' })).rejects.toBeInstanceOf(InputError);
  });

  it('renders Markdown with the verdict, margin, RPO, backup, every step, the picture and escaped cells', () => {
    const met = renderMarkdown(sampleReport(), 'timeline.svg');
    expect(met).toMatch(/^# L1 incident inc-20261122-040512-ab12: 7 leads deleted by a bad script\n/);
    expect(met).toContain('| Verdict | ✅ met |');
    expect(met).toContain('| Margin | 18 min to spare |');
    expect(met).toContain('| Actual | 42 min |');
    expect(met).toContain('| RTO target | 1 h (deadline 2026-11-22 05:05:12 UTC) |');
    expect(met).toContain('| RPO achieved | 2 h 5 min');
    expect(met).toContain('| Backup used | crm-20261122T020000Z (taken 2026-11-22 02:00:12 UTC) |');
    expect(met).toContain('| Declared at | 2026-11-22 04:05:12 UTC |');
    expect(met).toContain('![timeline](timeline.svg)');
    for (const step of sampleReport().result.timeline) {
      const name = step.name.replace(/</g, '&lt;').replace(/>/g, '&gt;');
      expect(met).toContain(`| ${name} | ${step.kind} | ${step.status} |`);
    }
    // Started 10 minutes after the declaration; the open step counts up to the report's time.
    expect(met).toContain(
      '| 1 | identify affected records | automated | done | 04:15:12 (T+10 min) | 04:15:42 (T+10 min 30 s) | 30 s | — | 7 rows in crm_leads |',
    );
    expect(met).toContain('| still open | 3 min so far |');
    // Cells stay one line and keep their pipes as text.
    expect(met).toContain('| wrong backup \\|<br>use the 02:00 one |');
    expect(met).toContain('| activities of a missing lead | 0 rows \\| none |');
    expect(met).toContain('| rows snapshotted | 12,345 |');
    expect(met).not.toContain('<script>');

    const missed = renderMarkdown(sampleReport({ missed: true }), 'timeline.svg');
    expect(missed).toContain('| Verdict | ❌ missed |');
    expect(missed).toContain('| Margin | 7 min 12 s over the target |');
    expect(missed).toContain('| Actual | 1 h 7 min |');
  });

  it('reads a run that did not recover as "not achieved", with no margin, also from a result recorded before that verdict', () => {
    const failedAt = (report: RunReport): RunReport => ({
      ...report,
      result: { ...report.result, outcome: 'failed', detail: 'no verified, intact backup of crm' },
    });
    // As recorded before: a failed run's RTO "missed", with the time left before the deadline as its "margin".
    const old = failedAt(sampleReport());
    expect(old.result.rto).toMatchObject({ verdict: 'met', marginMs: 18 * MINUTE });
    const recorded = { ...old, result: { ...old.result, rto: { ...old.result.rto!, verdict: 'missed' as const } } };
    const current = { ...old, result: { ...old.result, rto: { ...old.result.rto!, verdict: 'not-recovered' as const } } };
    for (const report of [recorded, current]) {
      const md = renderMarkdown(report, 'timeline.svg');
      const line = 'RTO 1 h: not achieved — the recovery failed after 42 min (deadline 2026-11-22 05:05:12 UTC)';
      expect(md).toContain(`Incident \`inc-20261122-040512-ab12\` — failed. ${line}.`);
      expect(rtoSummary(report.result.rto, 'failed')).toBe(line);
      expect(md).toContain('| Verdict | ❌ not achieved |');
      expect(md).toContain('| Actual | not recovered: the recovery failed after 42 min (deadline 2026-11-22 05:05:12 UTC) |');
      expect(md).toContain('| Margin | none: the run did not recover |');
      expect(md).toContain('| RPO achieved | none: the run did not recover |');
      expect(md).not.toMatch(/to spare|over the target|missed/);
      expect(renderTimelineSvg(report)).toContain(escapeXmlText(line));
    }
    const rejected = { ...current, result: { ...current.result, outcome: 'rejected' as const } };
    expect(renderMarkdown(rejected)).toContain('RTO 1 h: not achieved — the recovery was rejected after 42 min');
  });

  for (const missed of [false, true]) {
    it(`draws a valid SVG with one bar per step and the RTO line at the deadline (RTO ${missed ? 'missed' : 'met'})`, () => {
      const report = sampleReport({ missed });
      const svg = renderTimelineSvg(report);
      expect(renderTimelineSvg(report)).toBe(svg); // deterministic
      const doc = parseSvg(svg);
      const root = (doc.svg as XmlNode[])[0]!;
      expect(root['@_xmlns']).toBe('http://www.w3.org/2000/svg');
      expect(root['@_version']).toBe('1.1');

      const bars = elements(doc, 'rect').filter((r) => r['@_class'] === 'bar');
      expect(bars).toHaveLength(report.result.timeline.length);
      const lines = elements(doc, 'line');
      const line = (cls: string) => {
        const found = lines.filter((l) => l['@_class'] === cls);
        expect(found, cls).toHaveLength(1);
        return found[0]!;
      };
      // The axis starts at the declaration; the first bar starts 10 minutes later, so the
      // deadline (60 minutes after the declaration) lies six times as far from the origin.
      const origin = num(line('declared'), 'x1');
      const first = num(bars[0]!, 'x');
      expect(first).toBeGreaterThan(origin);
      const rtoX = num(line('rto-deadline'), 'x1');
      expect(num(line('rto-deadline'), 'x2')).toBe(rtoX);
      expect(rtoX).toBeCloseTo(origin + 6 * (first - origin), 0);
      expect(num(line('rto-50'), 'x1')).toBeCloseTo(origin + 3 * (first - origin), 0);
      expect(num(line('rto-80'), 'x1')).toBeCloseTo(origin + 4.8 * (first - origin), 0);
      expect(line('rto-deadline')['@_stroke-dasharray']).toBeTruthy();
      expect(svg).toContain('>RTO 1 h</text>');

      // The last (open) bar ends at the report time, after the deadline when the RTO was missed.
      const last = bars[bars.length - 1]!;
      const lastEnd = num(last, 'x') + num(last, 'width');
      const reportMinutes = missed ? 72 : 45;
      expect(lastEnd).toBeCloseTo(origin + (reportMinutes / 10) * (first - origin), 0);
      expect(lastEnd > rtoX).toBe(missed);

      // Human and approval steps are hatched; colours follow the status.
      const fills = bars.map((b) => b['@_fill']);
      expect(fills).toEqual([
        '#2f9e44',
        '#2f9e44',
        'url(#hatch-red)',
        'url(#hatch-green)',
        '#2f9e44',
        '#868e96',
        'url(#hatch-green)',
        'url(#hatch-amber)',
      ]);

      // Names are escaped, never markup.
      expect(svg).not.toContain('<script>');
      expect(svg).toContain('&lt;script&gt;');
    });
  }

  it('draws a valid SVG for a run without steps', () => {
    const report = sampleReport();
    const empty = { ...report, result: { ...report.result, timeline: [] } };
    const doc = parseSvg(renderTimelineSvg(empty));
    expect(elements(doc, 'rect').filter((r) => r['@_class'] === 'bar')).toHaveLength(0);
    expect(elements(doc, 'line').filter((l) => l['@_class'] === 'rto-deadline')).toHaveLength(1);
  });

  it('lists reports oldest first and filters them by kind', async () => {
    const listStore = new LocalStore('list', { type: 'local', path: dir, prefix: 'list-store' });
    expect(await listReports(listStore)).toEqual([]);
    const middle = sampleReport({ id: 'inc-20261122-040512-bbbb', declaredAt: '2026-11-22T04:05:12.000Z' });
    const newest = sampleReport({ id: 'drill-20261201-090000', declaredAt: '2026-12-01T09:00:00.000Z', kind: 'drill' });
    const oldest = sampleReport({ id: 'inc-20261122-040512-zzzz', declaredAt: '2026-10-01T12:00:00.000Z' });
    for (const r of [middle, newest, oldest]) await writeReport(listStore, r);
    // A file that is not a report's record is not read.
    await listStore.putText('reports/notes.txt', 'not a report');

    expect((await listReports(listStore)).map((r) => r.id)).toEqual([oldest.id, middle.id, newest.id]);
    expect((await listReports(listStore, 'incident')).map((r) => r.id)).toEqual([oldest.id, middle.id]);
    expect(await listReports(listStore, 'drill')).toEqual([newest]);
  });
});
