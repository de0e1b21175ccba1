// The catalogue of backups in a store. Layout, as the DR document lays it out:
//   <prefix>/<target>/daily/<YYYY-MM-DD>/<id>/backup.dump
//                                           /manifest.json      (written last: the backup exists)
//                                           /verification.json  (the last test restore's verdict)
import type { BackupManifest, BackupSummary, VerificationRecord } from '../../common/backups.js';
import { backupFolder, parseBackupId } from '../../common/names.js';
import type { BackupStore } from './store.js';

const MANIFEST_FILE = 'manifest.json';
const VERIFICATION_FILE = 'verification.json';

function summary(manifest: BackupManifest, verification: VerificationRecord | undefined): BackupSummary {
  return verification ? { manifest, verification } : { manifest };
}

export class Catalog {
  constructor(readonly store: BackupStore) {}

  async manifest(id: string): Promise<BackupManifest | undefined> {
    const text = await this.store.getText(`${backupFolder(id)}/${MANIFEST_FILE}`);
    return text === undefined ? undefined : (JSON.parse(text) as BackupManifest);
  }

  async verification(id: string): Promise<VerificationRecord | undefined> {
    const text = await this.store.getText(`${backupFolder(id)}/${VERIFICATION_FILE}`);
    return text === undefined ? undefined : (JSON.parse(text) as VerificationRecord);
  }

  /** Every backup of the target that has a manifest, newest first. */
  async list(target: string): Promise<BackupSummary[]> {
    const objects = await this.store.list(`${target}/daily/`);
    const ids = objects.filter((o) => o.key.endsWith(`/${MANIFEST_FILE}`)).map((o) => o.key.split('/').at(-2)!);
    const summaries = await Promise.all(
      ids.map(async (id) => {
        const [manifest, verification] = await Promise.all([this.manifest(id), this.verification(id)]);
        return manifest ? summary(manifest, verification) : undefined;
      }),
    );
    return summaries
      .filter((s): s is BackupSummary => s !== undefined)
      .sort((a, b) => b.manifest.startedAt.localeCompare(a.manifest.startedAt));
  }

  /** A backup by id, or the newest of a target for "latest"; undefined when there is none. */
  async find(idOrLatest: string, target: string): Promise<BackupSummary | undefined> {
    if (idOrLatest === 'latest') return (await this.list(target))[0];
    parseBackupId(idOrLatest);
    const [manifest, verification] = await Promise.all([this.manifest(idOrLatest), this.verification(idOrLatest)]);
    return manifest ? summary(manifest, verification) : undefined;
  }

  async writeManifest(manifest: BackupManifest): Promise<void> {
    await this.store.putText(`${backupFolder(manifest.id)}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 2));
  }

  async writeVerification(record: VerificationRecord): Promise<void> {
    await this.store.putText(`${backupFolder(record.backupId)}/${VERIFICATION_FILE}`, JSON.stringify(record, null, 2));
  }

  /** Deletes a backup: the manifest goes first, so a half-deleted backup no longer exists. */
  async remove(id: string): Promise<void> {
    const folder = backupFolder(id);
    await this.store.delete([`${folder}/${MANIFEST_FILE}`]);
    const rest = await this.store.list(`${folder}/`);
    await this.store.delete(rest.map((o) => o.key));
  }
}
