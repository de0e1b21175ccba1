// A backup restored into a new (empty) database, as fast as PostgreSQL allows: the dump is spooled
// from the store into a temporary file while its size and SHA-256 are checked (one read: a backup
// that does not match its manifest is refused before anything is created), then `pg_restore -j`
// loads several tables and builds several indexes at once, and ANALYZE gives the new database the
// planner statistics a restore does not carry. The file is removed in every case; a restore that
// fails or is cancelled drops the database it created.
import { Context, log } from '@temporalio/activity';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackupManifest, Finding } from '../../common/backups.js';
import { heartbeatWhile, heartbeater } from '../heartbeat.js';
import { withClient, withDatabase } from '../postgres/connection.js';
import { type PrivilegeMode, dropDatabase, recreateDatabase, restoreFromFile } from '../postgres/restore.js';
import { downloadChecked } from '../storage/checksum.js';
import type { BackupStore } from '../storage/store.js';
import { refuseDamaged } from './intact.js';

/**
 * pg_restore's parallel jobs. Two keep two cores busy (one loads or indexes a table while the other
 * does the next); the restore is mostly CPU in the server (COPY parsing, index builds), and more
 * jobs than the database server's cores only make them contend. It is also what the DR document's
 * own manual restore (`pg_restore -j2`) uses.
 */
export const RESTORE_JOBS = 2;

/**
 * Restores `manifest`'s dump into the database `database` on the server of `serverUrl`, recreated
 * empty first (a retry replaces what an earlier attempt left; owned by `owner` when given). Returns
 * what differs from the manifest (size, SHA-256) when the stored bytes do not match: then nothing was created.
 */
export async function restoreBackupInto(
  store: BackupStore,
  manifest: BackupManifest,
  serverUrl: string,
  database: string,
  privileges: PrivilegeMode = 'drop',
  owner?: string,
): Promise<Finding[]> {
  const signal = Context.current().cancellationSignal;
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-restore-'));
  let created = false;
  try {
    const beat = heartbeater();
    let started = Date.now();
    const findings = await downloadChecked(store, manifest, join(dir, 'backup.dump'), {
      signal,
      onBytes: (bytes) => beat({ phase: 'downloading', bytes }),
    });
    if (findings.length) return findings;
    // Written back now, not while PostgreSQL writes the restored tables and their WAL.
    const spooled = await open(join(dir, 'backup.dump'), 'r');
    await spooled.datasync().finally(() => spooled.close());
    const downloadMs = Date.now() - started;

    created = true;
    await recreateDatabase(serverUrl, database, owner);
    started = Date.now();
    await heartbeatWhile({ phase: 'restoring' }, () =>
      restoreFromFile(serverUrl, database, join(dir, 'backup.dump'), { jobs: RESTORE_JOBS, signal, privileges }),
    );
    const restoreMs = Date.now() - started;

    started = Date.now();
    await heartbeatWhile({ phase: 'analyzing' }, () =>
      withClient(withDatabase(serverUrl, database), async (c) => {
        // The load wakes autovacuum on every new table, and ANALYZE waits for it until
        // deadlock_timeout (1 s a table) before PostgreSQL cancels it: ask sooner where allowed
        // (superusers only; others wait the default).
        await c.query("SET deadlock_timeout = '50ms'").catch(() => undefined);
        await c.query('ANALYZE');
      }),
    );
    signal.throwIfAborted(); // cancelled while analyzing: the database goes too
    log.info('backup restored', {
      backup: manifest.id,
      database,
      bytes: manifest.sizeBytes,
      downloadMs,
      restoreMs,
      analyzeMs: Date.now() - started,
    });
    return [];
  } catch (err) {
    if (created)
      await dropDatabase(serverUrl, database).catch((dropErr: Error) =>
        log.warn('could not drop the half-restored database', { database, error: dropErr.message }),
      );
    throw signal.aborted ? (signal.reason ?? err) : err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `restoreBackupInto` for a recovery: a backup that does not match its manifest is refused (non-retryable ChecksumMismatch). */
export async function restoreIntactBackupInto(
  store: BackupStore,
  manifest: BackupManifest,
  serverUrl: string,
  database: string,
  privileges: PrivilegeMode = 'drop',
  owner?: string,
): Promise<void> {
  refuseDamaged(manifest, await restoreBackupInto(store, manifest, serverUrl, database, privileges, owner));
}
