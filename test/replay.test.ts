// Every history recorded in test/histories/ (by `npm run record-histories`) replays against
// today's workflow code, as a worker picking up a running incident after a deploy would. A
// failure names the history file and the replay error: a change that running workflows would
// see needs `patched()` (README, "Operations: deploying while an incident is open").
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, type ReplayResult, Runtime, Worker } from '@temporalio/worker';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { auditHistory } from '../client/audit.js';
import { REPO_ROOT } from '../client/stack/processes.js';

// The replay worker's state changes at INFO drown the output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

const HISTORIES_DIR = join(REPO_ROOT, 'test', 'histories');
const files = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const stem = (file: string) => file.replace(/\.json$/, '');

/** What the recording must hold: a backup, the incidents with their plans, a drill with its plan. */
const REQUIRED = [
  'backup',
  'incident-L1',
  'incident-L1-L1',
  'incident-L3',
  'incident-L3-L3',
  'incident-L4',
  'incident-L4-L4',
  'drill-L1',
  'drill-L1-L1',
];

describe('recorded histories replay on today’s workflow code', () => {
  const results = new Map<string, ReplayResult>();

  beforeAll(async () => {
    const histories = files.map((file) => ({
      workflowId: stem(file),
      history: historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8'))),
    }));
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      results.set(result.workflowId, result);
    }
  });

  it('has the recorded set (npm run record-histories writes it)', () => {
    expect(files.map(stem)).toEqual(expect.arrayContaining(REQUIRED));
  });

  it.each(files)('%s replays without non-determinism', (file) => {
    const result = results.get(stem(file));
    expect(result, `${file} was not replayed`).toBeDefined();
    if (result!.error) {
      const { name, message } = result!.error;
      throw new Error(`test/histories/${file} does not replay on today's workflow code: ${name}: ${message}`);
    }
  });

  it('audits the decisions of runs recorded before answers were proven as unproven, never as verified', () => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(HISTORIES_DIR, 'incident-L1-L1.json'), 'utf8')));
    const run = { namespace: 'default', workflowId: 'recorded-L1', runId: 'r' };
    const rows = auditHistory(history.events ?? [], run, { people: {}, receivers: [] });
    expect(rows.map((r) => [r.item, r.decision, r.verdict, r.ok])).toEqual([['apply-restore', 'approve', 'unproven: no signature', false]]);
  });
});
