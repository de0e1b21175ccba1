// Activities about a target's backups: taking them (scheduled, manual, and the safety snapshot
// before a destructive step), listing and finding them, recording verification verdicts,
// deleting them, and choosing the one a plan recovers from (through the one policy in choice.ts).
import { randomBytes } from 'node:crypto';
import type { BackupManifest, BackupSummary, SkippedBackup, VerificationRecord } from '../../common/backups.js';
import { FailureType } from '../../common/errors.js';
import { backupIdFor, parseBackupId } from '../../common/names.js';
import type { TargetRef } from '../../common/plans.js';
import { refuse } from '../failure.js';
import { withClient } from '../postgres/connection.js';
import { findKeptCopy } from '../postgres/recovery-copy.js';
import type { Resolver } from '../resolve.js';
import { type BackupRule, rankBackups } from './choice.js';
import { findIntact } from './find-intact.js';
import { takeBackup } from './take-backup.js';

const describeSkipped = (skipped: SkippedBackup[]) => skipped.map((s) => `${s.id} (${s.reason})`).join('; ');

export function createBackupActivities(resolve: Resolver, version: string) {
  const { catalogOf, storeOf } = resolve;

  /**
   * The newest backup the rule allows whose stored bytes match its manifest. Skipped: every damaged
   * manifest in the store (it cannot be trusted to say when it was taken) and every newer backup passed over.
   */
  async function newestIntact(target: string, rule: BackupRule, options: { fromRecoveryCopy?: boolean } = {}) {
    const { backups, damaged } = await catalogOf(target).survey(target);
    const readFromCopy = options.fromRecoveryCopy
      ? async (m: BackupManifest) =>
          (await findKeptCopy(resolve.scratchServerUrl(target), target, m.id, storeOf(target).location)) !== undefined
      : undefined;
    const found = await findIntact(rankBackups(backups, rule), { store: storeOf(target), skipUnreadable: true, readFromCopy });
    const skipped: SkippedBackup[] = [
      ...damaged.map(({ id, reason }) => ({ id, reason })),
      ...found.skipped.map(({ id, reason }) => ({ id, reason })),
    ];
    return { chosen: found.chosen, skipped };
  }

  return {
    /**
     * Whether a backup can start: the target's database answers and its store's bucket exists. A
     * quick check with few retries, so a wrong address fails in seconds; the dump itself retries
     * for minutes, for faults that come and go (a database restart, a store down for a while).
     */
    async checkBackupSources(input: { target: string }): Promise<void> {
      await withClient(resolve.databaseUrl(input.target), (c) => c.query('SELECT 1'));
      await storeOf(input.target).check();
    },

    /** Dumps the target into its store; the manifest is written last. */
    async createBackup(input: { id: string; target: string; tags: string[]; reason: string }): Promise<BackupManifest> {
      return takeBackup(resolve, input, version);
    },

    /** A backup of what is about to be overwritten, tagged with the incident: kept until deleted. */
    async safetyBackup(input: { incidentId: string; target: string; tables?: string[]; reason: string }): Promise<BackupManifest> {
      const request = {
        // A random suffix: two snapshots of one target in the same second never share an id.
        id: backupIdFor(input.target, new Date(), randomBytes(4).toString('hex')),
        target: input.target,
        tables: input.tables,
        tags: ['safety', input.incidentId],
        reason: `safety snapshot ${input.reason} (${input.incidentId})`,
      };
      return takeBackup(resolve, request, version);
    },

    async getBackup(input: { backupId: string; target?: string }): Promise<BackupSummary> {
      const target = input.backupId === 'latest' ? input.target : parseBackupId(input.backupId).target;
      if (!target) throw refuse('"latest" needs a target', FailureType.input);
      const found = await catalogOf(target).find(input.backupId, target);
      if (!found)
        throw refuse(
          `no backup "${input.backupId}" of target "${target}" (run "lifeboat backups" to list them)`,
          FailureType.backupNotFound,
        );
      return found;
    },

    async listBackups(input: { target: string }): Promise<BackupSummary[]> {
      return catalogOf(input.target).list(input.target);
    },

    async recordVerification(input: { target: string; record: VerificationRecord }): Promise<void> {
      await catalogOf(input.target).writeVerification(input.record);
    },

    async deleteBackups(input: { target: string; ids: string[] }): Promise<void> {
      const catalog = catalogOf(input.target);
      for (const id of input.ids) await catalog.remove(id);
    },

    /**
     * L1–L3: the newest backup that passed verification, was taken before `before` and whose
     * checksum verifies; with every one skipped and why. `fromRecoveryCopy` (L1, L2: rows are read
     * from a copy of the backup): a backup whose kept recovery copy exists is taken unread.
     */
    async chooseBackup(input: { target: string; before: string; fromRecoveryCopy?: boolean }) {
      const found = await newestIntact(
        input.target,
        { verified: true, before: input.before },
        { fromRecoveryCopy: input.fromRecoveryCopy },
      );
      if (!found.chosen)
        throw refuse(
          `no verified, intact backup of ${input.target} was taken before ${input.before}: ${describeSkipped(found.skipped) || 'there are no backups'} (run "lifeboat backup" then "lifeboat verify latest")`,
          FailureType.noUsableBackup,
        );
      const { manifest } = found.chosen;
      return { id: manifest.id, startedAt: manifest.startedAt, skipped: found.skipped };
    },

    /** L4: the newest backup whose checksum verifies, with why each newer one was skipped. */
    async findUsableBackup(input: TargetRef) {
      const found = await newestIntact(input.target, { verified: false });
      if (!found.chosen)
        throw refuse(
          `no backup of ${input.target} passes its checksum: ${describeSkipped(found.skipped) || 'there are no backups'}`,
          FailureType.noUsableBackup,
        );
      const { manifest } = found.chosen;
      return { backup: { id: manifest.id, startedAt: manifest.startedAt }, tables: manifest.tables, skipped: found.skipped };
    },
  };
}
