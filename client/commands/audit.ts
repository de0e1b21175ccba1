// `lifeboat audit <run>`: re-checks every decision of an incident or a drill (and its plan) from
// the run's history (client/audit.ts) and prints them; exit 0 when every one verifies, 1 when any
// does not, 2 for an id that names no run.
import { WorkflowNotFoundError } from '@temporalio/client';
import { type Command } from 'commander';
import { proofPolicy } from '../../activities/policy.js';
import { assertIncidentId } from '../../common/names.js';
import { auditRun } from '../audit.js';
import { CliError, connectClient } from '../follow.js';
import { table } from '../format.js';
import { configOf } from './common.js';

export function registerAuditCommands(program: Command): void {
  program
    .command('audit')
    .description("re-check every approval, rejection, task completion and abort of a run from its history, with each signer's key")
    .argument('<run>', 'incident or drill id', (id: string) => (assertIncidentId(id), id))
    .action(async (id: string) => {
      const cfg = configOf(program);
      const client = await connectClient(cfg);
      const fallback = proofPolicy(cfg);
      const rows = await auditRun(client, id, fallback).catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) throw new CliError(`no run ${id} (lifeboat list --all shows incidents)`, 2);
        throw err;
      });
      rows.sort((a, b) => a.time.localeCompare(b.time));
      if (!rows.length) return console.log(`${id}: no decisions recorded`);
      console.log(
        table(
          ['time', 'run', 'item', 'decision', 'by', 'key', 'verdict'],
          rows.map((r) => [r.time.slice(0, 19).replace('T', ' '), r.workflowId, r.item, r.decision, r.by, r.key, r.verdict]),
        ),
      );
      const failed = rows.filter((r) => !r.ok).length;
      if (failed)
        throw new CliError(
          `${failed} of ${rows.length} decisions of ${id} are not proven: see the verdicts above (who answered, with which key)`,
          1,
        );
      console.log(`\n✔ all ${rows.length} decisions of ${id} verify`);
    });
}
