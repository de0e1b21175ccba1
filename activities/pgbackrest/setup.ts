// What pgBackRest needs of a target's server, checked, and set up where the configuration allows
// (`physical.setup: apply`): the stanza and the archive_command. What Lifeboat cannot or must not
// fix (no superuser, a wrong pg1-path, wal_level minimal, archive_mode off: both need a restart of
// production, which is the operator's call) is refused with the exact fix.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { escapeLiteral, withServer } from '../postgres/connection.js';
import type { Resolver } from '../resolve.js';
import { archiveCommand } from './conf.js';
import { pgbackrest } from './run.js';
import { physicalTarget } from './target.js';

export interface PhysicalSetup {
  stanza: string;
  pgPath: string;
  /** What was changed, in words ("archive_command set", "stanza created"); empty when all was in place. */
  changed: string[];
}

interface ServerSettings {
  superuser: boolean;
  user: string;
  dataDirectory: string;
  walLevel: string;
  archiveMode: string;
  archiveCommand: string;
}

async function serverSettings(url: string): Promise<ServerSettings> {
  return withServer(url, async (c) => {
    const who = await c.query<{ superuser: boolean; user: string }>(
      `SELECT rolsuper AS superuser, current_user AS "user" FROM pg_roles WHERE rolname = current_user`,
    );
    // Only a superuser may read where the data lives: the rest is asked of one.
    if (!who.rows[0]!.superuser) return { ...who.rows[0]!, dataDirectory: '', walLevel: '', archiveMode: '', archiveCommand: '' };
    const { rows } = await c.query<ServerSettings>(
      `SELECT true AS superuser, current_user AS "user",
              current_setting('data_directory') AS "dataDirectory", current_setting('wal_level') AS "walLevel",
              current_setting('archive_mode') AS "archiveMode", current_setting('archive_command') AS "archiveCommand"`,
    );
    return rows[0]!;
  });
}

export async function preparePhysical(resolve: Resolver, target: string): Promise<PhysicalSetup> {
  const physical = await physicalTarget(resolve, target);
  const { settings, config, runner } = physical;
  const url = resolve.databaseUrl(target);
  const server = await serverSettings(url);
  const fail = (message: string) => refuse(`target "${target}": ${message}`, FailureType.config);
  if (!server.superuser)
    throw fail(
      `the worker connects as "${server.user}", who is not a superuser: pgBackRest's backups and the archive setup need one. Point ${resolve.target(target).urlEnv} at a superuser for physical backups`,
    );
  if (config.pgPath && config.pgPath !== server.dataDirectory)
    throw fail(
      `physical.pgPath is ${config.pgPath}, but the server's data directory is ${server.dataDirectory}: correct pgPath (or remove it to use the server's)`,
    );
  if (!existsSync(join(settings.pgPath, 'PG_VERSION')))
    throw fail(
      `pg1-path ${settings.pgPath} is not a PostgreSQL data directory on the worker's machine: pgBackRest runs beside the database, so run this worker on the database's host`,
    );
  if (server.walLevel === 'minimal')
    throw fail(`wal_level is minimal, which cannot be archived: run ALTER SYSTEM SET wal_level = replica and restart PostgreSQL`);
  const changed: string[] = [];
  const apply = config.setup === 'apply';
  const wanted = archiveCommand(settings.dir, settings.stanza);
  // Archiving off: PostgreSQL shows archive_command as "(disabled)"; both settings wait for a restart.
  if (server.archiveMode === 'off') {
    if (apply)
      await withServer(url, async (c) => {
        await c.query(`ALTER SYSTEM SET archive_mode = 'on'`);
        await c.query(`ALTER SYSTEM SET archive_command = ${escapeLiteral(wanted)}`);
      });
    throw fail(
      `archiving is off (archive_mode = off)${apply ? ': Lifeboat set archive_mode = on and the archive_command, which take effect when PostgreSQL restarts' : ': run ALTER SYSTEM SET archive_mode = on'}. Restart PostgreSQL (Lifeboat never restarts production), then prepare again`,
    );
  }
  if (server.archiveCommand !== wanted) {
    if (!apply)
      throw fail(`archive_command is '${server.archiveCommand}', not '${wanted}': set it (physical.setup: check leaves it to you)`);
    const now = await withServer(url, async (c) => {
      await c.query(`ALTER SYSTEM SET archive_command = ${escapeLiteral(wanted)}`);
      await c.query('SELECT pg_reload_conf()');
      // The reload is signalled, not awaited: read the setting until it shows, for a few seconds.
      for (let i = 0; ; i++) {
        const { rows } = await c.query<{ v: string; source: string }>(
          `SELECT setting AS v, source FROM pg_settings WHERE name = 'archive_command'`,
        );
        if (rows[0]!.v === wanted || i >= 50) return rows[0]!;
        await new Promise((ok) => setTimeout(ok, 100));
      }
    });
    if (now.v !== wanted)
      throw fail(
        `archive_command is set in ${now.source === 'command line' ? "the server's command line" : `its ${now.source}`}, which ALTER SYSTEM cannot override: set it there to '${wanted}' and reload`,
      );
    changed.push(`archive_command set to '${wanted}'`);
  }
  if (apply) {
    await pgbackrest(runner, 'stanza-create');
  }
  await pgbackrest(runner, 'check').catch((err: Error) => {
    throw fail(`pgbackrest check failed: ${err.message}`);
  });
  return { stanza: settings.stanza, pgPath: settings.pgPath, changed };
}
