// Starts one real stack for the whole suite (PostgreSQL 15 archiving WAL through pgBackRest,
// SeaweedFS S3 over HTTP and HTTPS, Temporal dev server on free loopback ports), bundles the workflow
// code once and compiles what bin/lifeboat runs (so no test's first CLI call pays for the build).
// Everything stops, and the servers'
// folders are removed, even when tests fail; their logs stay in .test-logs/ to be read.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { DEMO_BUCKET, startStack } from '../client/stack/index.js';
import { REPO_ROOT } from '../client/stack/processes.js';
import { throwawayKeys } from '../client/stack/keys.js';
import { workflowBundle } from '../worker/bundle.js';
import { ledgerTable } from './ledger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    s3Endpoint: string;
    /** The same store over HTTPS (pgBackRest), and the CA its certificate is signed by. */
    s3HttpsEndpoint: string;
    s3CaFile: string;
    s3AccessKeyId: string;
    s3SecretAccessKey: string;
    s3Bucket: string;
    temporalAddress: string;
    workflowBundlePath: string;
    logDir: string;
    /** A throwaway SSH key for each of the suite's people: <keysDir>/<name> and .pub. */
    keysDir: string;
    suitePeople: string[];
  }
}

/** Everyone the suite's tests answer as: each is enrolled with a throwaway key in every test configuration. */
const SUITE_PEOPLE = ['alice', 'bob', 'carol', 'dana', 'dave', 'mallory', 'nobody'];

export default async function setup(project: TestProject) {
  const logDir = join(REPO_ROOT, '.test-logs', new Date().toISOString().replace(/[:.]/g, '-'));
  const [stack, bundle] = await Promise.all([
    startStack({ logDir, ui: false }),
    workflowBundle(),
    promisify(execFile)(join(REPO_ROOT, 'scripts/build.sh')),
  ]);
  const bundlePath = (bundle as { codePath: string }).codePath;
  project.provide('pgAdminUrl', stack.postgres.adminUrl);
  project.provide('s3Endpoint', stack.s3.endpoint);
  project.provide('s3HttpsEndpoint', stack.s3.httpsEndpoint);
  project.provide('s3CaFile', stack.s3.caFile);
  project.provide('s3AccessKeyId', stack.s3.accessKeyId);
  project.provide('s3SecretAccessKey', stack.s3.secretAccessKey);
  project.provide('s3Bucket', DEMO_BUCKET);
  project.provide('temporalAddress', stack.temporal.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('logDir', logDir);
  const keysDir = mkdtempSync(join(tmpdir(), 'lifeboat-test-keys-'));
  throwawayKeys(keysDir, SUITE_PEOPLE);
  project.provide('keysDir', keysDir);
  project.provide('suitePeople', SUITE_PEOPLE);
  return async () => {
    // The fault and abuse table, when this run drove any of its cases (test/ledger.ts).
    if (existsSync(join(logDir, 'fault-abuse-cases.jsonl'))) {
      const table = ledgerTable(logDir);
      writeFileSync(join(logDir, 'fault-abuse-table.md'), `${table}\n`);
      console.log(`\nFault and abuse cases (${join(logDir, 'fault-abuse-table.md')}):\n${table}\n`);
    }
    await stack.stop();
    rmSync(keysDir, { recursive: true, force: true });
  };
}
