// Hooks: commands get the incident in LIFEBOAT_* variables and the database in libpq variables,
// a time-out ends the whole process group, webhooks get JSON and a bearer token, and no secret
// ever comes back in the result (it goes into workflow history).
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HookCall, OUTPUT_LIMIT, runHook } from '../activities/hooks/hooks.js';
import type { HookConfig } from '../config/config.js';

const PASSWORD = 'pg-s3cret/pw';
const TOKEN = 'tok-7f3a9c1e5b2d4a60';
const call: HookCall = {
  incidentId: 'inc-20261122-040512-ab12',
  target: 'crm',
  action: 'freezeWrites',
  databaseUrl: `postgres://lifeboat:${encodeURIComponent(PASSWORD)}@db.internal:5433/crm_prod`,
};

const command = (argv: string[], timeout = '30s', env: string[] = []): HookConfig => ({ type: 'command', command: argv, env, timeout });

/** Whether a process still runs: gone, or a zombie waiting for a parent that does not reap it, counts as not running. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('command hooks', () => {
  it('runs without a shell, with the incident in LIFEBOAT_* variables and the database in libpq variables only', async () => {
    const script =
      'echo "id=$LIFEBOAT_INCIDENT_ID target=$LIFEBOAT_TARGET action=$LIFEBOAT_ACTION"; echo "db=$PGDATABASE host=$PGHOST port=$PGPORT user=$PGUSER pw=$PGPASSWORD" >&2; env';
    const result = await runHook('freeze', command(['sh', '-c', script]), call, { PATH: process.env.PATH });
    expect(result).toMatchObject({ hook: 'freeze', ok: true, exitCode: 0, timedOut: false });
    expect(result.output).toContain('id=inc-20261122-040512-ab12 target=crm action=freezeWrites');
    expect(result.output).toContain('db=crm_prod host=db.internal port=5433 user=lifeboat pw=[redacted]');
    // The connection string itself is not in the environment, and the password is nowhere in the result.
    expect(result.output).not.toContain('postgres://');
    expect(JSON.stringify(result)).not.toContain(PASSWORD);
    expect(JSON.stringify(result)).not.toContain(encodeURIComponent(PASSWORD));
    expect(result.httpStatus).toBeUndefined();
  });

  it('takes the arguments literally: no shell expands them', async () => {
    const result = await runHook('echo', command(['echo', '$HOME', '*', '; rm -rf /']), call);
    expect(result.output).toBe('$HOME * ; rm -rf /\n');
  });

  it('reports a failing command with its exit code and output', async () => {
    const result = await runHook(
      'rollback',
      command(['sh', '-c', 'echo "rolling back"; echo "deploy API refused: 409" >&2; exit 3']),
      call,
    );
    expect(result).toMatchObject({ ok: false, exitCode: 3, timedOut: false });
    expect(result.output).toContain('rolling back');
    expect(result.output).toContain('deploy API refused: 409');
  });

  it('reports a command that cannot be started', async () => {
    const result = await runHook('missing', command(['/nonexistent/lifeboat-hook']), call);
    expect(result).toMatchObject({ ok: false, timedOut: false });
    expect(result.exitCode).toBeUndefined();
    expect(result.output).toContain('cannot run /nonexistent/lifeboat-hook: ENOENT');
  });

  it('keeps only the last 64 KiB of a long output', async () => {
    const result = await runHook('chatty', command(['sh', '-c', "head -c 300000 /dev/zero | tr '\\0' a; echo; echo THE-END"]), call);
    expect(result.ok).toBe(true);
    expect(result.output).toMatch(/^\[… output truncated: the last 64 KiB of 300009 bytes follow\]\n/);
    expect(result.output.endsWith('THE-END\n')).toBe(true);
    expect(Buffer.byteLength(result.output)).toBeLessThan(OUTPUT_LIMIT + 100);
  });

  it('leaves no piece of the password where the 64 KiB window cuts the output', async () => {
    const result = await runHook('leaky', command(['sh', '-c', 'yes "$PGPASSWORD" | head -n 20000']), call);
    expect(result.ok).toBe(true);
    const [note, first, ...rest] = result.output.split('\n');
    expect(note).toMatch(/^\[… output truncated/);
    // The window may start inside a "[redacted]", never inside the password.
    expect('[redacted]'.endsWith(first!)).toBe(true);
    expect(new Set(rest)).toEqual(new Set(['[redacted]', '']));
  });

  it('ends the whole process group on time-out and says so', async () => {
    // The shell starts a sleep in the background and waits: both must be gone afterwards.
    const script = 'sleep 60 & echo "child $!"; echo "shell $$"; wait';
    const result = await runHook('slow', command(['sh', '-c', script], '1s'), call);
    expect(result).toMatchObject({ ok: false, timedOut: true });
    expect(result.exitCode).toBeUndefined();
    expect(result.output).toContain('timed out after 1s');
    const child = Number(/child (\d+)/.exec(result.output)?.[1]);
    const shell = Number(/shell (\d+)/.exec(result.output)?.[1]);
    expect(child).toBeGreaterThan(0);
    expect(shell).toBeGreaterThan(0);
    expect(running(shell)).toBe(false);
    expect(running(child)).toBe(false);
  });

  it('stops the command and throws the reason when the caller cancels', async () => {
    const controller = new AbortController();
    const pending = runHook('cancelled', command(['sleep', '60']), call, process.env, controller.signal);
    setTimeout(() => controller.abort(new Error('activity cancelled')), 200);
    await expect(pending).rejects.toThrow('activity cancelled');
  });
});

describe('webhooks', () => {
  let server: Server;
  let base: string;
  const received: { path: string; method: string; authorization?: string; contentType?: string; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({
          path: req.url ?? '',
          method: req.method ?? '',
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          body,
        });
        if (req.url === '/ok') res.writeHead(200, { 'content-type': 'text/plain' }).end('writes frozen');
        else if (req.url === '/fail') res.writeHead(500).end('freeze failed: lock timeout');
        else if (req.url === '/echo') res.writeHead(200).end(`you sent ${req.headers.authorization} and ${body}`);
        else if (req.url === '/big') res.writeHead(200).end(`${req.headers.authorization}\n`.repeat(10_000));
        else if (req.url === '/redirect') res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
        // /hang: never answers.
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const webhook = (path: string, timeout = '10s'): HookConfig => ({
    type: 'webhook',
    url: `${base}${path}`,
    tokenEnv: 'FREEZE_TOKEN',
    timeout,
  });
  const env = { FREEZE_TOKEN: TOKEN };
  const lastRequest = () => received[received.length - 1]!;

  it('POSTs the incident as JSON with the bearer token, never the database, and 2xx is ok', async () => {
    const result = await runHook('freeze', webhook('/ok'), call, env);
    expect(result).toMatchObject({ hook: 'freeze', ok: true, httpStatus: 200, output: 'writes frozen', timedOut: false });
    expect(result.exitCode).toBeUndefined();
    const request = lastRequest();
    expect(request.method).toBe('POST');
    expect(request.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.contentType).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ incidentId: call.incidentId, target: 'crm', action: 'freezeWrites' });
  });

  it('reports a 500 as not ok, with the body kept', async () => {
    const result = await runHook('freeze', webhook('/fail'), call, env);
    expect(result).toMatchObject({ ok: false, httpStatus: 500, output: 'freeze failed: lock timeout', timedOut: false });
  });

  it('times out on a server that never answers', async () => {
    const result = await runHook('freeze', webhook('/hang', '1s'), call, env);
    expect(result).toMatchObject({ ok: false, timedOut: true });
    expect(result.httpStatus).toBeUndefined();
    expect(result.output).toContain('timed out after 1s');
  });

  it('never returns the token, even when the server echoes it back', async () => {
    const result = await runHook('freeze', webhook('/echo'), call, env);
    expect(result.ok).toBe(true);
    expect(lastRequest().authorization).toBe(`Bearer ${TOKEN}`);
    expect(result.output).toContain('you sent Bearer [redacted] and {"incidentId"');
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('keeps the first 64 KiB of a long body, with no piece of the token where it is cut', async () => {
    const result = await runHook('freeze', webhook('/big'), call, env);
    expect(result.ok).toBe(true);
    expect(Buffer.byteLength(result.output)).toBeLessThan(OUTPUT_LIMIT + 100);
    const lines = result.output.split('\n');
    expect(lines.pop()).toBe('[… rest of the response omitted]');
    const last = lines.pop()!;
    expect('Bearer [redacted]'.startsWith(last)).toBe(true);
    expect(new Set(lines)).toEqual(new Set(['Bearer [redacted]']));
  });

  it('does not follow redirects with the token', async () => {
    const before = received.length;
    const result = await runHook('freeze', webhook('/redirect'), call, env);
    expect(result).toMatchObject({ ok: false, httpStatus: 302 });
    expect(result.output).toContain('redirect, which is not followed');
    expect(received.length).toBe(before + 1);
  });

  it('sends nothing when the token variable is not set', async () => {
    const before = received.length;
    const result = await runHook('freeze', webhook('/ok'), call, {});
    expect(result).toMatchObject({ ok: false, timedOut: false });
    expect(result.output).toContain('FREEZE_TOKEN');
    expect(received.length).toBe(before);
  });

  it('reports an unreachable endpoint without its path', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const result = await runHook('freeze', { type: 'webhook', url: `http://127.0.0.1:${port}/hooks/SECRET-PATH`, timeout: '5s' }, call, {});
    expect(result).toMatchObject({ ok: false, timedOut: false });
    expect(result.output).toContain(`POST http://127.0.0.1:${port} failed: ECONNREFUSED`);
    expect(result.output).not.toContain('SECRET-PATH');
  });
});
