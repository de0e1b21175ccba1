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
import { ADVICE, Reader, SignatureError, type SshPublicKey, fingerprintOf, fromBase64, text, utf8 } from './ssh-keys.js';

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
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
