// Takes a backup of a target into its store and writes the manifest last: used by scheduled and
// manual backups and by the safety snapshots taken before destructive steps.
import { Context } from '@temporalio/activity';
import type { BackupManifest } from '../../common/backups.js';
import { heartbeater } from '../heartbeat.js';
import { dumpToStore } from '../postgres/dump.js';
import type { Resolver } from '../resolve.js';
import { dumpKey } from '../../common/names.js';

export interface BackupRequest {
  id: string;
  target: string;
  tags: string[];
  reason: string;
  /** Only these tables; every table when absent. */
  tables?: string[];
}

export async function takeBackup(resolve: Resolver, request: BackupRequest, lifeboatVersion: string): Promise<BackupManifest> {
  const catalog = resolve.catalogOf(request.target);
  const existing = await catalog.manifest(request.id);
  if (existing) return existing; // an earlier attempt finished: the backup exists
  await catalog.store.check();
  const { compression } = resolve.config.backup;
  const beat = heartbeater();
  const started = new Date();
  const result = await dumpToStore(resolve.databaseUrl(request.target), catalog.store, dumpKey(request.id), {
    compression,
    tables: request.tables,
    onBytes: (bytes) => beat({ phase: 'dumping', bytes }),
    signal: Context.current().cancellationSignal,
  });
  const finished = new Date();
  const manifest: BackupManifest = {
    id: request.id,
    target: request.target,
    store: catalog.store.name,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    serverVersion: result.serverVersion,
    pgDumpVersion: result.pgDumpVersion,
    format: 'custom',
    compression,
    sizeBytes: result.sizeBytes,
    sha256: result.sha256,
    tables: result.tables,
    ...(request.tables ? { onlyTables: request.tables } : {}),
    ...(result.privileges ? { privileges: result.privileges } : {}),
    ...(result.databaseOwner ? { databaseOwner: result.databaseOwner } : {}),
    tags: request.tags,
    reason: request.reason,
    lifeboatVersion,
  };
  await catalog.writeManifest(manifest);
  return manifest;
}
