// WAL freshness: archiving stuck is the silent killer of point-in-time recovery, as failed dumps
// were of logical backups. The archive is stale when WAL has been written after the newest
// archived segment and that segment is older than the limit (a quiet database is not stale), or
// when PostgreSQL reports its latest attempt to archive as failed for longer than the limit.
import type { Resolver } from '../resolve.js';
import { withServer } from '../postgres/connection.js';
import { durationMs } from '../../config/config.js';
import { physicalCatalog } from './backups.js';
import { physicalTarget } from './target.js';

export interface WalFreshness {
  target: string;
  stanza: string;
  newestArchivedWal?: string;
  archivedAt?: string;
  /** Since the newest segment was archived. */
  ageMs?: number;
  maxAgeMs: number;
  /** WAL written after the newest archived segment, not yet in the repository. */
  waitingBytes: number;
  /** The segment PostgreSQL last failed to archive, if that came after the last success. */
  failingWal?: string;
  /** The newest segment the repository itself lists. */
  repositoryNewest?: string;
  fresh: boolean;
}

const SEGMENT = 16 * 1024 * 1024;

export async function walFreshness(resolve: Resolver, target: string): Promise<WalFreshness> {
  const p = await physicalTarget(resolve, target);
  const maxAgeMs = durationMs(p.config.walMaxAge);
  const row = await withServer(resolve.databaseUrl(target), async (c) => {
    const { rows } = await c.query<{
      wal: string | null;
      at: Date | null;
      failed: string | null;
      failedAt: Date | null;
      current: string;
      now: Date;
    }>(
      `SELECT last_archived_wal AS wal, last_archived_time AS at, last_failed_wal AS failed, last_failed_time AS "failedAt",
              pg_current_wal_lsn()::text AS current, now() AS now FROM pg_stat_archiver`,
    );
    return rows[0]!;
  });
  const { walMax } = await physicalCatalog(p);
  const [hi, lo] = row.current.split('/').map((h) => BigInt(`0x${h}`));
  const current = (hi! << 32n) + lo!;
  // The first byte after the newest archived segment: everything from there on waits for archiving.
  const archivedEnd = row.wal
    ? (BigInt(`0x${row.wal.slice(8, 16)}`) << 32n) + (BigInt(`0x${row.wal.slice(16)}`) + 1n) * BigInt(SEGMENT)
    : 0n;
  const waitingBytes = Number(current > archivedEnd ? current - archivedEnd : 0n);
  const ageMs = row.at ? row.now.getTime() - row.at.getTime() : undefined;
  const failing = row.failed && (!row.at || (row.failedAt && row.failedAt > row.at)) ? row.failed : undefined;
  const stale = waitingBytes > 0 && (ageMs === undefined || ageMs > maxAgeMs);
  return {
    target,
    stanza: p.settings.stanza,
    newestArchivedWal: row.wal ?? undefined,
    archivedAt: row.at?.toISOString(),
    ageMs,
    maxAgeMs,
    waitingBytes,
    failingWal: failing ?? undefined,
    repositoryNewest: walMax,
    fresh: !stale,
  };
}
