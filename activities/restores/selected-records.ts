// Activities that restore selected records (L1) or whole tables (L2) from a backup: the records
// are staged from the backup into the incident's staging schema, diffed against the live rows,
// snapshotted (what the apply will overwrite goes to the store), applied in one transaction and
// checked. Each is safe to run twice: staging is recreated, the apply happens once per approval
// (a fence in the staging schema, activities/postgres/fence.ts), and the snapshot overwrites itself.
import { FailureType } from '../../common/errors.js';
import { dumpKey, stagingSchema } from '../../common/names.js';
import { refuse } from '../failure.js';
import { alreadyApplied, currentFence } from '../fence.js';
import { heartbeatWhile, heartbeater } from '../heartbeat.js';
import type { IncidentRef, SelectionRef, StageInput, StagedRecords, StagedRef } from '../inputs.js';
import { withClient } from '../postgres/connection.js';
import { integrityFindings } from '../postgres/inspect.js';
import { lockFence, readStagingFence, writeStagingFence } from '../postgres/fence.js';
import {
  type AppliedCounts,
  type StagedTable,
  applyStagedOn,
  compareWithStaged,
  describeTable,
  diffStaged,
  dropStaging,
  parseFilter,
  snapshotRows,
  stageFromBackup,
  validateKeys,
} from '../postgres/records.js';
import type { Resolver } from '../resolve.js';
import { assertIntact, manifestOf } from './intact.js';

export function createRecordRestoreActivities(resolve: Resolver) {
  const { databaseUrl, storeOf } = resolve;

  /** The selection checked against the live table: one of the target's tables, keys of its key's type, filters on its columns. */
  async function validSelection(input: SelectionRef, wholeTable?: boolean) {
    const { selection } = input;
    const plan = await withClient(databaseUrl(input.target, input.testDatabase), async (client) => {
      const shape = await describeTable(client, selection.table);
      if (!resolve.target(input.target).tables.includes(shape.table)) {
        throw refuse(
          `table ${shape.table} is not one of target ${input.target}'s tables (${resolve.target(input.target).tables.join(', ')})`,
          FailureType.input,
        );
      }
      return {
        table: shape.table,
        keys: selection.keys ? validateKeys(selection.keys, shape) : undefined,
        filter: selection.filter ? parseFilter(selection.filter, shape) : undefined,
        wholeTable,
        includeChildren: selection.includeChildren,
      };
    });
    if (!plan.keys && !plan.filter && !plan.wholeTable)
      throw refuse('say which records: primary keys (--keys) or a filter (--where)', FailureType.input);
    return plan;
  }

  return {
    /** Checks a selection before an incident is declared, so a mistake is refused at once (the CLI exits 2). */
    async checkSelection(input: SelectionRef): Promise<void> {
      await validSelection(input);
    },

    /** Stages the selected records (or a whole table) from the backup, after validating the selection. */
    async stageRecords(input: StageInput): Promise<StagedTable[]> {
      const url = databaseUrl(input.target, input.testDatabase);
      const plan = { ...(await validSelection(input, input.wholeTable)), schema: stagingSchema(input.incidentId) };
      const manifest = await manifestOf(resolve, input.target, input.backupId);
      await assertIntact(resolve, manifest);
      const beat = heartbeater();
      // An opener, not a stream: a filter with children reads the archive twice rather than staging whole child tables.
      return stageFromBackup(
        url,
        () => storeOf(input.target).download(dumpKey(manifest.id)),
        plan,
        (p) => beat(p),
      );
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
      const mismatches = Object.entries(await compareWithStaged(url, stagingSchema(input.incidentId), input.staged)).filter(
        ([, keys]) => keys.length,
      );
      const findings = await withClient(url, (c) => integrityFindings(c, resolve.target(input.target).integrityChecks));
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
