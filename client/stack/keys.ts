// Throwaway SSH keys for the embedded stack's people, so `lifeboat dev` and `make demo` sign their
// answers with no setup. Each person gets an Ed25519 key without a passphrase, made by ssh-keygen
// (the private half is written by ssh-keygen alone, mode 600) and kept between runs; these keys
// prove nothing outside the local stack and are never meant for a real deployment.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LifeboatConfig } from '../../config/config.js';

/** Everyone the configuration's approvals name: the people of the example runs. */
export function approversOf(config: LifeboatConfig): string[] {
  const names = (['L1', 'L2', 'L3', 'L4'] as const).flatMap((l) => {
    const { approvers, gates } = config.approvals[l];
    return [...approvers, ...Object.values(gates).flat()];
  });
  return [...new Set(names)].sort();
}

/** Makes `dir/<name>` (and .pub) for each person lacking one; returns each person's key file. */
export function throwawayKeys(dir: string, names: readonly string[]): Record<string, string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {};
  for (const name of names) {
    const file = join(dir, name);
    if (!existsSync(file)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@lifeboat-dev`, '-f', file]);
    files[name] = file;
  }
  return files;
}

/** The people section those keys form, for the embedded worker's configuration. */
export const peopleOf = (files: Record<string, string>): LifeboatConfig['people'] =>
  Object.fromEntries(
    Object.entries(files).map(([name, file]) => [name, { keys: [readFileSync(`${file}.pub`, 'utf8').trim()], keyFiles: [] }]),
  );

/** The same people as a `people:` section of YAML, for a configuration file that has none. */
export const peopleYaml = (files: Record<string, string>): string =>
  `people:\n${Object.entries(peopleOf(files))
    .map(([name, person]) => `  ${name}: { keys: [${JSON.stringify(person.keys[0])}] }`)
    .join('\n')}\n`;

/**
 * The local stack's manifest key (backup.manifestKeyEnv): made once in `dir`/manifest.key (mode
 * 600) and kept, so the manifests of earlier runs in the same store still verify.
 */
export function localManifestKey(dir: string): string {
  const file = join(dir, 'manifest.key');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}
