// A backup store holds objects under relative keys; S3 and a local folder implement it. This
// module imports neither (open.ts chooses between them), so the drivers depend on it alone.
// Uploads are atomic: an object is visible only once it is complete.
import type { Readable } from 'node:stream';
import { FailureType } from '../../common/errors.js';

export interface StoredObject {
  key: string;
  size: number;
}

export interface UploadOptions {
  /** Called with the number of bytes read from the body so far. */
  onBytes?: (bytes: number) => void;
  /** Lets the caller stop an upload; a stopped upload leaves nothing behind. */
  signal?: AbortSignal;
}

export interface BackupStore {
  readonly name: string;
  /** Where the store is, for messages: never holds a secret. */
  readonly location: string;
  /** Refuses with a clear cause when the store cannot be used (down, missing bucket, refused keys). */
  check(): Promise<void>;
  upload(key: string, body: Readable, options?: UploadOptions): Promise<void>;
  putText(key: string, text: string): Promise<void>;
  /** The object's text, or undefined when there is no such object. */
  getText(key: string): Promise<string | undefined>;
  download(key: string): Promise<Readable>;
  /** Every object whose key starts with the prefix. */
  list(prefix: string): Promise<StoredObject[]>;
  delete(keys: string[]): Promise<void>;
}

/** A store that cannot be used; its name is the failure type workflows see (FailureType.store). */
export class StoreError extends Error {
  override name = FailureType.store;
}

/** Joins a store prefix and a key without doubled or leading slashes. */
export function joinKey(prefix: string, key: string): string {
  return [prefix, key].filter(Boolean).join('/').replace(/\/+/g, '/').replace(/^\//, '');
}
