// Activities of the quarterly drill: its settings, the backup it recovers from, the isolated test
// database (created, restored, damaged, checked, dropped) and its report. Everything touches the
// test server through the resolver, which refuses a test database that is production.
import { Context } from '@temporalio/activity';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { type Aspect, compareDatabases } from '../checks/database-compare.js';
import type { RunContext, RunResult } from '../../common/plans.js';
import type { TableFingerprint } from '../../common/backups.js';
import type { DrillBackup, DrillInput, DrillRecord, DrillSettings, ScenarioKind, TableCheck } from '../../common/drills.js';
import { FailureType } from '../../common/errors.js';
import { rankBackups } from '../backups/choice.js';
import { findIntact } from '../backups/find-intact.js';
import { refuse } from '../failure.js';
import { heartbeatWhile, heartbeater } from '../heartbeat.js';
import type { TestDatabaseRef } from '../inputs.js';
import { databaseName, describeUrl, escapeIdentifier, withClient, withDatabase, withServer } from '../postgres/connection.js';
import { fingerprintDatabase, inheritanceFamilies, partitionLeaves, partitionedRows, quoteTable, rowCounts } from '../postgres/inspect.js';
import { describeTable } from '../postgres/tables.js';
import { dropDatabase, recreateDatabase } from '../postgres/restore.js';
import { restoreDefinitions } from '../postgres/recovery-copy.js';
import { writeDrillReport } from '../reports/drill-report.js';
import { type Resolver, TEST_DATABASE } from '../resolve.js';
import { manifestOf, refuseDamaged } from '../restores/intact.js';
import { downloadChecked } from '../storage/checksum.js';
import { restoreIntactBackupInto } from '../restores/restore-backup.js';
import { drillSettings } from './settings.js';

/**
 * The table a scenario damages when none is configured, read from the foreign keys: L1 deletes
 * rows of the first table whose children go with their parents (ON DELETE CASCADE / SET NULL);
 * L2 empties the first table nothing references (TRUNCATE refuses the others).
 */
async function defaultTable(client: pg.Client, tables: string[], kind: ScenarioKind): Promise<string> {
  const { rows } = await client.query<{ parent: string; rule: string }>(
    `SELECT p.relname AS parent, k.confdeltype AS rule FROM pg_constraint k JOIN pg_class p ON p.oid = k.confrelid
      WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`,
  );
  const rules = (t: string) => rows.filter((r) => r.parent === t).map((r) => r.rule);
  const found =
    kind === 'delete-rows'
      ? tables.find((t) => rules(t).length > 0 && rules(t).every((r) => r === 'c' || r === 'n' || r === 'd'))
      : tables.find((t) => rules(t).length === 0);
  return found ?? tables[0]!;
}

/**
 * What the drill's comparison leaves out: rows, which the table check before it has compared
 * (counts against the manifest, checksums against the reference); owners and grants, because a
 * drill's databases are disposable copies restored without the application's roles (owned by the
 * role the worker connects as, no grants), so they legitimately differ from the backup's.
 */
const DRILL_COMPARE_WITHOUT: Aspect[] = ['rows', 'owners', 'grants'];

export function createDrillActivities(resolver: Resolver) {
  const { config, databaseUrl, testServerUrl, catalogOf, storeOf } = resolver;

  /** The test database's connection; the resolver refuses one that is production. */
  const testUrl = (target: string, testDatabase: string, database?: string) => {
    const url = databaseUrl(target, testDatabase);
    return database ? withDatabase(url, database) : url;
  };

  return {
    async drillSettings(input: DrillInput): Promise<DrillSettings> {
      try {
        return drillSettings(config, input);
      } catch (err) {
        throw refuse((err as Error).message, FailureType.input);
      }
    },

    /**
     * The newest verified full backup whose stored bytes still match their checksum. A newer one
     * that no longer matches is marked as failed verification (so no plan picks it) and reported.
     */
    async chooseDrillBackup(input: { target: string }): Promise<DrillBackup> {
      const catalog = catalogOf(input.target);
      const found = await findIntact(rankBackups(await catalog.list(input.target), { verified: true }), {
        store: storeOf(input.target),
        skipUnreadable: false,
        onDamaged: (manifest, findings, durationMs) =>
          catalog.writeVerification({
            backupId: manifest.id,
            verifiedAt: new Date().toISOString(),
            result: 'failed',
            durationMs,
            tables: {},
            findings,
          }),
      });
      // Unverified and partial backups are passed over silently: a drill only ever uses a verified one.
      const skipped = found.skipped.filter((s) => s.why === 'damaged').map(({ id, reason }) => ({ id, reason }));
      if (found.chosen?.verification) {
        const { manifest, verification } = found.chosen;
        return {
          backup: { id: manifest.id, startedAt: manifest.startedAt },
          manifestTables: manifest.tables,
          verified: verification.tables,
          skipped,
        };
      }
      const why = skipped.length ? `; skipped ${skipped.map((s) => `${s.id} (${s.reason})`).join(', ')}` : '';
      throw refuse(
        `no verified backup of ${input.target} passes its checksum${why} (run "lifeboat backup" and "lifeboat verify latest")`,
        FailureType.noUsableBackup,
      );
    },

    /** Where the test database will live; refused (before anything exists) when that is production. */
    async resolveTestDatabase(input: TestDatabaseRef): Promise<string> {
      return describeUrl(testUrl(input.target, input.testDatabase));
    },

    /** Creates the empty test database (replacing one an earlier attempt left) and checks where it landed. */
    async createTestDatabase(input: TestDatabaseRef): Promise<string> {
      const url = testUrl(input.target, input.testDatabase);
      await recreateDatabase(testServerUrl(input.target), input.testDatabase);
      const actual = await withClient(url, async (c) => (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db);
      if (actual !== input.testDatabase)
        throw refuse(`connected to ${actual}, not the test database ${input.testDatabase}`, FailureType.config);
      return describeUrl(url);
    },

    /**
     * Restores the backup into the test database (recreated empty, so a retry starts afresh; refused
     * when its checksum does not match) and fingerprints every table: the reference the recovery must reach.
     */
    async restoreTestDatabase(input: TestDatabaseRef & { backupId: string }): Promise<Record<string, TableFingerprint>> {
      const url = testUrl(input.target, input.testDatabase);
      const manifest = await manifestOf(resolver, input.target, input.backupId);
      await restoreIntactBackupInto(storeOf(input.target), manifest, testServerUrl(input.target), input.testDatabase);
      return heartbeatWhile({ phase: 'fingerprinting' }, () => fingerprintDatabase(url));
    },

    /** The loss the plan must mend, done to the test database only. */
    async simulateScenario(
      input: TestDatabaseRef & { scenario: DrillSettings['scenario'] },
    ): Promise<{ table?: string; keys?: string[]; detail: string }> {
      const { kind, records } = input.scenario;
      if (kind === 'lose-database')
        return { detail: 'the whole database is lost: the test database is empty, the plan restores everything' };
      const tables = resolver.target(input.target).tables;
      return withClient(testUrl(input.target, input.testDatabase), async (c) => {
        const table = input.scenario.table ?? (await defaultTable(c, tables, kind));
        const before = await rowCounts(c, tables);
        await c.query('BEGIN');
        try {
          let keys: string[] | undefined;
          if (kind === 'delete-rows') {
            const { keyColumns } = await describeTable(c, table);
            // The drill's L1 names the deleted rows by the values of a one-column key (--keys).
            if (keyColumns.length !== 1)
              throw refuse(
                `the L1 drill deletes rows of ${table} by a one-column key, and its key is (${keyColumns.join(', ')}): set drill.table to a table with one`,
                FailureType.config,
              );
            const pk = escapeIdentifier(keyColumns[0]!);
            const picked = await c.query<{ k: string }>(`SELECT ${pk}::text AS k FROM ${quoteTable(table)} ORDER BY random() LIMIT $1`, [
              records,
            ]);
            keys = picked.rows.map((r) => r.k);
            // As a mistaken DELETE would: the foreign keys' rules take the children along.
            await c.query(`DELETE FROM ${quoteTable(table)} WHERE ${pk}::text = ANY($1)`, [keys]);
          } else {
            await c.query(`TRUNCATE ${quoteTable(table)}`);
          }
          await c.query('COMMIT');
          const after = await rowCounts(c, tables);
          const gone = tables.filter((t) => after[t] !== before[t]).map((t) => `${before[t]! - after[t]!} ${t}`);
          return {
            table,
            keys,
            detail: `${kind === 'delete-rows' ? `deleted ${table} ${keys!.join(', ')}` : `emptied ${table}`}: rows gone ${gone.join(', ') || 'none'}`,
          };
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw refuse(`the ${kind} scenario cannot be simulated on ${table}: ${(err as Error).message}`, FailureType.input);
        }
      });
    },

    /** Every table of the manifest in the recovered database: its row count, and its checksum against the reference. */
    async checkDrillTables(
      input: TestDatabaseRef & {
        database?: string;
        manifestTables: Record<string, number>;
        reference: Record<string, TableFingerprint>;
        measured?: Record<string, TableFingerprint>;
      },
    ): Promise<TableCheck[]> {
      const url = testUrl(input.target, input.testDatabase, input.database);
      const found =
        input.measured ?? (await heartbeatWhile({ phase: 'fingerprinting' }, () => fingerprintDatabase(url, { like: input.reference })));
      // A manifest from before partitions were counted alone also lists each partitioned table, whole:
      // its rows are its partitions' sum, and its content matches when every partition's does.
      const leaves = await withClient(url, partitionLeaves);
      const partitioned = partitionedRows(leaves, found);
      // One from before inheritance parents were counted alone counts a parent with its children's rows.
      const families = partitionedRows(await withClient(url, inheritanceFamilies), found);
      const matches = (table: string): TableCheck['checksum'] => {
        const got = found[table];
        const reference = input.reference[table]?.checksum;
        return !got ? 'missing' : !reference ? 'no reference' : got.checksum === reference ? 'match' : 'differs';
      };
      return Object.entries(input.manifestTables).map(([table, expectedRows]): TableCheck => {
        const parts = found[table] ? undefined : leaves[table];
        if (parts) {
          const checksums = parts.map(matches);
          return { table, rows: partitioned[table], expectedRows, checksum: checksums.find((c) => c !== 'match') ?? 'match' };
        }
        const rows = found[table]?.rows;
        return {
          table,
          rows: rows !== expectedRows && families[table] === expectedRows ? expectedRows : rows,
          expectedRows,
          checksum: matches(table),
        };
      });
    },

    /**
     * The recovered database (the test database, or the one the plan restored into) against the
     * backup on every aspect of the comparison module but DRILL_COMPARE_WITHOUT: the backup's
     * definitions and sequence values (no rows) are restored into <test database>_r beside it,
     * compared, and dropped. Returns the differences, one line each, naming the aspect.
     */
    async compareDrillDatabase(input: TestDatabaseRef & { database?: string; backupId: string }): Promise<string[]> {
      const server = testServerUrl(input.target);
      const manifest = await manifestOf(resolver, input.target, input.backupId);
      const reference = `${input.testDatabase}_r`;
      const signal = Context.current().cancellationSignal;
      const dir = await mkdtemp(join(tmpdir(), 'lifeboat-drill-'));
      try {
        const file = join(dir, 'backup.dump');
        const beat = heartbeater();
        const findings = await downloadChecked(storeOf(input.target), manifest, file, {
          signal,
          onBytes: (bytes) => beat({ phase: 'downloading', bytes }),
        });
        refuseDamaged(manifest, findings);
        await recreateDatabase(server, reference);
        await heartbeatWhile({ phase: 'restoring the definitions' }, () => restoreDefinitions(server, reference, file, { signal }));
        return await heartbeatWhile({ phase: 'comparing' }, () =>
          compareDatabases(withDatabase(server, reference), testUrl(input.target, input.testDatabase, input.database), {
            without: DRILL_COMPARE_WITHOUT,
          }),
        );
      } finally {
        await dropDatabase(server, reference).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    },

    /** Drops the test database and every database the plan created beside it (named after it); never anything else. */
    async dropTestDatabases(input: TestDatabaseRef): Promise<string[]> {
      if (!TEST_DATABASE.test(input.testDatabase)) throw refuse(`"${input.testDatabase}" is not a drill test database`, FailureType.input);
      const server = testServerUrl(input.target);
      const production = databaseName(databaseUrl(input.target));
      const names = await withServer(server, async (c) =>
        (
          await c.query<{ name: string }>('SELECT datname AS name FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1', [
            input.testDatabase,
          ])
        ).rows.map((r) => r.name),
      );
      for (const name of names.filter((n) => n !== production)) await dropDatabase(server, name);
      return names;
    },

    /** Removes the safety snapshots a plan took during the drill (they are of the test database, tagged with the drill id). */
    async removeDrillBackups(input: { target: string; drillId: string }): Promise<string[]> {
      const catalog = catalogOf(input.target);
      const ids = (await catalog.list(input.target)).filter((b) => b.manifest.tags.includes(input.drillId)).map((b) => b.manifest.id);
      for (const id of ids) await catalog.remove(id);
      return ids;
    },

    async writeDrillReport(input: {
      context: RunContext;
      result: RunResult;
      record: DrillRecord;
      findings: { check: string; detail: string }[];
      workflowId: string;
    }) {
      // Findings and step details may quote errors: the report is redacted like history.
      return writeDrillReport(storeOf(input.context.target), resolver.redactor.deep(input));
    },
  };
}
