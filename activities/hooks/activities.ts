// The activity that runs a target's configured hook (freeze or unfreeze writes, roll back code,
// cut traffic over). Hooks act on the real system, so a drill never runs one; a failed hook is
// retryable (a deploy system or load balancer may answer on the next attempt). A rollback or a
// cut-over runs at most once per approval: a retry after one that finished returns its result,
// and a retry after one that started and never reported back refuses rather than run it twice.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { onceInStore } from '../fence.js';
import type { IncidentRef } from '../inputs.js';
import type { Resolver } from '../resolve.js';
import { type HookResult, runHook } from './hooks.js';

export interface TargetHookInput extends IncidentRef {
  role: 'freezeWrites' | 'unfreezeWrites' | 'rollback' | 'cutover';
}

/**
 * The hooks that change what serves production, once per approval: a fence in the store records
 * each run (activities/fence.ts). Freezing and unfreezing writes are the same whenever repeated,
 * and must be retried until they work (unfreezing ends every incident).
 */
const FENCED = new Set<TargetHookInput['role']>(['rollback', 'cutover']);

export function createHookActivities(resolve: Resolver) {
  return {
    async runTargetHook(input: TargetHookInput): Promise<HookResult & { alreadyApplied?: string }> {
      // Hooks act on the real system (code, traffic, the production database): never from a drill.
      if (input.testDatabase) throw refuse(`a drill does not run the ${input.role} hook: it acts on the real system`, FailureType.input);
      const name = resolve.target(input.target).hooks[input.role];
      if (!name)
        throw refuse(
          `target ${input.target} has no ${input.role} hook configured (targets.${input.target}.hooks.${input.role})`,
          FailureType.config,
        );
      const run = () =>
        runHook(
          name,
          resolve.config.hooks[name]!,
          {
            incidentId: input.incidentId,
            target: input.target,
            action: input.role,
            databaseUrl: resolve.databaseUrl(input.target, input.testDatabase),
          },
          resolve.env,
          Context.current().cancellationSignal,
          resolve.redactor,
        );
      const result = FENCED.has(input.role)
        ? await onceInStore(resolve.storeOf(input.target), `incidents/${input.incidentId}`, `${input.role} hook ${name}`, run, {
            failed: (r) => !r.ok,
            unfinished: (started) =>
              `the ${input.role} hook ${name} of target ${input.target} was started by attempt ${started.attempt} at ${started.at} and never ` +
              `reported back (its worker or the Temporal server stopped meanwhile), so it may have run: Lifeboat does not run it a second time ` +
              `for one approval. Check the deployment of ${input.target}: if the ${input.role} happened, finish the recovery by hand from here; ` +
              `if it did not, run the hook's command yourself or declare a new incident to be asked again`,
          })
        : await run();
      if (!result.ok)
        throw ApplicationFailure.retryable(
          `hook ${name} failed${result.timedOut ? ' (timed out)' : ''}: ${result.output.slice(-500)}`,
          FailureType.hook,
        );
      return result;
    },
  };
}
