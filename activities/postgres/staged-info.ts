// Staged tables (staging.ts's results, as they come back through workflow history) resolved against
// production before a diff, snapshot, apply or check (apply.ts, multiset.ts): the production table
// as it is now, the columns both sides hold, and for a child without a key the staged parents its
// rows are scoped to.
//
// Guarantees:
// - A staged table whose production table is gone, whose key changed, or whose staging table is
//   missing is refused with "stage again": nothing is compared or written against a stale plan.
// - Every identifier read from history is quoted here; values never come from history.
import type pg from 'pg';
import { escapeIdentifier } from './connection.js';
import { type StagedTable, assertSchemaName } from './staging.js';
import { describeRelation } from './tables.js';

const quote = escapeIdentifier;

/** A foreign key of a staged child without a key to a staged parent: its rows referencing the parent's staged rows are in scope. */
export interface ScopeLink {
  /** The parent's staging table, quoted and schema-qualified. */
  stage: string;
  /** The child's referencing columns and the parent's referenced ones, in the constraint's order. */
  columns: string[];
  refColumns: string[];
}

export interface StagedInfo {
  table: string;
  oid: number;
  /** The key's columns; empty for a table without a key (a multiset: multiset.ts). */
  keys: string[];
  /** Columns compared and written: production's columns that are stored (not generated) and staged. */
  columns: string[];
  /** The production table, to insert into. */
  prod: string;
  /** Its own rows, to read and delete from (TableShape.rows). */
  rows: string;
  stage: string;
  identityAlways: Set<string>;
  /**
   * A table without a key restored as a child (L1): only its rows referencing the staged parents'
   * rows through one of these links are compared, deleted or inserted (none: no row is). Absent:
   * the whole table (L2).
   */
  scope?: ScopeLink[];
}

export async function stagedInfo(client: pg.Client, schema: string, staged: StagedTable[]): Promise<StagedInfo[]> {
  assertSchemaName(schema);
  const out: StagedInfo[] = [];
  for (const s of staged) {
    const relation = s.relation ?? `public.${quote(s.table)}`;
    const { rows: found } = await client.query<{ oid: number | null }>(`SELECT to_regclass($1)::oid AS oid`, [relation]);
    if (!found[0]?.oid) throw new Error(`table ${s.table} no longer exists: stage again`);
    const shape = await describeRelation(client, found[0].oid, { keyless: 'allow' });
    const keys = s.keyColumns ?? [s.primaryKey];
    if (shape.keyColumns.join('\0') !== keys.join('\0'))
      throw new Error(`the key of ${s.table} is now (${shape.primaryKey}), not (${keys.join(', ')}): stage again`);
    const stagingName = s.staging ?? s.table;
    const { rows } = await client.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`,
      [schema, stagingName],
    );
    if (!rows.length) throw new Error(`the staging table ${schema}.${stagingName} does not exist: stage the records again`);
    const stagedColumns = new Set(rows.map((r) => r.name));
    const columns = shape.columns.filter((c) => !c.generated && stagedColumns.has(c.name));
    out.push({
      table: s.table,
      oid: shape.oid,
      keys,
      columns: columns.map((c) => c.name),
      prod: shape.relation,
      rows: shape.rows,
      stage: `${quote(schema)}.${quote(stagingName)}`,
      identityAlways: new Set(columns.filter((c) => c.identityAlways).map((c) => c.name)),
      ...(s.scope ? { scope: s.scope.map((l) => scopeLink(schema, s.table, l)) } : {}),
    });
  }
  return out;
}

function scopeLink(schema: string, table: string, link: NonNullable<StagedTable['scope']>[number]): ScopeLink {
  const { staging, columns, refColumns } = link;
  if (!columns.length || columns.length !== refColumns.length)
    throw new Error(`the scope of ${table} names (${columns.join(', ')}) against (${refColumns.join(', ')}): stage again`);
  return { stage: `${quote(schema)}.${quote(staging)}`, columns, refColumns };
}
