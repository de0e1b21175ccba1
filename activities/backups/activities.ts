// Activities about a target's backups: taking them (scheduled, manual, and the safety snapshot
// before a destructive step), listing and finding them, recording verification verdicts,
// deleting them, and choosing the one a plan recovers from (through the one policy in choice.ts).
import type { BackupManifest, BackupSummary, VerificationRecord } from '../../common/backups.js';
import { FailureType } from '../../common/errors.js';
import { backupIdFor, parseBackupId } from '../../common/names.js';
import type { TargetRef } from '../../common/plans.js';
import { refuse } from '../failure.js';
import type { Resolver } from '../resolve.js';
import { rankBackups } from './choice.js';
import { findIntact } from './find-intact.js';
import { takeBackup } from './take-backup.js';

export function createBackupActivities(resolve: Resolver, version: string) {
  const { catalogOf, storeOf } = resolve;

  return {
    /** Dumps the target into its store; the manifest is written last. */
    async createBackup(input: { id: string; target: string; tags: string[]; reason: string }): Promise<BackupManifest> {
      return takeBackup(resolve, input, version);
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

    /** L1–L3: the newest backup that passed verification and was taken before `before` (its bytes are checked when it is used). */
    async chooseBackup(input: { target: string; before: string }): Promise<{ id: string; startedAt: string }> {
      const backups = await catalogOf(input.target).list(input.target);
      const chosen = rankBackups(backups, { verified: true, before: input.before }).find((c) => !c.refused)?.summary.manifest;
      if (!chosen) {
        throw refuse(
          `no verified backup of ${input.target} was taken before ${input.before} (${backups.length} backup(s) in the store; run "lifeboat verify")`,
          FailureType.noUsableBackup,
        );
      }
      return { id: chosen.id, startedAt: chosen.startedAt };
    },

    /** L4: the newest backup whose checksum verifies, with why each newer one was skipped. */
    async findUsableBackup(input: TargetRef) {
      const backups = await catalogOf(input.target).list(input.target);
      const found = await findIntact(rankBackups(backups, { verified: false }), { store: storeOf(input.target), skipUnreadable: true });
      const skipped = found.skipped.map(({ id, reason }) => ({ id, reason }));
      if (!found.chosen)
        throw refuse(
          `no backup of ${input.target} passes its checksum: ${skipped.map((s) => `${s.id} (${s.reason})`).join('; ') || 'there are no backups'}`,
          FailureType.noUsableBackup,
        );
      const { manifest } = found.chosen;
      return { backup: { id: manifest.id, startedAt: manifest.startedAt }, tables: manifest.tables, skipped };
    },
  };
}
