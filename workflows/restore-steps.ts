// The full-restore steps L3 and L4 share: into a new database by default (non-destructive), or in
// place after a safety snapshot and an approval; then every table checked against the backup.
import { quick, heavy } from './proxies.js';
import { type Runbook } from './runbook.js';


export async function fullRestore(run: Runbook, backup: { id: string; startedAt: string }, options: { inPlace: boolean; gate: string }): Promise<{ database: string }> {
  const { incidentId, target } = run.context;
  let database: string | undefined;
  if (options.inPlace) {
    const snapshot = await run.step('safety snapshot of the production database', () => heavy.safetyBackup({ incidentId, target, reason: 'before an in-place restore' }), (m) => m.id);
    await run.gate(options.gate, {
      title: `Replace the production database of ${target} with backup ${backup.id}`,
      database: await quick.describeTarget({ target }),
      tables: ['every table'],
      changes: ['every table is dropped and restored from the backup in one transaction'],
      backup: { ...backup, ageMs: Date.now() - Date.parse(backup.startedAt) },
      dataLossWindowMs: Date.parse(run.context.declaredAt) - Date.parse(backup.startedAt),
      snapshot: `backup ${snapshot.id}`,
    });
  } else {
    database = await quick.newDatabaseName({ target, incidentId });
    run.newDatabase = database; // dropped again if the plan does not end recovered
  }
  const restored = await run.step(
    options.inPlace ? 'restore in place (one transaction)' : `restore into a new database`,
    () => heavy.restoreDatabase({ target, backupId: backup.id, database, incidentId }),
    (r) => `${r.database}: ${r.tables} tables`,
  );
  await run.step(
    'verify all tables: counts and checksums against the backup',
    () => quick.compareWithBackup({ target, database: restored.database, backupId: backup.id }),
    (c) => c,
  );
  return restored;
}

/** A plan that ends without recovering drops the new database it restored into: nothing half-used stays. */
export async function dropUnusedDatabase(run: Runbook): Promise<void> {
  const database = run.newDatabase;
  if (database) await run.cleanup(`drop the unused database ${database}`, () => quick.dropRestoredDatabase({ target: run.context.target, database }));
}
