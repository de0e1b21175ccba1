// The outcome tells the truth: an abort that arrives while an L2's table restore commits stops the
// plan at its next safe point, and the result says the restore was applied and stays applied —
// never a bare "aborted" over rows that did come back. The approver is shown real counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { fingerprints } from '../activities/postgres/inspect.js';
import { incidentInput } from '../client/incidents.js';
import type { BackupManifest } from '../common/backups.js';
import type { LifeboatConfig } from '../config/config.js';
import { statusQuery } from '../workflows/messages.js';
import {
  type TestDatabase,
  type TestWorker,
  createCrmDatabase,
  driveIncident,
  startTestWorker,
  testConfig,
  testEnv,
  uniqueName,
  answer,
  holdLock,
  lockWaiters,
} from './helpers.js';

describe('an abort that comes after the commit', () => {
  let db: TestDatabase;
  let config: LifeboatConfig;
  let worker: TestWorker;
  const reminders = () => withClient(db.url, (c) => fingerprints(c, ['crm_reminders']));

  beforeAll(async () => {
    db = await createCrmDatabase(400);
    config = testConfig({ prefix: uniqueName('truth'), extra: 'approvals:\n  L2: { approvers: [alice, bob] }' });
    worker = await startTestWorker(config, testEnv(db));
    const run = (type: string, args: unknown[]) =>
      worker.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: uniqueName(type), args });
    const manifest = (await run('backupWorkflow', [{ target: 'crm' }])) as BackupManifest;
    await run('verifyWorkflow', [{ backupId: manifest.id }]);
  });

  afterAll(async () => {
    await worker?.stop();
    await db?.drop();
  });

  it('reports the table restore as applied, with the real counts the approver saw', async () => {
    const pristine = await reminders();
    const { rows } = await withClient(db.url, (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM crm_reminders'));
    const total = rows[0]!.n;
    // The incident: most reminders gone, one changed (the row the apply will wait on).
    const changed = await withClient(db.url, async (c) => {
      const first = (await c.query<{ id: string }>('SELECT min(id)::text AS id FROM crm_reminders')).rows[0]!.id;
      await c.query("UPDATE crm_reminders SET title = title || ' (edited)' WHERE id = $1", [first]);
      await c.query('DELETE FROM crm_reminders WHERE id <> $1', [first]);
      return first;
    });

    const input = incidentInput({
      target: 'crm',
      summary: 'reminders lost',
      declaredBy: 'carol',
      level: 'L2',
      options: { table: 'crm_reminders' },
    });
    await worker.client.workflow.start('incidentWorkflow', { taskQueue: worker.taskQueue, workflowId: input.incidentId, args: [input] });
    let request: string[] = [];
    const result = await driveIncident(worker.client, input.incidentId, {
      'confirm-cause': { complete: { by: 'carol', choices: ['restore'] } },
      'table-restore': {
        act: async (plan) => {
          request = (await plan.query(statusQuery)).waiting.find((w) => w.name === 'table-restore')!.request!.changes;
          // Hold the changed row, so the apply is in the middle of its transaction when the abort comes.
          const locker = await holdLock(db.url, 'SELECT 1 FROM crm_reminders WHERE id = $1 FOR UPDATE', [changed]);
          await answer(plan, 'approve', { gate: 'table-restore', by: 'alice' });
          await expect.poll(() => lockWaiters(db.url), { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
          await answer(plan, 'abort', { by: 'carol', reason: 'wrong table' });
          await locker.release();
        },
      },
    });

    // The approver was shown every row the restore would write, not a capped list's length.
    expect(request[0]).toBe(
      `crm_reminders: insert ${total - 1}, revert 1, delete 0 rows not in the backup (rows of tables referencing them may go with them)`,
    );
    expect(result.outcome).toBe('aborted');
    expect(result.detail).toMatch(
      /^aborted: wrong table — already applied before that, and staying applied: restore: apply crm_reminders in one transaction \(crm_reminders: \+\d+ ~1 -0\)$/,
    );
    expect(result.committed).toEqual([expect.stringMatching(/^restore: apply crm_reminders in one transaction/)]);
    expect(await reminders()).toEqual(pristine);
  });
});
