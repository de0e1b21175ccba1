// SQL from the configuration (integrity and critical-function checks), run so that it stays
// harmless whatever it says:
// - It is sent as one statement through the extended protocol, which refuses several: nothing
//   like "SELECT 0; COMMIT; CREATE TABLE …" can end the transaction it runs in (the configuration
//   loader refuses such a check earlier, with the field).
// - An integrity check runs in a READ ONLY transaction: it cannot write.
// - A critical check runs in a transaction that is rolled back, and every sequence it moved
//   (nextval is not transactional) is set back to where it was, unless something else drew from it
//   meanwhile: moving a sequence back past values others took would hand the same keys out twice.
//   That includes sequences the worker's role may draw from but not read (USAGE without SELECT).
import type pg from 'pg';

/** One statement, through the extended protocol (node-postgres uses the simple one, which runs several, for queries without values). */
function oneStatement(sql: string): pg.QueryConfig {
  return { text: sql, queryMode: 'extended' } as pg.QueryConfig;
}

/** Runs a check's statement read-only, with its values (`$1`, …) if any; returns its rows. */
export async function queryReadOnly(client: pg.Client, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
  await client.query('BEGIN READ ONLY');
  try {
    return (await client.query<Record<string, unknown>>({ ...oneStatement(sql), values: params })).rows;
  } finally {
    await client.query('ROLLBACK');
  }
}

interface SequenceState {
  /** pg_sequence_last_value: the last value drawn, null while none was (readable with SELECT or USAGE). */
  drawn: string | null;
  /** What setval takes to put the sequence back here. */
  lastValue: string;
  isCalled: boolean;
}

/**
 * Where every sequence this role can draw from stands (USAGE or UPDATE, not only SELECT: an
 * application's role usually has USAGE alone, and its checks move sequences all the same; temporary
 * ones of other sessions are not visible). A sequence never drawn from is set back to the value
 * nextval would give: read where the role may SELECT it, else its START.
 * The CASEs keep the planner from calling the sequence functions on rows of other kinds.
 */
async function sequenceStates(client: pg.Client): Promise<Map<string, SequenceState>> {
  const { rows } = await client.query<{ name: string; drawn: string | null; start: string; readable: boolean }>(
    `SELECT c.oid::regclass::text AS name, s.seqstart::text AS start, has_table_privilege(c.oid, 'SELECT') AS readable,
            CASE WHEN c.relkind = 'S' AND has_sequence_privilege(c.oid, 'SELECT, USAGE') THEN pg_sequence_last_value(c.oid)::text END AS drawn
       FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
      WHERE c.relpersistence <> 't' AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'SELECT, USAGE, UPDATE') ELSE false END`,
  );
  const states = new Map<string, SequenceState>();
  for (const row of rows) states.set(row.name, { drawn: row.drawn, lastValue: row.drawn ?? row.start, isCalled: row.drawn !== null });
  // regclass::text is the sequence's name quoted as SQL needs it, so it can stand in a FROM clause.
  const fresh = rows.filter((r) => r.drawn === null && r.readable);
  if (fresh.length) {
    const union = fresh.map(({ name }, i) => `SELECT $${i + 1}::text AS name, last_value::text FROM ${name}`).join(' UNION ALL ');
    const read = await client.query<{ name: string; last_value: string }>(
      union,
      fresh.map((r) => r.name),
    );
    for (const row of read.rows) states.get(row.name)!.lastValue = row.last_value;
  }
  return states;
}

/**
 * Runs a critical check's statement in a transaction that is rolled back, then sets back the
 * sequences it moved. A failure of the statement is thrown after the cleanup; a sequence that
 * cannot be set back (no UPDATE privilege on it) is a failure naming it and the grant it needs.
 */
export async function queryLeavingNoTrace(client: pg.Client, sql: string): Promise<void> {
  const before = await sequenceStates(client);
  let failure: unknown;
  await client.query('BEGIN');
  try {
    await client.query(oneStatement(sql));
  } catch (err) {
    failure = err;
  } finally {
    await client.query('ROLLBACK');
  }
  const now = await sequenceStates(client);
  const stuck: string[] = [];
  for (const [name, was] of before) {
    const is = now.get(name);
    if (!is || is.drawn === was.drawn) continue;
    // Only if the sequence still stands where the check left it: a value drawn meanwhile by someone else stays drawn.
    await client
      .query(`SELECT setval($1::regclass, $2::bigint, $3) WHERE pg_sequence_last_value($1::regclass) IS NOT DISTINCT FROM $4::bigint`, [
        name,
        was.lastValue,
        was.isCalled,
        is.drawn,
      ])
      .catch((err: Error) => stuck.push(`${name} (${err.message})`));
  }
  if (stuck.length)
    throw new Error(
      `the check moved sequence(s) it could not set back: ${stuck.join(', ')}: grant UPDATE on them to the role the worker connects as`,
      { cause: failure },
    );
  if (failure) throw failure;
}
