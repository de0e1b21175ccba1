// SSH signatures (OpenSSH's PROTOCOL.sshsig, what `ssh-keygen -Y sign` and git's SSH signing make),
// verified in pure JavaScript so that a workflow's update validator can check them
// deterministically: no Node crypto, no randomness, no clock.
//
// Guarantees:
// - A signature verifies only under the namespace asked for, over exactly the message given, and
//   by one of the allowed keys (the key inside the signature must equal an allowed key byte for byte).
// - Ed25519 and ECDSA P-256/P-384 keys are accepted (what `ssh-keygen -t ed25519|ecdsa` makes);
//   anything else is refused with the advice to use one of them, never silently accepted.
// - Every refusal says what is wrong and what to do.
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
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
function fromBase64(text: string): Uint8Array {
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

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Reads SSH wire-format fields (RFC 4251: uint32, length-prefixed strings). */
class Reader {
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

function writeString(parts: Uint8Array[], value: Uint8Array): void {
  const n = value.length;
  parts.push(new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]), value);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ─── keys ───

const ADVICE = 'use an Ed25519 key (ssh-keygen -t ed25519) or an ECDSA one';

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

// ─── signatures ───

const MAGIC = utf8('SSHSIG');
const HASHES = { sha256, sha512 } as const;

interface ParsedSignature {
  publicKey: Uint8Array;
  namespace: string;
  hashAlgorithm: keyof typeof HASHES;
  signatureType: string;
  signature: Uint8Array;
}

/** Parses an armored "-----BEGIN SSH SIGNATURE-----" block. */
function parseSignature(armored: string): ParsedSignature {
  const m = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(armored);
  if (!m) throw new SignatureError('not an SSH signature: expected the armored output of "ssh-keygen -Y sign"');
  const r = new Reader(fromBase64(m[1]!), 'the signature');
  if (!equal(r.raw(6), MAGIC)) throw new SignatureError('not an SSH signature (no SSHSIG preamble)');
  const version = r.uint32();
  if (version !== 1) throw new SignatureError(`SSH signature version ${version} is not supported`);
  const publicKey = r.string();
  const namespace = text(r.string());
  r.string(); // reserved
  const hashAlgorithm = text(r.string());
  const sig = new Reader(r.string(), 'the signature');
  r.end();
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512')
    throw new SignatureError(`hash ${hashAlgorithm} is not allowed in SSH signatures`);
  const signatureType = text(sig.string());
  const signature = sig.string();
  sig.end();
  return { publicKey, namespace, hashAlgorithm, signatureType, signature };
}

/** The bytes a sshsig signature covers: the preamble, namespace, hash algorithm and the message's hash. */
function signedData(namespace: string, hashAlgorithm: keyof typeof HASHES, message: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [MAGIC];
  writeString(parts, utf8(namespace));
  writeString(parts, new Uint8Array());
  writeString(parts, utf8(hashAlgorithm));
  writeString(parts, HASHES[hashAlgorithm](message));
  return concat(parts);
}

/** An ECDSA signature in SSH form (mpint r, mpint s) as the 2×n bytes noble expects. */
function ecdsaCompact(signature: Uint8Array, size: number): Uint8Array {
  const r = new Reader(signature, 'the ECDSA signature');
  const fixed = (mpint: Uint8Array) => {
    const trimmed = mpint[0] === 0 ? mpint.subarray(1) : mpint;
    if (trimmed.length > size) throw new SignatureError('the ECDSA signature is malformed');
    const out = new Uint8Array(size);
    out.set(trimmed, size - trimmed.length);
    return out;
  };
  const out = concat([fixed(r.string()), fixed(r.string())]);
  r.end();
  return out;
}

function verifyWithKey(key: Uint8Array, signatureType: string, signature: Uint8Array, data: Uint8Array): boolean {
  const r = new Reader(key, 'the public key');
  const type = text(r.string());
  if (type === 'ssh-ed25519') {
    const point = r.string();
    return signatureType === 'ssh-ed25519' && ed25519.verify(signature, data, point);
  }
  const curve =
    type === 'ecdsa-sha2-nistp256'
      ? { c: p256, size: 32, hash: sha256 }
      : type === 'ecdsa-sha2-nistp384'
        ? { c: p384, size: 48, hash: sha384 }
        : undefined;
  if (!curve) throw new SignatureError(`${type} keys are not supported: ${ADVICE}`);
  r.string(); // curve name
  const point = r.string();
  if (signatureType !== type) return false;
  // SSH hashes the data with the curve's hash; noble is given the digest, prehash off.
  return curve.c.verify(ecdsaCompact(signature, curve.size), curve.hash(data), point, { prehash: false, lowS: false });
}

export interface VerifiedSignature {
  key: SshPublicKey;
}

/**
 * Verifies an armored SSH signature over `message` under `namespace`, made by one of `allowed`.
 * Throws SignatureError with the reason otherwise.
 */
export function verifySshSignature(
  armored: string,
  message: string,
  namespace: string,
  allowed: readonly SshPublicKey[],
): VerifiedSignature {
  const parsed = parseSignature(armored);
  if (parsed.namespace !== namespace) {
    throw new SignatureError(
      `the signature is for namespace "${parsed.namespace}", not "${namespace}": sign with ssh-keygen -Y sign -n ${namespace}`,
    );
  }
  const key = allowed.find((k) => equal(k.blob, parsed.publicKey));
  if (!key) throw new SignatureError(`the signing key ${fingerprintOf(parsed.publicKey)} is not an allowed key for this person`);
  let valid = false;
  try {
    valid = verifyWithKey(key.blob, parsed.signatureType, parsed.signature, signedData(namespace, parsed.hashAlgorithm, utf8(message)));
  } catch (err) {
    if (err instanceof SignatureError) throw err;
  }
  if (!valid) throw new SignatureError(`the signature by ${key.fingerprint} does not match what was signed`);
  return { key };
}

/** The fingerprint of the key that made an armored signature, read from the signature without checking it. */
export function signerOf(armored: string): string {
  return fingerprintOf(parseSignature(armored).publicKey);
}

/** Hex SHA-256 of a text: binds a reason or note into a signed statement without repeating it. */
export function sha256Hex(value: string): string {
  return bytesToHex(sha256(utf8(value)));
}
