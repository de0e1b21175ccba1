// What can be checked before an incident starts is checked before it starts: the records an L1
// names must be rows of one of the target's tables, chosen by keys of its key's type or by
// filters on its columns. The CLI runs this and refuses a bad selection (exit 2) instead of
// declaring an incident that would fail inside its plan.
import { patched } from '@temporalio/workflow';
import type { RecordSelection } from '../common/plans.js';
import { quick, quickLocal } from './proxies.js';

export async function checkSelectionWorkflow(input: { target: string; selection: RecordSelection }): Promise<void> {
  // A few catalogue reads: a local activity, with no task-queue round trip before the declaration.
  await (patched('check-selection-local') ? quickLocal : quick).checkSelection(input);
}
