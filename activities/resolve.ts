// Resolves the names that workflows pass (targets, stores) to connections, from the worker's
// configuration and environment: secrets stay in the worker. Unknown names are not retried.
import { ApplicationFailure } from '@temporalio/common';
import { parse } from 'pg-connection-string';
import { type LifeboatConfig, type TargetConfig, targetConfig } from '../config/config.js';
import { withDatabase } from './postgres/connection.js';
import { Catalog } from './storage/catalog.js';
import { type ManifestKey, manifestKeyOf } from './storage/manifest-file.js';
import { openStore } from './storage/open.js';
import type { BackupStore } from './storage/store.js';
import { FailureType } from '../common/errors.js';
import { Redactor, workerSecrets } from '../common/redact.js';

/** Drill test databases carry this prefix, so nothing else can be mistaken for one (or swept as one). */
export const TEST_DATABASE = /^lifeboat_drill_[a-z0-9_]{1,47}$/;

export interface Resolver {
  config: LifeboatConfig;
  /** The worker's environment: hooks take the variables their configuration names from it. */
  env: NodeJS.ProcessEnv;
  /** Every secret of the configuration and the environment, for text about to leave the worker. */
  redactor: Redactor;
  target(name: string): TargetConfig;
  /** The production connection of a target, or the drill's test database on the test server. */
  databaseUrl(target: string, testDatabase?: string): string;
  /** The server where scratch databases are created for a target. */
  scratchServerUrl(target: string): string;
  /** The server where drills create their test databases; never the production connection itself. */
  testServerUrl(target: string): string;
  storeOf(target: string): BackupStore;
  catalogOf(target: string): Catalog;
}

export function createResolver(config: LifeboatConfig, env: NodeJS.ProcessEnv): Resolver {
  /** A configured target; an unknown name is a mistake no retry can mend. */
  function target(name: string): TargetConfig {
    try {
      return targetConfig(config, name);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, FailureType.config);
    }
  }

  function productionUrl(name: string): string {
    const t = target(name);
    const url = env[t.urlEnv];
    if (!url)
      throw ApplicationFailure.nonRetryable(
        `target "${name}": environment variable ${t.urlEnv} (its connection string) is not set on the worker`,
        FailureType.config,
      );
    return url;
  }

  /** The verification server; the target's own only where the configuration says `verifyOn: production`. */
  function scratchServerUrl(name: string): string {
    const t = target(name);
    if (!t.scratchUrlEnv) return productionUrl(name); // the configuration refuses a target with neither
    const url = env[t.scratchUrlEnv];
    if (!url)
      throw ApplicationFailure.nonRetryable(
        `target "${name}": scratchUrlEnv names ${t.scratchUrlEnv}, which is not set on the worker (set it to the verification server's connection string)`,
        FailureType.config,
      );
    return url;
  }

  function testServerUrl(name: string): string {
    const variable = config.drill.testUrlEnv;
    if (!variable) return scratchServerUrl(name);
    const url = env[variable];
    if (!url)
      throw ApplicationFailure.nonRetryable(`drill.testUrlEnv names ${variable}, which is not set on the worker`, FailureType.config);
    if (sameDatabase(url, productionUrl(name))) {
      throw ApplicationFailure.nonRetryable(
        `drill.testUrlEnv (${variable}) is the production connection of target "${name}": point it at a separate server, or at that server's maintenance database`,
        FailureType.config,
      );
    }
    return url;
  }

  function databaseUrl(name: string, testDatabase?: string): string {
    const production = productionUrl(name);
    if (testDatabase === undefined) return production;
    if (!TEST_DATABASE.test(testDatabase))
      throw ApplicationFailure.nonRetryable(
        `"${testDatabase}" is not a drill test database (names start with lifeboat_drill_)`,
        FailureType.input,
      );
    const url = withDatabase(testServerUrl(name), testDatabase);
    if (sameDatabase(url, production))
      throw ApplicationFailure.nonRetryable(
        `the drill's test database ${testDatabase} resolves to the production database of target "${name}": refusing to touch it`,
        FailureType.config,
      );
    return url;
  }

  /** The manifest key, read when needed: a missing one fails that activity, not the worker. */
  function manifestKey(): ManifestKey {
    try {
      return manifestKeyOf(config, env);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, FailureType.config);
    }
  }

  function storeOf(name: string): BackupStore {
    const store = target(name).store;
    return openStore(store, config.stores[store]!, env);
  }

  return {
    config,
    env,
    redactor: new Redactor(workerSecrets(config, env)),
    target,
    databaseUrl,
    scratchServerUrl,
    testServerUrl,
    storeOf,
    catalogOf: (name) => new Catalog(storeOf(name), manifestKey()),
  };
}

/** Whether two connection strings reach the same database (host, port and name). */
export function sameDatabase(a: string, b: string): boolean {
  const key = (url: string) => {
    const c = parse(url);
    const host = !c.host || c.host === 'localhost' || c.host === '::1' ? '127.0.0.1' : c.host;
    return `${host}:${c.port || 5432}/${c.database ?? ''}`;
  };
  return key(a) === key(b);
}
