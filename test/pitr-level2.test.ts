// An L2 at a moment: a table a bad script rewrote comes back exactly as it was just before, from a
// side instance restored there by pgBackRest, while later good writes to other tables stay; the
// side instance is removed at the end (also when the restore is rejected) and the RPO is measured
// from the moment actually recovered to.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { instanceIdFor } from '../common/names.js';
import { answer, driveIncident, tableSums, waitingFor } from './helpers.js';
import { declareOn, useArchivingCluster } from './pitr-cluster.js';

describe('L2 at a moment (point-in-time recovery)', () => {
  const suite = useArchivingCluster('pitrl2', 60, 'approvals:\n  L2: { approvers: [alice, bob] }');

  const leads = () => suite.c.sql('SELECT * FROM crm_leads ORDER BY id');
  const now = async () => (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
  const sideFolder = (incidentId: string) => join(suite.c.server.pgbackrest!.dir, 'side', instanceIdFor(incidentId));
  /** Declares an L2 of crm_leads at the moment `goodAt`, as carol, on the physical target. */
  const declareL2At = async (summary: string, goodAt: string) =>
    (await declareOn(suite.worker, 'L2', summary, { table: 'crm_leads', physical: true, moment: { kind: 'time', time: goodAt } })).input;
  /** A bad script: every lead's status and email rewritten in one transaction. */
  const damageLeads = () => suite.c.sql(`UPDATE crm_leads SET status = 'lost', email = 'x@invalid', updated_at = now() + interval '1 day'`);

  it('restores the table a script rewrote exactly as it was before, keeping later writes to other tables', async () => {
    await suite.c.fullBackup();
    const before = await leads();
    const goodAt = await now();
    await damageLeads();
    const damagedBy = await now();
    // Good writes after the bad one, to other tables: a table restore of crm_leads must leave them.
    const [lead, agent] = [before[5]!.id, before[5]!.assigned_agent_id];
    await suite.c.sql(`INSERT INTO crm_lead_notes (lead_id, agent_id, body) VALUES ($1, $2, 'called back after the outage')`, [
      lead,
      agent,
    ]);
    await suite.c.sql(`UPDATE crm_agents SET phone = '+1 555 0100' WHERE id = $1`, [agent]);
    const others = await tableSums(suite.c.url);
    await suite.c.archiveNow();

    const input = await declareL2At('a script rewrote every lead', goodAt);
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'confirm-cause': { complete: { by: 'carol', note: 'the nightly cleanup script', choices: ['restore'] } },
      'table-restore': {
        act: async (plan) => {
          const request = (await waitingFor(plan, 'table-restore')).waiting[0]!.request!;
          expect(request.title).toMatch(/^Restore table crm_leads of crm from point-in-time /);
          expect(request.changes[0]).toBe(
            `crm_leads: insert 0, revert ${before.length}, delete 0 rows not in the side instance (rows of tables referencing them may go with them)`,
          );
          await answer(plan, 'approve', { gate: 'table-restore', by: 'alice' });
        },
      },
      'resume-operations': { complete: { by: 'carol' } },
      'post-incident-review': { complete: { by: 'carol', note: 'the script runs in a transaction with a check now' } },
    });
    expect(result.outcome).toBe('recovered');

    expect(await leads()).toEqual(before);
    const after = await tableSums(suite.c.url);
    for (const table of ['crm_lead_notes', 'crm_reminders', 'crm_activities', 'crm_agents', 'crm_notifications'])
      expect(after[table], table).toEqual(others[table]);
    // Recovered to just before the script's commit, and the RPO counts from there.
    const recoveredTo = result.backupUsed!.startedAt;
    expect(result.backupUsed!.id).toBe(`point-in-time ${recoveredTo}`);
    expect(recoveredTo >= goodAt && recoveredTo <= damagedBy).toBe(true);
    expect(result.rto!.rpoAchievedMs).toBe(Date.parse(input.declaredAt) - Date.parse(recoveredTo));
    expect(existsSync(sideFolder(input.incidentId))).toBe(false);
    expect(result.timeline.map((e) => [e.name, e.status]).filter(([name]) => /side instance/.test(name!))).toEqual([
      [expect.stringContaining('restore: restore the cluster to the moment'), 'done'],
      ['restore: stage crm_leads from the side instance', 'done'],
      ['restore: compare the side instance with production', 'done'],
      ['restore: crm_leads equals the side instance', 'done'],
      ['clean up the side instance', 'done'],
    ]);
  }, 600_000);

  it('an L2 at a moment whose table restore is rejected removes its side instance and changes nothing', async () => {
    const goodAt = await now();
    await damageLeads();
    await suite.c.archiveNow();
    const damaged = await leads();
    const input = await declareL2At('rejected at the gate', goodAt);
    const result = await driveIncident(suite.worker.client, input.incidentId, {
      'confirm-cause': { complete: { by: 'carol', choices: ['restore'] } },
      'table-restore': {
        act: async (plan) => {
          // While the gate waits, the side instance runs.
          expect(existsSync(join(sideFolder(input.incidentId), 'data', 'postmaster.pid'))).toBe(true);
          await answer(plan, 'reject', { gate: 'table-restore', by: 'bob', reason: 'wrong moment' });
        },
      },
    });
    expect(result.outcome).toBe('rejected');
    expect(existsSync(sideFolder(input.incidentId))).toBe(false);
    expect(await leads()).toEqual(damaged);
  }, 600_000);
});
