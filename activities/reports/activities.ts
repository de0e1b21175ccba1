// The activity that leaves an incident's report (JSON, Markdown, SVG timeline) in the target's
// store; writing it again overwrites it, so a retry is harmless.
import type { RunContext, RunResult } from '../../common/plans.js';
import type { Resolver } from '../resolve.js';
import { writeReport } from './report.js';

export function createReportActivities(resolve: Resolver) {
  return {
    async writeIncidentReport(input: { context: RunContext; result: RunResult; workflowId: string }): Promise<string[]> {
      // A step's detail may quote an error or a hook's output: the report is redacted like history.
      return writeReport(
        resolve.storeOf(input.context.target),
        resolve.redactor.deep({
          kind: 'incident' as const,
          id: input.context.incidentId,
          title: `${input.context.level} incident ${input.context.incidentId}: ${input.context.summary}`,
          context: input.context,
          result: input.result,
          generatedAt: new Date().toISOString(),
          extra: { workflow: input.workflowId },
        }),
      );
    },
  };
}
