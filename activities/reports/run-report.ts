// The record a run leaves behind (reports/<id>/report.json), in a module of its own so that the
// renderers (Markdown, timeline SVG) and the store code can all read its shape without importing
// each other.
import type { DrillRecord } from '../../common/drills.js';
import type { RunContext, RunResult } from '../../common/plans.js';

export interface RunReport {
  kind: 'incident' | 'drill';
  /** Incident id (inc-20261122-040512-ab12) or drill id. */
  id: string;
  /** e.g. "L1 incident inc-…: 7 leads deleted by a bad script" */
  title: string;
  context: RunContext;
  result: RunResult;
  /** ISO time the report was made: steps still open are drawn up to it. */
  generatedAt: string;
  findings?: { check: string; detail: string }[];
  /** Free facts shown in a table (e.g. rows restored). */
  extra?: Record<string, string | number>;
  /** Drills: the verdicts, table checks and trend (what `lifeboat drills` lists). */
  drill?: DrillRecord;
}
