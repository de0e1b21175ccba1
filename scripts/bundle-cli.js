// Bundles the CLI (client/cli.ts) with esbuild into <build>/cli/, beside the tsc output of the same
// sources (scripts/build.sh): `lifeboat status --json` then reads a few files instead of resolving
// and compiling hundreds of modules (the Temporal SDK above all), so it answers fast.
//
//   node scripts/bundle-cli.js <build folder>
//
// - Code splitting keeps each action's module (client/actions/) a chunk loaded only when it runs.
// - A module that finds files beside itself (`import.meta.url`: SQL, the board's static files, the
//   worker's bundler) is given its own compiled file's URL, so it reads what tsc's copy would.
// - Packages with a native addon or their own loader stay in node_modules, loaded when used (the
//   worker, the test server, Chromium's driver); Temporal's packages keep their state on globalThis
//   and recognise their errors by symbol, so the bundled client and the external worker agree.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const [outRoot] = process.argv.slice(2);
if (!outRoot) throw new Error('usage: node scripts/bundle-cli.js <build folder>');
const OUT = join(outRoot, 'cli');

const EXTERNAL = ['@temporalio/worker', '@temporalio/core-bridge', '@temporalio/testing', 'playwright-core', 'pg-native', 'tsx', 'esbuild'];

/** Every source module's `import.meta.url` as if it ran from its compiled file (<build>/<dir>/x.js). */
const compiledUrls = {
  name: 'compiled-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url') || relative(ROOT, args.path).startsWith('..')) return undefined;
      const compiled = relative(ROOT, args.path).replace(/\.ts$/, '.js');
      const url = `new URL(${JSON.stringify(`../${compiled}`)}, import.meta.url).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

await build({
  absWorkingDir: ROOT,
  entryPoints: ['client/cli.ts'],
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  plugins: [compiledUrls],
  chunkNames: '[name]-[hash]',
  // CommonJS packages inside an ESM bundle still call require() for Node's own modules.
  banner: { js: "import { createRequire as __lifeboatRequire } from 'node:module'; const require = __lifeboatRequire(import.meta.url);" },
  logLevel: 'warning',
});
