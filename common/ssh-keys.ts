// SSH public keys as authorized_keys and .pub files write them: parsed, typed and fingerprinted
// (as `ssh-keygen -lf` prints), with the wire-format reading and encodings the signatures
// (common/sshsig.ts) share. No curve arithmetic here: loading the configuration, which checks every
// enrolled key, does not load the elliptic-curve library, which only verifying a signature needs.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export class SignatureError extends Error {
  override name = 'SignatureError';
}

const KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384'] as const;
export type SshKeyType = (typeof KEY_TYPES)[number];

export interface SshPublicKey {
  type: SshKeyType;
  /** The key in SSH wire format, as in authorized_keys (base64-decoded). */
  blob: Uint8Array;
  /** "SHA256:…", as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  comment?: string;
}

// ─── encodings ───

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// The workflow sandbox has neither Buffer nor atob: a strict decoder of the standard alphabet.
export function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) throw new SignatureError('not valid base64');
  const body = clean.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of body) {
    value = (value << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

function toBase64(bytes: Uint8Array, pad = true): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += B64[(n >> (18 - 6 * c)) & 63];
  }
  return pad ? out.padEnd(Math.ceil(out.length / 4) * 4, '=') : out;
}

export const utf8 = (text: string) => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Reads SSH wire-format fields (RFC 4251: uint32, length-prefixed strings). */
export class Reader {
  private at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}
  uint32(): number {
    if (this.at + 4 > this.bytes.length) throw new SignatureError(`${this.what} is truncated`);
    const b = this.bytes;
    const v = ((b[this.at]! << 24) >>> 0) + (b[this.at + 1]! << 16) + (b[this.at + 2]! << 8) + b[this.at + 3]!;
    this.at += 4;
    return v;
  }
  string(): Uint8Array {
    const length = this.uint32();
    if (this.at + length > this.bytes.length) throw new SignatureError(`${this.what} is truncated`);
    const s = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return s;
  }
  raw(length: number): Uint8Array {
    if (this.at + length > this.bytes.length) throw new SignatureError(`${this.what} is truncated`);
    const s = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return s;
  }
  end(): void {
    if (this.at !== this.bytes.length) throw new SignatureError(`${this.what} has trailing bytes`);
  }
}
// ─── keys ───

export const ADVICE = 'use an Ed25519 key (ssh-keygen -t ed25519) or an ECDSA one';

function keyTypeOf(blob: Uint8Array): SshKeyType {
  const type = text(new Reader(blob, 'the public key').string());
  if (!(KEY_TYPES as readonly string[]).includes(type)) throw new SignatureError(`${type} keys are not supported: ${ADVICE}`);
  return type as SshKeyType;
}

/** "SHA256:…" of a key blob, as `ssh-keygen -lf` shows it. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${toBase64(sha256(blob), false)}`;
}

/** Parses one public key as written in authorized_keys or a .pub file: "<type> <base64> [comment]". */
export function parsePublicKey(line: string): SshPublicKey {
  const [type, data, ...comment] = line.trim().split(/\s+/);
  if (!type || !data)
    throw new SignatureError(`"${line.slice(0, 40)}" is not an SSH public key: expected "<type> <base64> [comment]" as in a .pub file`);
  let blob: Uint8Array;
  try {
    blob = fromBase64(data);
  } catch {
    throw new SignatureError(`the ${type} public key is not valid base64: copy the whole line of the .pub file`);
  }
  const inner = keyTypeOf(blob);
  if (inner !== type) throw new SignatureError(`the public key says ${type} but holds a ${inner} key`);
  return { type: inner, blob, fingerprint: fingerprintOf(blob), ...(comment.length ? { comment: comment.join(' ') } : {}) };
}

/** Hex SHA-256 of a text: binds a reason or note into a signed statement without repeating it. */
export function sha256Hex(value: string): string {
  return bytesToHex(sha256(utf8(value)));
}
