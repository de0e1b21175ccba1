// A named restore point on a physical target, made before each destructive step so the step can be
// undone to the second (`declare --level L1 … --before-restore-point <name>`). Creating a point of a
// name that already exists is harmless in PostgreSQL: it writes one more WAL record of that name, and
// recovery stops at the first one it meets. So a retried activity simply creates it again, and the
// first (the earlier, still before the step) is the one recovery reaches.
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { withServer } from '../postgres/connection.js';
import type { Resolver } from '../resolve.js';
import { physicalConfig } from './target.js';

export interface RestorePoint {
  name: string;
  /** The WAL position of the point, as PostgreSQL reports it. */
  lsn: string;
  /** The server's time when it was made. */
  createdAt: string;
}

export async function createRestorePoint(resolve: Resolver, target: string, name: string): Promise<RestorePoint> {
  physicalConfig(resolve, target);
  try {
    return await withServer(resolve.databaseUrl(target), async (c) => {
      const { rows } = await c.query<{ lsn: string; at: Date }>('SELECT pg_create_restore_point($1)::text AS lsn, now() AS at', [name]);
      return { name, lsn: rows[0]!.lsn, createdAt: rows[0]!.at.toISOString() };
    });
  } catch (err) {
    const message = (err as Error).message;
    // No privilege or no WAL archiving cannot be mended by a retry: say what to grant or set.
    if (/permission denied|must be superuser|WAL level not sufficient/i.test(message))
      throw refuse(
        `cannot create restore point "${name}" on ${target}: ${message} (grant EXECUTE on pg_create_restore_point to Lifeboat's role, and set wal_level to replica)`,
        FailureType.config,
      );
    throw err;
  }
}
