// The record of an in-place physical restore (in-place.ts), below physical.configDir/in-place/:
// - <incident>/state.json: the phase the restore has reached ('stopping', 'stopped', 'restored',
//   'started'), written before each phase's work, so a retried activity (a worker that crashed)
//   resumes where the first attempt was and never restores production twice;
// - production.json: how production was started (data directory, port, the command line its
//   postmaster.opts held, the OS user), kept so a later in-place restore can bring production back
//   while it is down (the undo of a restore that could not reach its moment). Production down with
//   no record (it crashed: the L3 case itself) is read from its data directory where it rests.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { running } from './side-instance.js';
import { type PhysicalTarget, userName } from './target.js';

/** How production runs, as read from it before it was stopped. */
export interface Production {
  pgPath: string;
  port: number;
  /** postmaster.opts's options (after the program), quoted as PostgreSQL wrote them: what `pg_ctl restart` reuses. */
  options: string;
  /** The OS user that owns the data directory (pg_ctl and pgBackRest run as it). */
  runAs?: string;
}

export type Phase = 'stopping' | 'stopped' | 'restored' | 'started';

export interface InPlaceState extends Production {
  phase: Phase;
  /** The backup set the restore starts from (pgBackRest's own choice when absent). */
  set?: string;
  /** When the phase was entered. */
  at: string;
}

const PRODUCTION_RECORD = 'production.json';

/** The folder of one incident's in-place restore. */
export function inPlaceFolder(p: PhysicalTarget, id: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,47}$/.test(id))
    throw refuse(`"${id}" is not an in-place restore id (lower-case letters, digits and "-")`, FailureType.input);
  return join(p.config.configDir, 'in-place', id);
}

/** Writes a JSON file whole or not at all (a crash mid-write leaves the previous one). */
function writeJson(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

function readJson<T>(file: string): T | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}

export function readState(dir: string): InPlaceState | undefined {
  return readJson<InPlaceState>(join(dir, 'state.json'));
}

export function writeState(dir: string, production: Production & { set?: string }, phase: Phase): InPlaceState {
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const state = { ...production, phase, at: new Date().toISOString() };
  writeJson(join(dir, 'state.json'), state);
  return state;
}

export function readProduction(p: PhysicalTarget): Production | undefined {
  return readJson<Production>(join(p.config.configDir, 'in-place', PRODUCTION_RECORD));
}

export function recordProduction(p: PhysicalTarget, production: Production): void {
  mkdirSync(join(p.config.configDir, 'in-place'), { recursive: true, mode: 0o711 });
  writeJson(join(p.config.configDir, 'in-place', PRODUCTION_RECORD), production);
}

/**
 * How production runs while its server cannot be reached: as recorded when Lifeboat stopped it, or
 * else read where it rests (physical.pgPath, or pg1-path of the pgBackRest file written while it
 * ran; its postmaster.opts, which a crash leaves). A server that runs but cannot be reached is
 * refused: nothing is restored under a running server.
 */
export async function productionAtRest(p: PhysicalTarget): Promise<Production> {
  const recorded = readProduction(p);
  if (recorded) return recorded;
  const conf = existsSync(p.runner.config) ? readFileSync(p.runner.config, 'utf8') : '';
  const pgPath = p.config.pgPath ?? /^pg1-path=(.+)$/m.exec(conf)?.[1];
  if (!pgPath || !existsSync(join(pgPath, 'PG_VERSION')))
    throw refuse(
      `production's server cannot be reached and its data directory is not known (${pgPath ?? 'no physical.pgPath'}): set physical.pgPath; production is untouched`,
      FailureType.config,
    );
  const runAs = p.config.runAs ?? (userInfo().uid === 0 ? await userName(statSync(pgPath).uid) : undefined);
  if (await running({ ...p, runner: { ...p.runner, runAs } }, pgPath))
    throw refuse(
      `production's server runs (pg_ctl status -D ${pgPath}) but the target's connection does not reach it: fix the connection (nothing is restored under a running server); production is untouched`,
      FailureType.recovery,
    );
  const opts = join(pgPath, 'postmaster.opts');
  const options = existsSync(opts) ? postmasterOptions(readFileSync(opts, 'utf8')) : '';
  const port = Number(/"-p" "(\d+)"/.exec(options)?.[1] ?? /^pg1-port=(\d+)$/m.exec(conf)?.[1] ?? 5432);
  return { pgPath, port, options, runAs };
}

/** postmaster.opts holds the server's command line: the program, then each argument in double quotes. */
export function postmasterOptions(text: string): string {
  const line = text.split('\n')[0] ?? '';
  const first = line.indexOf(' "');
  return first < 0 ? '' : line.slice(first + 1).trim();
}
