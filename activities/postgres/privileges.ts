// Ownership and grants: who owns each schema, relation and function, and who was granted what.
// Read at backup time (into the manifest), checked before a restore that keeps them (every role
// must exist on the server), and compared after it, so an application role that could read a
// table before a restore still can afterwards.
import type pg from 'pg';
import type { Grant, ObjectPrivileges } from '../../common/backups.js';
import { withServer } from './connection.js';

// Schemas, relations (tables, partitions, views, materialized views, sequences, foreign tables)
// and routines of the user's schemas, by a stable name; grants as aclexplode() lists them, so
// PostgreSQL, not a parser of ours, reads the ACLs (role names with spaces or quotes included).
const GRANTS = (acl: string) => `(SELECT json_agg(json_build_object(
    'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
    'privilege', a.privilege_type, 'grantor', pg_get_userbyid(a.grantor), 'grantable', a.is_grantable)
    ORDER BY pg_get_userbyid(a.grantee), a.privilege_type, pg_get_userbyid(a.grantor)) FROM aclexplode(${acl}) a)`;
const USER_SCHEMA = (n: string) =>
  `${n}.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND ${n}.nspname NOT LIKE 'pg\\_%' AND ${n}.nspname NOT LIKE 'lifeboat\\_%'`;

const PRIVILEGES_SQL = `
SELECT 'schema ' || quote_ident(n.nspname) AS object, pg_get_userbyid(n.nspowner) AS owner, ${GRANTS('n.nspacl')} AS grants
  FROM pg_namespace n WHERE ${USER_SCHEMA('n')}
UNION ALL
SELECT 'relation ' || c.oid::regclass::text, pg_get_userbyid(c.relowner), ${GRANTS('c.relacl')}
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${USER_SCHEMA('n')}
UNION ALL
SELECT 'routine ' || p.oid::regprocedure::text, pg_get_userbyid(p.proowner), ${GRANTS('p.proacl')}
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE ${USER_SCHEMA('n')} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1`;

export async function readPrivileges(client: pg.Client): Promise<Record<string, ObjectPrivileges>> {
  const { rows } = await client.query<{ object: string; owner: string; grants: Grant[] | null }>(PRIVILEGES_SQL);
  return Object.fromEntries(rows.map((r) => [r.object, { owner: r.owner, grants: r.grants }]));
}

/** The role that owns the database `client` is connected to. */
export async function databaseOwner(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ owner: string }>(
    'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()',
  );
  return rows[0]!.owner;
}

/** Every role the privileges name: owners, grantees and grantors. */
export function rolesOf(privileges: Record<string, ObjectPrivileges>): string[] {
  const roles = new Set<string>();
  for (const { owner, grants } of Object.values(privileges)) {
    roles.add(owner);
    for (const g of grants ?? []) for (const role of [g.grantee, g.grantor]) if (role !== 'PUBLIC') roles.add(role);
  }
  return [...roles].sort();
}

/** The roles among `roles` that do not exist on the server (asked of the server: the database of `serverUrl` may be gone). */
export async function missingRoles(serverUrl: string, roles: string[]): Promise<string[]> {
  if (!roles.length) return [];
  return withServer(serverUrl, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      'SELECT r.name FROM unnest($1::text[]) AS r(name) WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) ORDER BY 1',
      [roles],
    );
    return rows.map((r) => r.name);
  });
}

const grantsText = (grants: Grant[] | null) =>
  grants
    ?.map((g) => `${g.privilege} to ${g.grantee}${g.grantable ? ' (grantable)' : ''}`)
    .sort()
    .join(', ') ?? 'the defaults';

/**
 * What differs between the backup's privileges and a restored database's: owners and grants, object
 * by object. The objects of `keptOwners` keep the owner they had before the restore: theirs is not
 * compared, and their grants are read as ALTER … OWNER leaves them, the old owner's own by the new.
 */
export function privilegeDifferences(
  expected: Record<string, ObjectPrivileges>,
  actual: Record<string, ObjectPrivileges>,
  keptOwners: string[] = [],
): string[] {
  const differences: string[] = [];
  for (const [object, backup] of Object.entries(expected)) {
    const got = actual[object];
    if (!got) continue; // a missing object is the row and table checks' finding
    const kept = keptOwners.includes(object) && got.owner !== backup.owner;
    const want = kept ? withOwner(backup, got.owner) : backup;
    if (got.owner !== want.owner) differences.push(`${object} is owned by ${got.owner}, the backup says ${want.owner}`);
    if (grantsText(got.grants) !== grantsText(want.grants))
      differences.push(`${object} grants ${grantsText(got.grants)}, the backup grants ${grantsText(want.grants)}`);
  }
  return differences;
}

/** The privileges as ALTER … OWNER TO `owner` makes them: the old owner's grants, given and received, become the new one's. */
function withOwner(p: ObjectPrivileges, owner: string): ObjectPrivileges {
  const rename = (role: string) => (role === p.owner ? owner : role);
  const grants = p.grants?.map((g) => ({ ...g, grantee: rename(g.grantee), grantor: rename(g.grantor) }));
  return { owner, grants: grants ?? null };
}
