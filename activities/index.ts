// The activities the worker registers, composed from the modules grouped by what they do. Each
// resolves names (targets, stores) to connections from the worker's configuration and environment,
// so no secret ever enters workflow history. Every activity is safe to run twice.
// The keys of the object createActivities returns are the names workflows call: never rename one
// (running workflows call activities by name), and keep each one's input and output compatible.
import type { Redactor } from '../common/redact.js';
import { type LifeboatConfig, durationMs } from '../config/config.js';
import type { RunPolicy } from '../common/plans.js';
import type { RetentionPolicy } from '../workflows/retention.js';
import { createBackupActivities } from './backups/activities.js';
import { createCheckActivities } from './checks/activities.js';
import { createDrillActivities } from './drill/activities.js';
import { createPointInTimeDrillActivities } from './drill/point-in-time.js';
import { createPhysicalActivities } from './pgbackrest/activities.js';
import { runPolicy } from './policy.js';
import { createHookActivities } from './hooks/activities.js';
import type { Notice, Notifier, Posted } from './notify/notifier.js';
import { selectNotifier } from './notify/select.js';
import { createReportActivities } from './reports/activities.js';
import { createResolver } from './resolve.js';
import { createRecordRestoreActivities } from './restores/selected-records.js';
import { createDatabaseRestoreActivities } from './restores/whole-database.js';

export interface ActivityContext {
  config: LifeboatConfig;
  env?: NodeJS.ProcessEnv;
  notifier?: Notifier;
  lifeboatVersion?: string;
}

export function createActivities(context: ActivityContext) {
  const { config } = context;
  // Slack when configured and its token is set, else the console; tests pass their own.
  const notifier = context.notifier ?? selectNotifier(config, context.env ?? process.env);
  const version = context.lifeboatVersion ?? '0.1.0';
  const resolver = createResolver(config, context.env ?? process.env);

  return guardedByRedactor(resolver.redactor, {
    ...createBackupActivities(resolver, version),
    ...createDatabaseRestoreActivities(resolver),
    ...createRecordRestoreActivities(resolver),
    ...createCheckActivities(resolver),
    ...createHookActivities(resolver),
    ...createReportActivities(resolver),
    ...createDrillActivities(resolver),
    ...createPointInTimeDrillActivities(resolver),
    ...createPhysicalActivities(resolver),

    /** The worker's configured policies for a target, so schedules follow the configuration. */
    async targetPolicy(_input: { target: string }): Promise<{ retention: RetentionPolicy; freshnessMaxAgeMs: number }> {
      return {
        retention: config.retention,
        freshnessMaxAgeMs: durationMs(config.freshness.maxAge),
      };
    },

    /** RTO targets, approvers and the people's keys, from this worker's configuration: a run records them as it starts. */
    async runPolicy(): Promise<RunPolicy> {
      return runPolicy(config);
    },

    /** Posts (or replaces) a notice, secrets redacted; returns its reference for threads and in-place updates. */
    async notify(notice: Notice): Promise<Posted> {
      return notifier.notify(resolver.redactor.deep(notice));
    },
  });
}

/**
 * Every activity's result and failure pass the redactor on their way into workflow history (and
 * the worker's log, which prints failures): whatever an activity read or was told, a secret of the
 * worker never leaves it.
 */
function guardedByRedactor<A extends Record<string, (...args: never[]) => Promise<unknown>>>(redactor: Redactor, activities: A): A {
  const guarded: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(activities)) {
    guarded[name] = async (...args) => {
      try {
        return redactor.deep(await activity(...args));
      } catch (err) {
        throw redactor.error(err);
      }
    };
  }
  return guarded as A;
}

export type Activities = ReturnType<typeof createActivities>;
