// The PostgreSQL side of fences (activities/fence.ts): the fence is written in the transaction that
// makes the change, and an advisory lock on the fence's key, held by the session that makes it,
// tells a retry that the first attempt is still at work.
// - An apply (L1/L2) records its fence as a row of the incident's staging schema: Lifeboat's own
//   schema, already there for the apply, dropped with it when the plan ends (no retry comes later).
// - An in-place restore records its fence as a line of the database's comment (COMMENT ON DATABASE),
//   set just before the restore's COMMIT. The restore drops and recreates every object of the dump,
//   so a row in a table could be erased by it or be one more object in the user's schema, and the
//   backups would carry it; the database's comment belongs to no schema, and pg_dump writes it only
//   with --create, which Lifeboat's dumps never use. The comment's other lines are kept as they are.
//
// Guarantees:
// - A fence is visible exactly when its change is committed: same transaction.
// - Only the session holding the fence's lock checks for the fence and writes it, so two attempts
//   never both find it missing and both apply; a second attempt waits for the first (heartbeating)
//   and then finds its fence. The lock goes with the session: a session whose attempt died is
//   ended by PostgreSQL (at once when idle, after its statement otherwise), and its transaction
//   rolled back, so the next attempt then finds no fence and makes the change itself.
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { type Applied, type Fence } from '../fence.js';
import { escapeIdentifier, escapeLiteral } from './connection.js';

/** Lifeboat's advisory lock class (two-int keys never meet an application's one-bigint locks). */
const LOCK_CLASS = 0x4c42_4654; // "LBFT"
/** The lock that orders rewrites of the database's comment (two at once would fail with "tuple concurrently updated"). */
const COMMENT_LOCK = 0;
/** How many fence lines the database's comment keeps, newest last: retries come within one run. */
const COMMENT_FENCES = 20;
const MARK = 'lifeboat-fence';

const lockArgs = (fence: Fence) => `${LOCK_CLASS}, hashtext(${escapeLiteral(fence.key)})`;

/**
 * Takes the fence's lock for this session, waiting while another attempt's session holds it (an
 * earlier attempt still restoring or applying): heartbeats say this attempt is alive and waiting.
 * Waits in short rounds, so a cancelled attempt stops waiting and no orphaned wait stays queued.
 */
export async function lockFence(client: pg.Client, fence: Fence): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${lockArgs(fence)}) AS ok`);
  if (rows[0]!.ok) return;
  const context = Context.current();
  await client.query(`SET statement_timeout = 0`);
  await client.query(`SET lock_timeout = '5s'`);
  try {
    for (;;) {
      context.heartbeat({ phase: 'waiting for an earlier attempt to finish' });
      context.cancellationSignal.throwIfAborted();
      try {
        await client.query(`SELECT pg_advisory_lock(${lockArgs(fence)})`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55P03') throw err; // lock_not_available: still held
      }
    }
  } finally {
    await client.query('RESET lock_timeout');
  }
}

export async function unlockFence(client: pg.Client, fence: Fence): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(${lockArgs(fence)})`);
}

// ─────────────────────── In-place restores: the database's comment ───────────────────────

const COMMENT_LINES = `string_to_array(coalesce(shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()), 'pg_database'), ''), E'\\n')`;

function parseCommentLine(line: string, fence: Fence): Applied | undefined {
  const [mark, key] = line.split(' ');
  if (mark !== MARK || key !== fence.key) return undefined;
  const match = / by attempt (\d+) at (\S+)/.exec(line);
  return match ? { attempt: Number(match[1]), at: match[2]! } : undefined;
}

/** The fence of an in-place restore, if one committed. */
export async function readDatabaseFence(client: pg.Client, fence: Fence): Promise<Applied | undefined> {
  const { rows } = await client.query<{ line: string }>(`SELECT unnest(${COMMENT_LINES}) AS line`);
  for (const { line } of rows) {
    const applied = parseCommentLine(line, fence);
    if (applied) return applied;
  }
  return undefined;
}

/** Only the database's owner (or a member of its role) may set its comment: refused before anything changes. */
export async function mayWriteDatabaseFence(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT pg_has_role(datdba, 'USAGE') AS ok FROM pg_database WHERE datname = current_database()`,
  );
  return rows[0]?.ok === true;
}

/**
 * The SQL around a restore script that psql runs: `before` (outside the script's transaction) takes
 * the fence's lock for psql's session and stops with an error if the fence is there; `beforeCommit`
 * (inside it, just before its COMMIT) writes the fence into the database's comment.
 */
export function databaseFenceSql(fence: Fence): { before: string; beforeCommit: string } {
  const key = escapeLiteral(fence.key);
  const before = `SELECT pg_advisory_lock(${lockArgs(fence)});
DO $lifeboat$ BEGIN
  IF EXISTS (SELECT 1 FROM unnest(${COMMENT_LINES}) AS l WHERE split_part(l, ' ', 1) = '${MARK}' AND split_part(l, ' ', 2) = ${key}) THEN
    RAISE EXCEPTION '${MARK} %: an earlier attempt already restored this database', ${key};
  END IF;
END $lifeboat$;
`;
  const line = `'${MARK} ' || ${key} || ' restored by attempt ${fence.attempt} at ' || to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const beforeCommit = `SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${COMMENT_LOCK});
DO $lifeboat$
DECLARE
  lines text[] := ${COMMENT_LINES};
  fences text[] := ARRAY(SELECT l FROM unnest(lines) WITH ORDINALITY AS u(l, i) WHERE split_part(l, ' ', 1) = '${MARK}' ORDER BY i);
  others text[] := ARRAY(SELECT l FROM unnest(lines) WITH ORDINALITY AS u(l, i) WHERE split_part(l, ' ', 1) <> '${MARK}' ORDER BY i);
BEGIN
  fences := fences[greatest(1, cardinality(fences) - ${COMMENT_FENCES - 2}):] || (${line});
  EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), array_to_string(others || fences, E'\\n'));
END $lifeboat$;
`;
  return { before, beforeCommit };
}

// ─────────────────────── Applies: a row in the staging schema ───────────────────────

const fenceTable = (schema: string) => `${escapeIdentifier(schema)}.lifeboat_fence`;

/** The fence of an apply and the result it recorded, if one committed. */
export async function readStagingFence<T>(client: pg.Client, schema: string, fence: Fence): Promise<(Applied & { result: T }) | undefined> {
  const exists = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [fenceTable(schema)]);
  if (!exists.rows[0]!.ok) return undefined;
  const { rows } = await client.query<{ attempt: number; at: Date; result: T }>(
    `SELECT attempt, applied_at AS at, result FROM ${fenceTable(schema)} WHERE key = $1`,
    [fence.key],
  );
  const row = rows[0];
  return row && { attempt: row.attempt, at: row.at.toISOString(), result: row.result };
}

/** Records an apply's fence and result; call it in the apply's transaction, just before its COMMIT. */
export async function writeStagingFence(client: pg.Client, schema: string, fence: Fence, result: unknown): Promise<void> {
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${fenceTable(schema)} (key text PRIMARY KEY, attempt int NOT NULL, applied_at timestamptz NOT NULL, result jsonb NOT NULL)`,
  );
  await client.query(`INSERT INTO ${fenceTable(schema)} VALUES ($1, $2, clock_timestamp(), $3)`, [
    fence.key,
    fence.attempt,
    JSON.stringify(result),
  ]);
}
