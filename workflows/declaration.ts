// What can be checked before an incident starts is checked before it starts: the records an L1
// names must be rows of one of the target's tables, chosen by keys of its key's type or by
// filters on its columns. The CLI runs this and refuses a bad selection (exit 2) instead of
// declaring an incident that would fail inside its plan.
import type { RecordSelection } from '../common/plans.js';
import { quick } from './proxies.js';

export async function checkSelectionWorkflow(input: { target: string; selection: RecordSelection }): Promise<void> {
  await quick.checkSelection(input);
}
