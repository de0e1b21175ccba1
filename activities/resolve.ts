// Resolves the names that workflows pass (targets, stores) to connections, from the worker's
// configuration and environment: secrets stay in the worker. Unknown names are not retried.
import { ApplicationFailure } from '@temporalio/common';
import { type LifeboatConfig, type TargetConfig, targetConfig } from '../worker/config.js';
import { Catalog } from './storage/catalog.js';
import { type BackupStore, openStore } from './storage/store.js';

export interface Resolver {
  config: LifeboatConfig;
  target(name: string): TargetConfig;
  databaseUrl(target: string): string;
  /** The server where scratch and test databases are created for a target. */
  scratchServerUrl(target: string): string;
  storeOf(target: string): BackupStore;
  catalogOf(target: string): Catalog;
}

export function createResolver(config: LifeboatConfig, env: NodeJS.ProcessEnv): Resolver {
  /** A configured target; an unknown name is a mistake no retry can mend. */
  function target(name: string): TargetConfig {
    try {
      return targetConfig(config, name);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, 'ConfigError');
    }
  }

  function databaseUrl(name: string): string {
    const t = target(name);
    const url = env[t.urlEnv];
    if (!url) throw ApplicationFailure.nonRetryable(`target "${name}": environment variable ${t.urlEnv} (its connection string) is not set on the worker`, 'ConfigError');
    return url;
  }

  function storeOf(name: string): BackupStore {
    const store = target(name).store;
    return openStore(store, config.stores[store]!, env);
  }

  return {
    config,
    target,
    databaseUrl,
    scratchServerUrl(name) {
      const t = target(name);
      return (t.scratchUrlEnv && env[t.scratchUrlEnv]) || databaseUrl(name);
    },
    storeOf,
    catalogOf: (name) => new Catalog(storeOf(name)),
  };
}
