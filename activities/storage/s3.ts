// S3 (or any S3-compatible server) as a backup store. Multipart uploads go through
// @aws-sdk/lib-storage, which bounds memory to partSize × queueSize and aborts on failure.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { S3StoreConfig } from '../../config/config.js';
import { type BackupStore, type StoredObject, type UploadOptions, StoreError, joinKey } from './store.js';

const QUEUE_SIZE = 2;

export class S3Store implements BackupStore {
  readonly location: string;
  private readonly client: S3Client;

  constructor(
    readonly name: string,
    private readonly config: S3StoreConfig,
    env: NodeJS.ProcessEnv,
  ) {
    this.location = `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
    const accessKeyId = env[config.accessKeyIdEnv];
    const secretAccessKey = env[config.secretAccessKeyEnv];
    if (!accessKeyId || !secretAccessKey) {
      throw new StoreError(
        `store "${name}": set ${config.accessKeyIdEnv} and ${config.secretAccessKeyEnv} in the environment (the S3 credentials)`,
      );
    }
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      // S3-compatible stores do not all accept the SDK's default CRC32 trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
  }

  private key(key: string): string {
    return joinKey(this.config.prefix, key);
  }

  private explain(err: unknown, action: string): StoreError {
    const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const code = e.code ?? e.name ?? '';
    const where = `store "${this.name}" (${this.location})`;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'TimeoutError') {
      return new StoreError(`${where} is unreachable while trying to ${action} (${code}): is the store running and the endpoint right?`);
    }
    if (code === 'NoSuchBucket' || (code === 'NotFound' && action === 'check the bucket')) {
      return new StoreError(`${where}: bucket "${this.config.bucket}" does not exist: create it, or fix stores.${this.name}.bucket`);
    }
    if (
      code === 'InvalidAccessKeyId' ||
      code === 'SignatureDoesNotMatch' ||
      code === 'AccessDenied' ||
      e.$metadata?.httpStatusCode === 403
    ) {
      return new StoreError(
        `${where} refused the credentials while trying to ${action} (${code || 403}): check ${this.config.accessKeyIdEnv} and ${this.config.secretAccessKeyEnv}`,
      );
    }
    return new StoreError(`${where}: failed to ${action}: ${code ? `${code}: ` : ''}${e.message ?? String(err)}`);
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
    } catch (err) {
      throw this.explain(err, 'check the bucket');
    }
  }

  async upload(key: string, body: Readable, options: UploadOptions = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key: this.key(key), Body: body },
      partSize: this.config.partSizeMiB * 1024 * 1024,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      if (options.signal?.aborted) throw new StoreError(`upload of ${key} to store "${this.name}" was stopped`);
      throw this.explain(err, `upload ${key}`);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async putText(key: string, text: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(key),
          Body: text,
          ContentLength: Buffer.byteLength(text),
          ContentType: 'application/json',
        }),
      );
    } catch (err) {
      throw this.explain(err, `write ${key}`);
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(key) }));
      return await out.Body!.transformToString('utf8');
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw this.explain(err, `read ${key}`);
    }
  }

  async download(key: string): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(key) }));
      return out.Body as Readable;
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') throw new StoreError(`store "${this.name}" has no object ${key}`);
      throw this.explain(err, `read ${key}`);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const base = this.key('');
    const found: StoredObject[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.config.bucket, Prefix: this.key(prefix) })) {
        for (const o of page.Contents ?? []) {
          if (o.Key) found.push({ key: base ? o.Key.slice(base.length + 1) : o.Key, size: o.Size ?? 0 });
        }
      }
    } catch (err) {
      throw this.explain(err, `list ${prefix || 'backups'}`);
    }
    return found;
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.key(key) }));
      } catch (err) {
        throw this.explain(err, `delete ${key}`);
      }
    }
  }
}
