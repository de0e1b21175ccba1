// SQL from the configuration (integrity and critical-function checks), run so that it stays
// harmless whatever it says:
// - It is sent as one statement through the extended protocol, which refuses several: nothing
//   like "SELECT 0; COMMIT; CREATE TABLE …" can end the transaction it runs in (the configuration
//   loader refuses such a check earlier, with the field).
// - An integrity check runs in a READ ONLY transaction: it cannot write.
// - A critical check runs in a transaction that is rolled back, and every sequence it moved
//   (nextval is not transactional) is set back to where it was, unless something else drew from it
//   meanwhile: moving a sequence back past values others took would hand the same keys out twice.
import type pg from 'pg';

/** One statement, through the extended protocol (node-postgres uses the simple one, which runs several, for queries without values). */
function oneStatement(sql: string): pg.QueryConfig {
  return { text: sql, queryMode: 'extended' } as pg.QueryConfig;
}

/** Runs a check's statement read-only; returns its rows. */
export async function queryReadOnly(client: pg.Client, sql: string): Promise<Record<string, unknown>[]> {
  await client.query('BEGIN READ ONLY');
  try {
    return (await client.query<Record<string, unknown>>(oneStatement(sql))).rows;
  } finally {
    await client.query('ROLLBACK');
  }
}

interface SequenceState {
  lastValue: string;
  isCalled: boolean;
}

/**
 * Where every sequence this role can read stands (temporary ones of other sessions cannot be read).
 * has_table_privilege, not has_sequence_privilege: the planner may call it on rows of any kind.
 */
async function sequenceStates(client: pg.Client): Promise<Map<string, SequenceState>> {
  const { rows: names } = await client.query<{ name: string }>(
    `SELECT c.oid::regclass::text AS name FROM pg_class c
     WHERE c.relkind = 'S' AND c.relpersistence <> 't' AND has_table_privilege(c.oid, 'SELECT')`,
  );
  const states = new Map<string, SequenceState>();
  if (!names.length) return states;
  // regclass::text is the sequence's name quoted as SQL needs it, so it can stand in a FROM clause.
  const union = names.map(({ name }, i) => `SELECT $${i + 1}::text AS name, last_value::text, is_called FROM ${name}`).join(' UNION ALL ');
  const { rows } = await client.query<{ name: string; last_value: string; is_called: boolean }>(
    union,
    names.map((n) => n.name),
  );
  for (const row of rows) states.set(row.name, { lastValue: row.last_value, isCalled: row.is_called });
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
  for (const [name, was] of before) {
    const is = now.get(name);
    if (!is || (is.lastValue === was.lastValue && is.isCalled === was.isCalled)) continue;
    try {
      // Only if the sequence still stands where the check left it: a value drawn meanwhile by someone else stays drawn.
      await client.query(`SELECT setval($1::regclass, $2::bigint, $3) FROM ${name} WHERE last_value = $4::bigint AND is_called = $5`, [
        name,
        was.lastValue,
        was.isCalled,
        is.lastValue,
        is.isCalled,
      ]);
    } catch (err) {
      throw new Error(
        `the check moved sequence ${name} and it could not be set back (${(err as Error).message}): grant UPDATE on it to the role the worker connects as`,
        { cause: failure },
      );
    }
  }
  if (failure) throw failure;
}
