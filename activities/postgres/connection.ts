// Connections to PostgreSQL. Connection strings come from the environment and never leave the
// worker: tools get them through libpq variables, not command lines, so `ps` shows no password.
// Work on the server as a whole (roles, creating and dropping databases) goes through withServer,
// which still reaches the server when the connection string's own database is gone.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parse } from 'pg-connection-string';

export const { escapeIdentifier, escapeLiteral } = pg;

// An incident may freeze the database (default_transaction_read_only); Lifeboat's own sessions
// must still be able to restore into it.
const WRITABLE = '-c default_transaction_read_only=off';

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return using(await connect(url), fn);
}

/** A connected client; the error names where it could not connect and keeps PostgreSQL's SQLSTATE as its cause. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'lifeboat', options: WRITABLE });
  // A server restart or a terminated backend makes the client emit 'error' besides failing the
  // query in flight; unheard, that event would end the whole worker process and every run on it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to ${describeUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  return client;
}

async function using<T>(client: pg.Client, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** SQLSTATE invalid_catalog_name: the database named in the connection string does not exist. */
export const NO_SUCH_DATABASE = '3D000';

/** Whether `err` (from withClient) says the connection's database does not exist. */
function isMissingDatabase(err: unknown): boolean {
  return ((err as Error | undefined)?.cause as { code?: string } | undefined)?.code === NO_SUCH_DATABASE;
}

/** The databases every server has, for server-wide work when the connection's own is gone. */
const MAINTENANCE_DATABASES = ['postgres', 'template1'];

/**
 * A session on the server of `url` for server-wide work (roles, CREATE and DROP DATABASE): on the
 * connection's own database, or, when that one does not exist (dropped: the L3/L4 scenario itself),
 * on the server's maintenance database, with the same user and password.
 */
export async function withServer<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  let client: pg.Client | undefined;
  let missing: unknown;
  for (const candidate of [url, ...MAINTENANCE_DATABASES.filter((d) => d !== databaseName(url)).map((d) => withDatabase(url, d))]) {
    try {
      client = await connect(candidate);
      break;
    } catch (err) {
      if (!isMissingDatabase(err)) throw err;
      missing ??= err;
    }
  }
  if (!client) throw missing;
  return using(client, fn);
}

/** Whether the database of `url` exists (asked of its server, so a dropped one is a plain no). */
export async function databaseExists(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withServer(url, async (client) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}

/** host:port/database of a connection string, without user or password, for messages. */
export function describeUrl(url: string): string {
  const c = parse(url);
  return `postgres at ${c.host ?? 'localhost'}:${c.port ?? 5432}/${c.database ?? ''}`;
}

/** The same server with another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/**
 * The same database, user and password on a copy of the cluster listening on `port` of the loopback
 * interface (a side instance or a recovered cluster: restored physically, it has the same roles).
 */
export function atLoopbackPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  u.searchParams.delete('host');
  return u.toString();
}

export function databaseName(url: string): string {
  return parse(url).database ?? '';
}

/**
 * libpq environment for pg_dump / pg_restore / psql, so the password is not on the command line:
 * the connection's variables on top of `base` (pass {} for those variables alone).
 */
export function libpqEnv(url: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const c = parse(url);
  const env: NodeJS.ProcessEnv = { ...base };
  const set = (name: string, value: string | null | undefined) => {
    if (value) env[name] = value;
  };
  set('PGHOST', c.host);
  set('PGPORT', c.port);
  set('PGUSER', c.user);
  set('PGPASSWORD', c.password);
  set('PGDATABASE', c.database);
  set('PGOPTIONS', WRITABLE);
  if (typeof c.ssl === 'object' || c.ssl === true) set('PGSSLMODE', 'require');
  return env;
}

/** Where the PostgreSQL client tools are: $PG_BIN, Debian's PostgreSQL 15 folder, or the PATH. */
export function pgTool(name: 'pg_dump' | 'pg_restore' | 'psql'): string {
  for (const dir of [process.env.PG_BIN, '/usr/lib/postgresql/15/bin']) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}
