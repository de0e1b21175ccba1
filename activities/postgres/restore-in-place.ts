// An in-place restore: a custom-format dump replaces the objects of a production database in one
// transaction, at most once per fence (activities/fence.ts). pg_restore writes the restore as a
// script (--single-transaction: its own BEGIN … COMMIT) and psql runs it, so that the fence can be
// written in that very transaction (activities/postgres/fence.ts):
//   [fence lock + check] BEGIN; <the dump's drops, creates, data, indexes> [fence] COMMIT;
//
// Guarantees:
// - All or nothing: the script's COMMIT is held back until pg_restore has exited cleanly, so a dump
//   that breaks off (a damaged archive, a dropped download, a cancelled attempt) never commits; psql
//   is stopped (it cancels its statement) before it could see the end of a broken script.
// - At most once per fence: an attempt first waits, heartbeating, while another attempt's restore
//   still runs, then looks for the fence; found, it returns who restored and when, and downloads and
//   changes nothing. psql's session checks again under the fence's lock, so two attempts started at
//   once cannot both restore.
// - The truth is the fence: the restore succeeded if and only if its fence is in the database.
// - A partitioned table or a damaged database does not stop it: the dump's clean-up statements (its
//   drops, before anything is created) skip what is already gone, such as a column a bad migration
//   dropped, and a partition's key, which PostgreSQL refuses to drop alone ("cannot drop inherited
//   constraint": pg_restore --clean itself fails so) and drops with its partitioned table's next.
//   Anything else they meet (an object of the database's own that depends on a table of the dump)
//   still fails the restore, unchanged.
// - The schema public keeps its owner. PostgreSQL 15 creates it with every database, owned by
//   pg_database_owner; pg_dump records its owner only where it differs, and pg_restore replays that
//   ALTER SCHEMA over whatever the database has now. Like the database itself (and its comment),
//   the schema is the database's, not the dump's: its owner is read before and set back before COMMIT.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Applied, Fence } from '../fence.js';
import { escapeLiteral, libpqEnv, pgTool, withClient } from './connection.js';
import { databaseFenceSql, lockFence, readDatabaseFence, unlockFence } from './fence.js';
import { type PrivilegeMode, privilegeFlags } from './restore.js';
import { type RunningTool, startTool } from './tool.js';

/** The end of pg_restore's script held back until it exits: COMMIT and the lines after it are a few hundred bytes. */
const HELD_BACK = 64 * 1024;

export interface InPlaceOptions {
  fence: Fence;
  privileges: PrivilegeMode;
  /** Set the schema public's owner back to the one it had before the restore (off for a database just created: the dump's then). */
  keepPublicOwner?: boolean;
  signal?: AbortSignal;
}

// The schema public's owner, read by psql's session outside the restore's transaction and set back in it.
const PUBLIC_OWNER = {
  before: `SELECT set_config('lifeboat.public_owner', coalesce((SELECT nspowner::text FROM pg_namespace WHERE nspname = 'public'), ''), false);
`,
  beforeCommit: `DO $lifeboat$
DECLARE
  was text := current_setting('lifeboat.public_owner', true);
BEGIN
  IF was <> '' AND EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public' AND nspowner <> was::oid) THEN
    EXECUTE format('ALTER SCHEMA public OWNER TO %I', pg_get_userbyid(was::oid));
  END IF;
END $lifeboat$;
`,
};

/**
 * Restores the dump `open` gives over the database of `url`, unless the fence says an attempt
 * already did; returns the attempt that restored it (`earlier` when it was not this one).
 */
export async function restoreInPlaceOnce(
  url: string,
  open: () => Promise<Readable>,
  options: InPlaceOptions,
): Promise<Applied & { earlier: boolean }> {
  const { fence } = options;
  const findFence = () => withClient(url, (client) => readDatabaseFence(client, fence));
  // Wait until no attempt holds the fence's lock: an earlier one has then committed or given up.
  await withClient(url, async (client) => {
    await lockFence(client, fence);
    await unlockFence(client, fence);
  });
  const earlier = await findFence();
  if (earlier) return { ...earlier, earlier: true };

  const failure = await runScript(url, await open(), options).then(
    () => undefined,
    (err: unknown) => err,
  );
  // psql may have failed after its COMMIT (cancelled too late) or found an earlier attempt's fence under the lock.
  const applied = await findFence();
  if (applied) return { ...applied, earlier: applied.attempt !== fence.attempt };
  throw failure ?? new Error('the in-place restore ended without committing: nothing was changed');
}

/** pg_restore's script, wrapped in the fence's SQL, through psql; rejects with the failing tool's own message. */
async function runScript(url: string, body: Readable, options: InPlaceOptions): Promise<void> {
  const { signal } = options;
  const fenceSql = databaseFenceSql(options.fence);
  const sql = options.keepPublicOwner
    ? { before: fenceSql.before + PUBLIC_OWNER.before, beforeCommit: PUBLIC_OWNER.beforeCommit + fenceSql.beforeCommit }
    : fenceSql;
  const env = libpqEnv(url);
  const restore = startTool(
    pgTool('pg_restore'),
    [...privilegeFlags(options.privileges), '--clean', '--if-exists', '--single-transaction', '--file=-'],
    { env, stdin: 'pipe', stdout: 'pipe', signal },
  );
  const psql = startTool(pgTool('psql'), ['--no-psqlrc', '--quiet', '--no-password', '--set=ON_ERROR_STOP=1'], {
    env,
    stdin: 'pipe',
    signal,
    stopSignal: 'SIGINT',
  });

  async function* script(): AsyncGenerator<string | Buffer> {
    try {
      yield sql.before;
      let held = Buffer.alloc(0);
      for await (const chunk of tolerantClean(restore.stdout! as AsyncIterable<Buffer>)) {
        held = Buffer.concat([held, chunk]);
        if (held.length > HELD_BACK) {
          yield held.subarray(0, held.length - HELD_BACK);
          held = held.subarray(held.length - HELD_BACK);
        }
      }
      await restore.done;
      const commit = held.lastIndexOf('\nCOMMIT;\n');
      if (commit < 0) throw new Error('pg_restore wrote no COMMIT at the end of its script: nothing was restored');
      yield held.subarray(0, commit + 1);
      yield sql.beforeCommit;
      yield held.subarray(commit + 1);
    } catch (err) {
      // Stopped before its input ends, psql never runs the rest of a broken script.
      psql.stop();
      await psql.done.catch(() => undefined);
      throw err;
    }
  }

  try {
    await Promise.all([pipeline(body, restore.stdin!, { signal }), pipeline(script, psql.stdin!)]);
    await psql.done;
  } catch (err) {
    restore.stop();
    psql.stop();
    if (signal?.aborted) throw err;
    throw (await toolFailure(psql, 'psql', /ERROR:/)) ?? (await toolFailure(restore, 'pg_restore')) ?? err;
  }
}

/**
 * What the dump's clean-up may skip: what a damaged database no longer has (an undefined column,
 * object, table, function or schema), and a partition's inherited key (invalid_table_definition),
 * which goes with its partitioned table's. Should one stay, the create that follows fails the restore.
 */
const SKIPPABLE = [
  'undefined_column',
  'undefined_object',
  'undefined_table',
  'undefined_function',
  'invalid_schema_name',
  'invalid_table_definition',
];
/** A clean-up statement: pg_restore --clean writes each drop (or ALTER … DROP …) on a line of its own. */
const CLEAN_STATEMENT = /^(?:DROP|ALTER) .*;$/;
/** The clean-up ends where the first object's header starts ("--\n-- Name: …"); it starts after the script's BEGIN. */
const CLEAN_START = '\nBEGIN;\n';
const CLEAN_END = '\n--\n-- ';
/** A script whose clean-up has not ended by then is passed on as it is. */
const CLEAN_MAX = 64 * 1024 * 1024;

/**
 * pg_restore's script with each statement of its clean-up phase run so that what it may skip is
 * skipped: `DO … EXECUTE '<statement>' EXCEPTION WHEN <skippable> THEN NULL`, a subtransaction each. The
 * statement travels as a quoted literal, so nothing in it can end the block; a line that is not a
 * whole statement is left as it is. The rest of the script (the creates and the data) streams through untouched.
 */
export async function* tolerantClean(script: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const source = script[Symbol.asyncIterator]();
  try {
    let head = Buffer.alloc(0);
    for (;;) {
      const next = await source.next();
      if (!next.done) head = Buffer.concat([head, next.value]);
      const start = head.indexOf(CLEAN_START);
      const end = start < 0 ? -1 : head.indexOf(CLEAN_END, start + CLEAN_START.length - 1);
      if (end < 0 && !next.done && head.length <= CLEAN_MAX) continue;
      const cut = end >= 0 ? end + 1 : head.length;
      yield start < 0 || head.length > CLEAN_MAX
        ? head
        : Buffer.concat([head.subarray(0, start), Buffer.from(wrapClean(head.subarray(start, cut).toString('utf8'))), head.subarray(cut)]);
      if (next.done) return;
      break;
    }
    for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
  } finally {
    // Closed early (psql failed), it closes pg_restore's output too, as a for-await over it would.
    await source.return?.();
  }
}

function wrapClean(text: string): string {
  const handler = SKIPPABLE.join(' OR ');
  return text
    .split('\n')
    .map((line) =>
      CLEAN_STATEMENT.test(line)
        ? `DO $lifeboat$ BEGIN EXECUTE ${escapeLiteral(line)}; EXCEPTION WHEN ${handler} THEN NULL; END $lifeboat$;`
        : line,
    )
    .join('\n');
}

/** The tool's own message when it failed and said why (matching `pattern`); undefined otherwise. */
async function toolFailure(tool: RunningTool, name: string, pattern = /\S/): Promise<Error | undefined> {
  const failed = await tool.done.then(
    () => false,
    () => true,
  );
  return failed && pattern.test(tool.stderrTail()) ? new Error(`${name} failed: ${tool.stderrTail()}`) : undefined;
}
