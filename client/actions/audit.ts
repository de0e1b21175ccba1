// The action of `lifeboat audit` (client/commands/audit.ts).
import { WorkflowNotFoundError } from '@temporalio/client';
import { type Command } from 'commander';
import { proofPolicy } from '../../activities/policy.js';
import { auditRun } from '../audit.js';
import { CliError } from '../cli-process.js';
import { connectClient } from '../follow.js';
import { table } from '../format.js';
import { auditJson } from '../read-json.js';
import { configOf, printJson } from './common.js';

export async function audit(id: string, opts: { json?: boolean }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const client = await connectClient(cfg);
  const fallback = proofPolicy(cfg);
  const rows = await auditRun(client, id, fallback).catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no run ${id} (lifeboat list --all shows incidents)`, 2);
    throw err;
  });
  rows.sort((a, b) => a.time.localeCompare(b.time));
  const failed = rows.filter((r) => !r.ok).length;
  const unproven = `${failed} of ${rows.length} decisions of ${id} are not proven: see the verdicts above (who answered, with which key)`;
  if (opts.json) {
    printJson(auditJson(id, rows));
    if (failed) throw new CliError(unproven, 1);
    return;
  }
  if (!rows.length) return console.log(`${id}: no decisions recorded`);
  console.log(
    table(
      ['time', 'run', 'item', 'decision', 'by', 'key', 'verdict'],
      rows.map((r) => [r.time.slice(0, 19).replace('T', ' '), r.workflowId, r.item, r.decision, r.by, r.key, r.verdict]),
    ),
  );
  if (failed) throw new CliError(unproven, 1);
  console.log(`\n✔ all ${rows.length} decisions of ${id} verify`);
}
