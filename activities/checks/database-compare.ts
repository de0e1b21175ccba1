// Whether two databases are the same database: a restore against its original, a drill's copy
// against a pristine one. PostgreSQL describes itself (pg_get_*def, pg_describe_object, the
// catalogs); this module only asks, per aspect, for a name → definition map of the user's objects
// and lists what differs.
//
// Guarantees:
// - Objects are named by what they are (schema, table, signature), never by OID, so two databases
//   restored from one dump compare equal.
// - Rows are compared per leaf table by a hash of the rows in text form, sorted (the md5 of each
//   row's md5 in row order, so no table's whole text is held in memory): a partitioned
//   table's rows are counted in its partitions only, once.
// - System schemas and Lifeboat's own staging schemas are left out; so is any aspect the caller
//   names (a drill's copies are restored without the application's owners and grants).
// - Owners and grants are aspects of their own (`owners`, `grants`), apart from the definitions.
import type { ClientBase } from 'pg';
import { withClient } from '../postgres/connection.js';

/** Aspect → object → its definition (or a hash of its rows). */
export type DatabaseDescription = Record<string, Record<string, string>>;

const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'lifeboat_staging_%'`;

/** Objects that have an owner and grants, by what they are: the `owners` and `grants` aspects. */
const OWNED = `
  SELECT 'schema ' || format('%I', n.nspname) AS name, n.nspowner AS owner, n.nspacl::text AS acl FROM pg_namespace n WHERE ${USER_SCHEMA}
  UNION ALL
  SELECT 'relation ' || format('%I.%I', n.nspname, c.relname), c.relowner, c.relacl::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  UNION ALL
  SELECT 'column ' || format('%I.%I.%I', n.nspname, c.relname, a.attname), NULL, a.attacl::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE ${USER_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
  UNION ALL
  SELECT pg_describe_object('pg_proc'::regclass, p.oid, 0), p.proowner, p.proacl::text
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE ${USER_SCHEMA} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = p.oid AND e.deptype = 'e')
  UNION ALL
  SELECT 'type ' || format_type(t.oid, NULL), t.typowner, t.typacl::text
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE ${USER_SCHEMA} AND (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))`;

/** One query per aspect, each returning (name, definition) rows. */
const ASPECTS: Record<string, string> = {
  schemas: `SELECT n.nspname AS name, '' AS def FROM pg_namespace n WHERE ${USER_SCHEMA}`,
  relations: `SELECT format('%I.%I', n.nspname, c.relname) AS name,
                     concat_ws(' ', c.relkind, 'rls', c.relrowsecurity, c.relforcerowsecurity, 'persistence', c.relpersistence) AS def
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE ${USER_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`,
  columns: `SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname) AS name,
                   concat_ws(' ', a.attnum, format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'not null' END,
                             'identity', a.attidentity, 'generated', a.attgenerated, 'default', pg_get_expr(d.adbin, d.adrelid),
                             'collation', a.attcollation::regcollation::text) AS def
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE ${USER_SCHEMA} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND a.attnum > 0 AND NOT a.attisdropped`,
  constraints: `SELECT pg_describe_object('pg_constraint'::regclass, o.oid, 0) AS name, pg_get_constraintdef(o.oid) AS def
                  FROM pg_constraint o JOIN pg_namespace n ON n.oid = o.connamespace WHERE ${USER_SCHEMA}`,
  indexes: `SELECT format('%I.%I', schemaname, indexname) AS name, indexdef AS def FROM pg_indexes
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'lifeboat_staging_%'`,
  triggers: `SELECT pg_describe_object('pg_trigger'::regclass, t.oid, 0) AS name, concat_ws(' ', pg_get_triggerdef(t.oid), 'enabled', t.tgenabled) AS def
               FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE ${USER_SCHEMA} AND NOT t.tgisinternal`,
  views: `SELECT format('%I.%I', n.nspname, c.relname) AS name, concat_ws(' ', c.relkind, pg_get_viewdef(c.oid),
                 CASE WHEN c.relkind = 'm' THEN 'populated ' || c.relispopulated END) AS def
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA} AND c.relkind IN ('v', 'm')`,
  routines: `SELECT pg_describe_object('pg_proc'::regclass, p.oid, 0) AS name,
                    concat_ws(' ', p.prokind,
                              CASE WHEN p.prokind = 'a' THEN (SELECT concat_ws(' ', a.aggtransfn, a.aggfinalfn, a.aggtranstype::regtype, a.agginitval)
                                                                FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
                                   ELSE pg_get_functiondef(p.oid) END) AS def
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE ${USER_SCHEMA} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = p.oid AND e.deptype = 'e')`,
  types: `SELECT format_type(t.oid, NULL) AS name,
                 concat_ws(' ', t.typtype,
                           'base', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
                           'not null', t.typnotnull, 'default', t.typdefault,
                           'labels', (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
                           'checks', (SELECT string_agg(pg_get_constraintdef(k.oid), ' AND ' ORDER BY k.conname) FROM pg_constraint k WHERE k.contypid = t.oid)) AS def
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE ${USER_SCHEMA}
             AND (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))`,
  owners: `SELECT name, pg_get_userbyid(owner) AS def FROM (${OWNED}) o WHERE owner IS NOT NULL`,
  grants: `SELECT name, acl AS def FROM (${OWNED}) o`,
  partitions: `SELECT format('%I.%I', n.nspname, c.relname) AS name,
                      concat_ws(' ', 'of', i.inhparent::regclass::text, pg_get_expr(c.relpartbound, c.oid)) AS def
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_inherits i ON i.inhrelid = c.oid
                WHERE ${USER_SCHEMA} AND c.relkind IN ('r', 'p', 'f')`,
  policies: `SELECT format('%I.%I.%I', schemaname, tablename, policyname) AS name,
                    concat_ws(' ', permissive, roles::text, cmd, 'using', qual, 'check', with_check) AS def
               FROM pg_policies`,
  comments: `SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid) AS name, d.description AS def
               FROM pg_description d
              WHERE d.classoid <> 'pg_database'::regclass
                AND (pg_identify_object(d.classoid, d.objoid, d.objsubid)).schema IS DISTINCT FROM 'pg_catalog'
                AND (pg_identify_object(d.classoid, d.objoid, d.objsubid)).schema IS DISTINCT FROM 'information_schema'
                AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')
                AND NOT (d.classoid = 'pg_namespace'::regclass AND d.objoid = 'pg_catalog'::regnamespace)`,
  extensions: `SELECT extname AS name, extversion AS def FROM pg_extension`,
  sequences: `SELECT format('%I.%I', schemaname, sequencename) AS name,
                     concat_ws(' ', 'last', last_value, 'increment', increment_by, 'min', min_value, 'max', max_value, 'cycle', cycle) AS def
                FROM pg_sequences WHERE schemaname NOT LIKE 'lifeboat_staging_%'`,
};

/** The leaf tables whose rows are hashed: ordinary tables, partitions included, partitioned parents not. */
const LEAF_TABLES = `SELECT format('%I.%I', n.nspname, c.relname) AS name
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE ${USER_SCHEMA} AND c.relkind = 'r'`;

async function rowsOf(client: ClientBase): Promise<Record<string, string>> {
  const tables = (await client.query<{ name: string }>(LEAF_TABLES)).rows.map((r) => r.name);
  const rows: Record<string, string> = {};
  for (const table of tables) {
    // ONLY: an inheritance parent's rows without its children's, which are hashed as tables of their own.
    const { rows: hashed } = await client.query<{ n: string; h: string | null }>(
      // The md5 of each row's md5, in row order: 32 bytes a row in memory, not the table's whole text.
      `SELECT count(*)::text AS n, md5(string_agg(md5(r), '' ORDER BY r)) AS h FROM (SELECT t::text AS r FROM ONLY ${table} t) s`,
    );
    rows[table] = `${hashed[0]!.n} rows ${hashed[0]!.h ?? ''}`;
  }
  return rows;
}

/** The aspects compared: every catalog aspect above, and `rows`. */
export type Aspect = keyof typeof ASPECTS | 'rows';

export interface CompareOptions {
  /** Aspects left out, e.g. owners and grants where a copy is restored without the application's roles. */
  without?: Aspect[];
}

/** Every aspect of the database at `url` (but those left out), read in one repeatable-read snapshot. */
export async function describeDatabase(url: string, options: CompareOptions = {}): Promise<DatabaseDescription> {
  const without = new Set<string>(options.without ?? []);
  return withClient(url, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const description: DatabaseDescription = {};
      for (const [aspect, sql] of Object.entries(ASPECTS)) {
        if (without.has(aspect)) continue;
        const { rows } = await client.query<{ name: string; def: string | null }>(sql);
        description[aspect] = Object.fromEntries(rows.map((r) => [r.name, r.def ?? '']));
      }
      if (!without.has('rows')) description.rows = await rowsOf(client);
      return description;
    } finally {
      await client.query('ROLLBACK');
    }
  });
}

/** What differs between `expected` and `actual`, one line per object: "triggers: … differs", "…: missing", "…: unexpected". */
export function differences(expected: DatabaseDescription, actual: DatabaseDescription): string[] {
  const found: string[] = [];
  for (const aspect of Object.keys({ ...expected, ...actual })) {
    const want = expected[aspect] ?? {};
    const got = actual[aspect] ?? {};
    for (const name of [...new Set([...Object.keys(want), ...Object.keys(got)])].sort()) {
      if (!(name in got)) found.push(`${aspect}: ${name}: missing`);
      else if (!(name in want)) found.push(`${aspect}: ${name}: unexpected`);
      else if (want[name] !== got[name]) found.push(`${aspect}: ${name}: differs (expected ${want[name]}, found ${got[name]})`);
    }
  }
  return found;
}

/** The differences between two databases, for a restore against its original or a drill's copy against a pristine one. */
export async function compareDatabases(expectedUrl: string, actualUrl: string, options: CompareOptions = {}): Promise<string[]> {
  return differences(await describeDatabase(expectedUrl, options), await describeDatabase(actualUrl, options));
}
