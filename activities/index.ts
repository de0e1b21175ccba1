// The activities the worker registers. Each resolves names (targets, stores) to connections from
// the worker's configuration and environment, so no secret ever enters workflow history.
// Every activity is safe to run twice.
import { ApplicationFailure } from '@temporalio/common';
import { type LifeboatConfig, durationMs } from '../config/config.js';
import { parseBackupId } from '../common/names.js';
import type { BackupManifest, BackupSummary, Finding, TableFingerprint, VerificationRecord } from '../common/backups.js';
import type { RetentionPolicy } from '../workflows/retention.js';
import type { Notice, Notifier, Posted } from './notify/notifier.js';
import { selectNotifier } from './notify/select.js';
import { withClient, withDatabase } from './postgres/connection.js';
import { fingerprintDatabase, integrityFindings } from './postgres/inspect.js';
import { dropDatabase } from './postgres/restore.js';
import { createResolver } from './resolve.js';
import { heartbeatWhile } from './heartbeat.js';
import { restoreBackupInto } from './restore-backup.js';
import { createRecoveryActivities } from './recovery.js';
import { createDrillActivities } from './drill.js';
import { takeBackup } from './take-backup.js';
import { FailureType } from '../common/errors.js';

export interface ActivityContext {
  config: LifeboatConfig;
  env?: NodeJS.ProcessEnv;
  notifier?: Notifier;
  lifeboatVersion?: string;
}

export function createActivities(context: ActivityContext) {
  const { config } = context;
  // Slack when configured and its token is set, else the console; tests pass their own.
  const notifier = context.notifier ?? selectNotifier(config, context.env ?? process.env);
  const version = context.lifeboatVersion ?? '0.1.0';
  const resolver = createResolver(config, context.env ?? process.env);
  const { target: known, databaseUrl, scratchServerUrl, storeOf, catalogOf } = resolver;

  return {
    ...createRecoveryActivities(resolver, version),
    ...createDrillActivities(resolver),

    /** Dumps the target into its store; the manifest is written last. */
    async createBackup(input: { id: string; target: string; tags: string[]; reason: string }): Promise<BackupManifest> {
      return takeBackup(resolver, input, version);
    },

    async getBackup(input: { backupId: string; target?: string }): Promise<BackupSummary> {
      const target = input.backupId === 'latest' ? input.target : parseBackupId(input.backupId).target;
      if (!target) throw ApplicationFailure.nonRetryable('"latest" needs a target', FailureType.input);
      const found = await catalogOf(target).find(input.backupId, target);
      if (!found)
        throw ApplicationFailure.nonRetryable(
          `no backup "${input.backupId}" of target "${target}" (run "lifeboat backups" to list them)`,
          FailureType.backupNotFound,
        );
      return found;
    },

    async listBackups(input: { target: string }): Promise<BackupSummary[]> {
      return catalogOf(input.target).list(input.target);
    },

    /**
     * Restores the backup into a scratch database on the target's server (recreated if present),
     * checking its size and SHA-256 on the way in; returns what differs, and then restores nothing.
     */
    async restoreToScratch(input: { manifest: BackupManifest; database: string }): Promise<Finding[]> {
      const { manifest, database } = input;
      return restoreBackupInto(storeOf(manifest.target), manifest, scratchServerUrl(manifest.target), database);
    },

    /** Fingerprints every table of a database and runs the target's integrity checks there. */
    async inspectDatabase(input: {
      target: string;
      database?: string;
    }): Promise<{ tables: Record<string, TableFingerprint>; findings: Finding[] }> {
      const base = input.database ? withDatabase(scratchServerUrl(input.target), input.database) : databaseUrl(input.target);
      const tables = await heartbeatWhile({ phase: 'fingerprinting' }, () => fingerprintDatabase(base));
      const findings = await heartbeatWhile({ phase: 'integrity checks' }, () =>
        withClient(base, (client) => integrityFindings(client, known(input.target).integrityChecks)),
      );
      return { tables, findings };
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
    async targetPolicy(_input: { target: string }): Promise<{ retention: RetentionPolicy; freshnessMaxAgeMs: number }> {
      return {
        retention: config.retention,
        freshnessMaxAgeMs: durationMs(config.freshness.maxAge),
      };
    },

    /** Posts (or replaces) a notice; returns its reference for threads and in-place updates. */
    async notify(notice: Notice): Promise<Posted> {
      return notifier.notify(notice);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
