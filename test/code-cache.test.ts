// The CLI's V8 code cache (client/code-cache.ts) on a copy of the real build: a command starts from
// the cache a previous successful run left; a cache made from other sources (same length: V8 alone
// would take it) is not used and the new code runs; a damaged, truncated or foreign cache file does
// not break the CLI and is replaced; a failed run writes none.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheReport, cacheKey, codeCacheFile } from '../client/code-cache.js';
import { REPO_ROOT } from '../client/stack/processes.js';

const DESCRIPTION = 'Disaster-recovery runbooks for PostgreSQL, run durably on Temporal';

let build: string;
let cli: string;

beforeAll(() => {
  // The global setup built dist/current; a copy of it can be edited without touching other tests.
  build = mkdtempSync(join(tmpdir(), 'lifeboat-code-cache-'));
  cpSync(realpathSync(join(REPO_ROOT, 'dist/current')), build, { recursive: true });
  cli = join(build, 'cli');
});
afterAll(() => rmSync(build, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  report: CacheReport;
}

/** Runs the copied CLI with LIFEBOAT_CODE_CACHE=report and reads what the cache did. */
async function run(args: string[]): Promise<Run> {
  const result = await promisify(execFile)(process.execPath, [join(cli, 'start.js'), ...args], {
    env: { ...process.env, LIFEBOAT_CODE_CACHE: 'report' },
    timeout: 60_000,
  }).then(
    (r) => ({ code: 0, ...r }),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  const line = result.stderr.split('\n').find((l) => l.startsWith('code cache '));
  if (!line) throw new Error(`no code cache report (exit ${result.code}): ${result.stderr}`);
  return { code: result.code, stdout: result.stdout, report: JSON.parse(line.slice('code cache '.length)) as CacheReport };
}

describe('the CLI code cache', () => {
  it('names a command line by its command', () => {
    expect(cacheKey(['status', 'inc-20261122-091500-ab12', '--json'])).toBe('status');
    expect(cacheKey(['-c', 'my', 'drill', 'run'])).toBe('drill');
    expect(cacheKey(['--config', '/etc/lifeboat.yaml', 'list'])).toBe('list');
    expect(cacheKey(['--help'])).toBe('help');
    expect(cacheKey([])).toBe('help');
    expect(cacheKey(['../../etc/passwd'])).toBe('help');
  });

  it('starts --help from the cache the build made, and writes nothing more', async () => {
    const first = await run(['--help']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(DESCRIPTION);
    expect(first.report).toMatchObject({ key: 'help', compiled: 0, stale: 0, rejected: 0, written: false });
    expect(first.report.used).toBeGreaterThan(0);
  });

  it('does not use a cache made from other sources, even of the same length, and runs the new code', async () => {
    const entry = join(cli, 'cli.js');
    const source = readFileSync(entry, 'utf8');
    expect(source).toContain(DESCRIPTION);
    const edited = DESCRIPTION.toUpperCase();
    writeFileSync(entry, source.replace(DESCRIPTION, edited));

    const stale = await run(['--help']);
    expect(stale.code).toBe(0);
    expect(stale.stdout).toContain(edited);
    expect(stale.stdout).not.toContain(DESCRIPTION);
    expect(stale.report).toMatchObject({ stale: 1, compiled: 1, written: true });

    // The cache written for the new sources serves the next run.
    const next = await run(['--help']);
    expect(next.stdout).toContain(edited);
    expect(next.report).toMatchObject({ stale: 0, compiled: 0, written: false });
    writeFileSync(entry, source);
  });

  it('runs as without a cache when the cache file is damaged, truncated or not one, and replaces it', async () => {
    const file = codeCacheFile(cli, 'help');
    const expected = (await run(['--help'])).stdout;
    const good = readFileSync(file);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 100] = flipped[flipped.length - 100]! ^ 0xff;
    const damaged: [string, Buffer][] = [
      ['a flipped byte in the bytecode', flipped],
      ['truncated', good.subarray(0, Math.floor(good.length / 2))],
      ['no header', Buffer.from('not a cache')],
      ['a header longer than the file', Buffer.from([0xff, 0xff, 0xff, 0x7f, 0x7b])],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [what, bytes] of damaged) {
      writeFileSync(file, bytes);
      const r = await run(['--help']);
      expect(r.code, what).toBe(0);
      expect(r.stdout, what).toBe(expected);
      expect(r.report.compiled, what).toBeGreaterThan(0);
      expect(r.report.unreadable, what).toMatch(/damaged/);
      expect(r.report.written, what).toBe(true);
      expect((await run(['--help'])).report, `${what}: replaced`).toMatchObject({ compiled: 0, written: false });
    }
  });

  it('writes no cache for a run that fails', async () => {
    const refused = await run(['nosuch']);
    expect(refused.code).toBe(2);
    expect(refused.report).toMatchObject({ key: 'nosuch', written: false });
    expect(existsSync(codeCacheFile(cli, 'nosuch'))).toBe(false);
  });
});
