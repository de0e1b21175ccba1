// Activities of the recovery plans: choosing backups, staging and applying records, full
// restores, checks, hooks and reports. Each is safe to run twice: staging areas and new
// databases are recreated, applies are upserts in one transaction, reports overwrite.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { parse } from 'pg-connection-string';
import type { BackupManifest, Finding, TableFingerprint } from '../common/backups.js';
import type { RecordSelection, RunContext, RunResult } from '../common/plans.js';
import { backupIdFor } from '../common/names.js';
import { runHook, type HookResult } from './hooks/hooks.js';
import { describeUrl, withClient, withDatabase } from './postgres/connection.js';
import { fingerprintDatabase, integrityFindings, rowCounts } from './postgres/inspect.js';
import {
  type StagedTable,
  applyStaged,
  compareWithStaged,
  describeTable,
  diffStaged,
  dropStaging,
  parseFilter,
  snapshotRows,
  stageFromBackup,
  validateKeys,
} from './postgres/records.js';
import { dropDatabase, restoreFromStream } from './postgres/restore.js';
import { writeReport } from './reports/report.js';
import type { Resolver } from './resolve.js';
import { heartbeatWhile, heartbeater, reportBytes } from './heartbeat.js';
import { restoreIntactBackupInto } from './restore-backup.js';
import { takeBackup } from './take-backup.js';
import { checksumFindings } from './storage/checksum.js';
import { dumpKey, restoredDatabaseName, stagingSchema } from '../common/names.js';
import { FailureType } from '../common/errors.js';

const fail = (message: string, type: FailureType = FailureType.recovery) => ApplicationFailure.nonRetryable(message, type);

export function createRecoveryActivities(resolve: Resolver, version: string) {
  const { databaseUrl, storeOf, catalogOf } = resolve;

  async function manifestOf(target: string, backupId: string): Promise<BackupManifest> {
    const found = await catalogOf(target).find(backupId, target);
    if (!found) throw fail(`no backup "${backupId}" of target "${target}"`, FailureType.backupNotFound);
    return found.manifest;
  }

  /** Refuses a backup whose stored bytes do not match its manifest. */
  async function assertIntact(manifest: BackupManifest): Promise<void> {
    const beat = heartbeater();
    const findings = await checksumFindings(storeOf(manifest.target), manifest, (bytes) => beat({ phase: 'checksumming', bytes }));
    if (findings.length)
      throw fail(`backup ${manifest.id} cannot be used: ${findings.map((f) => f.detail).join('; ')}`, FailureType.checksumMismatch);
  }

  /** Every table of the restored database against the backup: fingerprints when verification recorded them, counts otherwise. */
  async function compareWithBackup(input: {
    testDatabase?: string;
    target: string;
    database: string;
    backupId: string;
  }): Promise<{ summary: string; tables: Record<string, TableFingerprint> }> {
    const { manifest, verification } = (await catalogOf(input.target).find(input.backupId, input.target))!;
    const restored = await fingerprintDatabase(withDatabase(databaseUrl(input.target, input.testDatabase), input.database), {
      like: verification?.tables,
    });
    const problems: string[] = [];
    for (const [table, rows] of Object.entries(manifest.tables)) {
      if (restored[table]?.rows !== rows) problems.push(`${table}: ${restored[table]?.rows ?? 'missing'} rows, backup has ${rows}`);
      const expected = verification?.result === 'passed' ? verification.tables[table]?.checksum : undefined;
      if (expected && restored[table] && restored[table].checksum !== expected)
        problems.push(`${table}: content differs from the verified backup`);
    }
    if (problems.length)
      throw fail(`the restored database does not match backup ${manifest.id}: ${problems.join('; ')}`, FailureType.verification);
    const summary = `${Object.keys(manifest.tables).length} tables match ${manifest.id} (${verification?.result === 'passed' ? 'counts and checksums' : 'counts; the backup had no verified checksums'})`;
    return { summary, tables: restored };
  }

  return {
    async describeTarget(input: { testDatabase?: string; target: string }): Promise<string> {
      return describeUrl(databaseUrl(input.target, input.testDatabase));
    },

    /** The newest backup that passed verification and was taken before `before`. */
    async chooseBackup(input: { target: string; before: string }): Promise<{ id: string; startedAt: string }> {
      const backups = await catalogOf(input.target).list(input.target);
      const chosen = backups.find(
        (b) => b.verification?.result === 'passed' && !b.manifest.onlyTables && b.manifest.startedAt < input.before,
      );
      if (!chosen) {
        throw fail(
          `no verified backup of ${input.target} was taken before ${input.before} (${backups.length} backup(s) in the store; run "lifeboat verify")`,
          FailureType.noUsableBackup,
        );
      }
      return { id: chosen.manifest.id, startedAt: chosen.manifest.startedAt };
    },

    /** L4: the newest backup whose checksum verifies, with why each newer one was skipped. */
    async findUsableBackup(input: { target: string }) {
      const skipped: { id: string; reason: string }[] = [];
      for (const { manifest } of await catalogOf(input.target).list(input.target)) {
        if (manifest.onlyTables) {
          skipped.push({ id: manifest.id, reason: `partial: only ${manifest.onlyTables.join(', ')}` });
          continue;
        }
        try {
          await assertIntact(manifest);
          return { backup: { id: manifest.id, startedAt: manifest.startedAt }, tables: manifest.tables, skipped };
        } catch (err) {
          skipped.push({ id: manifest.id, reason: (err as Error).message.replace(/^backup \S+ cannot be used: /, '') });
        }
      }
      throw fail(
        `no backup of ${input.target} passes its checksum: ${skipped.map((s) => `${s.id} (${s.reason})`).join('; ') || 'there are no backups'}`,
        FailureType.noUsableBackup,
      );
    },

    /** Stages the selected records (or a whole table) from the backup, after validating the selection. */
    async stageRecords(input: {
      testDatabase?: string;
      incidentId: string;
      target: string;
      backupId: string;
      selection: RecordSelection;
      wholeTable?: boolean;
    }): Promise<StagedTable[]> {
      const { selection } = input;
      const url = databaseUrl(input.target, input.testDatabase);
      const plan = await withClient(url, async (client) => {
        const shape = await describeTable(client, selection.table);
        if (!resolve.target(input.target).tables.includes(shape.table)) {
          throw fail(
            `table ${shape.table} is not one of target ${input.target}'s tables (${resolve.target(input.target).tables.join(', ')})`,
            FailureType.input,
          );
        }
        return {
          schema: stagingSchema(input.incidentId),
          table: shape.table,
          keys: selection.keys ? validateKeys(selection.keys, shape) : undefined,
          filter: selection.filter ? parseFilter(selection.filter, shape) : undefined,
          wholeTable: input.wholeTable,
          includeChildren: selection.includeChildren,
        };
      });
      if (!plan.keys && !plan.filter && !plan.wholeTable)
        throw fail('say which records: primary keys (--keys) or a filter (--where)', FailureType.input);
      const manifest = await manifestOf(input.target, input.backupId);
      await assertIntact(manifest);
      const beat = heartbeater();
      // An opener, not a stream: a filter with children reads the archive twice rather than staging whole child tables.
      return stageFromBackup(
        url,
        () => storeOf(input.target).download(dumpKey(manifest.id)),
        plan,
        (p) => beat(p),
      );
    },

    async diffRecords(input: { testDatabase?: string; incidentId: string; target: string; staged: StagedTable[]; wholeTable?: boolean }) {
      return diffStaged(databaseUrl(input.target, input.testDatabase), stagingSchema(input.incidentId), input.staged, {
        wholeTable: input.wholeTable,
      });
    },

    /** Writes the current state of every row the apply will touch to the store; returns where. */
    async snapshotRecords(input: { testDatabase?: string; incidentId: string; target: string; staged: StagedTable[] }): Promise<string> {
      const rows = await snapshotRows(databaseUrl(input.target, input.testDatabase), stagingSchema(input.incidentId), input.staged);
      const store = storeOf(input.target);
      const folder = `incidents/${input.incidentId}/snapshot`;
      for (const [table, lines] of Object.entries(rows)) await store.putText(`${folder}/${table}.jsonl`, lines);
      return `${store.location}/${folder}/`;
    },

    async applyRecords(input: { testDatabase?: string; incidentId: string; target: string; staged: StagedTable[]; wholeTable?: boolean }) {
      return heartbeatWhile({ phase: 'applying' }, () =>
        applyStaged(databaseUrl(input.target, input.testDatabase), stagingSchema(input.incidentId), input.staged, {
          wholeTable: input.wholeTable,
        }),
      );
    },

    /** The restored rows equal the backup's and the integrity checks pass; throws otherwise. */
    async checkRecords(input: { testDatabase?: string; incidentId: string; target: string; staged: StagedTable[] }): Promise<void> {
      const url = databaseUrl(input.target, input.testDatabase);
      const mismatches = Object.entries(await compareWithStaged(url, stagingSchema(input.incidentId), input.staged)).filter(
        ([, keys]) => keys.length,
      );
      const findings = await withClient(url, (c) => integrityFindings(c, resolve.target(input.target).integrityChecks));
      const problems = [
        ...mismatches.map(([t, keys]) => `${t}: rows ${keys.slice(0, 10).join(', ')} differ from the backup`),
        ...findings.map((f) => `${f.check}: ${f.detail}`),
      ];
      if (problems.length) throw fail(`verification failed: ${problems.join('; ')}`, FailureType.verification);
    },

    async dropStaging(input: { testDatabase?: string; incidentId: string; target: string }): Promise<void> {
      await dropStaging(databaseUrl(input.target, input.testDatabase), stagingSchema(input.incidentId));
    },

    /** A backup of what is about to be overwritten, tagged with the incident: kept until deleted. */
    async safetyBackup(input: { incidentId: string; target: string; tables?: string[]; reason: string }): Promise<BackupManifest> {
      const request = {
        id: backupIdFor(input.target, new Date()),
        target: input.target,
        tables: input.tables,
        tags: ['safety', input.incidentId],
        reason: `safety snapshot ${input.reason} (${input.incidentId})`,
      };
      return takeBackup(resolve, request, version);
    },

    /** Drops a database a plan restored into; never the production database, nor the one the plan works on. */
    async dropRestoredDatabase(input: { testDatabase?: string; target: string; database: string }): Promise<void> {
      const url = databaseUrl(input.target, input.testDatabase);
      for (const kept of [databaseUrl(input.target), url]) {
        if (input.database === parse(kept).database)
          throw fail(`refusing to drop ${input.database}: it is the database target ${input.target} works on`, FailureType.input);
      }
      await dropDatabase(url, input.database);
    },

    async newDatabaseName(input: { testDatabase?: string; target: string; incidentId: string }): Promise<string> {
      const base = parse(databaseUrl(input.target, input.testDatabase)).database ?? input.target;
      return restoredDatabaseName(base, input.incidentId);
    },

    /**
     * Restores a backup whose checksum verifies: into a new database (recreated if a previous
     * attempt left one; checked while spooled, restored with parallel jobs, analyzed), or in place
     * in one transaction, so it is never half applied (checked first, then streamed).
     */
    async restoreDatabase(input: {
      testDatabase?: string;
      target: string;
      backupId: string;
      database?: string;
      incidentId: string;
    }): Promise<{ database: string; tables: number }> {
      const manifest = await manifestOf(input.target, input.backupId);
      const url = databaseUrl(input.target, input.testDatabase);
      if (input.database) {
        await restoreIntactBackupInto(storeOf(input.target), manifest, url, input.database);
        return { database: input.database, tables: Object.keys(manifest.tables).length };
      }
      await assertIntact(manifest);
      const database = parse(url).database!;
      const body = reportBytes(await storeOf(input.target).download(dumpKey(manifest.id)), 'restoring');
      await restoreFromStream(url, database, body, Context.current().cancellationSignal, { inPlace: true });
      return { database, tables: Object.keys(manifest.tables).length };
    },

    compareWithBackup,

    async auditDatabase(input: { testDatabase?: string; target: string; database: string; backupId: string }): Promise<string> {
      const { summary: matched } = await compareWithBackup(input);
      const findings = await withClient(withDatabase(databaseUrl(input.target, input.testDatabase), input.database), (c) =>
        integrityFindings(c, resolve.target(input.target).integrityChecks),
      );
      if (findings.length)
        throw fail(`audit findings: ${findings.map((f) => `${f.check}: ${f.detail}`).join('; ')}`, FailureType.verification);
      return `${matched}; integrity checks clean`;
    },

    /** L2 diagnosis: connectivity, row counts against the last manifest, integrity, recent writes. */
    async healthChecks(input: { testDatabase?: string; target: string }): Promise<Array<{ check: string; ok: boolean; detail: string }>> {
      const url = databaseUrl(input.target, input.testDatabase);
      const last = (await catalogOf(input.target).list(input.target))[0]?.manifest;
      try {
        return await withClient(url, async (c) => {
          const started = Date.now();
          await c.query('SELECT 1');
          const results = [{ check: 'connectivity', ok: true, detail: `answered in ${Date.now() - started} ms` }];
          const tables = resolve.target(input.target).tables;
          const counts = Object.entries(await rowCounts(c, tables));
          const dropped = counts.filter(([t, n]) => last?.tables[t] !== undefined && n < last.tables[t]! * 0.9);
          results.push({
            check: 'row counts',
            ok: dropped.length === 0,
            detail: dropped.length
              ? dropped.map(([t, n]) => `${t} ${n} rows, last backup ${last!.tables[t]}`).join('; ')
              : last
                ? `no table shrank by more than 10 % since ${last.id}`
                : 'no backup to compare with',
          });
          const findings: Finding[] = await integrityFindings(c, resolve.target(input.target).integrityChecks);
          results.push({
            check: 'integrity',
            ok: findings.length === 0,
            detail: findings.map((f) => `${f.check}: ${f.detail}`).join('; ') || 'clean',
          });
          const { rows } = await c.query<{ n: string }>(
            `SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS n FROM pg_stat_user_tables WHERE relname = ANY($1)`,
            [tables],
          );
          results.push({ check: 'recent activity', ok: true, detail: `${rows[0]!.n} rows written since statistics were reset` });
          return results;
        });
      } catch (err) {
        return [{ check: 'connectivity', ok: false, detail: (err as Error).message }];
      }
    },

    /** The application's critical functions, each in a transaction that is rolled back. */
    async criticalChecks(input: { testDatabase?: string; target: string; database?: string }): Promise<Array<{ check: string; ok: true }>> {
      const base = databaseUrl(input.target, input.testDatabase);
      const url = input.database ? withDatabase(base, input.database) : base;
      const failures: string[] = [];
      const passed: Array<{ check: string; ok: true }> = [];
      await withClient(url, async (c) => {
        for (const check of resolve.target(input.target).criticalChecks) {
          await c.query('BEGIN');
          try {
            await c.query(check.sql);
            passed.push({ check: check.name, ok: true });
          } catch (err) {
            failures.push(`${check.name}: ${(err as Error).message}`);
          } finally {
            await c.query('ROLLBACK');
          }
        }
      });
      if (failures.length) throw fail(`critical functions fail: ${failures.join('; ')}`, FailureType.criticalCheck);
      return passed;
    },

    async runTargetHook(input: {
      testDatabase?: string;
      incidentId: string;
      target: string;
      role: 'freezeWrites' | 'unfreezeWrites' | 'rollback' | 'cutover';
    }): Promise<HookResult> {
      // Hooks act on the real system (code, traffic, the production database): never from a drill.
      if (input.testDatabase) throw fail(`a drill does not run the ${input.role} hook: it acts on the real system`, FailureType.input);
      const name = resolve.target(input.target).hooks[input.role];
      if (!name)
        throw fail(
          `target ${input.target} has no ${input.role} hook configured (targets.${input.target}.hooks.${input.role})`,
          FailureType.config,
        );
      const result = await runHook(
        name,
        resolve.config.hooks[name]!,
        {
          incidentId: input.incidentId,
          target: input.target,
          action: input.role,
          databaseUrl: databaseUrl(input.target, input.testDatabase),
        },
        process.env,
        Context.current().cancellationSignal,
      );
      if (!result.ok)
        throw ApplicationFailure.retryable(
          `hook ${name} failed${result.timedOut ? ' (timed out)' : ''}: ${result.output.slice(-500)}`,
          FailureType.hook,
        );
      return result;
    },

    async writeIncidentReport(input: { context: RunContext; result: RunResult; workflowId: string }): Promise<string[]> {
      return writeReport(storeOf(input.context.target), {
        kind: 'incident',
        id: input.context.incidentId,
        title: `${input.context.level} incident ${input.context.incidentId}: ${input.context.summary}`,
        context: input.context,
        result: input.result,
        generatedAt: new Date().toISOString(),
        extra: { workflow: input.workflowId },
      });
    },
  };
}
