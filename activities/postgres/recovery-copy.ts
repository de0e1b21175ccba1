// A recovery copy made for one selection: the backup restored into a scratch database with only
// the rows that selection can need. PostgreSQL's own pg_restore does the reading: `pg_restore -l`
// lists the archive's table of contents, the list keeps every definition (schemas, types,
// functions, tables: whatever the tables' columns need) and the data of the wanted tables only,
// and `pg_restore -L` restores that list, without the post-data section (indexes, constraints,
// triggers), which a copy queried once does not need.
//
// Guarantees:
// - The data restored is exactly the wanted tables' (their partitions are named one by one: a
//   partitioned table has no data of its own in an archive); nothing else is loaded.
// - The list is PostgreSQL's, only filtered: entries keep pg_restore's order and dependencies.
import { writeFile } from 'node:fs/promises';
import { escapeIdentifier, libpqEnv, pgTool, withDatabase } from './connection.js';
import { privilegeFlags } from './restore.js';
import { runTool, startTool } from './tool.js';

export interface TableName {
  schema: string;
  name: string;
}

/** The archive's table of contents, as `pg_restore -l` prints it. */
export async function archiveList(file: string, signal?: AbortSignal): Promise<string> {
  const tool = startTool(pgTool('pg_restore'), ['--list', file], { env: process.env, stdout: 'pipe', signal });
  const chunks: Buffer[] = [];
  for await (const chunk of tool.stdout!) chunks.push(chunk as Buffer);
  await tool.done;
  return Buffer.concat(chunks).toString('utf8');
}

/** Entries of the data section that are never a selection's rows. */
const OTHER_DATA = /^(BLOBS|BLOB DATA|LARGE OBJECT|SEQUENCE SET) /;

/**
 * The list with the data of `tables` only: every other `TABLE DATA` entry (and large objects) is
 * commented out, as pg_restore's documentation suggests for -L. An entry reads
 * `<id>; <catalog oid> <oid> TABLE DATA <schema> <name> <owner>`, unquoted: a table whose name
 * begins like a wanted one's followed by a space may come along too, which costs time only (rows
 * are chosen by table afterwards); a wanted table's data is never left out.
 */
export function keepDataOf(list: string, tables: TableName[]): { list: string; kept: number } {
  const wanted = tables.map((t) => `TABLE DATA ${t.schema} ${t.name} `);
  let kept = 0;
  const lines = list.split('\n').map((line) => {
    const entry = /^\d+; \d+ \d+ (.*)$/.exec(line)?.[1];
    if (entry === undefined) return line;
    if (entry.startsWith('TABLE DATA ')) {
      if (wanted.some((w) => entry.startsWith(w))) {
        kept++;
        return line;
      }
      return `;${line}`;
    }
    return OTHER_DATA.test(entry) ? `;${line}` : line;
  });
  return { list: lines.join('\n'), kept };
}

/**
 * Restores from the archive `file` into the empty database `database` (on the server of
 * `serverUrl`) the definitions and the data of `tables` only, with `jobs` parallel jobs. Returns
 * how many of the wanted tables the archive held data for.
 */
export async function restoreTables(
  serverUrl: string,
  database: string,
  file: string,
  tables: TableName[],
  options: { jobs: number; signal?: AbortSignal },
): Promise<number> {
  const { list, kept } = keepDataOf(await archiveList(file, options.signal), tables);
  const listFile = `${file}.list`;
  await writeFile(listFile, list);
  await runTool(
    pgTool('pg_restore'),
    [
      `--jobs=${options.jobs}`,
      '--section=pre-data',
      '--section=data',
      `--use-list=${listFile}`,
      ...privilegeFlags('drop'),
      '--exit-on-error',
      '--no-password',
      `--dbname=${database}`,
      file,
    ],
    { env: libpqEnv(withDatabase(serverUrl, database)), signal: options.signal },
  );
  return kept;
}

/** SQL naming a table of the copy. */
export const copyRelation = (t: TableName) => `${escapeIdentifier(t.schema)}.${escapeIdentifier(t.name)}`;
