// Streams `pg_dump -Fc` through a SHA-256 hash into a store: no temporary copy on disk, and
// memory bounded by the store's upload buffers. Row counts are taken in the very snapshot the
// dump reads, so the manifest's counts describe exactly what the dump holds.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { hashTap } from '../storage/hash-tap.js';
import type { BackupStore } from '../storage/store.js';
import { libpqEnv, pgTool, withClient } from './connection.js';
import type { ObjectPrivileges } from '../../common/backups.js';
import { quoteTable, rowCounts, userTables } from './inspect.js';
import { databaseOwner, readPrivileges } from './privileges.js';
import { startTool } from './tool.js';

const STDBUF = '/usr/bin/stdbuf';

export interface DumpOptions {
  compression: number;
  /** Only these tables (a safety snapshot before a table restore); every table when absent. */
  tables?: string[];
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface DumpResult {
  sizeBytes: number;
  sha256: string;
  tables: Record<string, number>;
  serverVersion: string;
  pgDumpVersion: string;
  /** Whole-database dumps only. */
  privileges?: Record<string, ObjectPrivileges>;
  databaseOwner?: string;
}

export async function pgDumpVersion(): Promise<string> {
  const { stdout } = await promisify(execFile)(pgTool('pg_dump'), ['--version']);
  return stdout.trim();
}

export async function dumpToStore(url: string, store: BackupStore, key: string, options: DumpOptions): Promise<DumpResult> {
  const toolVersion = await pgDumpVersion();
  return withClient(url, async (client) => {
    const serverVersion = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
      const args = [
        '--format=custom',
        `--compress=${options.compression}`,
        `--snapshot=${snapshot}`,
        '--no-password',
        // Quoted: a pattern would fold Mixed Case to lower case and read * and ? as wildcards.
        ...(options.tables ?? []).map((t) => `--table=${quoteTable(t)}`),
      ];
      // pg_dump writes its archive in 4 KiB pieces; a 1 MiB stdio buffer makes the pipe to us
      // as cheap as writing a file (same bytes, fewer and larger writes).
      const [command, argv] = existsSync(STDBUF) ? [STDBUF, ['-o1M', pgTool('pg_dump'), ...args]] : [pgTool('pg_dump'), args];
      const dump = startTool(command, argv, { name: 'pg_dump', env: libpqEnv(url), stdout: 'pipe', signal: options.signal });

      // The stream only ends cleanly once pg_dump has exited with 0: a failed dump fails the
      // upload, which then leaves nothing behind.
      const hashing = hashTap({ onBytes: options.onBytes, beforeEnd: () => dump.done });
      dump.stdout!.pipe(hashing.stream);
      // Counts and privileges come from the dump's own snapshot, one query after the other on this client.
      const counting = (options.tables ? Promise.resolve(options.tables) : userTables(client)).then(async (tables) => ({
        tables: await rowCounts(client, tables),
        privileges: options.tables ? undefined : await readPrivileges(client),
        databaseOwner: options.tables ? undefined : await databaseOwner(client),
      }));
      try {
        const [{ tables, privileges, databaseOwner: owner }] = await Promise.all([
          counting,
          store.upload(key, hashing.stream, { signal: options.signal }),
        ]);
        await dump.done;
        return {
          sizeBytes: hashing.size(),
          sha256: hashing.digest(),
          tables,
          serverVersion,
          pgDumpVersion: toolVersion,
          ...(privileges ? { privileges } : {}),
          ...(owner ? { databaseOwner: owner } : {}),
        };
      } catch (err) {
        dump.stop();
        await counting.catch(() => undefined);
        throw err;
      }
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  });
}
