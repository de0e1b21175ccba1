// Where Lifeboat is installed: the folder holding its package.json, whether this code runs from the
// TypeScript sources or compiled under dist/ (scripts/build.sh), which sits deeper in the same tree.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function installRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: Lifeboat's files are incomplete`);
  }
}

export const REPO_ROOT = installRoot(dirname(fileURLToPath(import.meta.url)));
