// The catalogue of backups in a store. Layout, as the DR document lays it out:
//   <prefix>/<target>/daily/<YYYY-MM-DD>/<id>/backup.dump
//                                           /manifest.json      (written last: the backup exists)
//                                           /verification.json  (the last test restore's verdict)
// A damaged or foreign manifest never blocks the catalogue: it is listed apart, with the reason
// (manifest-file.ts decides what is damaged), and every other backup is listed as before.
import type { BackupManifest, BackupSummary, DamagedBackup, VerificationRecord } from '../../common/backups.js';
import { FailureType } from '../../common/errors.js';
import { backupFolder, parseBackupId } from '../../common/names.js';
import { refuse } from '../failure.js';
import { type ManifestKey, manifestText, readManifest, readVerification, verificationText } from './manifest-file.js';
import type { BackupStore } from './store.js';

const MANIFEST_FILE = 'manifest.json';
const VERIFICATION_FILE = 'verification.json';

function summary(manifest: BackupManifest, verification: VerificationRecord | undefined): BackupSummary {
  return verification ? { manifest, verification } : { manifest };
}

/** What a store holds for a target: the usable backups, newest first, and the damaged entries apart. */
export interface Survey {
  backups: BackupSummary[];
  damaged: DamagedBackup[];
}

export class Catalog {
  constructor(
    readonly store: BackupStore,
    private readonly key: ManifestKey = undefined,
  ) {}

  /** The manifest of backup `id`: undefined when there is none, refused (non-retryable) when it is damaged. */
  async manifest(id: string): Promise<BackupManifest | undefined> {
    const text = await this.store.getText(`${backupFolder(id)}/${MANIFEST_FILE}`);
    if (text === undefined) return undefined;
    const read = readManifest(text, { folderId: id, target: parseBackupId(id).target }, this.key);
    if (read.damaged !== undefined)
      throw refuse(
        `backup ${id} cannot be used: ${read.damaged} (choose another with "lifeboat backups", or take a new one with "lifeboat backup")`,
        FailureType.damagedBackup,
      );
    return read.manifest;
  }

  async verification(id: string): Promise<VerificationRecord | undefined> {
    const text = await this.store.getText(`${backupFolder(id)}/${VERIFICATION_FILE}`);
    return text === undefined ? undefined : readVerification(text, id, this.key);
  }

  /** Every manifest under the target's folder, read and checked; one that cannot be used is listed as damaged. */
  async survey(target: string): Promise<Survey> {
    const objects = await this.store.list(`${target}/daily/`);
    const keys = objects.filter((o) => o.key.endsWith(`/${MANIFEST_FILE}`)).map((o) => o.key);
    const read = await Promise.all(keys.map((key) => this.entry(target, key)));
    const backups = read.flatMap((r) => (r && 'summary' in r ? [r.summary] : []));
    const damaged = read.flatMap((r) => (r && 'damaged' in r ? [r.damaged] : []));
    backups.sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt));
    damaged.sort((a, b) => b.id.localeCompare(a.id));
    return { backups, damaged };
  }

  private async entry(target: string, key: string): Promise<{ summary: BackupSummary } | { damaged: DamagedBackup } | undefined> {
    const folderId = key.split('/').at(-2)!;
    const damaged = (reason: string) => ({ damaged: { id: folderId, key, reason } });
    try {
      // Only a manifest exactly where its id says it lives is one: anything else is a stray object.
      if (`${backupFolder(folderId)}/${MANIFEST_FILE}` !== key || parseBackupId(folderId).target !== target)
        return damaged(`not in a backup's folder of ${target}`);
    } catch {
      return damaged(`not in a backup's folder (${folderId} is not a backup id)`);
    }
    try {
      const text = await this.store.getText(key);
      if (text === undefined) return undefined; // deleted while listing: it no longer exists
      const read = readManifest(text, { folderId, target }, this.key);
      if (read.damaged !== undefined) return damaged(read.damaged);
      return { summary: summary(read.manifest, await this.verification(folderId).catch(() => undefined)) };
    } catch (err) {
      return damaged(`cannot be read: ${(err as Error).message}`);
    }
  }

  /** Every usable backup of the target, newest first (damaged ones left out: see `survey`). */
  async list(target: string): Promise<BackupSummary[]> {
    return (await this.survey(target)).backups;
  }

  /** A backup by id, or the newest of a target for "latest"; undefined when there is none. */
  async find(idOrLatest: string, target: string): Promise<BackupSummary | undefined> {
    if (idOrLatest === 'latest') return (await this.list(target))[0];
    const [manifest, verification] = await Promise.all([this.manifest(idOrLatest), this.verification(idOrLatest)]);
    return manifest ? summary(manifest, verification) : undefined;
  }

  async writeManifest(manifest: BackupManifest): Promise<void> {
    await this.store.putText(`${backupFolder(manifest.id)}/${MANIFEST_FILE}`, manifestText(manifest, this.key));
  }

  async writeVerification(record: VerificationRecord): Promise<void> {
    await this.store.putText(`${backupFolder(record.backupId)}/${VERIFICATION_FILE}`, verificationText(record, this.key));
  }

  /** Deletes a backup: the manifest goes first, so a half-deleted backup no longer exists. */
  async remove(id: string): Promise<void> {
    const folder = backupFolder(id);
    await this.store.delete([`${folder}/${MANIFEST_FILE}`]);
    const rest = await this.store.list(`${folder}/`);
    await this.store.delete(rest.map((o) => o.key));
  }
}
