// Scratch databases and pg_restore into a new database, from a local file with parallel jobs (in
// place, over a production database: restore-in-place.ts). A recovery keeps the backup's owners
// and grants (the application's roles must still reach their tables afterwards); a scratch copy
// drops them, as its server need not know the application's roles.

/** 'keep': the backup's owners and grants (every role must exist); 'drop': all owned by whoever restores. */
export type PrivilegeMode = 'keep' | 'drop';

export const privilegeFlags = (mode: PrivilegeMode) => (mode === 'keep' ? [] : ['--no-owner', '--no-acl']);
import { databaseName, escapeIdentifier, libpqEnv, pgTool, withDatabase, withServer } from './connection.js';
import { runTool } from './tool.js';

// These work on the server, not in the database `serverUrl` names: it may be gone (withServer).

/**
 * Creates an empty database, replacing one left by an earlier attempt (so retries are safe), owned
 * by `owner` when given (the application's role: its schema `public` belongs to pg_database_owner).
 */
export async function recreateDatabase(serverUrl: string, name: string, owner?: string): Promise<void> {
  await withServer(serverUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${escapeIdentifier(name)}${owner ? ` OWNER ${escapeIdentifier(owner)}` : ''}`);
  });
}

/**
 * Creates the database of `url`, which does not exist (dropped), owned by `owner` when given, else by
 * the role connecting; returns that owner. One an attempt at the same time created first is used.
 */
export async function createDatabase(url: string, owner?: string): Promise<string> {
  return withServer(url, async (client) => {
    const name = escapeIdentifier(databaseName(url));
    try {
      await client.query(`CREATE DATABASE ${name}${owner ? ` OWNER ${escapeIdentifier(owner)}` : ''}`);
    } catch (err) {
      if ((err as { code?: string }).code !== DUPLICATE_DATABASE) throw err;
    }
    const { rows } = await client.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [
      databaseName(url),
    ]);
    return rows[0]!.owner;
  });
}

/** SQLSTATE duplicate_database. */
const DUPLICATE_DATABASE = '42P04';

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`));
}

/**
 * Restores a custom-format dump file into the empty database `name` with `jobs` parallel
 * pg_restore jobs (data and indexes of several tables at once; it needs a seekable file and cannot
 * run in one transaction, so it is only for a database nothing else uses yet). Aborting `signal`
 * kills pg_restore and rejects with the signal's reason.
 */
export async function restoreFromFile(
  serverUrl: string,
  name: string,
  file: string,
  options: { jobs: number; signal?: AbortSignal; privileges?: PrivilegeMode },
): Promise<void> {
  // pg_restore's workers are its children: SIGTERM makes the leader stop them and their sessions.
  await runTool(
    pgTool('pg_restore'),
    [
      `--jobs=${options.jobs}`,
      ...privilegeFlags(options.privileges ?? 'drop'),
      '--exit-on-error',
      '--no-password',
      `--dbname=${name}`,
      file,
    ],
    {
      env: libpqEnv(withDatabase(serverUrl, name)),
      signal: options.signal,
    },
  );
}
