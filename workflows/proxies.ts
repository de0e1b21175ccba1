// The activity stubs every workflow uses, with their time-outs and retry policies.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { NON_RETRYABLE } from '../common/errors.js';

const nonRetryableErrorTypes = NON_RETRYABLE;

/** Queries, checks and small writes. */
export const quick = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes },
});

/**
 * `quick`'s reads and small idempotent writes as local activities, for steps that end in seconds
 * (no heartbeats: anything that may run long stays on `quick` or `heavy`). The worker running the
 * workflow task runs them and records their results as markers, with no task-queue round trip: on
 * a loaded server each remote activity costs a round trip of its own, more than these steps take.
 */
export const quickLocal = proxyLocalActivities<Activities>({
  startToCloseTimeout: '2m',
  retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes },
});

/**
 * Dumps, restores, staging and applies: as long as the database needs; heartbeats tell a dead worker
 * apart. The retries span three minutes, so a restarted database or a store down for a minute
 * costs a retry, not the backup or the recovery; fences make a retried destructive step safe.
 */
export const heavy = proxyActivities<Activities>({
  startToCloseTimeout: '12h',
  heartbeatTimeout: '30s',
  retry: { maximumAttempts: 8, initialInterval: '2s', maximumInterval: '1m', nonRetryableErrorTypes },
});

/**
 * Notifications must never hold a recovery up: few attempts, then the failure goes on the timeline.
 * Local activities: a plan posts two per step, and these skip the server's task queue round trip.
 */
export const notifications = proxyLocalActivities<Activities>({
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});
