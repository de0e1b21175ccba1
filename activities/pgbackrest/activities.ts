// The activities of physical backups and point-in-time recovery, all through pgBackRest: setting a
// target up, backups and their catalogue, verification, the warm copy (a backup restored ahead of
// time), side instances restored to a moment, and whole clusters recovered to a moment into a new
// data directory or, after a safety backup and an approval, in place (L3/L4).
import { Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { parse } from 'pg-connection-string';
import type { Resolver } from '../resolve.js';
import { type PhysicalCatalog, createPhysicalBackupActivities, physicalCatalog } from './backups.js';
import { type WarmCopyOutcome, type WarmState, prepareWarmCopy, removeWarmCopy, warmState } from './warm-copy.js';
import { type Moment, checkMoment } from '../../common/moments.js';
import { type PhysicalSetup, preparePhysical } from './setup.js';
import { type RestorePoint, createRestorePoint } from './restore-point.js';
import { type RecoveredCluster, removeRecovered, restoreRecovered } from './recovered-cluster.js';
import { type InPlaceInput, type InPlaceRestore, restoreInPlace, safetyBackup } from './in-place.js';
import type { PhysicalBackup } from './backups.js';
import { instanceIdFor } from '../../common/names.js';
import { type SideInstance, removeSide, restoreSide, sideFolders } from './side-instance.js';
import { type SweepEntry, type SweepLog, ownerRunning, sweepSides } from './sweep.js';
import { type PhysicalTarget, physicalTarget } from './target.js';
import { type TableChanges, findTableChanges } from './wal-changes.js';
import { type WalFreshness, walFreshness } from './wal-freshness.js';
import { refuse } from '../failure.js';
import { heartbeatWhile } from '../heartbeat.js';
import { FailureType } from '../../common/errors.js';

/** A moment the plan was given, checked again where it is used: a bad one is refused as input. */
function checkedMoment(moment: Moment): Moment {
  try {
    return checkMoment(moment);
  } catch (err) {
    throw refuse((err as Error).message, FailureType.input);
  }
}

export function createPhysicalActivities(resolve: Resolver) {
  return {
    ...createPhysicalBackupActivities(resolve),

    /** The physical backups, the WAL the repository holds, and the stanza's warm copy. */
    async physicalBackups(input: { target: string }): Promise<PhysicalCatalog & { warmCopy: WarmState }> {
      const p = await physicalTarget(resolve, input.target);
      return { ...(await physicalCatalog(p)), warmCopy: warmState(p) };
    },

    /** Prepares the stanza's warm copy from backup `label`, the newest when absent (warm-copy.ts: skipped with the reason when off or short of disk). */
    async prepareWarmCopy(input: { target: string; label?: string }): Promise<WarmCopyOutcome> {
      return prepareWarmCopy(await physicalTarget(resolve, input.target), input.label);
    },

    /** Stops and removes the stanza's warm copy; true if there was one. */
    async removeWarmCopy(input: { target: string }): Promise<boolean> {
      return removeWarmCopy(await physicalTarget(resolve, input.target));
    },

    /** Checks what pgBackRest needs of the target and sets up what the configuration allows; refuses the rest with the fix. */
    async preparePhysical(input: { target: string }): Promise<PhysicalSetup> {
      return preparePhysical(resolve, input.target);
    },

    /** Restores the target's cluster to the moment into side instance `sideId`, started and promoted (see side-instance.ts). */
    async restoreToMoment(input: { target: string; moment: Moment; sideId: string }): Promise<SideInstance> {
      const p = await physicalTarget(resolve, input.target);
      const { workflowExecution, workflowType } = Context.current().info;
      // Orphans of plans that will never clean up (terminated, their worker gone) are swept first: they hold ports and disk.
      await sweepOrphans(p, input.sideId);
      const { workflowId, runId } = workflowExecution ?? {};
      const owner =
        workflowId && runId ? { workflowId, runId, workflowType: workflowType ?? '', createdAt: new Date().toISOString() } : undefined;
      return restoreSide(p, input.sideId, checkedMoment(input.moment), owner);
    },

    /**
     * Restores the target's whole cluster to the moment into a new data directory, started on its own
     * port and promoted, and kept running for the cut-over (recovered-cluster.ts).
     */
    async restoreClusterToMoment(input: { target: string; moment: Moment; clusterId: string }): Promise<RecoveredCluster> {
      const p = await physicalTarget(resolve, input.target);
      return restoreRecovered(
        p,
        input.clusterId,
        checkedMoment(input.moment),
        parse(resolve.databaseUrl(input.target)).database ?? input.target,
      );
    },

    /** A safety backup of production before an in-place restore: incremental when a full exists; its label is the way back. */
    async physicalSafetyBackup(input: { target: string; incidentId: string }): Promise<PhysicalBackup> {
      return safetyBackup(await physicalTarget(resolve, input.target), input.incidentId);
    },

    /**
     * Restores production itself to the moment (`pgbackrest restore --delta`, archiving on): stopped,
     * restored, started and promoted, once per incident whatever the retries (in-place.ts).
     */
    async restoreClusterInPlace(
      input: { target: string; incidentId: string } & Pick<InPlaceInput, 'moment' | 'undo'>,
    ): Promise<InPlaceRestore> {
      const p = await physicalTarget(resolve, input.target);
      return restoreInPlace(resolve, p, { id: instanceIdFor(input.incidentId), moment: checkedMoment(input.moment), undo: input.undo });
    },

    /** Stops and removes a recovered cluster that was not handed over; true if there was one. Safe to call any number of times. */
    async removeRecoveredCluster(input: { target: string; clusterId: string }): Promise<boolean> {
      return removeRecovered(await physicalTarget(resolve, input.target), input.clusterId);
    },

    /** Creates restore point `name` on the target before a destructive step (restore-point.ts: safe to repeat). */
    async createRestorePoint(input: { target: string; name: string }): Promise<RestorePoint> {
      return createRestorePoint(resolve, input.target, input.name);
    },

    /** Whether WAL reaches the repository within physical.walMaxAge (wal-freshness.ts). */
    async walFreshness(input: { target: string }): Promise<WalFreshness> {
      return walFreshness(resolve, input.target);
    },

    /** The transactions that deleted or changed rows of a table, from the archived WAL (wal-changes.ts). */
    async findTableChanges(input: { target: string; table: string; since?: string; until?: string }): Promise<TableChanges> {
      return findTableChanges(resolve, input);
    },

    /** Stops and removes the target's orphan side instances (sweep.ts): the side-sweep schedule's work. */
    async sweepOrphanSides(input: { target: string }): Promise<SweepEntry[]> {
      return sweepOrphans(await physicalTarget(resolve, input.target));
    },

    /** Stops and removes a side instance; true if there was one. Safe to call any number of times. */
    async removeSideInstance(input: { target: string; sideId: string }): Promise<boolean> {
      return removeSide(await physicalTarget(resolve, input.target), input.sideId);
    },
  };
}

/** Sweeps the target's orphan side instances but `keep`, asking the activity's worker's Temporal; nothing without one. */
async function sweepOrphans(p: PhysicalTarget, keep?: string): Promise<SweepEntry[]> {
  const client = clientOf(Context.current());
  if (!client) return [];
  return heartbeatWhile({ phase: 'sweeping orphan side instances' }, () =>
    sweepSides(
      sideFolders(p.config.configDir, async () => p),
      ownerRunning(client),
      log,
      keep,
    ),
  );
}

/** The worker's Temporal client, when the activity runs in a worker (not in a mock environment without one). */
function clientOf(context: Context): Client | undefined {
  try {
    return context.client;
  } catch {
    return undefined;
  }
}

/**
 * Sweeps every physical target's orphan side instances (sweep.ts), as a worker starts: a worker that
 * died for good leaves its plans' instances running until a worker comes back. Never throws.
 */
export async function sweepSideInstances(resolve: Resolver, client: Client, say: SweepLog): Promise<SweepEntry[]> {
  const swept: SweepEntry[] = [];
  for (const [name, target] of Object.entries(resolve.config.targets)) {
    if (!target.physical) continue;
    try {
      const folders = sideFolders(target.physical.configDir, () => physicalTarget(resolve, name));
      swept.push(...(await sweepSides(folders, ownerRunning(client), say)));
    } catch (err) {
      say.warn(`side instances of ${name} not swept: ${(err as Error).message}`);
    }
  }
  return swept;
}
