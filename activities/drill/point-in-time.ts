// Activities of the drill's point-in-time rehearsal (drill.pointInTime, opt-in): a point-in-time
// recovery needs WAL archived from a real write, so — unlike the rest of the drill — it writes on
// production, and only in one table of its own (common/names.ts DRILL_MARKER_TABLE): marker rows
// keyed by the drill, some deleted in one transaction, more written after, the WAL archived. The
// markers as they are then are copied into the drill's test database, where the real L1 plan
// brings the deleted ones back from a side instance restored to just before the deletion.
// Guarantees:
// - nothing runs unless the worker's own configuration says drill.pointInTime (a drill's request cannot);
// - production rows other than this drill's markers are never read or written; the markers go at the end;
// - safe to run twice: a retry deletes what an earlier attempt wrote and starts over (a new transaction to recover before).
import type pg from 'pg';
import { FailureType } from '../../common/errors.js';
import { DRILL_MARKER_TABLE } from '../../common/names.js';
import { refuse } from '../failure.js';
import { escapeIdentifier, withClient } from '../postgres/connection.js';
import type { TestDatabaseRef } from '../inputs.js';
import { archiveCurrentWal } from '../pgbackrest/wal-changes.js';
import type { Resolver } from '../resolve.js';

const table = escapeIdentifier(DRILL_MARKER_TABLE);
const CREATE = `CREATE TABLE IF NOT EXISTS ${table} (
  marker text PRIMARY KEY, drill_id text NOT NULL, phase text NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp())`;
/** Markers written before the deletion, deleted by it, and written after it. */
const [BEFORE, DELETED, LATER] = [10, 3, 3];

export interface DrillMarkers {
  /** Written before the deletion and not deleted. */
  kept: string[];
  deleted: string[];
  /** Written after the deletion: a recovery of the deleted ones must leave them. */
  later: string[];
  /** The deleting transaction (32-bit, as recovery_target_xid and `pitr find` name it). */
  xid: string;
  /** Just before it began: a physical backup that ended before this can recover to just before it. */
  began: string;
  /** Just after it committed. */
  committedBy: string;
}

export interface MarkerCheck {
  ok: boolean;
  detail: string;
}

export function createPointInTimeDrillActivities(resolver: Resolver) {
  const { config, databaseUrl } = resolver;
  const allowed = () => {
    if (!config.drill.pointInTime)
      throw refuse("drill.pointInTime is off in the worker's configuration: the drill writes no markers on production", FailureType.config);
  };

  return {
    /** On production: markers written, some deleted in one transaction, more written; WAL archived; the markers copied into the test database. */
    async writeDrillMarkers(input: TestDatabaseRef & { drillId: string }): Promise<DrillMarkers> {
      allowed();
      const { drillId } = input;
      const names = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${drillId}-${from + i}`);
      const [kept, deleted, later] = [names(1, BEFORE - DELETED), names(BEFORE - DELETED + 1, DELETED), names(BEFORE + 1, LATER)];
      const insert = (c: pg.Client, markers: string[], phase: string) =>
        c.query(`INSERT INTO ${table} (marker, drill_id, phase) SELECT m, $1, $2 FROM unnest($3::text[]) m`, [drillId, phase, markers]);
      const { rows, ...marks } = await withClient(databaseUrl(input.target), async (c) => {
        await c.query(CREATE);
        await c.query(`DELETE FROM ${table} WHERE drill_id = $1`, [drillId]);
        await insert(c, [...kept, ...deleted], 'before');
        await c.query('BEGIN');
        const began = (
          await c.query<{ at: Date; xid: string }>('SELECT clock_timestamp() AS at, (txid_current() % 4294967296)::text AS xid')
        ).rows[0]!;
        await c.query(`DELETE FROM ${table} WHERE marker = ANY($1::text[])`, [deleted]);
        await c.query('COMMIT');
        const committedBy = (await c.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]!.at.toISOString();
        await insert(c, later, 'after');
        await archiveCurrentWal(c);
        const current = await c.query(`SELECT * FROM ${table} WHERE drill_id = $1 ORDER BY marker`, [drillId]);
        return { rows: current.rows as Record<string, unknown>[], xid: began.xid, began: began.at.toISOString(), committedBy };
      });
      // The test database gets production's markers as they are now: the damaged state the L1 mends.
      await withClient(databaseUrl(input.target, input.testDatabase), async (c) => {
        await c.query(CREATE);
        await c.query(`DELETE FROM ${table}`);
        await c.query(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::json)`, [JSON.stringify(rows)]);
      });
      return { kept, deleted, later, ...marks };
    },

    /** In the test database: the deleted markers are back, and every marker written before or after is still there. */
    async checkDrillMarkers(input: TestDatabaseRef & { drillId: string; markers: DrillMarkers }): Promise<MarkerCheck> {
      const { kept, deleted, later } = input.markers;
      const present = new Set(
        await withClient(databaseUrl(input.target, input.testDatabase), async (c) =>
          (await c.query<{ marker: string }>(`SELECT marker FROM ${table} WHERE drill_id = $1`, [input.drillId])).rows.map((r) => r.marker),
        ),
      );
      const missing = (markers: string[]) => markers.filter((m) => !present.has(m));
      const [lost, gone, keptGone] = [missing(deleted), missing(later), missing(kept)];
      const ok = !lost.length && !gone.length && !keptGone.length;
      return {
        ok,
        detail: ok
          ? `the ${deleted.length} deleted markers came back; the ${later.length} written after the deletion and the ${kept.length} never deleted stayed`
          : [
              lost.length && `${lost.length} of the ${deleted.length} deleted markers did not come back (${lost.join(', ')})`,
              gone.length && `${gone.length} markers written after the deletion are gone (${gone.join(', ')})`,
              keptGone.length && `${keptGone.length} markers never deleted are gone (${keptGone.join(', ')})`,
            ]
              .filter(Boolean)
              .join('; '),
      };
    },

    /** On production: this drill's markers removed (the table stays for the next drill). Safe to run any number of times. */
    async removeDrillMarkers(input: { target: string; drillId: string }): Promise<number> {
      allowed();
      return withClient(databaseUrl(input.target), async (c) => {
        const exists = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [DRILL_MARKER_TABLE]);
        if (!exists.rows[0]!.t) return 0;
        return (await c.query(`DELETE FROM ${table} WHERE drill_id = $1`, [input.drillId])).rowCount ?? 0;
      });
    },
  };
}
