// The record of an in-place physical restore (in-place.ts), below physical.configDir/in-place/:
// - <incident>/state.json: the phase the restore has reached ('stopping', 'stopped', 'restored',
//   'started'), written before each phase's work, so a retried activity (a worker that crashed)
//   resumes where the first attempt was and never restores production twice;
// - production.json: how production was started (data directory, port, the command line its
//   postmaster.opts held, the OS user), kept so a later in-place restore can bring production back
//   while it is down (the undo of a restore that could not reach its moment).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import type { PhysicalTarget } from './target.js';

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

/** postmaster.opts holds the server's command line: the program, then each argument in double quotes. */
export function postmasterOptions(text: string): string {
  const line = text.split('\n')[0] ?? '';
  const first = line.indexOf(' "');
  return first < 0 ? '' : line.slice(first + 1).trim();
}
