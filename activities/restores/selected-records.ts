// Activities that restore selected records (L1) or whole tables (L2) from a backup: the records
// are chosen with SQL in a recovery copy of the backup on the verification server (the restore its
// verification kept, or one made for the selection with only the tables it needs), staged into
// the incident's staging schema, diffed against the live rows, snapshotted (what the apply will
// overwrite goes to the store), applied in one transaction and checked. Each is safe to run twice:
// a copy made for the selection and the staging are recreated, the apply happens once per approval
// (a fence in the staging schema, activities/postgres/fence.ts), and the snapshot overwrites itself.
import { Context, log } from '@temporalio/activity';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailureType } from '../../common/errors.js';
import { DRILL_MARKER_TABLE, recoveryCopyName, stagingSchema } from '../../common/names.js';
import { refuse } from '../failure.js';
import { alreadyApplied, currentFence } from '../fence.js';
import { heartbeatWhile, heartbeater } from '../heartbeat.js';
import type { IncidentRef, SelectionRef, StageInput, StagedRecords, StagedRef } from '../inputs.js';
import { type AppliedCounts, applyStagedOn, compareWithStaged, diffStaged, snapshotRows } from '../postgres/apply.js';
import { atLoopbackPort, withClient, withDatabase } from '../postgres/connection.js';
import { integrityFindingsAt } from '../postgres/inspect.js';
import { lockFence, readStagingFence, writeStagingFence } from '../postgres/fence.js';
import { copyLost, findKeptCopy, restoreTables } from '../postgres/recovery-copy.js';
import { dropDatabase, recreateDatabase } from '../postgres/restore.js';
import { parseFilter } from '../postgres/selection.js';
import { type StagedTable, type StagingPlan, dropStaging, planStaging, stageSelection } from '../postgres/staging.js';
import { describeTable, partitionRootName } from '../postgres/tables.js';
import type { Resolver } from '../resolve.js';
import { downloadChecked } from '../storage/checksum.js';
import { manifestOf, refuseDamaged } from './intact.js';
import { RESTORE_JOBS } from './restore-backup.js';

/** The schema a selection is checked against before an incident has one: never created. */
const CHECK_SCHEMA = 'lifeboat_check';

export function createRecordRestoreActivities(resolve: Resolver) {
  const { databaseUrl, scratchServerUrl, storeOf } = resolve;

  /**
   * The selection checked against the live table: one of the target's tables (or a partition of
   * one), any schema; keys of its key's shape and types; filters on its columns; children that
   * can be staged. Returns the staging plan.
   */
  async function validSelection(input: SelectionRef & { incidentId?: string }, wholeTable?: boolean): Promise<StagingPlan> {
    const { selection } = input;
    if (!selection.keys && !selection.keyTuples && !selection.filter && !wholeTable)
      throw refuse('say which records: key values (--keys), key tuples (--key col=value,…) or a filter (--where)', FailureType.input);
    return withClient(databaseUrl(input.target, input.testDatabase), async (client) => {
      const shape = await describeTable(client, selection.table, { keyless: wholeTable ? 'allow' : 'refuse' });
      const tables = resolve.target(input.target).tables;
      // A point-in-time drill mends its own marker table, in its test database only.
      const drillMarkers = input.testDatabase !== undefined && shape.table === DRILL_MARKER_TABLE;
      if (!drillMarkers && !tables.includes(shape.table) && !tables.includes(await partitionRootName(client, shape.oid))) {
        throw refuse(`table ${shape.table} is not one of target ${input.target}'s tables (${tables.join(', ')})`, FailureType.input);
      }
      return planStaging(client, {
        schema: input.incidentId ? stagingSchema(input.incidentId) : CHECK_SCHEMA,
        table: shape.table,
        keys: selection.keys,
        keyTuples: selection.keyTuples,
        filter: selection.filter ? parseFilter(selection.filter, shape) : undefined,
        wholeTable,
        includeChildren: selection.includeChildren,
      });
    });
  }

  return {
    /** Checks a selection before an incident is declared, so a mistake is refused at once (the CLI exits 2). */
    async checkSelection(input: SelectionRef): Promise<void> {
      await validSelection(input);
    },

    /**
     * Stages the selected records from a side instance restored to a moment (activities/pgbackrest):
     * the same database of the same cluster, on the instance's loopback port, reached with the
     * production connection's user and password (the restored cluster has the same roles). A drill
     * stages into its test database, and only its own markers (drill.pointInTime).
     */
    async stageRecordsFromSide(input: Omit<StageInput, 'backupId'> & { sidePort: number }): Promise<StagedTable[]> {
      if (input.testDatabase && input.selection.table !== DRILL_MARKER_TABLE)
        throw refuse(
          `a drill takes only its markers (${DRILL_MARKER_TABLE}) from a point-in-time restore of production`,
          FailureType.input,
        );
      const url = databaseUrl(input.target, input.testDatabase);
      const plan = await validSelection(input, input.wholeTable);
      return heartbeatWhile({ phase: 'staging' }, () =>
        stageSelection(url, atLoopbackPort(databaseUrl(input.target), input.sidePort), plan),
      );
    },

    /**
     * Stages the selected records (or a whole table) from the backup, after validating the
     * selection, from a recovery copy of the backup on the verification server: the one its
     * verification kept, else one made now (the backup downloaded, its size and SHA-256 checked on
     * the way, and the tables the selection needs restored; dropped after). The rows are chosen
     * there with SQL and copied into the staging schema.
     */
    async stageRecords(input: StageInput): Promise<StagedTable[]> {
      const url = databaseUrl(input.target, input.testDatabase);
      // The selection checked while the manifest is read; a refusal of the selection is the one reported.
      const [checked, read] = await Promise.allSettled([
        validSelection(input, input.wholeTable),
        manifestOf(resolve, input.target, input.backupId),
      ]);
      if (checked.status === 'rejected') throw checked.reason;
      if (read.status === 'rejected') throw read.reason;
      const [plan, manifest] = [checked.value, read.value];
      const signal = Context.current().cancellationSignal;
      const server = scratchServerUrl(input.target);
      // The verification's restore of this backup, when kept: no download, no restore.
      const kept = await findKeptCopy(server, input.target, manifest.id, resolve.storeOf(input.target).location);
      if (kept) {
        const staged = await heartbeatWhile({ phase: 'staging' }, () => stageSelection(url, withDatabase(server, kept), plan)).catch(
          (err: unknown) => {
            // A newer backup's verification may drop the kept copy while it is read: then restore from the dump, as without one.
            if (!copyLost(err)) throw err;
            log.warn(`the recovery copy ${kept} went away while staging from it (${(err as Error).message}); staging from the dump`);
            return undefined;
          },
        );
        if (staged) return staged;
      }
      const copy = recoveryCopyName(input.incidentId);
      const dir = await mkdtemp(join(tmpdir(), 'lifeboat-stage-'));
      try {
        const beat = heartbeater();
        const file = join(dir, 'backup.dump');
        refuseDamaged(
          manifest,
          await downloadChecked(storeOf(input.target), manifest, file, {
            signal,
            onBytes: (bytes) => beat({ phase: 'downloading', bytes }),
          }),
        );
        await recreateDatabase(server, copy);
        await heartbeatWhile({ phase: 'restoring the recovery copy' }, () =>
          restoreTables(server, copy, file, plan.dataTables, { jobs: RESTORE_JOBS, signal }),
        );
        return await heartbeatWhile({ phase: 'staging' }, () => stageSelection(url, withDatabase(server, copy), plan));
      } finally {
        await dropDatabase(server, copy).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    },

    async diffRecords(input: StagedRecords) {
      return diffStaged(databaseUrl(input.target, input.testDatabase), stagingSchema(input.incidentId), input.staged, {
        wholeTable: input.wholeTable,
      });
    },

    /** Writes the current state of every row the apply will touch to the store; returns where. */
    async snapshotRecords(input: StagedRef): Promise<string> {
      const rows = await snapshotRows(databaseUrl(input.target, input.testDatabase), stagingSchema(input.incidentId), input.staged);
      const store = storeOf(input.target);
      const folder = `incidents/${input.incidentId}/snapshot`;
      for (const [table, lines] of Object.entries(rows)) await store.putText(`${folder}/${table}.jsonl`, lines);
      return `${store.location}/${folder}/`;
    },

    /**
     * Applies the staged rows in one transaction, at most once per approval: the apply's session
     * holds the fence's lock (a retry waits for it), and its fence and result are written in the
     * apply's transaction. A retry that finds them returns that result, marked, and changes nothing.
     */
    async applyRecords(input: StagedRecords): Promise<Record<string, AppliedCounts & { alreadyApplied?: string }>> {
      const schema = stagingSchema(input.incidentId);
      const fence = currentFence();
      return withClient(databaseUrl(input.target, input.testDatabase), async (client) => {
        await lockFence(client, fence);
        const earlier = await readStagingFence<Record<string, AppliedCounts>>(client, schema, fence);
        if (earlier) {
          const note = alreadyApplied(earlier);
          return Object.fromEntries(Object.entries(earlier.result).map(([table, counts]) => [table, { ...counts, alreadyApplied: note }]));
        }
        return heartbeatWhile({ phase: 'applying' }, () =>
          applyStagedOn(client, schema, input.staged, {
            wholeTable: input.wholeTable,
            beforeCommit: (c, result) => writeStagingFence(c, schema, fence, result),
          }),
        );
      });
    },

    /** The restored rows equal the backup's and the integrity checks pass; throws otherwise. */
    async checkRecords(input: StagedRef): Promise<void> {
      const url = databaseUrl(input.target, input.testDatabase);
      // The integrity checks over the restored rows where a check says how (restoredRows; the apply
      // changed nothing else), else over whole tables; at once with the rows, on sessions of their own.
      const restored = Object.fromEntries(input.staged.filter((t) => t.rows > 0 && !t.keysTruncated).map((t) => [t.table, t.keys]));
      const [compared, findings] = await Promise.all([
        compareWithStaged(url, stagingSchema(input.incidentId), input.staged),
        integrityFindingsAt(url, resolve.target(input.target).integrityChecks, restored),
      ]);
      const mismatches = Object.entries(compared).filter(([, keys]) => keys.length);
      const problems = [
        ...mismatches.map(([t, keys]) => `${t}: rows ${keys.slice(0, 10).join(', ')} differ from the backup`),
        ...findings.map((f) => `${f.check}: ${f.detail}`),
      ];
      if (problems.length) throw refuse(`verification failed: ${problems.join('; ')}`, FailureType.verification);
    },

    async dropStaging(input: IncidentRef): Promise<void> {
      await dropStaging(databaseUrl(input.target, input.testDatabase), stagingSchema(input.incidentId));
    },
  };
}
