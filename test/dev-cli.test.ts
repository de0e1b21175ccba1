// `lifeboat dev` as a person runs it: bin/lifeboat dev in a process of its own, with a home of its
// own ($LIFEBOAT_HOME), on the user's configuration (a target on the embedded PostgreSQL, another on
// a database of the user's own: here, the suite's server), used from "another shell" through
// dev.env; a second dev refused; dev killed with SIGKILL, leaving its servers running, then started
// again, which clears them; SIGTERM, which stops everything and removes dev.env.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupsJsonSchema } from '../client/read-json.js';
import { type StackRecord, readRecord, startOf, sweepDeadStacks } from '../client/stack/pidfile.js';
import { REPO_ROOT } from '../client/stack/processes.js';
import { type TestDatabase, createCrmDatabase, runLifeboat } from './helpers.js';

interface Dev {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Everything a dev stack started runs no more: its processes (by pid and start time), its PostgreSQL, its folders. */
function expectAllGone(record: StackRecord, postmaster: number) {
  for (const p of record.processes) expect(startOf(p.pid), `${p.what} (pid ${p.pid})`).toBeUndefined();
  expect(startOf(postmaster), `postgres (pid ${postmaster})`).toBeUndefined();
  for (const folder of record.folders) expect(existsSync(folder), folder).toBe(false);
}

describe('lifeboat dev', () => {
  const home = mkdtempSync(join(tmpdir(), 'lifeboat-dev-home-'));
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-dev-'));
  const pidPath = join(home, 'run', 'dev.pid');
  const envPath = join(home, 'dev.env');
  let mine: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let userConfig: string;
  const started: Dev[] = [];

  function startDev(args: string[]): Dev {
    const child = spawn(join(REPO_ROOT, 'bin/lifeboat'), ['dev', '--leads', '50', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    const dev = { child, output: () => out, exited };
    started.push(dev);
    return dev;
  }
  const up = (dev: Dev) =>
    expect
      .poll(() => (dev.child.exitCode === null ? dev.output().includes('Lifeboat dev stack is up.') : dev.output()), {
        timeout: 240_000,
        interval: 500,
      })
      .toBe(true);
  /** The environment a second shell gets from `set -a; . dev.env; set +a`. */
  const devEnv = (): NodeJS.ProcessEnv => ({
    ...env,
    ...Object.fromEntries(
      readFileSync(envPath, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    ),
  });
  const postmasterOf = (record: StackRecord) =>
    Number(readFileSync(join(record.clusters[0]!.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

  beforeAll(async () => {
    mine = await createCrmDatabase(80);
    env = { ...process.env, LIFEBOAT_HOME: home, MINE_DATABASE_URL: mine.url };
    for (const name of ['LIFEBOAT_CONFIG', 'TEMPORAL_ADDRESS', 'LIFEBOAT_KEYS_DIR', 'CRM_DATABASE_URL']) delete env[name];
    userConfig = join(dir, 'my.yaml');
    const target = (urlEnv: string) =>
      `    urlEnv: ${urlEnv}\n    store: main\n    verifyOn: production\n    tables: [crm_leads, crm_activities]`;
    writeFileSync(
      userConfig,
      `temporal:
  address: \${TEMPORAL_ADDRESS}
  taskQueue: my-dev-queue
targets:
  app:
${target('CRM_DATABASE_URL')}
  mine:
${target('MINE_DATABASE_URL')}
stores:
  main:
    type: s3
    endpoint: \${LIFEBOAT_S3_ENDPOINT}
    bucket: \${LIFEBOAT_S3_BUCKET}
    prefix: my-backups
`,
    );
  });

  afterAll(async () => {
    for (const dev of started) if (dev.child.exitCode === null && dev.child.signalCode === null) dev.child.kill('SIGTERM');
    await Promise.all(started.map((dev) => dev.exited));
    await sweepDeadStacks(join(home, 'run'));
    await mine?.drop();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the user's configuration: a target on the embedded PostgreSQL and one on the user's own database, used through dev.env", async () => {
    const dev = startDev(['-c', userConfig]);
    await up(dev);
    expect(dev.output()).toContain(`configuration   : ${userConfig}, targets app, mine`);
    const shell = devEnv();
    expect(shell.LIFEBOAT_CONFIG).toBe(userConfig);

    for (const [target, leads] of [
      ['mine', 80],
      ['app', 50],
    ] as const) {
      const backup = await runLifeboat(['backup', '--target', target], shell);
      expect(backup.stderr).not.toContain('✖');
      expect(backup.code).toBe(0);
      expect(backup.stdout).toMatch(new RegExp(`^✔ backup ${target}-\\d{8}T\\d{6}Z-[0-9a-f]{6}: .+ → store "main"\\n$`));
      const list = await runLifeboat(['backups', '--target', target, '--json'], shell);
      expect(list.code).toBe(0);
      const [only, ...more] = backupsJsonSchema.parse(JSON.parse(list.stdout));
      expect(more).toEqual([]);
      expect(only!.manifest).toMatchObject({ target, tables: { crm_leads: leads, crm_activities: 3 * leads } });
    }
  }, 300_000);

  it('refuses a second dev over the live one: exit 2, naming its pid and how to stop it, and the first keeps running', async () => {
    const running = readRecord(pidPath)!;
    const second = await runLifeboat(['dev', '--leads', '50'], env);
    expect(second.code).toBe(2);
    expect(second.stdout).toBe('');
    expect(second.stderr).toBe(
      `✖ a dev stack is already running (pid ${running.owner.pid}, since ${running.startedAt}): use it (set -a; . ${envPath}; set +a), or stop it with Ctrl-C in its terminal or kill ${running.owner.pid}\n`,
    );
    expect(readRecord(pidPath)).toEqual(running);
    expect(startOf(running.owner.pid)).toBe(running.owner.start);
  });

  it('killed with SIGKILL, dev leaves its servers running; the next dev clears them and starts cleanly', async () => {
    const first = started[0]!;
    const killed = readRecord(pidPath)!;
    expect(killed.owner.pid).toBe(first.child.pid);
    expect(killed.processes.map((p) => p.what.split('/').pop()).sort()).toEqual(['temporal', 'weed']);
    expect(killed.folders).toHaveLength(4); // PostgreSQL's, SeaweedFS's, its TLS certificate's, Temporal's
    const postmaster = postmasterOf(killed);
    first.child.kill('SIGKILL');
    await first.exited;
    // What a crash leaves: nobody stopped the servers.
    for (const p of killed.processes) expect(startOf(p.pid)).toBe(p.start);
    expect(startOf(postmaster)).toBeDefined();
    expect(existsSync(envPath)).toBe(true);

    const next = startDev([]);
    await up(next);
    expect(next.output()).toContain(
      `cleared the leftovers of a dev stack of pid ${killed.owner.pid} (${killed.startedAt}) that did not stop`,
    );
    expectAllGone(killed, postmaster);
    const current = readRecord(pidPath)!;
    expect(current.owner.pid).toBe(next.child.pid);
    expect(devEnv().LIFEBOAT_CONFIG).toBeUndefined(); // the example's configuration this time
    const keys = await runLifeboat(['keys'], devEnv());
    expect(keys.code).toBe(0);
  }, 300_000);

  it('SIGTERM stops everything dev started and removes dev.env and its pid file; dev exits 0', async () => {
    const dev = started[1]!;
    const record = readRecord(pidPath)!;
    const postmaster = postmasterOf(record);
    dev.child.kill('SIGTERM');
    expect(await dev.exited).toBe(0);
    expect(dev.output()).toContain('SIGTERM: stopping…');
    expect(existsSync(envPath)).toBe(false);
    expect(existsSync(pidPath)).toBe(false);
    expectAllGone(record, postmaster);
  }, 120_000);
});

describe('the demo', () => {
  it('SIGTERM mid-run stops everything it started, as dev does, and the demo exits 143', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lifeboat-demo-home-'));
    try {
      const env = { ...process.env, LIFEBOAT_HOME: home };
      const demo = spawn(process.execPath, [join(REPO_ROOT, 'dist/current/client/demo.js'), '--leads', '50'], {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      demo.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      demo.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const exited = new Promise<number | null>((ok) => demo.once('exit', (code) => ok(code)));
      // Up, and at work: the backup has started.
      await expect
        .poll(() => (demo.exitCode === null ? out.includes('Temporal Web UI:') : out), { timeout: 240_000, interval: 500 })
        .toBe(true);
      const [pidFile] = readdirSync(join(home, 'run')).filter((f) => f.startsWith('demo-'));
      const record = readRecord(join(home, 'run', pidFile!))!;
      expect(record.owner.pid).toBe(demo.pid);
      const postmaster = Number(readFileSync(join(record.clusters[0]!.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

      demo.kill('SIGTERM');
      expect(await exited).toBe(143); // 128 + SIGTERM, as a shell reports a process the signal ended
      expect(out).toContain('• SIGTERM: stopping the board, the worker, Temporal, PostgreSQL and SeaweedFS');
      expect(existsSync(join(home, 'run', pidFile!))).toBe(false);
      expectAllGone(record, postmaster);
    } finally {
      await sweepDeadStacks(join(home, 'run'));
      rmSync(home, { recursive: true, force: true });
    }
  }, 300_000);
});
