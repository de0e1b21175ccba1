// The activity that runs a target's configured hook (freeze or unfreeze writes, roll back code,
// cut traffic over). Hooks act on the real system, so a drill never runs one; a failed hook is
// retryable (a deploy system or load balancer may answer on the next attempt).
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import type { IncidentRef } from '../inputs.js';
import type { Resolver } from '../resolve.js';
import { type HookResult, runHook } from './hooks.js';

export interface TargetHookInput extends IncidentRef {
  role: 'freezeWrites' | 'unfreezeWrites' | 'rollback' | 'cutover';
}

export function createHookActivities(resolve: Resolver) {
  return {
    async runTargetHook(input: TargetHookInput): Promise<HookResult> {
      // Hooks act on the real system (code, traffic, the production database): never from a drill.
      if (input.testDatabase) throw refuse(`a drill does not run the ${input.role} hook: it acts on the real system`, FailureType.input);
      const name = resolve.target(input.target).hooks[input.role];
      if (!name)
        throw refuse(
          `target ${input.target} has no ${input.role} hook configured (targets.${input.target}.hooks.${input.role})`,
          FailureType.config,
        );
      const result = await runHook(
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
      if (!result.ok)
        throw ApplicationFailure.retryable(
          `hook ${name} failed${result.timedOut ? ' (timed out)' : ''}: ${result.output.slice(-500)}`,
          FailureType.hook,
        );
      return result;
    },
  };
}
