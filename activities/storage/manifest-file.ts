// A backup's manifest.json and verification.json, written and read back. Guarantees:
// - Reading never throws: a manifest that is not JSON (truncated), not shaped like a manifest,
//   not in its own backup's folder (copied there, or foreign) or, when the worker holds a key, not
//   signed with it, comes back as damaged with the reason, so one bad object hides no other backup.
// - With a key, a manifest carries an HMAC-SHA256 over its canonical JSON (keys sorted, no spaces):
//   whoever can write to the bucket but lacks the key cannot swap a dump and fix its checksum.
// - With a key, a verification.json is signed the same way (under its own domain): a verdict
//   forged in the bucket reads as no verification at all, never as "passed".
// - The key is only ever passed to the HMAC: it is never returned, logged or written.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { BackupManifest, VerificationRecord } from '../../common/backups.js';
import { ConfigError } from '../../common/errors.js';
import type { LifeboatConfig } from '../../config/config.js';

/** The field the HMAC is stored in, beside the manifest's own fields. */
const MAC_FIELD = 'hmacSha256';
/** Binds the HMAC to this use of the key: the same key signs nothing else that could be mistaken for a manifest. */
const DOMAIN = 'lifeboat-manifest-v1\n';
const MIN_KEY_LENGTH = 32;

const manifestShape = z.object({
  id: z.string(),
  target: z.string(),
  store: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationMs: z.number(),
  serverVersion: z.string(),
  pgDumpVersion: z.string(),
  format: z.literal('custom'),
  compression: z.number(),
  sizeBytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  tables: z.record(z.string(), z.number()),
  onlyTables: z.array(z.string()).optional(),
  privileges: z
    .record(
      z.string(),
      z.object({
        owner: z.string(),
        grants: z.array(z.object({ grantee: z.string(), privilege: z.string(), grantor: z.string(), grantable: z.boolean() })).nullable(),
      }),
    )
    .optional(),
  databaseOwner: z.string().optional(),
  tags: z.array(z.string()),
  reason: z.string(),
  lifeboatVersion: z.string(),
});

/** The key manifests are signed and checked with: undefined when the configuration names none. */
export type ManifestKey = Buffer | undefined;

/** Reads the key from the variable `backup.manifestKeyEnv` names; a named but unset (or short) variable is refused. */
export function manifestKeyOf(config: LifeboatConfig, env: NodeJS.ProcessEnv): ManifestKey {
  const variable = config.backup.manifestKeyEnv;
  if (!variable) return undefined;
  const value = env[variable];
  if (!value)
    throw new ConfigError(
      `backup.manifestKeyEnv names ${variable}, which is not set: set it to the manifest key (the same on every worker and CLI that reads the store)`,
    );
  if (value.length < MIN_KEY_LENGTH)
    throw new ConfigError(`${variable} is shorter than ${MIN_KEY_LENGTH} characters: make a key with "openssl rand -hex 32"`);
  return Buffer.from(value, 'utf8');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function mac(body: unknown, key: Buffer, domain = DOMAIN): Buffer {
  return createHmac('sha256', key).update(domain).update(canonical(body)).digest();
}

/** JSON text of `value`, with its HMAC under `domain` when there is a key. */
function signedText(value: object, key: ManifestKey, domain: string): string {
  const body = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  return JSON.stringify(key ? { ...body, [MAC_FIELD]: mac(body, key, domain).toString('hex') } : body, null, 2);
}

/** Whether `stored` is the HMAC of `body` under `domain` (constant-time). */
function macMatches(body: unknown, stored: unknown, key: Buffer, domain: string): boolean {
  if (typeof stored !== 'string') return false;
  const expected = mac(body, key, domain);
  const given = Buffer.from(stored, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The file's text: the manifest, with its HMAC when there is a key. */
export function manifestText(manifest: BackupManifest, key: ManifestKey): string {
  return signedText(manifest, key, DOMAIN);
}

const VERIFICATION_DOMAIN = 'lifeboat-verification-v1\n';

export function verificationText(record: VerificationRecord, key: ManifestKey): string {
  return signedText(record, key, VERIFICATION_DOMAIN);
}

/**
 * The verification record of backup `backupId`, or undefined when there is none that can be
 * trusted: not JSON, about another backup, or (with a key) unsigned or signed otherwise.
 */
export function readVerification(text: string, backupId: string, key: ManifestKey): VerificationRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const { [MAC_FIELD]: stored, ...body } = raw as Record<string, unknown>;
  if (body.backupId !== backupId) return undefined;
  if (key && !macMatches(body, stored, key, VERIFICATION_DOMAIN)) return undefined;
  return body as unknown as VerificationRecord;
}

export type ManifestRead = { manifest: BackupManifest; damaged?: undefined } | { damaged: string; manifest?: undefined };

/** Reads the manifest found in backup `folderId`'s folder of `target`; see the header for what makes it damaged. */
export function readManifest(text: string, where: { folderId: string; target: string }, key: ManifestKey): ManifestRead {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { damaged: `manifest is not valid JSON (truncated?): ${(err as Error).message}` };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { damaged: 'manifest is not a JSON object' };
  const { [MAC_FIELD]: stored, ...body } = raw as Record<string, unknown>;
  const shaped = manifestShape.safeParse(body);
  if (!shaped.success) {
    const issue = shaped.error.issues[0]!;
    return { damaged: `not a Lifeboat manifest: ${issue.path.join('.') || '(top level)'}: ${issue.message}` };
  }
  const manifest = shaped.data as BackupManifest;
  if (manifest.id !== where.folderId)
    return { damaged: `manifest names backup ${manifest.id} but lies in the folder of ${where.folderId} (copied or foreign)` };
  if (manifest.target !== where.target) return { damaged: `manifest is of target ${manifest.target}, found under ${where.target}` };
  if (key) {
    if (typeof stored !== 'string') return { damaged: 'manifest is not signed with the manifest key (written without it, or edited)' };
    if (!macMatches(body, stored, key, DOMAIN))
      return { damaged: 'manifest signature does not match: edited after it was written, or signed with another key' };
  }
  return { manifest };
}
