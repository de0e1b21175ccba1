// What PostgreSQL's catalog says about a table a recovery selects: where it is (any schema, any
// spelling), the key its rows are matched by, its columns, its partitions, and the tables whose
// foreign keys reference it. Names read like the rest of Lifeboat's (inspect.ts): `table` in
// public, `schema.table` elsewhere, as PostgreSQL spells them (case, spaces and unicode kept).
//
// Guarantees:
// - A name resolves to exactly one ordinary or partitioned table, or is refused (InputError)
//   with the tables there are; `"Quoted"."Names"` are read the way SQL reads them.
// - A key is the primary key, else a unique index without expressions or predicate on NOT NULL
//   columns; a table with neither is refused with the advice to restore it whole (L2), unless the
//   caller allows it (`keyless: 'allow'`: a whole table, or a child of selected rows): its key is
//   then empty, and its rows are a multiset compared by their text (multiset.ts).
// - Children are found through every foreign key (composite ones, ones declared on partitions,
//   ones referencing a partition), once per constraint, never through Lifeboat's own schemas.
import type pg from 'pg';
import { InputError } from '../../common/errors.js';

export interface ColumnShape {
  name: string;
  /** The type as format_type shows it, e.g. bigint, numeric(12,2), timestamp with time zone. */
  type: string;
  /** A generated (computed) column: never copied by pg_dump, never written by an apply. */
  generated?: boolean;
  /** GENERATED ALWAYS AS IDENTITY: inserted with OVERRIDING SYSTEM VALUE, never updated. */
  identityAlways?: boolean;
}

/** A foreign key of `table` referencing rows of the table described. */
export interface ChildLink {
  table: string;
  relation: string;
  oid: number;
  /** The referencing columns, and the referenced ones they match, in the constraint's order. */
  columns: string[];
  refColumns: string[];
}

export interface TableShape {
  /** The name as Lifeboat writes it: `table` in public, `schema.table` elsewhere. */
  table: string;
  /** The quoted, schema-qualified name for SQL. */
  relation: string;
  /**
   * The table's own rows in a FROM clause: `ONLY relation` for an ordinary table, whose
   * inheritance children (INHERITS) are tables of their own; the relation itself when partitioned
   * (its partitions hold its rows).
   */
  rows: string;
  oid: number;
  /** The key's columns joined with ", " (one column for most tables; empty for a keyless one). */
  primaryKey: string;
  /** Empty only when the caller allowed a keyless table (a whole-table restore, or a child of selected rows). */
  keyColumns: string[];
  /** Whether the key is the primary key or a unique index standing in for one, or there is none. */
  keyKind: 'primary key' | 'unique index' | 'none';
  columns: ColumnShape[];
  children: ChildLink[];
  partitioned: boolean;
}

const NAME = `CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END`;
const RELATION = `quote_ident(n.nspname) || '.' || quote_ident(c.relname)`;
/** Lifeboat's staging schemas and PostgreSQL's own are never a recovery's tables. */
const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'lifeboat\\_%'`;

/**
 * The relation a name means: `schema.table` or `table` (public) as written, else the name read
 * as SQL reads it (`billing."Invoices"`, `"Mixed Case"`). Undefined when there is none.
 */
async function findRelation(client: pg.Client, name: string): Promise<number | undefined> {
  const find = async (schema: string, relname: string) =>
    (
      await client.query<{ oid: number }>(
        `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') AND ${USER_SCHEMA}`,
        [schema, relname],
      )
    ).rows[0]?.oid;
  const dot = name.indexOf('.');
  const asWritten = dot > 0 ? await find(name.slice(0, dot), name.slice(dot + 1)) : await find('public', name);
  if (asWritten !== undefined) return asWritten;
  // As SQL reads it: unquoted parts fold to lower case, quoted ones are kept. Not a name at all: none.
  const parts = await client
    .query<{ p: string[] }>('SELECT parse_ident($1) AS p', [name])
    .then((r) => r.rows[0]!.p)
    .catch(() => []);
  if (parts.length === 1) return find('public', parts[0]!);
  if (parts.length === 2) return find(parts[0]!, parts[1]!);
  return undefined;
}

/** Every user table by its Lifeboat name (partitions left out), for messages. */
async function tableNames(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT ${NAME} AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${USER_SCHEMA} ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

export interface DescribeOptions {
  /** 'allow': a table without a key is described with an empty key (whole tables, children of selected rows); else refused. */
  keyless?: 'allow' | 'refuse';
}

/**
 * Reads a table's shape from the catalog. An unknown table is refused with an InputError naming
 * the known tables; so is a table without a key rows can be matched by, unless `keyless: 'allow'`.
 */
export async function describeTable(client: pg.Client, table: string, options: DescribeOptions = {}): Promise<TableShape> {
  if (typeof table !== 'string' || table === '') throw new InputError('no table given');
  const oid = await findRelation(client, table);
  if (oid === undefined) {
    const names = await tableNames(client);
    throw new InputError(`unknown table "${table}": the tables are ${names.length ? names.join(', ') : '(none)'}`);
  }
  return describeRelation(client, oid, options);
}

/** describeTable for a relation known by its oid. */
export async function describeRelation(client: pg.Client, oid: number, options: DescribeOptions = {}): Promise<TableShape> {
  const {
    rows: [rel],
  } = await client.query<{ name: string; relation: string; relkind: string }>(
    `SELECT ${NAME} AS name, ${RELATION} AS relation, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid],
  );
  if (!rel) throw new Error(`table ${oid} no longer exists`);
  const { rows: columns } = await client.query<{ name: string; type: string; generated: boolean; identity_always: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, a.attidentity = 'a' AS identity_always
       FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid],
  );
  // The primary key first, then the narrowest unique index whose columns are all NOT NULL.
  const { rows: keys } = await client.query<{ primary: boolean; columns: string[] }>(
    `SELECT i.indisprimary AS primary,
            array(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                   WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS columns
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
                          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                         WHERE k.ord <= i.indnkeyatts AND (a.attnum IS NULL OR NOT a.attnotnull))
      ORDER BY i.indisprimary DESC, i.indnkeyatts, ic.relname LIMIT 1`,
    [oid],
  );
  const key = keys[0] ?? (options.keyless === 'allow' ? { primary: false, columns: [] } : undefined);
  if (!key)
    throw new InputError(
      `table ${rel.name} has neither a primary key nor a unique index on NOT NULL columns: its rows cannot be matched with production one by one; restore the whole table with an L2 (--level L2 --table ${rel.name})`,
    );
  return {
    table: rel.name,
    relation: rel.relation,
    rows: ownRows(rel.relation, rel.relkind === 'p'),
    oid,
    primaryKey: key.columns.join(', '),
    keyColumns: key.columns,
    keyKind: key.primary ? 'primary key' : key.columns.length ? 'unique index' : 'none',
    columns: columns.map((c) => ({
      name: c.name,
      type: c.type,
      ...(c.generated ? { generated: true } : {}),
      ...(c.identity_always ? { identityAlways: true } : {}),
    })),
    children: await childLinks(client, oid),
    partitioned: rel.relkind === 'p',
  };
}

/** See TableShape.rows. */
const ownRows = (relation: string, partitioned: boolean) => (partitioned ? relation : `ONLY ${relation}`);

/**
 * Foreign keys referencing the table, its partitions or the partitioned tables it belongs to:
 * the constraints as declared (conparentid = 0: not their copies on each partition), so a key
 * declared on a partitioned child is one link to that child, and one declared on a partition is a
 * link to that partition. Self-references are links too.
 */
async function childLinks(client: pg.Client, oid: number): Promise<ChildLink[]> {
  const { rows } = await client.query<{ table: string; relation: string; oid: number; columns: string[]; ref_columns: string[] }>(
    `WITH tree AS (SELECT $1::oid AS relid UNION SELECT relid FROM pg_partition_tree($1) UNION SELECT relid FROM pg_partition_ancestors($1))
     SELECT ${NAME} AS table, ${RELATION} AS relation, c.oid,
            array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY x(num, ord)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.num ORDER BY x.ord) AS columns,
            array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY x(num, ord)
                    JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.num ORDER BY x.ord) AS ref_columns
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE k.contype = 'f' AND k.conparentid = 0 AND k.confrelid IN (SELECT relid FROM tree) AND ${USER_SCHEMA}
      ORDER BY 1, k.conname`,
    [oid],
  );
  return rows.map((r) => ({ table: r.table, relation: r.relation, oid: r.oid, columns: r.columns, refColumns: r.ref_columns }));
}

/** The Lifeboat name of the partitioned table a partition belongs to at the top, or the table's own. */
export async function partitionRootName(client: pg.Client, oid: number): Promise<string> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT ${NAME} AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = coalesce(pg_partition_root($1), $1)`,
    [oid],
  );
  return rows[0]!.name;
}

/** The tables holding a table's rows: its leaf partitions when partitioned, else itself, as schema and name. */
export async function dataTables(client: pg.Client, oid: number): Promise<Array<{ schema: string; name: string }>> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid IN (SELECT $1::oid UNION SELECT relid FROM pg_partition_tree($1)) AND c.relkind = 'r'`,
    [oid],
  );
  return rows;
}

/** A table and the tables reached from it through foreign keys, in the order their rows are chosen. */
export interface TableNode {
  shape: TableShape;
  /** Links to tables earlier in the list (or to this one: a self-reference) whose chosen rows this one's reference. */
  parents: Array<{ parent: number; columns: string[]; refColumns: string[] }>;
}

/**
 * The selected table and, with children, every table referencing it, several levels deep, breadth
 * first: each table once, linked to the tables before it (and itself) whose rows it references.
 * A link back to a later table (a cycle) is left out, so nothing loops. A child without a key is
 * a leaf whose rows are those referencing its parents' (multiset.ts); one that other rows
 * reference (through a unique index on nullable columns) is refused, naming it.
 */
export async function selectionTree(client: pg.Client, root: TableShape, includeChildren: boolean): Promise<TableNode[]> {
  const nodes: TableNode[] = [{ shape: root, parents: [] }];
  if (!includeChildren) return nodes;
  const index = new Map<number, number>([[root.oid, 0]]);
  for (let i = 0; i < nodes.length; i++) {
    for (const link of nodes[i]!.shape.children) {
      let at = index.get(link.oid);
      if (at === undefined) {
        const shape = await describeRelation(client, link.oid, { keyless: 'allow' });
        if (!shape.keyColumns.length && shape.children.length)
          throw new InputError(
            `child table ${link.table} of ${nodes[i]!.shape.table} cannot be staged: it has neither a primary key nor a unique index on NOT NULL columns, ` +
              `and ${shape.children.map((c) => c.table).join(', ')} reference${shape.children.length > 1 ? '' : 's'} it; ` +
              `restore the whole table with an L2 (--level L2 --table ${link.table}), or stage without children`,
          );
        at = nodes.push({ shape, parents: [] }) - 1;
        index.set(link.oid, at);
      }
      if (at >= i) nodes[at]!.parents.push({ parent: i, columns: link.columns, refColumns: link.refColumns });
    }
  }
  return nodes;
}
