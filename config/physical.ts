// A target's physical backups and point-in-time recovery, which belong to pgBackRest: written
// `physical: pgbackrest` (every default) or as the object below. The worker writes pgBackRest's
// configuration file from it (activities/pgbackrest/conf.ts); the S3 keys are the store's.
import { z } from 'zod';
import { duration, name } from './fields.js';

const absolutePath = z.string().regex(/^\//, 'expected an absolute path');

const physicalObject = z.strictObject({
  tool: z.literal('pgbackrest'),
  /** The stanza; the target's name by default. One stanza per PostgreSQL cluster. */
  stanza: name.optional(),
  /** pg1-path: the cluster's data directory; read from the server (SHOW data_directory) when absent. */
  pgPath: absolutePath.optional(),
  /** The folder of the server's Unix socket; the first of unix_socket_directories when absent. */
  socketPath: absolutePath.optional(),
  /** The OS user pgBackRest runs as; when the worker is root, the data directory's owner by default. */
  runAs: z.string().min(1).optional(),
  /** Where the worker writes <stanza>.conf, and pgBackRest's lock and log folders; side instances, recovered clusters and the warm copy go below it. */
  configDir: absolutePath.default('/var/lib/lifeboat/pgbackrest'),
  /** The store's address for pgBackRest (https:// only in pgBackRest 2.45); the store's endpoint by default. */
  repoEndpoint: z.url().optional(),
  /** The CA file the store's certificate is checked against (repo1-storage-ca-file); the system's CAs by default. */
  caFile: z.preprocess((v) => (v === '' || v === null ? undefined : v), absolutePath.optional()),
  /** The repository's folder inside the store's bucket. */
  repoPath: absolutePath.default('/pgbackrest'),
  /** repo1-retention-full: full backups kept (with their differentials, incrementals and WAL). */
  retentionFull: z.number().int().min(1).max(99).default(2),
  compressType: z.enum(['lz4', 'gz', 'zst', 'none']).default('lz4'),
  /** process-max: pgBackRest processes a backup or restore runs (compression, transfer) in parallel. */
  processMax: z.number().int().min(1).max(32).default(1),
  /**
   * After every physical backup, keep a warm copy (configDir/warm/<stanza>): the backup restored and
   * replayed to consistency ahead of time, so an L3/L4 at a later moment only replays the WAL since.
   * Costs a cluster's size of disk; skipped when the disk lacks room.
   */
  warmCopy: z.boolean().default(true),
  /** apply: create the stanza and set archive_command where they are missing; check: only report what is missing. */
  setup: z.enum(['apply', 'check']).default('apply'),
  /** Alarm when WAL written longer ago than this is still not in the repository. */
  walMaxAge: duration.default('15m'),
  /**
   * How an in-place restore to a moment stops and starts production when a service manager runs it
   * (argv, run without a shell as the worker's user; e.g. ["systemctl", "stop", "postgresql@15-main"]):
   * the start must return once the server runs. Without them: pg_ctl as the data directory's owner,
   * started again with the command line its postmaster.opts held.
   */
  stopCommand: z.array(z.string().min(1)).min(1).optional(),
  startCommand: z.array(z.string().min(1)).min(1).optional(),
  schedules: z
    .strictObject({
      full: z.string().default('0 1 * * 0'),
      diff: z.string().default('0 1 * * 1-6'),
      incr: z.string().default('0 */4 * * *'),
      verify: z.string().default('0 5 * * 0'),
      walFreshness: z.string().default('*/5 * * * *'),
      /** The sweep of side instances whose plan is no longer running (a terminated plan's, a dead worker's). */
      sideSweep: z.string().default('17 * * * *'),
    })
    .prefault({}),
});

export const physical = z.preprocess((value) => (value === 'pgbackrest' ? { tool: 'pgbackrest' } : value), physicalObject);

export type PhysicalConfig = z.infer<typeof physicalObject>;

/** What is wrong with a physical target's store, or undefined: pgBackRest needs S3 it can reach over HTTPS. */
export function physicalStoreProblem(
  targetName: string,
  p: PhysicalConfig,
  store: { type: 's3'; endpoint?: string | undefined } | { type: 'local' },
): string | undefined {
  if (store.type !== 's3')
    return `targets.${targetName}.physical: pgBackRest's repository lives in the target's store, which must be of type s3`;
  const endpoint = p.repoEndpoint ?? store.endpoint;
  if (endpoint && !endpoint.startsWith('https://'))
    return `targets.${targetName}.physical.repoEndpoint: pgBackRest 2.45 reaches S3 only over HTTPS and the store's endpoint is ${endpoint}: write the store's https:// address here (and caFile if its certificate is signed by your own CA)`;
  return undefined;
}
