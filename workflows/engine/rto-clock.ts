// The RTO clock: durable timers at 50 %, 80 % and 100 % of the RTO, counted from the declaration
// (which may be earlier than the run's start); each mark raises the run's RTO status, lands on the
// timeline and is announced. And the measure a finished run is judged by: RTO target, actual,
// margin, and the RPO achieved by the backup it used.
import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { Outcome, RtoResult, RtoStatus, RunContext, RunResult } from '../../common/plans.js';
import { formatDuration } from '../../common/time.js';
import type { Announcer } from './announcer.js';
import type { Timeline } from './timeline.js';

export interface RtoClock {
  /** Cancels the marks not yet reached, and waits until the clock has stopped. */
  stop(): Promise<void>;
}

const marks: Array<[number, RtoStatus, 'warning' | 'critical']> = [
  [0.5, 'warning', 'warning'],
  [0.8, 'critical', 'warning'],
  [1, 'breached', 'critical'],
];

/** Starts the timers at once (the first timer is a command of the run's first workflow task). */
export function startRtoClock(
  context: RunContext,
  run: { timeline: Timeline; announcer: Announcer; setStatus: (status: RtoStatus) => void },
): RtoClock {
  const declared = Date.parse(context.declaredAt);
  const { rtoMs, incidentId } = context;
  const scope = new CancellationScope();
  const done = scope
    .run(async () => {
      for (const [fraction, status, severity] of marks) {
        const due = declared + fraction * rtoMs - Date.now();
        if (due > 0) await sleep(due);
        run.setStatus(status);
        const elapsed = Date.now() - declared;
        const title = status === 'breached' ? `RTO BREACHED: ${formatDuration(rtoMs)} passed` : `RTO ${fraction * 100} % used`;
        const record = run.timeline.begin(title, 'notification', 'done');
        run.timeline.end(record, 'done', { detail: `${formatDuration(elapsed)} since declaration, RTO ${formatDuration(rtoMs)}` });
        await run.announcer.notify(
          severity,
          title,
          `${incidentId}: ${formatDuration(elapsed)} since the incident was declared; RTO ${formatDuration(rtoMs)}, ${status === 'breached' ? 'exceeded' : `${formatDuration(declared + rtoMs - Date.now())} left`}.`,
        );
      }
    })
    .catch((err) => {
      if (!isCancellation(err)) throw err;
    });
  return {
    async stop() {
      scope.cancel();
      await done;
    },
  };
}

/**
 * A finished run's RTO and RPO, from the declaration (a drill passes the moment its simulated incident
 * began) to now; met only when the run recovered in time, not-recovered when it did not recover at all.
 */
export function measureRto(
  context: RunContext,
  outcome: Outcome,
  facts: { declaredAt?: string; backupUsed?: RunResult['backupUsed'] },
): RtoResult {
  const declared = Date.parse(facts.declaredAt ?? context.declaredAt);
  const actualMs = Date.now() - declared;
  return {
    targetMs: context.rtoMs,
    deadline: new Date(declared + context.rtoMs).toISOString(),
    actualMs,
    marginMs: context.rtoMs - actualMs,
    verdict: outcome !== 'recovered' ? 'not-recovered' : actualMs <= context.rtoMs ? 'met' : 'missed',
    rpoAchievedMs: facts.backupUsed ? declared - Date.parse(facts.backupUsed.startedAt) : undefined,
  };
}
