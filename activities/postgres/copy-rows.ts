// Rows travel between two PostgreSQL databases in COPY's text form, through a psql at each end with
// the same session settings (DateStyle ISO, IntervalStyle postgres, extra_float_digits 3, UTC, one
// client encoding), so every built-in type comes back as the source printed it.
//
//   copyRows    one table: COPY (<select>) TO STDOUT | COPY <into> FROM STDIN
//   copyTables  several tables through one psql at each end: the selects' COPY TO STDOUTs one
//               after another, cut at their known row counts into a script of COPY … FROM STDIN
//               blocks. COPY's text form is one line per row (a newline inside a value is written
//               as \n, a backslash as \\, so no row reads "\."); every server encoding keeps
//               ASCII's newline byte. Starting two processes and their sessions per table costs an
//               L1's few rows more than the rows themselves.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { libpqEnv, pgTool } from './connection.js';
import { startTool } from './tool.js';

/** The settings both ends of a copy share, so values print and parse the same. */
const SESSION = '-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 -c timezone=UTC';

const PSQL = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password'];

/** One table of a copyTables: the rows `select` returns (exactly `rows` of them) go into `into` (a table and its column list). */
export interface TableCopy {
  select: string;
  into: string;
  rows: number;
}

/** Streams `COPY (<select>) TO STDOUT` on `fromUrl` into `COPY <into> FROM STDIN` on `toUrl`, through two psqls. */
export function copyRows(fromUrl: string, select: string, toUrl: string, into: string, encoding: string): Promise<void> {
  return between(fromUrl, ['-c', `COPY (${select}) TO STDOUT`], toUrl, ['-c', `COPY ${into} FROM STDIN`], encoding, (out) => out);
}

/**
 * Copies every table of `tables` through one psql at each end (see the header); nothing when the
 * list is empty. `onTable` hears of each table as its rows begin.
 */
export async function copyTables<T extends TableCopy>(
  fromUrl: string,
  tables: readonly T[],
  toUrl: string,
  encoding: string,
  onTable: (table: T) => void = () => undefined,
): Promise<void> {
  if (!tables.length) return;
  const selects = tables.flatMap((t) => ['-c', `COPY (${t.select}) TO STDOUT`]);
  await between(fromUrl, selects, toUrl, ['-f', '-'], encoding, (out) => Readable.from(copyScript(out, tables, onTable)));
}

async function between(
  fromUrl: string,
  fromArgs: string[],
  toUrl: string,
  toArgs: string[],
  encoding: string,
  script: (out: Readable) => Readable,
): Promise<void> {
  const env = (url: string) => {
    const e = libpqEnv(url);
    return { ...e, PGOPTIONS: `${e.PGOPTIONS ?? ''} ${SESSION}`, PGCLIENTENCODING: encoding, PGAPPNAME: 'lifeboat' };
  };
  const out = startTool(pgTool('psql'), [...PSQL, ...fromArgs], { env: env(fromUrl), stdout: 'pipe', stopSignal: 'SIGINT' });
  const into = startTool(pgTool('psql'), [...PSQL, ...toArgs], { env: env(toUrl), stdin: 'pipe', stopSignal: 'SIGINT' });
  try {
    await pipeline(script(out.stdout!), into.stdin!);
    await Promise.all([out.done, into.done]);
  } catch (err) {
    out.stop();
    into.stop();
    // The tools' own messages say more than a broken pipe.
    await out.done;
    await into.done;
    throw err;
  }
}

const END_OF_DATA = Buffer.from('\\.\n');

/** The psql script loading `tables` from `out`, their COPY TO STDOUT outputs one after another. */
async function* copyScript<T extends TableCopy>(
  out: AsyncIterable<Buffer>,
  tables: readonly T[],
  onTable: (table: T) => void,
): AsyncGenerator<Buffer> {
  let table = -1;
  let left = 0;
  // Ends the current table's block and begins the next, past tables with no rows.
  function* nextTable(): Generator<Buffer> {
    while (left === 0 && table < tables.length) {
      if (table >= 0) yield END_OF_DATA;
      table++;
      if (table < tables.length) {
        onTable(tables[table]!);
        yield Buffer.from(`COPY ${tables[table]!.into} FROM STDIN;\n`);
        left = tables[table]!.rows;
      }
    }
  }
  yield* nextTable();
  for await (const chunk of out) {
    let from = 0;
    while (from < chunk.length) {
      if (table >= tables.length) throw new Error(`the copy printed more rows than its ${tables.length} tables hold`);
      let to = from;
      while (left > 0 && to < chunk.length) {
        const newline = chunk.indexOf(0x0a, to);
        to = newline < 0 ? chunk.length : newline + 1;
        if (newline >= 0) left--;
      }
      yield chunk.subarray(from, to);
      from = to;
      yield* nextTable();
    }
  }
  if (table < tables.length) throw new Error(`the copy ended ${left} row(s) short of ${tables[table]!.into}`);
}
