// Reads what a database holds: row counts, order-independent table checksums, integrity checks.
import type pg from 'pg';
import type { Finding, TableFingerprint } from '../../workflows/messages.js';
import { escapeIdentifier } from './connection.js';

/** Every user table, as schema-qualified names when outside public. */
export async function userTables(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

export function quoteTable(name: string): string {
  return name.split('.').map(escapeIdentifier).join('.');
}

export async function rowCounts(client: pg.Client, tables: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteTable(table)}`);
    counts[table] = Number(rows[0]!.n);
  }
  return counts;
}

/**
 * A checksum of a table's content that does not depend on row order: the sum of a 64-bit hash
 * of every row's text form, with the row count. Equal content gives equal fingerprints.
 */
export async function fingerprint(client: pg.Client, table: string): Promise<TableFingerprint> {
  const { rows } = await client.query<{ n: string; s: string | null }>(
    `SELECT count(*) AS n, sum(hashtextextended(t::text, 0)::numeric)::text AS s FROM ${quoteTable(table)} AS t`,
  );
  const row = rows[0]!;
  return { rows: Number(row.n), checksum: `${row.n}:${row.s ?? '0'}` };
}

export async function fingerprints(client: pg.Client, tables: string[]): Promise<Record<string, TableFingerprint>> {
  const out: Record<string, TableFingerprint> = {};
  for (const table of tables) out[table] = await fingerprint(client, table);
  return out;
}

export interface IntegrityCheck {
  name: string;
  sql: string;
}

/** Runs each check read-only; a count above zero, or a check that fails to run, is a finding. */
export async function integrityFindings(client: pg.Client, checks: IntegrityCheck[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const check of checks) {
    await client.query('BEGIN READ ONLY');
    try {
      const { rows } = await client.query<Record<string, unknown>>(check.sql);
      const count = Number(Object.values(rows[0] ?? {})[0] ?? 0);
      if (count > 0) findings.push({ check: check.name, detail: `${count} offending row(s)` });
    } catch (err) {
      findings.push({ check: check.name, detail: `the check failed to run: ${(err as Error).message}` });
    } finally {
      await client.query('ROLLBACK');
    }
  }
  return findings;
}
