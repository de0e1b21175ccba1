// The activities of physical backups and point-in-time recovery, all through pgBackRest: setting a
// target up, backups and their catalogue, verification, and side instances restored to a moment.
import { parse } from 'pg-connection-string';
import type { Resolver } from '../resolve.js';
import { createPhysicalBackupActivities } from './backups.js';
import { type Moment, checkMoment } from '../../common/moments.js';
import { type PhysicalSetup, preparePhysical } from './setup.js';
import { type RestorePoint, createRestorePoint } from './restore-point.js';
import { type SideInstance, removeSide, restoreSide } from './side-instance.js';
import { physicalTarget } from './target.js';
import { type TableChanges, findTableChanges } from './wal-changes.js';
import { type WalFreshness, walFreshness } from './wal-freshness.js';
import { refuse } from '../failure.js';
import { FailureType } from '../../common/errors.js';

export function createPhysicalActivities(resolve: Resolver) {
  return {
    ...createPhysicalBackupActivities(resolve),

    /** Checks what pgBackRest needs of the target and sets up what the configuration allows; refuses the rest with the fix. */
    async preparePhysical(input: { target: string }): Promise<PhysicalSetup> {
      return preparePhysical(resolve, input.target);
    },

    /** Restores the target's cluster to the moment into side instance `sideId`, started and promoted (see side-instance.ts). */
    async restoreToMoment(input: { target: string; moment: Moment; sideId: string }): Promise<SideInstance> {
      try {
        checkMoment(input.moment);
      } catch (err) {
        throw refuse((err as Error).message, FailureType.input);
      }
      const p = await physicalTarget(resolve, input.target);
      return restoreSide(p, input.sideId, input.moment, parse(resolve.databaseUrl(input.target)).password ?? undefined);
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

    /** Stops and removes a side instance; true if there was one. Safe to call any number of times. */
    async removeSideInstance(input: { target: string; sideId: string }): Promise<boolean> {
      return removeSide(await physicalTarget(resolve, input.target), input.sideId);
    },
  };
}
