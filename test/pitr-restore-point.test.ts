// Before a destructive step on a physical target, Lifeboat makes a named restore point and records
// it: an L1 that reverted a row by mistake is undone to the second by a second L1 declared
// --before-restore-point with that name. The restore point's creation is safe to repeat.
import { describe, expect, it } from 'vitest';
import { incidentInput } from '../client/incidents.js';
import { restorePointName } from '../common/names.js';
import type { Moment } from '../common/moments.js';
import type { RunResult } from '../common/plans.js';
import { useArchivingCluster } from './pitr-cluster.js';
import { answer, waitingFor } from './helpers.js';

const APPLY = 'restore: apply the staged rows in one transaction';

describe('restore points before destructive steps (physical targets)', () => {
  const suite = useArchivingCluster('pitrrp', 30, 'approvals:\n  L1: { approvers: [alice, bob, carol] }');
  const leadsOf = (ids: string[]) => suite.c.sql('SELECT * FROM crm_leads WHERE id = ANY($1::bigint[]) ORDER BY id', [ids]);
  const now = async () => (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();

  /** An approved L1 of the leads `keys` as they were at `moment`, on the physical target; its result. */
  const recoverLeads = async (keys: string[], moment: Moment): Promise<{ result: RunResult; changes: string[] }> => {
    const input = incidentInput({
      target: 'crm',
      summary: 'leads to bring back',
      declaredBy: 'carol',
      level: 'L1',
      options: { record: { table: 'crm_leads', keys, goodBefore: new Date().toISOString() }, moment, physical: true },
    });
    const handle = await suite.worker.client.workflow.start('incidentWorkflow', {
      taskQueue: suite.worker.taskQueue,
      workflowId: input.incidentId,
      args: [input],
    });
    const plan = suite.worker.client.workflow.getHandle(`${input.incidentId}-L1`);
    const { changes } = (await waitingFor(plan, 'apply-restore')).waiting[0]!.request!;
    await answer(plan, 'approve', { gate: 'apply-restore', by: 'alice' });
    await waitingFor(handle, 'review');
    await answer(handle, 'complete', { task: 'review', by: 'carol', note: 'done' });
    const result = (await handle.result()) as RunResult;
    expect(result.outcome).toBe('recovered');
    const point = restorePointName(input.incidentId, APPLY);
    // Announced in the approval request, made just before the apply, and kept in the result.
    expect(changes.filter((line) => line.startsWith('undo:'))).toEqual([
      expect.stringContaining(`restore point ${point} is made just before this step; lifeboat declare --level L1 --target crm`),
    ]);
    const names = result.timeline.map((e) => e.name);
    const made = names.indexOf(`undo point: restore point before "${APPLY}"`);
    expect(made).toBeGreaterThan(-1);
    expect(names[made + 1]).toBe(APPLY);
    expect(result.timeline[made]).toMatchObject({ status: 'done', detail: expect.stringContaining(`--before-restore-point ${point}`) });
    expect(result.restorePoints).toEqual([
      { step: APPLY, name: point, lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), createdAt: expect.any(String) },
    ]);
    return { result, changes };
  };

  it('an L1 that reverted a good change by mistake is undone to its restore point by a second L1', async () => {
    await suite.c.fullBackup();
    const ids = (await suite.c.sql<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 2 OFFSET 5')).map((r) => r.id);
    const before = await now();
    await suite.c.sql(`UPDATE crm_leads SET status = 'won', updated_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
    const good = await leadsOf(ids);
    await suite.c.archiveNow();

    // The mistake: an L1 to the moment before the good change reverts it.
    const first = await recoverLeads(ids, { kind: 'time', time: before });
    expect(first.changes.find((line) => line.startsWith('crm_leads:'))).toContain('revert 2 changed row(s)');
    expect(await leadsOf(ids)).not.toEqual(good);
    await suite.c.archiveNow();

    // Undone: the rows as they were just before the first apply, from its restore point.
    const point = first.result.restorePoints![0]!.name;
    await recoverLeads(ids, { kind: 'restore-point', name: point });
    expect(await leadsOf(ids)).toEqual(good);
  }, 900_000);

  it('creating a restore point twice (a retried activity) succeeds both times', async () => {
    const name = restorePointName('inc-20261130-210000-abcd', 'restore: twice');
    const once = await suite.c.run(() => suite.c.activities.createRestorePoint({ target: 'crm', name }));
    const twice = await suite.c.run(() => suite.c.activities.createRestorePoint({ target: 'crm', name }));
    expect([once.name, twice.name]).toEqual([name, name]);
  }, 120_000);
});
