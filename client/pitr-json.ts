// The shapes `lifeboat pitr backups|wal|find --json` print, as zod schemas the commands validate
// their output against (README.md documents them). As in client/read-json.ts: every key is always
// present (null or [] when empty), and a key changes meaning only with a new shape.
import { z } from 'zod';
import type { PhysicalCatalog } from '../activities/pgbackrest/backups.js';
import type { WarmState } from '../activities/pgbackrest/warm-copy.js';
import type { TableChanges } from '../activities/pgbackrest/wal-changes.js';
import type { WalFreshness } from '../activities/pgbackrest/wal-freshness.js';
import { orNull } from './status-json.js';

const iso = z.iso.datetime({ offset: true });
const segment = z.string().regex(/^[0-9A-F]{24}$/);

export const physicalBackupsJsonSchema = z.strictObject({
  target: z.string(),
  stanza: z.string(),
  /** pgBackRest's own word for the stanza ("ok", or what is wrong). */
  status: z.string(),
  /** The oldest and newest WAL segment in the repository: the span point-in-time recovery can reach. */
  walMin: segment.nullable(),
  walMax: segment.nullable(),
  backups: z.array(
    z.strictObject({
      label: z.string(),
      type: z.enum(['full', 'diff', 'incr']),
      startedAt: iso,
      stoppedAt: iso,
      sizeBytes: z.number().int(),
      repositoryBytes: z.number().int(),
      walStart: segment,
      walStop: segment,
    }),
  ),
  /** The stanza's warm copy (a backup restored ahead of time, in recovery): its backup, or null, and its state in words. */
  warmCopy: z.strictObject({
    label: z.string().nullable(),
    stoppedAt: iso.nullable(),
    preparedAt: iso.nullable(),
    note: z.string(),
  }),
});

export const walJsonSchema = z.strictObject({
  target: z.string(),
  stanza: z.string(),
  /** False when WAL written longer ago than maxAgeMs is not in the repository (the command's exit 1). */
  fresh: z.boolean(),
  newestArchivedWal: segment.nullable(),
  archivedAt: iso.nullable(),
  ageMs: z.number().int().nullable(),
  maxAgeMs: z.number().int(),
  waitingBytes: z.number().int(),
  failingWal: segment.nullable(),
  repositoryNewest: segment.nullable(),
});

export const findJsonSchema = z.strictObject({
  table: z.string(),
  relation: z.string(),
  fromSegment: z.string(),
  toSegment: z.string(),
  transactions: z.array(
    z.strictObject({ xid: z.string(), committedAt: iso, deleted: z.number().int(), updated: z.number().int(), lsn: z.string() }),
  ),
  /** What could not be read (a missing segment), or null. */
  note: z.string().nullable(),
});

export const physicalBackupsJson = (target: string, c: PhysicalCatalog & { warmCopy?: WarmState }) =>
  physicalBackupsJsonSchema.parse({
    target,
    stanza: c.stanza,
    status: c.status,
    walMin: orNull(c.walMin),
    walMax: orNull(c.walMax),
    backups: c.backups.map((b) => ({
      label: b.label,
      type: b.type,
      startedAt: b.startedAt,
      stoppedAt: b.stoppedAt,
      sizeBytes: b.size,
      repositoryBytes: b.repoSize,
      walStart: b.walStart,
      walStop: b.walStop,
    })),
    warmCopy: {
      label: orNull(c.warmCopy?.record?.label),
      stoppedAt: orNull(c.warmCopy?.record?.stoppedAt),
      preparedAt: orNull(c.warmCopy?.record?.preparedAt),
      note: c.warmCopy?.note ?? 'unknown: the worker predates warm copies',
    },
  });

export const walJson = (w: WalFreshness) =>
  walJsonSchema.parse({
    target: w.target,
    stanza: w.stanza,
    fresh: w.fresh,
    newestArchivedWal: orNull(w.newestArchivedWal),
    archivedAt: orNull(w.archivedAt),
    ageMs: orNull(w.ageMs),
    maxAgeMs: w.maxAgeMs,
    waitingBytes: w.waitingBytes,
    failingWal: orNull(w.failingWal),
    repositoryNewest: orNull(w.repositoryNewest),
  });

export const findJson = (f: TableChanges) =>
  findJsonSchema.parse({
    table: f.table,
    relation: f.relation,
    fromSegment: f.fromSegment,
    toSegment: f.toSegment,
    transactions: f.transactions.map((t) => ({
      xid: t.xid,
      committedAt: t.committedAt,
      deleted: t.deleted,
      updated: t.updated,
      lsn: t.lsn,
    })),
    note: orNull(f.note),
  });
