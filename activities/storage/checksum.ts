// Re-reads a stored backup and compares its size and SHA-256 with the manifest: in passing (a
// checksum pass) or while spooling it into a local file that a restore then reads.
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupManifest, Finding } from '../../common/backups.js';
import { dumpKey } from '../../common/names.js';
import { hashTap } from './hash-tap.js';
import type { BackupStore } from './store.js';

export interface ReadOptions {
  /** Called with the number of bytes read so far. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

/** Reads the stored dump into `sink` (nothing but hashing when absent); returns what differs from the manifest. */
async function readChecked(
  store: BackupStore,
  manifest: BackupManifest,
  sink: Writable | undefined,
  options: ReadOptions,
): Promise<Finding[]> {
  const tap = hashTap({ onBytes: options.onBytes, forward: sink !== undefined });
  const end = sink ?? new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(await store.download(dumpKey(manifest.id)), tap.stream, end, { signal: options.signal });
  const sha256 = tap.digest();
  const bytes = tap.size();
  const findings: Finding[] = [];
  if (bytes !== manifest.sizeBytes)
    findings.push({ check: 'size', detail: `stored object is ${bytes} bytes, manifest says ${manifest.sizeBytes}` });
  if (sha256 !== manifest.sha256)
    findings.push({ check: 'checksum', detail: `SHA-256 mismatch: stored object hashes to ${sha256}, manifest says ${manifest.sha256}` });
  return findings;
}

export async function checksumFindings(
  store: BackupStore,
  manifest: BackupManifest,
  onBytes?: (bytes: number) => void,
): Promise<Finding[]> {
  return readChecked(store, manifest, undefined, { onBytes });
}

/**
 * Downloads the stored dump into `file` while hashing it, in one read: the findings are those of
 * `checksumFindings`, and a caller must not use the file unless they are empty.
 */
export async function downloadChecked(
  store: BackupStore,
  manifest: BackupManifest,
  file: string,
  options: ReadOptions = {},
): Promise<Finding[]> {
  return readChecked(store, manifest, createWriteStream(file, { highWaterMark: 1 << 20 }), options);
}
