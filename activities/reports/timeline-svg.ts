// The timeline picture of a run report: one row per step on a time axis that starts when the
// incident was declared, with the RTO deadline and its 50 % / 80 % warnings drawn across.
// Hand-written SVG 1.1 (no dependency), deterministic: the same report gives the same bytes,
// and nothing in it depends on the clock or the machine ("now" is the report's generatedAt).
import type { Outcome, RunResult, StepRecord, StepStatus } from '../../common/plans.js';
import { formatDuration, formatTime, timeOf } from '../../common/time.js';
import { rtoSummary } from '../../common/rto.js';
import type { RunReport } from './run-report.js';

/** What the picture is drawn from: a report, or (the board) a run still going, which has no outcome yet. */
type TimelineSource = Pick<RunReport, 'title' | 'kind' | 'context' | 'generatedAt'> & {
  result: Pick<RunResult, 'timeline' | 'rto'> & { outcome?: Outcome };
};

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ───────────────────────────── Geometry ─────────────────────────────

const WIDTH = 1000;
const PAD = 16;
const LABEL_RIGHT = 262; // right edge of the step-name column (the kind tag is right-aligned here)
const PLOT_LEFT = 280;
const PLOT_RIGHT = 960;
const ROWS_TOP = 86;
const ROW_HEIGHT = 26;
const BAR_HEIGHT = 14;
const CHAR_WIDTH = 6.4; // average advance of a 12 px sans-serif character, for fitting text

const FONT = "-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

interface Palette {
  fill: string;
  label: string;
}

const PALETTE: Record<StepStatus, Palette> = {
  done: { fill: '#2f9e44', label: 'done' },
  failed: { fill: '#e03131', label: 'failed' },
  rejected: { fill: '#e03131', label: 'rejected' },
  aborted: { fill: '#868e96', label: 'aborted' },
  running: { fill: '#f59f00', label: 'running' },
  waiting: { fill: '#f59f00', label: 'waiting' },
  skipped: { fill: '#dee2e6', label: 'skipped' },
};

/** The fills that get a hatched variant for human tasks and approval gates. */
const HATCHED: Record<string, string> = {
  green: '#2f9e44',
  red: '#e03131',
  grey: '#868e96',
  amber: '#f59f00',
  light: '#dee2e6',
};

const RTO_RED = '#c92a2a';
const WARN_COLOUR = '#e8590c';

/** Numbers with at most one decimal and no "-0", so output is stable across platforms. */
function n(value: number): string {
  const r = Math.round(value * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Text safe inside XML content and attribute values; characters XML 1.0 forbids are dropped. */
export function escapeXml(text: string): string {
  // XML 1.0 forbids the control characters: they are dropped, not escaped.
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/[\r\n\t]+/g, ' ')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

/** Shortens text to at most `max` characters, ending with an ellipsis when cut. */
function fit(text: string, max: number): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  if (chars.length <= max) return chars.join('');
  return `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

const TICK_STEPS = [
  SECOND,
  2 * SECOND,
  5 * SECOND,
  10 * SECOND,
  15 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  20 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  4 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  28 * DAY,
];

/** The smallest round step that gives at most eight intervals over the span. */
function tickStep(spanMs: number): number {
  for (const step of TICK_STEPS) if (spanMs / step <= 8) return step;
  return Math.ceil(spanMs / 8 / (28 * DAY)) * 28 * DAY;
}

interface PlacedStep {
  step: StepRecord;
  start: number;
  end: number;
  open: boolean;
}

/** Times of the picture, all in epoch milliseconds. */
export interface TimelineTimes {
  /** Left edge: the declaration (or an earlier step start, should one exist). */
  origin: number;
  /** Right edge: the later of the last step end (open steps end at the report time) and the RTO deadline. */
  end: number;
  deadline: number;
  /** The report's time: where steps still open are drawn to. */
  now: number;
  steps: PlacedStep[];
}

export function timelineTimes(report: TimelineSource): TimelineTimes {
  const declared = timeOf(report.context.declaredAt);
  const now = timeOf(report.generatedAt);
  const starts = report.result.timeline.map((s) => timeOf(s.startedAt)).filter((t): t is number => t !== undefined);
  const origin = Math.min(declared ?? Infinity, ...starts, now ?? Infinity);
  const base = Number.isFinite(origin) ? origin : 0;
  const reportNow = now ?? Math.max(base, ...starts);
  const rtoMs = report.result.rto?.targetMs ?? report.context.rtoMs;
  const deadline = timeOf(report.result.rto?.deadline) ?? (declared ?? base) + rtoMs;
  const steps = report.result.timeline.map((step): PlacedStep => {
    const start = timeOf(step.startedAt) ?? base;
    const finished = timeOf(step.finishedAt);
    const open = finished === undefined;
    return { step, start, end: Math.max(start, finished ?? reportNow), open };
  });
  const lastEnd = Math.max(base, ...steps.map((s) => s.end));
  const end = Math.max(lastEnd, deadline, base + SECOND);
  return { origin: base, end, deadline, now: reportNow, steps };
}

function barFill(step: StepRecord): string {
  const colour = PALETTE[step.status]?.fill ?? '#adb5bd';
  if (step.kind !== 'human' && step.kind !== 'approval') return colour;
  const name = Object.entries(HATCHED).find(([, c]) => c === colour)?.[0];
  return name ? `url(#hatch-${name})` : colour;
}

function stepNote(p: PlacedStep): string {
  const parts = [formatDuration(p.end - p.start)];
  if (p.open) parts[0] = `${parts[0]} so far`;
  if (p.step.status !== 'done') parts.push(PALETTE[p.step.status]?.label ?? p.step.status);
  if (p.step.actor) parts.push(p.step.actor);
  return parts.join(' · ');
}

/** The report's timeline as a standalone SVG 1.1 document. */
export function renderTimelineSvg(report: TimelineSource): string {
  const times = timelineTimes(report);
  const span = times.end - times.origin;
  const plotWidth = PLOT_RIGHT - PLOT_LEFT;
  const x = (t: number) => PLOT_LEFT + ((t - times.origin) / span) * plotWidth;
  const rows = Math.max(1, times.steps.length);
  const rowsBottom = ROWS_TOP + rows * ROW_HEIGHT;
  const axisY = rowsBottom + 6;
  const legendY = axisY + 54;
  const height = legendY + 22;
  const rtoMs = report.result.rto?.targetMs ?? report.context.rtoMs;
  const declared = timeOf(report.context.declaredAt) ?? times.origin;

  const out: string[] = [];
  const push = (line: string) => out.push(line);

  push('<?xml version="1.0" encoding="UTF-8"?>');
  push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${WIDTH}" height="${n(height)}" viewBox="0 0 ${WIDTH} ${n(height)}" font-family="${escapeXml(FONT)}" font-size="12">`,
  );
  push(`<title>${escapeXml(`Timeline of ${report.title}`)}</title>`);
  push('<defs>');
  for (const [name, colour] of Object.entries(HATCHED)) {
    push(
      `<pattern id="hatch-${name}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">` +
        `<rect width="6" height="6" fill="${colour}"/><rect width="2.5" height="6" fill="#ffffff" fill-opacity="0.55"/></pattern>`,
    );
  }
  push('</defs>');
  push(`<rect width="${WIDTH}" height="${n(height)}" fill="#ffffff"/>`);

  // Heading: the title, and one line saying how it went.
  push(`<text x="${PAD}" y="26" font-size="16" font-weight="bold" fill="#212529">${escapeXml(fit(report.title, 110))}</text>`);
  const rto = report.result.rto;
  const { outcome } = report.result;
  const verdict = rto && outcome ? rtoSummary(rto, outcome) : `RTO ${formatDuration(rtoMs)}: ${outcome ? 'not measured' : 'clock running'}`;
  const subtitle = [
    `${report.context.level} ${report.kind}`,
    `target ${report.context.target}`,
    outcome ? `outcome ${outcome}` : 'in progress',
    verdict,
    `declared ${formatTime(report.context.declaredAt)}`,
  ].join('  ·  ');
  push(`<text x="${PAD}" y="46" fill="#495057">${escapeXml(fit(subtitle, 150))}</text>`);

  // Alternate row shading and the band before the run started.
  for (let i = 0; i < rows; i++) {
    if (i % 2 === 1)
      push(`<rect x="${PAD / 2}" y="${n(ROWS_TOP + i * ROW_HEIGHT)}" width="${WIDTH - PAD}" height="${ROW_HEIGHT}" fill="#f8f9fa"/>`);
  }
  const firstStart = Math.min(...times.steps.map((s) => s.start));
  if (times.steps.length && firstStart > declared) {
    push(
      `<rect class="before-run" x="${n(x(declared))}" y="${ROWS_TOP}" width="${n(x(firstStart) - x(declared))}" height="${n(rows * ROW_HEIGHT)}" fill="#e9ecef" fill-opacity="0.7">` +
        `<title>${escapeXml(`declared ${formatDuration(firstStart - declared)} before the run's first step`)}</title></rect>`,
    );
  }

  // Past the deadline the background turns faintly red.
  if (times.end > times.deadline) {
    push(
      `<rect class="over-rto" x="${n(x(times.deadline))}" y="${ROWS_TOP}" width="${n(PLOT_RIGHT - x(times.deadline))}" height="${n(rows * ROW_HEIGHT)}" fill="#e03131" fill-opacity="0.06"/>`,
    );
  }

  // Time axis: grid lines and labels relative to the declaration, with the UTC clock below.
  const step = tickStep(span);
  push(`<line x1="${PLOT_LEFT}" y1="${n(axisY)}" x2="${PLOT_RIGHT}" y2="${n(axisY)}" stroke="#adb5bd" stroke-width="1"/>`);
  // Ticks at round offsets from the declaration, also when steps began before it (a drill prepares first).
  for (let at = declared + Math.ceil((times.origin - declared) / step) * step; at <= times.end + 1; at += step) {
    const tx = x(at);
    const rel = at - declared;
    const label = rel === 0 ? 'declared' : `${rel > 0 ? '+' : ''}${formatDuration(rel)}`;
    const stamp = new Date(at).toISOString();
    const clock = span > DAY ? `${stamp.slice(5, 10)} ${stamp.slice(11, 16)}` : stamp.slice(11, 16);
    const half = (Math.max(label.length, 5) * 6.2) / 2;
    const anchor = tx - half < PLOT_LEFT ? 'start' : tx + half > WIDTH - 4 ? 'end' : 'middle';
    push(`<line x1="${n(tx)}" y1="${ROWS_TOP}" x2="${n(tx)}" y2="${n(axisY + 4)}" stroke="#dee2e6" stroke-width="1"/>`);
    push(`<text x="${n(tx)}" y="${n(axisY + 18)}" text-anchor="${anchor}" font-size="11" fill="#495057">${escapeXml(label)}</text>`);
    push(`<text x="${n(tx)}" y="${n(axisY + 32)}" text-anchor="${anchor}" font-size="10" fill="#868e96">${clock}</text>`);
  }
  push(`<text x="${LABEL_RIGHT}" y="${n(axisY + 18)}" text-anchor="end" font-size="11" fill="#868e96">time since declared</text>`);
  push(`<text x="${LABEL_RIGHT}" y="${n(axisY + 32)}" text-anchor="end" font-size="10" fill="#868e96">UTC</text>`);
  push(
    `<line class="declared" x1="${n(x(declared))}" y1="${ROWS_TOP - 14}" x2="${n(x(declared))}" y2="${n(axisY)}" stroke="#495057" stroke-width="1"/>`,
  );

  // Steps: the name on the left (kind tag right-aligned), the bar, and a note after the bar.
  if (!times.steps.length) {
    push(`<text x="${PLOT_LEFT + 8}" y="${ROWS_TOP + 17}" fill="#868e96" font-style="italic">no steps recorded</text>`);
  }
  times.steps.forEach((p, i) => {
    const top = ROWS_TOP + i * ROW_HEIGHT;
    const mid = top + ROW_HEIGHT / 2;
    const kindTag = p.step.kind === 'automated' ? '' : p.step.kind;
    const nameRoom = Math.floor((LABEL_RIGHT - PAD - (kindTag ? kindTag.length * 5.6 + 8 : 0)) / CHAR_WIDTH);
    push(
      `<text x="${PAD}" y="${n(mid + 4)}" fill="#212529">${escapeXml(fit(p.step.name, nameRoom))}<title>${escapeXml(p.step.name)}</title></text>`,
    );
    if (kindTag) push(`<text x="${LABEL_RIGHT}" y="${n(mid + 4)}" text-anchor="end" font-size="10" fill="#868e96">${kindTag}</text>`);

    const x1 = x(p.start);
    const width = Math.max(2, x(p.end) - x1);
    const outline = p.open
      ? ` stroke="#a36200" stroke-width="1" stroke-dasharray="3 2"`
      : p.step.status === 'skipped'
        ? ` stroke="#adb5bd" stroke-width="1" stroke-dasharray="2 2"`
        : '';
    const tooltip = [
      p.step.name,
      `${p.step.kind}, ${p.step.status}`,
      `${formatTime(p.step.startedAt)} → ${p.open ? 'still open' : formatTime(p.step.finishedAt)} (${formatDuration(p.end - p.start)})`,
      p.step.actor ? `by ${p.step.actor}` : '',
      p.step.detail ?? '',
    ]
      .filter(Boolean)
      .join(' — ');
    push(
      `<rect class="bar" x="${n(x1)}" y="${n(mid - BAR_HEIGHT / 2)}" width="${n(width)}" height="${BAR_HEIGHT}" rx="2" fill="${barFill(p.step)}"${outline}>` +
        `<title>${escapeXml(tooltip)}</title></rect>`,
    );

    // The note goes after the bar when it fits, else before it, else inside it.
    const note = stepNote(p);
    const noteWidth = note.length * 5.9;
    const after = x1 + width + 6;
    if (after + noteWidth <= WIDTH - 8) {
      push(`<text x="${n(after)}" y="${n(mid + 4)}" font-size="11" fill="#495057">${escapeXml(note)}</text>`);
    } else if (x1 - 6 - noteWidth >= PLOT_LEFT) {
      push(`<text x="${n(x1 - 6)}" y="${n(mid + 4)}" text-anchor="end" font-size="11" fill="#495057">${escapeXml(note)}</text>`);
    } else {
      push(
        `<text x="${n(x1 + width - 6)}" y="${n(mid + 4)}" text-anchor="end" font-size="11" font-weight="bold" fill="#ffffff">${escapeXml(fit(note, Math.floor((width - 12) / 6.2)))}</text>`,
      );
    }
  });

  // Markers: 50 % and 80 % of the RTO (lighter), then the deadline itself, labelled above the rows.
  let lastLabelX = -Infinity;
  const marker = (t: number, label: string, strong: boolean, cls: string) => {
    const mx = x(t);
    const colour = strong ? RTO_RED : WARN_COLOUR;
    push(
      `<line class="${cls}" x1="${n(mx)}" y1="${ROWS_TOP - 14}" x2="${n(mx)}" y2="${n(axisY)}" stroke="${colour}" stroke-width="${strong ? 2 : 1}"` +
        ` stroke-dasharray="${strong ? '6 4' : '3 3'}"${strong ? '' : ' stroke-opacity="0.6"'}/>`,
    );
    const w = label.length * 6.6;
    if (strong || mx - lastLabelX > w / 2 + 16) {
      const anchor = mx + w / 2 > WIDTH - 4 ? 'end' : 'middle';
      push(
        `<text x="${n(mx)}" y="${ROWS_TOP - 18}" text-anchor="${anchor}" font-size="11"${strong ? ' font-weight="bold"' : ''} fill="${colour}"${strong ? '' : ' fill-opacity="0.8"'}>${escapeXml(label)}</text>`,
      );
      lastLabelX = mx;
    }
  };
  const rtoStart = times.deadline - rtoMs;
  marker(rtoStart + rtoMs * 0.5, '50 %', false, 'rto-50');
  marker(rtoStart + rtoMs * 0.8, '80 %', false, 'rto-80');
  marker(times.deadline, `RTO ${formatDuration(rtoMs)}`, true, 'rto-deadline');
  if (times.steps.some((s) => s.open)) {
    const nx = x(times.now);
    push(
      `<line class="report-time" x1="${n(nx)}" y1="${ROWS_TOP}" x2="${n(nx)}" y2="${n(axisY)}" stroke="#495057" stroke-width="1" stroke-dasharray="1 3"/>`,
    );
  }

  // Legend.
  const legend: [string, string, string?][] = [
    ['done', '#2f9e44'],
    ['failed / rejected', '#e03131'],
    ['aborted', '#868e96'],
    ['waiting / running', '#f59f00'],
    ['human task / approval', 'url(#hatch-green)'],
  ];
  let lx = PAD;
  for (const [label, fill] of legend) {
    push(`<rect x="${n(lx)}" y="${n(legendY - 10)}" width="18" height="10" rx="2" fill="${fill}"/>`);
    push(`<text x="${n(lx + 24)}" y="${n(legendY)}" font-size="11" fill="#495057">${escapeXml(label)}</text>`);
    lx += 24 + label.length * 6.2 + 18;
  }
  push(
    `<line x1="${n(lx)}" y1="${n(legendY - 5)}" x2="${n(lx + 18)}" y2="${n(legendY - 5)}" stroke="${RTO_RED}" stroke-width="2" stroke-dasharray="6 4"/>`,
  );
  push(`<text x="${n(lx + 24)}" y="${n(legendY)}" font-size="11" fill="#495057">RTO deadline (50 %, 80 % lighter)</text>`);

  push('</svg>');
  return `${out.join('\n')}\n`;
}
