// One-line verdicts, shared by the CLI and the demo.
import type { BackupManifest, VerificationRecord } from '../common/backups.js';
import { formatDuration } from '../common/time.js';
import { bytes } from '../common/sizes.js';

export function backupVerdict(m: BackupManifest): string {
  const rows = Object.values(m.tables).reduce((a, b) => a + b, 0);
  return `✔ backup ${m.id}: ${bytes(m.sizeBytes)}, ${Object.keys(m.tables).length} tables, ${rows} rows, sha256 ${m.sha256.slice(0, 16)}…, in ${formatDuration(m.durationMs)} → store "${m.store}"`;
}

export function verificationVerdict(r: VerificationRecord): string {
  if (r.result === 'failed')
    return `✖ backup ${r.backupId} FAILED verification (${r.findings.length} finding(s)); it is not marked verified`;
  const rows = Object.values(r.tables).reduce((a, t) => a + t.rows, 0);
  return `✔ backup ${r.backupId} verified: checksum ok, restored ${Object.keys(r.tables).length} tables (${rows} rows) matching the manifest, integrity checks clean, in ${formatDuration(r.durationMs)}`;
}
