// The run's timeline: every step as it begins and ends, as the status query and reports show it.
// Each beginning also names the step in the LifeboatCurrentStep search attribute, and the run's end
// replaces it with "ended: <outcome>", so no list shows a finished run still at some step (an upsert
// is a workflow command: it happens where a step begins and where the run ends, nowhere else).
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { StepKind, StepRecord } from '../../common/plans.js';
import { currentStepSA } from '../messages.js';

export class Timeline {
  readonly records: StepRecord[] = [];

  begin(name: string, kind: StepKind, status: StepRecord['status']): StepRecord {
    const record: StepRecord = { name, kind, status, startedAt: new Date().toISOString() };
    this.records.push(record);
    upsertSearchAttributes([{ key: currentStepSA, value: name }]);
    return record;
  }

  /** The run has ended: the current step reads "ended: <how>" from now on. */
  close(how: string): void {
    upsertSearchAttributes([{ key: currentStepSA, value: `ended: ${how}` }]);
  }

  end(record: StepRecord, status: StepRecord['status'], extra: { actor?: string; detail?: string }): void {
    record.status = status;
    record.finishedAt = new Date().toISOString();
    if (extra.actor) record.actor = extra.actor;
    if (extra.detail) record.detail = extra.detail;
  }
}
