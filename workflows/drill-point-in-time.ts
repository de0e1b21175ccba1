// The drill's point-in-time rehearsal (drill.pointInTime, opt-in, physical targets), after the
// level's own rehearsal: marker rows are written on production in the drill's one table, some
// deleted by one transaction, more written after and the WAL archived; the markers as they are then
// go into the test database, and the real L1 plan, at the moment just before the deleting
// transaction, brings the deleted ones back from a side instance restored there (pgBackRest). It
// passes when they came back and the later ones stayed; the RPO achieved is measured from the moment
// recovered to. The markers are removed from production whatever happens.
import { ParentClosePolicy, executeChild, isCancellation } from '@temporalio/workflow';
import type { DrillSettings, PointInTimeRehearsal } from '../common/drills.js';
import { type Moment, describeMoment } from '../common/moments.js';
import { DRILL_MARKER_TABLE, planWorkflowId } from '../common/names.js';
import type { RunResult } from '../common/plans.js';
import { formatDuration } from '../common/time.js';
import { failureText, planResultOf } from './engine/outcome.js';
import type { Runbook } from './engine/runbook.js';
import { level1Workflow } from './level1.js';
import { quick } from './proxies.js';

const STEP = 'point in time';

export async function rehearsePointInTime(run: Runbook, settings: DrillSettings, testDatabase: string): Promise<PointInTimeRehearsal> {
  const { target, level } = settings;
  const drillId = run.context.incidentId;
  if (level !== 'L1' && level !== 'L2') {
    // L3/L4 leave the test database empty: the L1's integrity checks would have no tables to run on.
    const detail = `an ${level} drill leaves its test database empty; the point-in-time rehearsal runs with L1 and L2 drills`;
    run.skip(`${STEP}: rehearse a point-in-time recovery`, detail);
    return { verdict: 'skipped', detail };
  }
  try {
    const markers = await run.step(
      `${STEP}: on production, write markers into ${DRILL_MARKER_TABLE}, delete some in one transaction, write more, archive the WAL`,
      () => quick.writeDrillMarkers({ target, testDatabase, drillId }),
      (m) =>
        `${m.kept.length + m.deleted.length} markers, ${m.deleted.length} deleted by transaction ${m.xid} (committed by ${m.committedBy}), ${m.later.length} written after; copied into ${testDatabase}`,
    );
    const moment: Moment = { kind: 'before-xid', xid: markers.xid, committedAt: markers.began };
    let plan: RunResult;
    try {
      plan = await run.step(
        `${STEP}: run the real L1 plan at ${describeMoment(moment)} against the test database`,
        () =>
          executeChild(level1Workflow, {
            workflowId: `${planWorkflowId(drillId, 'L1')}-pitr`,
            args: [
              {
                context: {
                  ...run.context,
                  level: 'L1',
                  declaredAt: markers.committedBy,
                  thread: run.thread,
                  testDatabase,
                  actAs: settings.actAs,
                },
                options: { record: { table: DRILL_MARKER_TABLE, keys: markers.deleted, goodBefore: markers.began }, moment },
              },
            ],
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          }),
        (r) => `${r.outcome}: ${r.detail}`,
      );
    } catch (err) {
      plan = planResultOf(err);
    }
    if (plan.outcome !== 'recovered')
      return { verdict: 'failed', detail: `the L1 plan at the moment ended ${plan.outcome}: ${plan.detail}` };
    const check = await run.step(
      `${STEP}: the deleted markers came back and the later ones stayed`,
      () => quick.checkDrillMarkers({ target, testDatabase, drillId, markers }),
      (c) => c.detail,
    );
    const recoveredTo = plan.backupUsed?.startedAt;
    const rpoAchievedMs = recoveredTo === undefined ? undefined : Math.max(0, Date.parse(markers.committedBy) - Date.parse(recoveredTo));
    const rpo = rpoAchievedMs === undefined ? '' : `; recovered to ${recoveredTo}, RPO achieved ${formatDuration(rpoAchievedMs)}`;
    return { verdict: check.ok ? 'passed' : 'failed', detail: `${check.detail}${rpo}`, recoveredTo, rpoAchievedMs };
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { verdict: 'failed', detail: failureText(err) };
  } finally {
    await run.cleanup(`${STEP}: remove this drill's markers from production`, () => quick.removeDrillMarkers({ target, drillId }));
  }
}
