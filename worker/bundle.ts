// The workflow bundle, built once per version of the workflow sources and cached on disk. It is
// built in a separate process, so webpack's memory never counts against the worker's.
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT as ROOT } from '../config/root.js';

// Run from dist/ (compiled) or from the sources (tsx, tests), the bundle is made of the sources.
const HERE = fileURLToPath(import.meta.url);
const WORKFLOWS_DIR = join(ROOT, 'workflows');
const WORKFLOWS_PATH = join(WORKFLOWS_DIR, 'index.ts');

// The sources import './x.js' as Node's ESM resolution asks; webpack must find the .ts behind it.
type WebpackConfig = Parameters<NonNullable<Parameters<typeof bundleWorkflowCode>[0]['webpackConfigHook']>>[0];
const resolveTypeScript = (config: WebpackConfig) => {
  config.resolve = { ...config.resolve, extensionAlias: { '.js': ['.ts', '.js'] } };
  return config;
};

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };

/**
 * Every source file the bundle can contain: workflow code imports values only from workflows/ and
 * common/ (the lint rules refuse anything else), so these folders and the locked SDK key the cache.
 */
const BUNDLED_DIRS = [WORKFLOWS_DIR, join(ROOT, 'common')];

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .sort()
    .map((file) => join(dir, file));
}

/** Where the bundle of the current sources lives: keyed by everything bundled and the locked SDK. */
function bundlePath(): string {
  const hash = createHash('sha256');
  for (const file of BUNDLED_DIRS.flatMap(sourcesUnder)) hash.update(relative(ROOT, file)).update(readFileSync(file));
  hash.update(readFileSync(join(ROOT, 'package-lock.json')));
  return join(ROOT, '.lifeboat', 'bundles', `workflows-${hash.digest('hex').slice(0, 16)}.js`);
}

/** Builds the bundle into `path` (run in its own process by `workflowBundle`). */
export async function buildBundle(path: string): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, webpackConfigHook: resolveTypeScript, logger: quiet });
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.partial`; // two builders at once must not mix their bytes
  writeFileSync(partial, code);
  renameSync(partial, path);
  // Bundles of earlier sources are of no further use.
  for (const old of readdirSync(dirname(path))) {
    if (old.endsWith('.js') && join(dirname(path), old) !== path) rmSync(join(dirname(path), old), { force: true });
  }
}

export async function workflowBundle(): Promise<WorkflowBundleOption> {
  const path = bundlePath();
  if (!existsSync(path)) {
    // The builder beside this module: compiled JavaScript runs under plain Node, a source under tsx.
    const builder = join(dirname(HERE), `build-bundle${extname(HERE)}`);
    const args = extname(HERE) === '.ts' ? ['--import', 'tsx', builder, path] : [builder, path];
    await promisify(execFile)(process.execPath, args, { cwd: ROOT });
  }
  return { codePath: path };
}
