// Re-reads a stored backup and compares its size and SHA-256 with the manifest.
import { createHash } from 'node:crypto';
import type { BackupManifest, Finding } from '../../workflows/messages.js';
import { dumpKey } from './catalog.js';
import type { BackupStore } from './store.js';

export async function checksumFindings(store: BackupStore, manifest: BackupManifest, onBytes?: (bytes: number) => void): Promise<Finding[]> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of await store.download(dumpKey(manifest.id))) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    onBytes?.(bytes);
  }
  const sha256 = hash.digest('hex');
  const findings: Finding[] = [];
  if (bytes !== manifest.sizeBytes) findings.push({ check: 'size', detail: `stored object is ${bytes} bytes, manifest says ${manifest.sizeBytes}` });
  if (sha256 !== manifest.sha256) findings.push({ check: 'checksum', detail: `SHA-256 mismatch: stored object hashes to ${sha256}, manifest says ${manifest.sha256}` });
  return findings;
}
