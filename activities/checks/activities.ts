// Activities that look at a database without changing it: where a target is, its health (L2
// diagnosis), a restored database against its backup (row counts, and checksums when verification
// recorded them), the target's integrity and critical-function checks (run in transactions that
// are rolled back). A failed check is a non-retryable failure naming every problem found.
import type { Finding, TableFingerprint } from '../../common/backups.js';
import { FailureType } from '../../common/errors.js';
import type { TargetRef } from '../../common/plans.js';
import { refuse } from '../failure.js';
import { heartbeatWhile } from '../heartbeat.js';
import type { DatabaseRef, RestoredRef } from '../inputs.js';
import { queryLeavingNoTrace } from '../postgres/configured-sql.js';
import { atLoopbackPort, databaseExists, databaseName, describeUrl, withClient, withDatabase } from '../postgres/connection.js';
import {
  fingerprintDatabase,
  inheritanceFamilies,
  integrityFindings,
  integrityFindingsAt,
  partitionLeaves,
  partitionedRows,
  rowCounts,
  userTables,
} from '../postgres/inspect.js';
import { privilegeDifferences, readPrivileges } from '../postgres/privileges.js';
import type { Resolver } from '../resolve.js';

export function createCheckActivities(resolve: Resolver) {
  const { databaseUrl, scratchServerUrl, catalogOf } = resolve;

  /**
   * Every table of the restored database against the backup: fingerprints when verification recorded
   * them, counts otherwise; owners and grants where the restore kept them. The summary counts each row once.
   */
  async function compareWithBackup(input: RestoredRef): Promise<{ summary: string; tables: Record<string, TableFingerprint> }> {
    const { manifest, verification } = (await catalogOf(input.target).find(input.backupId, input.target))!;
    const url = withDatabase(databaseUrl(input.target, input.testDatabase), input.database);
    const restored = await fingerprintDatabase(url, { like: verification?.tables });
    // A backup from before partitions were counted alone also lists each partitioned table, whole.
    const partitioned = partitionedRows(await withClient(url, partitionLeaves), restored);
    // A backup from before inheritance parents were counted alone lists a parent with its children's rows.
    const families = partitionedRows(await withClient(url, inheritanceFamilies), restored);
    const problems: string[] = [];
    for (const [table, rows] of Object.entries(manifest.tables)) {
      const got = restored[table]?.rows ?? partitioned[table];
      // Such an older backup's checksum of the parent covers the children too: the children's own are compared.
      const olderFamily = got !== rows && families[table] === rows;
      if (got !== rows && !olderFamily) problems.push(`${table}: ${got ?? 'missing'} rows, backup has ${rows}`);
      const expected = verification?.result === 'passed' ? verification.tables[table]?.checksum : undefined;
      if (expected && restored[table] && !olderFamily && restored[table].checksum !== expected)
        problems.push(`${table}: content differs from the verified backup`);
    }
    // Owners and grants, where the restore kept them: not in a drill's disposable copy, nor where the target restores without them.
    const ownersDropped = resolve.target(input.target).restore.owners === 'drop';
    const comparePrivileges = manifest.privileges !== undefined && !input.testDatabase && !ownersDropped;
    if (comparePrivileges) {
      const actual = await withClient(withDatabase(databaseUrl(input.target), input.database), readPrivileges);
      // In place, the schema public keeps the owner the database gave it (activities/postgres/restore-in-place.ts).
      const inPlace = input.database === databaseName(databaseUrl(input.target));
      problems.push(...privilegeDifferences(manifest.privileges!, actual, inPlace ? ['schema public'] : []));
    }
    if (problems.length)
      throw refuse(`the restored database does not match backup ${manifest.id}: ${problems.join('; ')}`, FailureType.verification);
    const counted = Object.entries(manifest.tables).filter(([table]) => partitioned[table] === undefined);
    const rows = counted.reduce((sum, [, n]) => sum + n, 0);
    const privileges = comparePrivileges
      ? '; owners and grants'
      : ownersDropped && !input.testDatabase
        ? '; owners and grants not restored (restore.owners: drop)'
        : '';
    const summary = `${counted.length} tables (${rows} rows) match ${manifest.id} (${verification?.result === 'passed' ? 'counts and checksums' : 'counts; the backup had no verified checksums'}${privileges})`;
    return { summary, tables: restored };
  }

  /** A cluster recovered to a moment: on `port` of the loopback interface, or production itself (restored in place). */
  const recoveredUrl = (input: { target: string; port?: number }) =>
    input.port === undefined ? databaseUrl(input.target) : atLoopbackPort(databaseUrl(input.target), input.port);

  /**
   * Reads the recovered database's tables with `read` while the target's integrity checks run
   * (each on connections of its own); refuses a database that is not there and any finding.
   */
  async function recoveredDatabase<T>(input: { target: string; port?: number }, read: () => Promise<T>): Promise<T> {
    const url = recoveredUrl(input);
    if (!(await databaseExists(url)))
      throw refuse(
        `the recovered cluster has no database "${databaseName(url)}": it did not exist at the moment recovered to; declare a later moment`,
        FailureType.verification,
      );
    const [tables, findings] = await heartbeatWhile({ phase: 'reading every table; integrity checks' }, () =>
      Promise.all([read(), integrityFindingsAt(url, resolve.target(input.target).integrityChecks)]),
    );
    if (findings.length)
      throw refuse(
        `integrity findings in the recovered database: ${findings.map((f) => `${f.check}: ${f.detail}`).join('; ')}`,
        FailureType.verification,
      );
    return tables;
  }

  return {
    /** Where the target's database is, for approvers; says so when it does not exist (dropped). */
    async describeTarget(input: TargetRef): Promise<string> {
      const url = databaseUrl(input.target, input.testDatabase);
      // A server that cannot be asked is the restore's problem to report, not the description's.
      const exists = await databaseExists(url).catch(() => true);
      return `${describeUrl(url)}${exists ? '' : ' (does not exist: dropped)'}`;
    },

    /** Whether the target's database exists, and where it is: a dropped one has nothing to snapshot. */
    async findTargetDatabase(input: TargetRef): Promise<{ exists: boolean; where: string }> {
      const url = databaseUrl(input.target, input.testDatabase);
      return { exists: await databaseExists(url), where: describeUrl(url) };
    },

    /**
     * Fingerprints every table of a database (the target's, or a scratch one) and runs the target's integrity checks there.
     * `partitioned`: each partitioned table's rows (its partitions' sum), for a manifest from before partitions were counted alone;
     * `families`: each inheritance parent's rows with its children's, for a manifest from before parents were counted alone.
     */
    async inspectDatabase(input: { target: string; database?: string }): Promise<{
      tables: Record<string, TableFingerprint>;
      findings: Finding[];
      partitioned: Record<string, number>;
      families: Record<string, number>;
    }> {
      const base = input.database ? withDatabase(scratchServerUrl(input.target), input.database) : databaseUrl(input.target);
      const tables = await heartbeatWhile({ phase: 'fingerprinting' }, () => fingerprintDatabase(base));
      const findings = await heartbeatWhile({ phase: 'integrity checks' }, () =>
        withClient(base, (client) => integrityFindings(client, resolve.target(input.target).integrityChecks)),
      );
      return {
        tables,
        findings,
        partitioned: partitionedRows(await withClient(base, partitionLeaves), tables),
        families: partitionedRows(await withClient(base, inheritanceFamilies), tables),
      };
    },

    compareWithBackup,

    async auditDatabase(input: RestoredRef): Promise<string> {
      const { summary: matched } = await compareWithBackup(input);
      const findings = await withClient(withDatabase(databaseUrl(input.target, input.testDatabase), input.database), (c) =>
        integrityFindings(c, resolve.target(input.target).integrityChecks),
      );
      if (findings.length)
        throw refuse(`audit findings: ${findings.map((f) => `${f.check}: ${f.detail}`).join('; ')}`, FailureType.verification);
      return `${matched}; integrity checks clean`;
    },

    /**
     * The application's database on a cluster recovered to a moment (on `port` of the loopback
     * interface; without one, production itself, restored in place): every table fingerprinted (rows
     * and checksum) and the target's integrity checks, which must find nothing. The L4's full audit
     * (and the verification of runs begun before checkRecoveredCluster).
     */
    async inspectRecoveredCluster(input: {
      target: string;
      port?: number;
    }): Promise<{ summary: string; tables: Record<string, TableFingerprint> }> {
      const tables = await recoveredDatabase(input, () => fingerprintDatabase(recoveredUrl(input)));
      const rows = Object.values(tables).reduce((sum, t) => sum + t.rows, 0);
      return { summary: `${Object.keys(tables).length} tables (${rows} rows) fingerprinted; integrity checks clean`, tables };
    },

    /**
     * The verification of a cluster recovered to a moment: every table counted, and the target's
     * integrity checks (at the same time), which must find nothing. No checksums: a physical
     * recovery has no recorded reference to compare them with (its files were checked by pgBackRest
     * against its manifest, each WAL record by PostgreSQL's CRC, and it promoted only once consistent
     * at the target), so they would only delay the cut-over; the L4's full audit takes them.
     */
    async checkRecoveredCluster(input: { target: string; port?: number }): Promise<{ summary: string; rows: Record<string, number> }> {
      const rows = await recoveredDatabase(input, () => withClient(recoveredUrl(input), async (c) => rowCounts(c, await userTables(c))));
      const total = Object.values(rows).reduce((sum, n) => sum + n, 0);
      return { summary: `${Object.keys(rows).length} tables (${total} rows) counted; integrity checks clean`, rows };
    },

    /** L2 diagnosis: connectivity, row counts against the last manifest, integrity, recent writes. */
    async healthChecks(input: TargetRef): Promise<Array<{ check: string; ok: boolean; detail: string }>> {
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

    /**
     * The application's critical functions, each one statement in a transaction that is rolled back, sequences set back;
     * with `port`, on the cluster recovered to a moment listening there (L3/L4 at a moment).
     */
    async criticalChecks(input: TargetRef & Partial<DatabaseRef> & { port?: number }): Promise<Array<{ check: string; ok: true }>> {
      const base = databaseUrl(input.target, input.testDatabase);
      const named = input.database ? withDatabase(base, input.database) : base;
      const url = input.port === undefined ? named : atLoopbackPort(named, input.port);
      const failures: string[] = [];
      const passed: Array<{ check: string; ok: true }> = [];
      await withClient(url, async (c) => {
        for (const check of resolve.target(input.target).criticalChecks) {
          try {
            await queryLeavingNoTrace(c, check.sql);
            passed.push({ check: check.name, ok: true });
          } catch (err) {
            failures.push(`${check.name}: ${(err as Error).message}`);
          }
        }
      });
      if (failures.length) throw refuse(`critical functions fail: ${failures.join('; ')}`, FailureType.criticalCheck);
      return passed;
    },
  };
}
