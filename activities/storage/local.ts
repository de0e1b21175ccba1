// A local folder as a backup store (for laptops, tests, or a mounted network share).
// Objects are written beside their final name and renamed into place, so a half-written
// object is never visible.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LocalStoreConfig } from '../../config/config.js';
import { type BackupStore, type StoredObject, type UploadOptions, StoreError } from './store.js';

const PARTIAL = '.partial';

export class LocalStore implements BackupStore {
  readonly location: string;
  private readonly root: string;

  constructor(
    readonly name: string,
    config: LocalStoreConfig,
  ) {
    this.root = resolve(config.path, config.prefix);
    this.location = this.root;
  }

  /** Maps a key to a path, refusing any key that would leave the store's folder. */
  private path(key: string): string {
    const path = resolve(this.root, key);
    if (path !== this.root && !path.startsWith(this.root + sep)) throw new StoreError(`key ${key} leaves store "${this.name}"`);
    return path;
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (err) {
      throw new StoreError(`store "${this.name}" (${this.root}) cannot be used: ${(err as Error).message}`);
    }
  }

  async upload(key: string, body: Readable, options: UploadOptions = {}): Promise<void> {
    const path = this.path(key);
    const partial = path + PARTIAL;
    await mkdir(dirname(path), { recursive: true });
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        options.onBytes?.(bytes);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, count, createWriteStream(partial), { signal: options.signal });
      await rename(partial, path);
    } catch (err) {
      await rm(partial, { force: true });
      throw new StoreError(`store "${this.name}": failed to write ${key}: ${(err as Error).message}`);
    }
  }

  async putText(key: string, text: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path + PARTIAL, text);
    await rename(path + PARTIAL, path);
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async download(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch {
      throw new StoreError(`store "${this.name}" has no object ${key}`);
    }
    return createReadStream(path, { highWaterMark: 1 << 20 }); // large reads: restores and staging stream it whole
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (!entry.name.endsWith(PARTIAL)) {
          const key = relative(this.root, path).split(sep).join('/');
          if (key.startsWith(prefix)) found.push({ key, size: (await stat(path)).size });
        }
      }
    };
    await walk(this.root);
    return found;
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) await rm(this.path(key), { force: true });
  }
}
