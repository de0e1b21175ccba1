// The `lifeboat` command as built (bin/lifeboat runs <build>/cli/start.js): the CLI's bundle
// (cli/cli.js, scripts/bundle-cli.js) compiled through its code cache (code-cache.ts), so a command
// run before starts from bytecode. LIFEBOAT_CODE_CACHE=off runs it without the cache; =report also
// prints on stderr what the cache did.
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { cacheKey, installCodeCache } from './code-cache.js';

const root = dirname(realpathSync(process.argv[1]!));
const mode = process.env.LIFEBOAT_CODE_CACHE;
if (mode !== 'off') {
  const report = installCodeCache(root, cacheKey(process.argv.slice(2)));
  if (mode === 'report') process.once('exit', () => console.error(`code cache ${JSON.stringify(report)}`));
}
createRequire(join(root, 'start.js'))('./cli.js');
