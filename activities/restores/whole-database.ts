// Activities that restore a whole database from a backup: into a new database beside the target's
// (a recovery copy, or the scratch database a verification checks), or over the target's own
// database in one transaction. Each refuses a backup whose bytes do not match its manifest, and
// each is safe to run twice: a new database is recreated, an in-place restore is all or nothing
// and, fenced, happens once however often it is retried.
// The target's database may be gone (dropped: the L3/L4 scenario itself): server-wide work goes to
// the server's maintenance database, and "in place" then means recreated under its own name, owned
// by the owner the backup recorded, and restored into like any other.
import { Context, log } from '@temporalio/activity';
import { parse } from 'pg-connection-string';
import type { BackupManifest, Finding } from '../../common/backups.js';
import { FailureType } from '../../common/errors.js';
import { dumpKey, restoredDatabaseName } from '../../common/names.js';
import { refuse } from '../failure.js';
import { alreadyApplied, currentFence } from '../fence.js';
import { reportBytes } from '../heartbeat.js';
import type { DatabaseRef, IncidentRef, RestoreInput } from '../inputs.js';
import { missingRoles, rolesOf } from '../postgres/privileges.js';
import { databaseExists, withClient } from '../postgres/connection.js';
import { mayWriteDatabaseFence } from '../postgres/fence.js';
import { keepAsRecoveryCopy } from '../postgres/recovery-copy.js';
import { type PrivilegeMode, createDatabase, dropDatabase } from '../postgres/restore.js';
import { restoreInPlaceOnce } from '../postgres/restore-in-place.js';
import type { Resolver } from '../resolve.js';
import { assertIntact, manifestOf } from './intact.js';
import { restoreBackupInto, restoreIntactBackupInto } from './restore-backup.js';

function missingRolesFailure(target: string, roles: string[]) {
  return refuse(
    `the backup's objects are owned by or granted to roles this server does not have: ${roles.join(', ')}. ` +
      `Create them (CREATE ROLE …) and run the restore again, or set targets.${target}.restore.owners: drop to restore ` +
      "without the backup's owners and grants: nothing was changed",
    FailureType.input,
  );
}

/** Refuses, before anything changes, a restore whose owners and grantees (the database's owner too) are not all roles of the server. */
async function refuseMissingRoles(target: string, manifest: BackupManifest, serverUrl: string): Promise<void> {
  const roles = [...rolesOf(manifest.privileges ?? {}), ...(manifest.databaseOwner ? [manifest.databaseOwner] : [])];
  const missing = await missingRoles(serverUrl, [...new Set(roles)].sort());
  if (missing.length) throw missingRolesFailure(target, missing);
}

export function createDatabaseRestoreActivities(resolve: Resolver) {
  const { databaseUrl, scratchServerUrl, storeOf } = resolve;

  return {
    /**
     * Restores the backup into a scratch database on the target's server (recreated if present),
     * checking its size and SHA-256 on the way in; returns what differs, and then restores nothing.
     */
    async restoreToScratch(input: { manifest: BackupManifest; database: string }): Promise<Finding[]> {
      const { manifest, database } = input;
      return restoreBackupInto(storeOf(manifest.target), manifest, scratchServerUrl(manifest.target), database);
    },

    async dropScratchDatabase(input: { target: string; database: string }): Promise<void> {
      await dropDatabase(scratchServerUrl(input.target), input.database);
    },

    /**
     * Keeps a verification's restore of a backup that passed as the target's recovery copy (L1 and
     * L2 then read rows from it instead of restoring the backup again), replacing the copy of an
     * older backup. Never fails the verification: a copy that cannot be kept is dropped, and why is
     * returned.
     */
    async keepRecoveryCopy(input: { target: string; database: string; backupId: string; startedAt: string }): Promise<string> {
      const server = scratchServerUrl(input.target);
      try {
        const kept = await keepAsRecoveryCopy(server, input.database, {
          target: input.target,
          store: storeOf(input.target).location,
          backup: input.backupId,
          startedAt: input.startedAt,
        });
        return kept ? `kept as the recovery copy of ${input.backupId}` : 'a newer backup has the recovery copy: dropped';
      } catch (err) {
        log.warn('could not keep the recovery copy', { database: input.database, error: (err as Error).message });
        await dropDatabase(server, input.database).catch(() => undefined);
        return `not kept: ${(err as Error).message}`;
      }
    },

    async newDatabaseName(input: IncidentRef): Promise<string> {
      const base = parse(databaseUrl(input.target, input.testDatabase)).database ?? input.target;
      return restoredDatabaseName(base, input.incidentId);
    },

    /**
     * Restores a backup whose checksum verifies: into a new database (recreated if a previous
     * attempt left one; checked while spooled, restored with parallel jobs, analyzed), or in place
     * in one transaction, so it is never half applied (checked first, then streamed), and at most
     * once per approval: a retry that finds the first attempt's fence says so and changes nothing.
     * In place into a database that is gone, it first creates it (`created` says so and whose it is).
     */
    async restoreDatabase(input: RestoreInput): Promise<{ database: string; tables: number; alreadyApplied?: string; created?: string }> {
      const manifest = await manifestOf(resolve, input.target, input.backupId);
      const tables = Object.keys(manifest.tables).length;
      const url = databaseUrl(input.target, input.testDatabase);
      // A recovery keeps the backup's owners and grants unless its target says otherwise (a fresh
      // server without the application's roles); a drill's disposable copy does not need them.
      const privileges: PrivilegeMode = input.testDatabase ? 'drop' : resolve.target(input.target).restore.owners;
      if (privileges === 'keep') await refuseMissingRoles(input.target, manifest, url);
      // A database Lifeboat creates for a recovery is the application's, as the one it replaces was.
      const owner = privileges === 'keep' ? manifest.databaseOwner : undefined;
      try {
        if (input.database) {
          await restoreIntactBackupInto(storeOf(input.target), manifest, url, input.database, privileges, owner);
          return { database: input.database, tables };
        }
        const database = parse(url).database!;
        const created = (await databaseExists(url))
          ? undefined
          : `the database did not exist: created it, owned by ${await createDatabase(url, owner)}`;
        if (!(await withClient(url, mayWriteDatabaseFence)))
          throw refuse(
            `an in-place restore records that it ran in the comment of database ${database} (so that a retry never restores twice), ` +
              `which only its owner may set: connect as the owner of ${database} (or a member of its role) and run the restore again: nothing was changed`,
            FailureType.config,
          );
        // The fence is looked at before the backup is read: a retry after the restore committed reads nothing.
        const applied = await restoreInPlaceOnce(
          url,
          async () => {
            await assertIntact(resolve, manifest);
            return reportBytes(await storeOf(input.target).download(dumpKey(manifest.id)), 'restoring');
          },
          // The schema public is the database's own, not the dump's: a database that was there keeps its owner.
          { fence: currentFence(), privileges, keepPublicOwner: !created, signal: Context.current().cancellationSignal },
        );
        return { database, tables, ...(created && { created }), ...(applied.earlier && { alreadyApplied: alreadyApplied(applied) }) };
      } catch (err) {
        // A backup older than recorded privileges names its roles only when pg_restore meets one.
        const role = /role "((?:[^"]|"")+)" does not exist/.exec((err as Error).message)?.[1];
        if (role) throw missingRolesFailure(input.target, [role]);
        throw err;
      }
    },

    /** Drops a database a plan restored into; never the production database, nor the one the plan works on. */
    async dropRestoredDatabase(input: DatabaseRef): Promise<void> {
      const url = databaseUrl(input.target, input.testDatabase);
      for (const kept of [databaseUrl(input.target), url]) {
        if (input.database === parse(kept).database)
          throw refuse(`refusing to drop ${input.database}: it is the database target ${input.target} works on`, FailureType.input);
      }
      await dropDatabase(url, input.database);
    },
  };
}
