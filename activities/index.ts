// The activities the worker registers. Each resolves names (targets, stores) to connections from
// the worker's configuration and environment, so no secret ever enters workflow history.
// Every activity is safe to run twice.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type LifeboatConfig, durationMs } from '../worker/config.js';
import { parseBackupId } from '../workflows/messages.js';
import type {
  BackupManifest,
  BackupSummary,
  Finding,
  Progress,
  TableFingerprint,
  VerificationRecord,
} from '../workflows/messages.js';
import type { RetentionPolicy } from '../workflows/retention.js';
import { type Notice, type Notifier, ConsoleNotifier } from './notify/notifier.js';
import { describeUrl, withClient, withDatabase } from './postgres/connection.js';
import { dumpToStore } from './postgres/dump.js';
import { fingerprints, integrityFindings, userTables } from './postgres/inspect.js';
import { dropDatabase, recreateDatabase, restoreFromStream } from './postgres/restore.js';
import { dumpKey } from './storage/catalog.js';
import { createResolver } from './resolve.js';

export interface ActivityContext {
  config: LifeboatConfig;
  env?: NodeJS.ProcessEnv;
  notifier?: Notifier;
  lifeboatVersion?: string;
}

/** Heartbeats at most twice a second, with progress the CLI can show. */
function progressReporter(): (progress: Progress) => void {
  let last = 0;
  return (progress) => {
    const now = Date.now();
    if (now - last < 500) return;
    last = now;
    Context.current().heartbeat(progress);
  };
}

/** Counts and hashes a stream as it passes. */
function hashingCounter(onBytes: (bytes: number) => void) {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes(bytes);
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ bytes, sha256: hash.digest('hex') }) };
}

export function createActivities(context: ActivityContext) {
  const { config } = context;
  const notifier = context.notifier ?? new ConsoleNotifier();
  const version = context.lifeboatVersion ?? '0.1.0';
  const { target: known, databaseUrl, scratchServerUrl, storeOf, catalogOf } = createResolver(config, context.env ?? process.env);

  return {
    /** Dumps the target into its store; the manifest is written last. */
    async createBackup(input: { id: string; target: string; tags: string[]; reason: string }): Promise<BackupManifest> {
      const catalog = catalogOf(input.target);
      const existing = await catalog.manifest(input.id);
      if (existing) return existing; // an earlier attempt finished: the backup exists
      await catalog.store.check();
      const url = databaseUrl(input.target);
      const report = progressReporter();
      const started = new Date();
      const result = await dumpToStore(url, catalog.store, dumpKey(input.id), {
        compression: config.backup.compression,
        onBytes: (bytes) => report({ phase: 'dumping', bytes }),
        signal: Context.current().cancellationSignal,
      });
      const finished = new Date();
      const manifest: BackupManifest = {
        id: input.id,
        target: input.target,
        store: catalog.store.name,
        startedAt: started.toISOString(),
        finishedAt: finished.toISOString(),
        durationMs: finished.getTime() - started.getTime(),
        serverVersion: result.serverVersion,
        pgDumpVersion: result.pgDumpVersion,
        format: 'custom',
        compression: config.backup.compression,
        sizeBytes: result.sizeBytes,
        sha256: result.sha256,
        tables: result.tables,
        tags: input.tags,
        reason: input.reason,
        lifeboatVersion: version,
      };
      await catalog.writeManifest(manifest);
      return manifest;
    },

    async getBackup(input: { backupId: string; target?: string }): Promise<BackupSummary> {
      const target = input.backupId === 'latest' ? input.target : parseBackupId(input.backupId).target;
      if (!target) throw ApplicationFailure.nonRetryable('"latest" needs a target', 'BadInput');
      const found = await catalogOf(target).find(input.backupId, target);
      if (!found) throw ApplicationFailure.nonRetryable(`no backup "${input.backupId}" of target "${target}" (run "lifeboat backups" to list them)`, 'BackupNotFound');
      return found;
    },

    async listBackups(input: { target: string }): Promise<BackupSummary[]> {
      return catalogOf(input.target).list(input.target);
    },

    /** Reads the stored dump whole and compares its size and SHA-256 with the manifest. */
    async checkBackupIntegrity(input: { manifest: BackupManifest }): Promise<Finding[]> {
      const { manifest } = input;
      const store = storeOf(manifest.target);
      const report = progressReporter();
      const counter = hashingCounter((bytes) => report({ phase: 'checksumming', bytes }));
      await pipeline(await store.download(dumpKey(manifest.id)), counter.stream, async function* (source) {
        for await (const _ of source);
      });
      const { bytes, sha256 } = counter.result();
      const findings: Finding[] = [];
      if (bytes !== manifest.sizeBytes) findings.push({ check: 'size', detail: `stored object is ${bytes} bytes, manifest says ${manifest.sizeBytes}` });
      if (sha256 !== manifest.sha256) findings.push({ check: 'checksum', detail: `SHA-256 mismatch: stored object hashes to ${sha256}, manifest says ${manifest.sha256}` });
      return findings;
    },

    /** Restores the backup into a scratch database on the target's server (recreated if present). */
    async restoreToScratch(input: { manifest: BackupManifest; database: string }): Promise<void> {
      const { manifest, database } = input;
      const server = scratchServerUrl(manifest.target);
      const report = progressReporter();
      await recreateDatabase(server, database);
      const counter = hashingCounter((bytes) => report({ phase: 'restoring', bytes }));
      const body = (await storeOf(manifest.target).download(dumpKey(manifest.id))).pipe(counter.stream);
      await restoreFromStream(server, database, body, Context.current().cancellationSignal);
    },

    /** Fingerprints every table of a database and runs the target's integrity checks there. */
    async inspectDatabase(input: { target: string; database?: string }): Promise<{ tables: Record<string, TableFingerprint>; findings: Finding[] }> {
      const base = input.database ? withDatabase(scratchServerUrl(input.target), input.database) : databaseUrl(input.target);
      return withClient(base, async (client) => {
        const tables = await fingerprints(client, await userTables(client));
        const findings = await integrityFindings(client, known(input.target).integrityChecks);
        return { tables, findings };
      });
    },

    async dropScratchDatabase(input: { target: string; database: string }): Promise<void> {
      await dropDatabase(scratchServerUrl(input.target), input.database);
    },

    async recordVerification(input: { target: string; record: VerificationRecord }): Promise<void> {
      await catalogOf(input.target).writeVerification(input.record);
    },

    async deleteBackups(input: { target: string; ids: string[] }): Promise<void> {
      const catalog = catalogOf(input.target);
      for (const id of input.ids) await catalog.remove(id);
    },

    /** The worker's configured policies for a target, so schedules follow the configuration. */
    async targetPolicy(input: { target: string }): Promise<{ retention: RetentionPolicy; freshnessMaxAgeMs: number; database: string }> {
      return {
        retention: config.retention,
        freshnessMaxAgeMs: durationMs(config.freshness.maxAge),
        database: describeUrl(databaseUrl(input.target)),
      };
    },

    async notify(notice: Notice): Promise<void> {
      await notifier.notify(notice);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
