// Hooks: the team's own commands and webhooks that Lifeboat calls at fixed moments of a run
// (freeze writes, roll back the code, cut over). A command runs without a shell in a process
// group of its own, so a time-out ends it and everything it started; a webhook gets a JSON POST.
// A command gets a minimal environment (the basics, the variables its configuration names, the
// incident and its database), never the worker's credentials. The result goes into workflow
// history, so nothing secret may be in it: every secret of the worker, the webhook token and the
// database password are redacted from whatever the hook printed or answered.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { HookConfig } from '../../config/config.js';
import { durationMs } from '../../config/config.js';
import { Redactor } from '../../common/redact.js';
import { libpqEnv } from '../postgres/connection.js';

export interface HookCall {
  incidentId: string;
  target: string;
  action: string;
  /** The target's connection string: given to command hooks as libpq env vars only, never to webhooks. */
  databaseUrl?: string;
}

export interface HookResult {
  hook: string;
  ok: boolean;
  exitCode?: number;
  httpStatus?: number;
  /** Commands: the last 64 KiB of stdout and stderr, interleaved; webhooks: the first 64 KiB of the body. Secrets redacted. */
  output: string;
  durationMs: number;
  timedOut: boolean;
}

/** How much output a result keeps. */
export const OUTPUT_LIMIT = 64 * 1024;
/** How long a timed-out command's process group has between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 5_000;

/**
 * Runs a hook. `env` is the worker's environment: a command gets only its harmless basics, the
 * variables its configuration names and the LIFEBOAT_* and libpq ones; a webhook reads its token
 * there. `redactor` holds the worker's secrets; the hook's own (database password, token) are added.
 */
export async function runHook(
  name: string,
  hook: HookConfig,
  call: HookCall,
  env: NodeJS.ProcessEnv = process.env,
  signal?: AbortSignal,
  redactor: Redactor = new Redactor([]),
): Promise<HookResult> {
  signal?.throwIfAborted();
  return hook.type === 'command'
    ? runCommand(name, hook, call, env, redactor, signal)
    : runWebhook(name, hook, call, env, redactor, signal);
}

// ───────────────────────────── Output ─────────────────────────────

/** Drops UTF-8 continuation bytes at the start, left over from cutting inside a character. */
function fromCharBoundary(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length && start < 4 && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start);
}

/**
 * Keeps the last bytes of a stream of chunks, enough to give `OUTPUT_LIMIT` bytes after
 * redaction even when a secret straddles the cut.
 */
class Tail {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;

  constructor(private readonly capacity: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.kept += chunk.length;
    this.total += chunk.length;
    while (this.chunks.length > 1 && this.kept - this.chunks[0]!.length >= this.capacity) {
      this.kept -= this.chunks.shift()!.length;
    }
  }

  bytes(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.length > this.capacity ? all.subarray(all.length - this.capacity) : all;
  }
}

/** The last OUTPUT_LIMIT bytes of the output, redacted; a note says how much came before. */
function boundedTail(tail: Tail, redactor: Redactor): string {
  const raw = tail.bytes();
  const cut = tail.total > raw.length;
  let bytes: Buffer = Buffer.from(redactor.text(fromCharBoundary(raw).toString('utf8'), { start: cut }), 'utf8');
  const truncated = cut || bytes.length > OUTPUT_LIMIT;
  if (bytes.length > OUTPUT_LIMIT) bytes = fromCharBoundary(bytes.subarray(bytes.length - OUTPUT_LIMIT));
  const body = bytes.toString('utf8');
  return truncated ? `[… output truncated: the last ${OUTPUT_LIMIT / 1024} KiB of ${tail.total} bytes follow]\n${body}` : body;
}

/** The first OUTPUT_LIMIT bytes of a body, redacted; `more` when the body went on. */
function boundedHead(bytes: Buffer, more: boolean, redactor: Redactor): string {
  const cut = more || bytes.length > OUTPUT_LIMIT;
  // A multi-byte character cut at the end decodes to U+FFFD: drop it.
  const decoded = bytes.subarray(0, OUTPUT_LIMIT).toString('utf8');
  const text = cut ? decoded.replace(/\uFFFD$/, '') : decoded;
  const body = redactor.text(text, { end: cut });
  return cut ? `${body}\n[… rest of the response omitted]` : body;
}

// ───────────────────────────── Commands ─────────────────────────────

/** What every command gets of the worker's environment: where programs are, the home directory, the locale. */
const BASICS = /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|USER|LOGNAME|SHELL|TERM)$/;

/**
 * A command's whole environment: the basics, the variables its configuration names, the incident
 * in LIFEBOAT_* variables and the target's database in libpq variables (never the connection
 * string itself). Nothing else of the worker's: its credentials are not the hook's business.
 */
function commandEnv(hook: Extract<HookConfig, { type: 'command' }>, call: HookCall, workerEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [variable, value] of Object.entries(workerEnv)) if (BASICS.test(variable)) env[variable] = value;
  for (const variable of hook.env) if (workerEnv[variable] !== undefined) env[variable] = workerEnv[variable];
  return {
    ...env,
    LIFEBOAT_INCIDENT_ID: call.incidentId,
    LIFEBOAT_TARGET: call.target,
    LIFEBOAT_ACTION: call.action,
    ...(call.databaseUrl ? libpqEnv(call.databaseUrl, {}) : {}),
  };
}

/**
 * Whether any process of the group still runs. Zombies do not count: once the group's leader is
 * gone its children belong to whatever reaps orphans here, which may take its time (or, in a
 * container whose first process does not reap, forever); Linux's /proc tells them apart.
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return true; // no /proc: a zombie counts as alive
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runCommand(
  name: string,
  hook: Extract<HookConfig, { type: 'command' }>,
  call: HookCall,
  workerEnv: NodeJS.ProcessEnv,
  workerSecrets: Redactor,
  signal?: AbortSignal,
): Promise<HookResult> {
  const [file, ...args] = hook.command as [string, ...string[]];
  const env = commandEnv(hook, call, workerEnv);
  const redactor = workerSecrets.with([env.PGPASSWORD]);
  const timeoutMs = durationMs(hook.timeout);
  const started = performance.now();
  const tail = new Tail(OUTPUT_LIMIT + 4 * redactor.longest + 4);
  const notes: string[] = [];

  const child = spawn(file, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => tail.push(chunk));

  type Exit = { code: number | null; signal: NodeJS.Signals | null } | { error: Error };
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
  // Output ends when every writer of the pipes has gone; a background process that escaped the
  // group may hold them open, so after the exit the pipes get a moment and are then let go.
  const drained = new Promise<void>((resolve) => child.once('close', () => resolve()));

  let timedOut = false;
  let cancelled = false;
  const stop = async (why: 'timeout' | 'cancel') => {
    if (timedOut || cancelled || child.pid === undefined) return;
    if (why === 'timeout') timedOut = true;
    else cancelled = true;
    const pgid = child.pid;
    killGroup(pgid, 'SIGTERM');
    const deadline = performance.now() + KILL_GRACE_MS;
    while (performance.now() < deadline && groupAlive(pgid)) await sleep(50);
    if (groupAlive(pgid)) {
      killGroup(pgid, 'SIGKILL');
      notes.push(`[lifeboat: the process group did not end within ${KILL_GRACE_MS / 1000} s of SIGTERM and was killed]`);
    }
  };
  let stopping: Promise<void> | undefined;
  const timer = setTimeout(() => (stopping = stop('timeout')), timeoutMs);
  const onAbort = () => (stopping = stop('cancel'));
  signal?.addEventListener('abort', onAbort, { once: true });

  let exit: Exit;
  try {
    exit = await exited;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  // A timed-out or cancelled command: wait until its whole group has been dealt with.
  if (stopping) await stopping;
  await Promise.race([drained, sleep(1_000)]);
  child.stdout.destroy();
  child.stderr.destroy();

  if (cancelled) throw signal?.reason ?? new Error(`hook ${name} was cancelled`);

  let exitCode: number | undefined;
  if ('error' in exit) {
    const code = (exit.error as NodeJS.ErrnoException).code;
    notes.push(
      `[lifeboat: cannot run ${file}: ${code ?? exit.error.message}${code === 'ENOENT' ? ' (no such command: give a path or check PATH)' : ''}]`,
    );
  } else if (timedOut) {
    notes.unshift(`[lifeboat: timed out after ${hook.timeout}; the process group was terminated]`);
  } else if (exit.signal) {
    notes.push(`[lifeboat: killed by ${exit.signal}]`);
  } else {
    exitCode = exit.code ?? undefined;
  }
  let output = boundedTail(tail, redactor);
  if (notes.length) output = `${output}${output && !output.endsWith('\n') ? '\n' : ''}${notes.join('\n')}`;
  return {
    hook: name,
    ok: !timedOut && exitCode === 0,
    ...(exitCode !== undefined ? { exitCode } : {}),
    output,
    durationMs: Math.round(performance.now() - started),
    timedOut,
  };
}

// ───────────────────────────── Webhooks ─────────────────────────────

/** Where a webhook goes, for messages: scheme, host and port only (paths and queries may be secret). */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the configured URL';
  }
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

async function runWebhook(
  name: string,
  hook: Extract<HookConfig, { type: 'webhook' }>,
  call: HookCall,
  env: NodeJS.ProcessEnv,
  workerSecrets: Redactor,
  signal?: AbortSignal,
): Promise<HookResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const token = hook.tokenEnv ? env[hook.tokenEnv] : undefined;
  let urlSecrets: string[] = [];
  try {
    const u = new URL(hook.url);
    urlSecrets = [decodeURIComponent(u.password), u.password];
  } catch {
    // The configuration validated the URL; fetch reports anything else.
  }
  const redactor = workerSecrets.with([token, ...urlSecrets]);
  const result = (ok: boolean, output: string, extra: Partial<HookResult> = {}): HookResult => ({
    hook: name,
    ok,
    ...extra,
    output,
    durationMs: elapsed(),
    timedOut: extra.timedOut ?? false,
  });
  if (hook.tokenEnv && !token) {
    return result(false, `[lifeboat: environment variable ${hook.tokenEnv} (the token of webhook ${name}) is not set; nothing was sent]`);
  }

  const timeout = new AbortController();
  const timeoutMs = durationMs(hook.timeout);
  const timer = setTimeout(() => timeout.abort(new Error(`timed out after ${hook.timeout}`)), timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'lifeboat-hooks' };
  if (token) headers.authorization = `Bearer ${token}`;
  const payload = JSON.stringify({ incidentId: call.incidentId, target: call.target, action: call.action });

  let status: number | undefined;
  const head: Buffer[] = [];
  let headBytes = 0;
  let more = false;
  try {
    // Redirects are not followed: the token is for the configured endpoint only.
    const response = await fetch(hook.url, { method: 'POST', headers, body: payload, signal: combined, redirect: 'manual' });
    status = response.status;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (headBytes >= OUTPUT_LIMIT) {
          more = true;
          await reader.cancel().catch(() => undefined);
          break;
        }
        head.push(Buffer.from(value));
        headBytes += value.length;
      }
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    const timedOut = timeout.signal.aborted;
    const partial = head.length ? `${boundedHead(Buffer.concat(head), true, redactor)}\n` : '';
    const why = timedOut ? `timed out after ${hook.timeout}` : describeFetchError(err);
    return result(false, `${partial}[lifeboat: POST ${origin(hook.url)} failed: ${why}]`, {
      ...(status !== undefined ? { httpStatus: status } : {}),
      timedOut,
    });
  } finally {
    clearTimeout(timer);
  }
  let output = boundedHead(Buffer.concat(head), more, redactor);
  if (status >= 300 && status < 400)
    output = `${output}${output ? '\n' : ''}[lifeboat: the webhook answered with a redirect, which is not followed]`;
  return result(status >= 200 && status < 300, output, { httpStatus: status });
}
