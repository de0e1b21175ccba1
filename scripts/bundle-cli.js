// Bundles the CLI (client/cli.ts) with esbuild into <build>/cli/, beside the tsc output of the same
// sources (scripts/build.sh): `lifeboat status --json` then reads a few files instead of resolving
// and compiling hundreds of modules (the Temporal SDK above all), so it answers fast.
//
//   node scripts/bundle-cli.js <build folder>
//
// - Code splitting keeps each action's module (client/actions/) a chunk loaded only when it runs.
// - The chunks are CommonJS (esbuild splits ESM only, so each chunk is converted after the split),
//   because Node 20 keeps a V8 code cache only for scripts it compiles through node:vm: cli/start.js
//   (client/cli-start.ts) runs them through the cache of client/code-cache.ts.
// - A module that finds files beside itself (`import.meta.url`: SQL, the board's static files, the
//   worker's bundler) is given its own compiled file's URL, so it reads what tsc's copy would.
// - Packages with a native addon or their own loader stay in node_modules, loaded when used (the
//   worker, the test server, Chromium's driver); Temporal's packages keep their state on globalThis
//   and recognise their errors by symbol, so the bundled client and the external worker agree.
import { build, transform } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const [outRoot] = process.argv.slice(2);
if (!outRoot) throw new Error('usage: node scripts/bundle-cli.js <build folder>');
const OUT = join(outRoot, 'cli');

const EXTERNAL = ['@temporalio/worker', '@temporalio/core-bridge', '@temporalio/testing', 'playwright-core', 'pg-native', 'tsx', 'esbuild'];
/** Each chunk's own URL, for what stood for `import.meta.url` (set by the banner of every chunk). */
const URL_NAME = '__lifeboatChunkUrl';

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

/**
 * The Temporal client's protobuf descriptors without the two namespaces no client code reads: the
 * worker's own protocol (coresdk) and Temporal Cloud's operations API (temporal.api.cloud), a third
 * of the whole. protobufjs builds reflection objects for every descriptor when the client loads, and
 * resolves them all on its first message, so this is CPU time on every command. A layout this does
 * not recognise (another SDK version) is bundled whole, with a warning.
 */
const PRUNED = [['coresdk'], ['temporal', 'api', 'cloud']];
const clientProtos = {
  name: 'client-protos',
  setup(b) {
    b.onLoad({ filter: /[\\/]@temporalio[\\/]proto[\\/]protos[\\/]json-module\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      // pbjs's json-module: `… new $protobuf.Root()).addJSON({ … });` then `module.exports = $root;`
      const start = source.indexOf('.addJSON(') + '.addJSON('.length;
      const end = source.indexOf('\n});', start) + 2;
      try {
        const json = JSON.parse(source.slice(start, end));
        for (const path of PRUNED) {
          const parent = path.slice(0, -1).reduce((ns, name) => ns?.[name]?.nested, json);
          const last = path[path.length - 1];
          if (!parent?.[last]) throw new Error(`no namespace ${path.join('.')}`);
          delete parent[last];
        }
        return { contents: source.slice(0, start) + JSON.stringify(json) + source.slice(end), loader: 'js' };
      } catch (err) {
        return { warnings: [{ text: `the Temporal protobuf descriptors are bundled whole: ${err.message}` }] };
      }
    });
  },
};

const split = await build({
  absWorkingDir: ROOT,
  entryPoints: ['client/cli.ts'],
  outdir: OUT,
  write: false,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  plugins: [compiledUrls, clientProtos],
  chunkNames: '[name]-[hash]',
  logLevel: 'warning',
});

// ESM chunks to CommonJS ones: static imports become require(), import() a require() in a promise
// (so every chunk goes through the code cache), import.meta.url the chunk's own URL.
await mkdir(OUT, { recursive: true });
for (const file of split.outputFiles) {
  const { code } = await transform(file.text, {
    format: 'cjs',
    loader: 'js',
    platform: 'node',
    target: 'node20',
    supported: { 'dynamic-import': false },
    // No comments and no whitespace: fewer bytes to read and hash on every call, and ASCII only, so
    // V8 holds each chunk as a one-byte string (a single non-ASCII character in a comment doubles it).
    minifyWhitespace: true,
    legalComments: 'none',
    charset: 'ascii',
    define: { 'import.meta.url': URL_NAME },
    banner: `const ${URL_NAME} = require("node:url").pathToFileURL(__filename).href;`,
    sourcefile: basename(file.path),
    logLevel: 'warning',
  });
  await writeFile(file.path, code);
}
// The chunks are CommonJS whatever the project's package.json says.
await writeFile(join(OUT, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);

// The entry bin/lifeboat runs: the code cache, then cli.js.
await build({
  absWorkingDir: ROOT,
  entryPoints: ['client/cli-start.ts'],
  outfile: join(OUT, 'start.js'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
