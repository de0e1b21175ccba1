// Opens the store a configuration names: the one place that knows every driver.
import type { StoreConfig } from '../../config/config.js';
import { LocalStore } from './local.js';
import { S3Store } from './s3.js';
import type { BackupStore } from './store.js';

export function openStore(name: string, config: StoreConfig, env = process.env): BackupStore {
  return config.type === 's3' ? new S3Store(name, config, env) : new LocalStore(name, config);
}
