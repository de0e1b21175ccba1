// A pass-through stream that hashes (SHA-256) and counts the bytes flowing through it: how a dump
// is checksummed on its way into the store, and a stored dump on its way out.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface HashTap {
  stream: Transform;
  /** Hex SHA-256 of everything that went through; call once the stream has ended. */
  digest(): string;
  size(): number;
}

export function hashTap(options: {
  onBytes?: (bytes: number) => void;
  /** false: swallow the bytes once hashed (a checksum pass with no sink). */
  forward?: boolean;
  /** Awaited before the stream ends, so a producer's failure fails the stream instead of ending it cleanly. */
  beforeEnd?: () => Promise<unknown>;
}): HashTap {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      options.onBytes?.(size);
      done(null, options.forward === false ? undefined : chunk);
    },
    flush(done) {
      if (!options.beforeEnd) return done(null);
      options.beforeEnd().then(
        () => done(null),
        (err: Error) => done(err),
      );
    },
  });
  return { stream, digest: () => hash.digest('hex'), size: () => size };
}
