// The steps L3 and L4 take at a moment (declared with --at, --before-restore-point or --before-xid on
// a physical target): the whole cluster restored by pgBackRest to the moment into a new data
// directory beside production, started on its own port, verified, and handed over with the cut-over
// task. Nothing of production is touched, so no approval is needed to restore; until the cut-over is
// marked done, a plan that ends (failed, rejected, aborted) stops and removes the recovered cluster.
import type { RecoveredCluster } from '../activities/pgbackrest/recovered-cluster.js';
import type { TableFingerprint } from '../common/backups.js';
import { IN_PLACE_AT_MOMENT, type Moment, describeMoment } from '../common/moments.js';
import { instanceIdFor } from '../common/names.js';
import { formatDuration } from '../common/time.js';
import type { PlanOptions, RecoveredClusterRef, RunResult } from '../common/plans.js';
import type { Runbook } from './engine/runbook.js';
import { heavy, quick } from './proxies.js';

/** The moment actually recovered to stands where a backup's start would: the RPO is measured from it. */
export function pointInTime(recoveredTo: string): { id: string; startedAt: string } {
  return { id: `point-in-time ${recoveredTo}`, startedAt: recoveredTo };
}

/** What `verify all tables` found in a cluster recovered to a moment. */
export interface RecoveredTables {
  summary: string;
  /** Each table's rows. */
  rows: Record<string, number>;
  /** Each table's checksum too, in runs begun before the verification only counted (see planRunbook). */
  fingerprints?: Record<string, TableFingerprint>;
}

/**
 * `verify all tables` of a cluster recovered to a moment (on `port` of the loopback interface, or
 * production itself): every table counted and the integrity checks, or, in runs begun before, every
 * table fingerprinted too (a checksum a physical recovery has nothing to compare with).
 */
export async function verifyTablesStep(run: Runbook, what: string, port?: number): Promise<RecoveredTables> {
  const where = { target: run.context.target, ...(port === undefined ? {} : { port }) };
  if (run.countsRecoveredTables)
    return run.step(
      `verify all tables: counts and integrity of ${what}`,
      () => heavy.checkRecoveredCluster(where),
      (v) => v.summary,
    );
  const v = await run.step(
    `verify all tables: counts, checksums and integrity of ${what}`,
    () => heavy.inspectRecoveredCluster(where),
    (x) => x.summary,
  );
  return { summary: v.summary, rows: Object.fromEntries(Object.entries(v.tables).map(([t, f]) => [t, f.rows])), fingerprints: v.tables };
}

/** The result's record of the tables verified: their rows, and their checksums where they were taken. */
export function tablesOf(v: RecoveredTables): Pick<RunResult, 'tableRows' | 'fingerprints'> {
  return { tableRows: v.rows, ...(v.fingerprints ? { fingerprints: v.fingerprints } : {}) };
}

/** `verify all systems` on a cluster recovered to a moment: on `port` of the loopback interface, or production itself. */
export async function criticalChecksStep(run: Runbook, port?: number): Promise<void> {
  await run.step(
    'verify all systems: critical-function checks',
    () => quick.criticalChecks({ target: run.context.target, ...(port === undefined ? {} : { port }) }),
    (c) => c.map((x) => x.check).join(', '),
  );
}

export class MomentRecovery {
  private readonly clusterId: string;
  private restoring = false;
  private handedOver = false;
  private recovered?: RecoveredCluster;

  constructor(
    private readonly run: Runbook,
    readonly moment: Moment,
  ) {
    this.clusterId = instanceIdFor(run.context.incidentId);
  }

  /** Refuses what a recovery to a moment cannot do, before any step runs. */
  check(options: PlanOptions): void {
    if (options.inPlace) throw new Error(IN_PLACE_AT_MOMENT);
    if (this.run.context.testDatabase)
      throw new Error('a drill cannot recover a cluster to a moment: its test database is not where the target archives WAL');
  }

  /** The recovered cluster (once restored). */
  get cluster(): RecoveredCluster {
    if (!this.recovered) throw new Error('the cluster has not been recovered yet');
    return this.recovered;
  }

  /** What the plan used, for its RPO: the moment recovered to. */
  get backup(): { id: string; startedAt: string } | undefined {
    return this.recovered && pointInTime(this.recovered.recoveredTo);
  }

  get ref(): RecoveredClusterRef {
    const { host, port, dataDir, database, recoveredTo } = this.cluster;
    return { host, port, dataDir, database, recoveredTo };
  }

  /** Where the recovered database is, in words, for approvers and details. */
  get where(): string {
    const { host, port, database, dataDir } = this.cluster;
    return `postgres at ${host}:${port}/${database} (the recovered cluster, data directory ${dataDir})`;
  }

  /** `<phase>: restore the cluster to <moment> into a new data directory`, started and promoted. */
  async restore(phase: string): Promise<RecoveredCluster> {
    this.restoring = true;
    this.recovered = await this.run.step(
      `${phase}: restore the cluster to ${describeMoment(this.moment)} into a new data directory`,
      () => heavy.restoreClusterToMoment({ target: this.run.context.target, moment: this.moment, clusterId: this.clusterId }),
      (c) =>
        `recovered to ${c.recoveredTo} (${c.stoppedAt}); listening on ${c.host}:${c.port}, data directory ${c.dataDir}` +
        (c.source
          ? `; ${c.source}`
          : c.took
            ? `; catalogue ${formatDuration(c.took.catalogMs)}, pgbackrest restore ${formatDuration(c.took.restoreMs)}, recovery ${formatDuration(c.took.recoveryMs)}`
            : ''),
    );
    this.run.show({ backupUsed: this.backup });
    return this.recovered;
  }

  /** Where the plan left the data, for the result's detail. */
  get detail(): string {
    const { recoveredTo, dataDir, host, port } = this.cluster;
    return `recovered the cluster to ${recoveredTo} into ${dataDir}, serving ${host}:${port}`;
  }

  /** Every table of the recovered database fingerprinted, and the integrity checks clean (the activity alone: the L4's full audit). */
  inspect(): Promise<{ summary: string; tables: Record<string, TableFingerprint> }> {
    return heavy.inspectRecoveredCluster({ target: this.run.context.target, port: this.cluster.port });
  }

  /** The step that verifies the recovered database. */
  verifyTables(): Promise<RecoveredTables> {
    return verifyTablesStep(this.run, 'the recovered database', this.cluster.port);
  }

  criticalChecks(): Promise<void> {
    return criticalChecksStep(this.run, this.cluster.port);
  }

  /** The cut-over task: once it is done the cluster is the application's, and stays whatever follows. */
  async cutOver(): Promise<void> {
    const { host, port, dataDir, database, recoveredTo } = this.cluster;
    await this.run.task(
      'cut-over',
      `Point the application at database "${database}" on ${host}:${port} (the database server's loopback; set listen_addresses to serve other hosts): ` +
        `the cluster recovered to ${recoveredTo}, data directory ${dataDir}. It was restored with archiving off: before it takes writes, ` +
        `set up archiving for it (a target whose physical.pgPath is this data directory, with a new stanza: lifeboat pitr prepare, then a full backup). ` +
        `Then mark this done; until then, a plan that fails or is aborted stops and removes it.`,
    );
    this.handedOver = true;
  }

  /** A plan that ends before its cut-over leaves no recovered cluster behind. */
  async removeUnlessHandedOver(): Promise<void> {
    if (!this.restoring || this.handedOver) return;
    await this.run.cleanup('clean up the recovered cluster', () =>
      quick.removeRecoveredCluster({ target: this.run.context.target, clusterId: this.clusterId }),
    );
  }
}
