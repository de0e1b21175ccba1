// What the L1 benchmark watches and arranges beside an incident, from sessions of its own: the
// moment the first row reaches the incident's staging area, and a backup left without its kept
// recovery copy (so the next L1 makes its own: the selective restore).
import pg from 'pg';
import { escapeIdentifier } from '../activities/postgres/connection.js';
import { dropKeptCopy as dropCopy } from '../activities/postgres/recovery-copy.js';
import { stagingSchema } from '../common/names.js';
import { log } from './common.js';

/** How often the first-row watcher looks into the staging table: the resolution of "first staged row". */
export const FIRST_ROW_POLL_MS = 20;

/**
 * Watches for the first row staged for `incidentId` (its staging table of crm_leads holding a row),
 * from a session of its own; `stop()` returns the ms from `t0` (performance.now()) it was first
 * seen, or NaN when it never was.
 */
export function watchFirstRow(url: string, incidentId: string, t0: number): { stop: () => Promise<number> } {
  const relation = `${escapeIdentifier(stagingSchema(incidentId))}.${escapeIdentifier('crm_leads')}`;
  let seenAt = NaN;
  let stopped = false;
  const done = (async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      while (!stopped && Number.isNaN(seenAt)) {
        const { rows } = await c.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [relation]);
        // The table exists from the staging's start; it may be dropped at the end, while we look.
        if (rows[0]!.r && (await c.query(`SELECT 1 FROM ${relation} LIMIT 1`).catch(() => ({ rowCount: 0 }))).rowCount)
          seenAt = performance.now() - t0;
        else await new Promise((ok) => setTimeout(ok, FIRST_ROW_POLL_MS));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return seenAt;
    },
  };
}

/** Drops the verification's kept recovery copy of the backup, so the next L1 makes its own (selective restore). */
export async function dropKeptCopy(adminUrl: string, backupId: string): Promise<void> {
  const kept = await dropCopy(adminUrl, 'crm', backupId);
  if (!kept) throw new Error(`backup ${backupId} has no kept recovery copy: its verification should have kept one`);
  log(`dropped the kept recovery copy ${kept}: the next L1 restores the tables it needs (selective restore)`);
}
