// `lifeboat audit <run>`: re-checks every decision of an incident or a drill (and its plan) from
// the run's history (client/audit.ts) and prints them; exit 0 when every one verifies, 1 when any
// does not, 2 for an id that names no run.
import { type Command } from 'commander';
import { assertIncidentId } from '../../common/names.js';
import { jsonOption, lazy } from './common.js';

export function registerAuditCommands(program: Command): void {
  program
    .command('audit')
    .description("re-check every approval, rejection, task completion and abort of a run from its history, with each signer's key")
    .argument('<run>', 'incident or drill id', (id: string) => (assertIncidentId(id), id))
    .addOption(jsonOption())
    .action(
      lazy(
        () => import('../actions/audit.js'),
        (m) => m.audit,
      ),
    );
}
