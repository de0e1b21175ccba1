// A V8 code cache for the CLI's bundle (scripts/bundle-cli.js), as Node 22's
// module.enableCompileCache gives, on Node 20: a command's modules are compiled from the bytecode a
// previous successful run of the same command left, not parsed and compiled again on every call.
//
// - One cache file per command (`status`, `list`, `help`, …) beside the bundle, in cache/: each
//   command compiles its own set of functions, and a cache made by one does not slow another.
// - Used only when valid: each entry carries the SHA-256 of the source it was made from (V8 itself
//   checks only the source's length) and of its own bytes; a stale, corrupted or unreadable cache is
//   ignored and the modules compile from source, as without a cache. V8 refuses a cache made by
//   another Node or V8 build (cachedDataRejected), which then compiles from source too.
// - Written after a run that ended with exit code 0 and compiled something from source, atomically
//   (a temporary file renamed), so concurrent runs never read half a file; a folder that cannot be
//   written (a read-only install) only means no cache.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Module } from 'node:module';
import { basename, dirname, join, sep } from 'node:path';
import { Script, constants } from 'node:vm';

const FORMAT = 'lifeboat-code-cache-1';

/** The cache file of a command's modules under `root` (the bundle's folder). */
export const codeCacheFile = (root: string, key: string) => join(root, 'cache', `${basename(key)}.v8`);

/** One module's cached bytecode and the hash of the source it was compiled from. */
interface Entry {
  source: string;
  data: Buffer;
}

/** What a run did with the cache: LIFEBOAT_CODE_CACHE=report prints it on stderr. */
export interface CacheReport {
  key: string;
  /** Modules compiled from the cache. */
  used: number;
  /** Modules compiled from source: no entry, a stale one (source changed) or one V8 refused. */
  compiled: number;
  stale: number;
  rejected: number;
  /** Why the cache file was not read at all ("missing", or what was wrong with it). */
  unreadable?: string;
  written: boolean;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The entries of a cache file, each checked against its own hash; a file that is not one (truncated,
 * overwritten, another format) yields none, with the reason.
 */
export function readCacheFile(path: string): { entries: Map<string, Entry>; unreadable?: string } {
  const entries = new Map<string, Entry>();
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return { entries, unreadable: 'missing' };
  }
  try {
    const headerLength = bytes.readUInt32LE(0);
    const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString('utf8')) as {
      format: string;
      node: string;
      entries: { file: string; source: string; data: string; length: number }[];
    };
    if (header.format !== FORMAT || header.node !== `${process.version} ${process.arch}`) return { entries, unreadable: 'other format' };
    let offset = 4 + headerLength;
    for (const e of header.entries) {
      const data = bytes.subarray(offset, offset + e.length);
      offset += e.length;
      if (data.length === e.length && sha256(data) === e.data) entries.set(e.file, { source: e.source, data });
    }
    return { entries, unreadable: entries.size < header.entries.length ? 'damaged entries' : undefined };
  } catch (err) {
    return { entries: new Map(), unreadable: `damaged (${(err as Error).message})` };
  }
}

/** Writes the entries as one file, atomically; false when the folder cannot be written. */
export function writeCacheFile(path: string, entries: Map<string, Entry>): boolean {
  const list = [...entries].map(([file, e]) => ({ file, source: e.source, data: sha256(e.data), length: e.data.length }));
  const header = Buffer.from(JSON.stringify({ format: FORMAT, node: `${process.version} ${process.arch}`, entries: list }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temporary, Buffer.concat([length, header, ...[...entries.values()].map((e) => e.data)]));
    renameSync(temporary, path);
    return true;
  } catch {
    rmSync(temporary, { force: true });
    return false;
  }
}

/** Node's CommonJS module, as far as compiling one goes (not in @types/node). */
interface CompilingModule {
  exports: unknown;
  require(id: string): unknown;
  _compile(content: string, filename: string): unknown;
}
type ModuleInternals = typeof Module & {
  prototype: CompilingModule;
  wrap(source: string): string;
  _resolveFilename(request: string, parent: CompilingModule, isMain: boolean, options?: { paths?: string[] }): string;
  _cache: Record<string, unknown>;
  _extensions: Record<string, unknown>;
};

/** The `require` a module's wrapper receives, as Node builds it. */
function requireFor(module: CompilingModule, internals: ModuleInternals): NodeJS.Require {
  const require = ((id: string) => module.require(id)) as NodeJS.Require;
  require.resolve = ((request: string, options?: { paths?: string[] }) =>
    internals._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  require.main = process.mainModule;
  require.cache = internals._cache as NodeJS.Require['cache'];
  require.extensions = internals._extensions as NodeJS.Require['extensions'];
  return require;
}

/**
 * Compiles the CommonJS modules under `root` through the cache file `cache/<key>.v8` there, and
 * writes it when the process exits with code 0 after compiling a module from source.
 */
export function installCodeCache(root: string, key: string): CacheReport {
  const path = codeCacheFile(root, key);
  const { entries, unreadable } = readCacheFile(path);
  const report: CacheReport = { key, used: 0, compiled: 0, stale: 0, rejected: 0, unreadable, written: false };
  const compiled = new Map<string, { source: string; script: Script }>();
  const internals = Module as ModuleInternals;
  const original = internals.prototype._compile;
  const prefix = root.endsWith(sep) ? root : root + sep;

  internals.prototype._compile = function (this: CompilingModule, content: string, filename: string) {
    if (!filename.startsWith(prefix)) return original.call(this, content, filename);
    const file = filename.slice(prefix.length);
    const source = sha256(content);
    const entry = entries.get(file);
    const cachedData = entry?.source === source ? entry.data : undefined;
    if (entry && !cachedData) report.stale++;
    const script = new Script(internals.wrap(content), {
      filename,
      cachedData,
      // A dynamic import() left in the code resolves as it would in a module Node compiled.
      importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (cachedData && !script.cachedDataRejected) report.used++;
    else {
      if (cachedData) report.rejected++;
      report.compiled++;
    }
    compiled.set(file, { source, script });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, requireFor(this, internals), this, filename, dirname(filename));
  };

  process.once('exit', (code) => {
    if (code !== 0 || report.compiled === 0) return;
    const fresh = new Map([...compiled].map(([file, c]) => [file, { source: c.source, data: c.script.createCachedData() }]));
    report.written = writeCacheFile(path, fresh);
  });
  return report;
}

/** The cache's name for a command line: its first word (`status`, `drill`, …), `help` when none. */
export function cacheKey(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-c' || arg === '--config') i++;
    else if (/^[a-z][a-z0-9-]{0,39}$/.test(arg)) return arg;
    else if (!arg.startsWith('-')) break;
  }
  return 'help';
}
