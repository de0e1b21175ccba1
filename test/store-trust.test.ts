// A store Lifeboat can trust: a truncated, stray or copied manifest is listed as damaged and never
// blocks the catalogue or a plan's choice; the choice walks to the newest backup whose checksum
// verifies and names what it skipped; with a manifest key, an edited or unsigned manifest is refused.
// On a local store with hand-made dumps: no server is needed to decide which bytes can be trusted.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createBackupActivities } from '../activities/backups/activities.js';
import { createResolver } from '../activities/resolve.js';
import type { BackupManifest } from '../common/backups.js';
import { backupFolder, backupIdFor, dumpKey } from '../common/names.js';
import { parseConfig } from '../config/config.js';
import { observed } from './helpers.js';

const KEY = 'k'.repeat(64);

function setUp(keyed: boolean) {
  const config = parseConfig(
    `targets: { crm: { urlEnv: CRM_URL, store: disk, verifyOn: production, tables: [crm_leads] } }
stores: { disk: { type: local, path: "${mkdtempSync(join(tmpdir(), 'lifeboat-trust-'))}" } }
${keyed ? 'backup: { manifestKeyEnv: LIFEBOAT_MANIFEST_KEY }' : ''}`,
    'test',
    {},
  );
  const resolver = createResolver(config, { CRM_URL: 'postgres://127.0.0.1/crm', LIFEBOAT_MANIFEST_KEY: KEY });
  const catalog = resolver.catalogOf('crm');
  const activities = createBackupActivities(resolver, 'test');
  const run = <T>(fn: () => Promise<T>) => new MockActivityEnvironment().run(fn) as Promise<T>;

  /** A backup whose dump holds `content`, verified (passed) unless told otherwise. */
  async function backup(at: string, content: string, verified = true): Promise<BackupManifest> {
    const id = backupIdFor('crm', new Date(at), 'a1b2c3');
    await catalog.store.upload(dumpKey(id), Readable.from([Buffer.from(content)]));
    const manifest = {
      id,
      target: 'crm',
      store: 'disk',
      startedAt: new Date(at).toISOString(),
      finishedAt: new Date(at).toISOString(),
      durationMs: 1,
      serverVersion: '15',
      pgDumpVersion: '15',
      format: 'custom',
      compression: 1,
      sizeBytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      tables: { crm_leads: 1 },
      tags: [],
      reason: 'test',
      lifeboatVersion: 'test',
    } satisfies BackupManifest;
    await catalog.writeManifest(manifest);
    if (verified)
      await catalog.writeVerification({ backupId: id, verifiedAt: at, result: 'passed', durationMs: 1, tables: {}, findings: [] });
    return manifest;
  }
  return { catalog, activities, run, backup, store: catalog.store };
}

describe('a catalogue that goes on past what it cannot trust', () => {
  it('lists a truncated, a stray and a copied manifest as damaged, and still lists and chooses the good backups', async () => {
    const { catalog, activities, run, backup, store } = setUp(false);
    const older = await backup('2026-11-01T02:00:00Z', 'older dump');
    const newest = await backup('2026-11-02T02:00:00Z', 'newest dump');
    const truncatedId = backupIdFor('crm', new Date('2026-11-03T02:00:00Z'));
    await store.putText(`${backupFolder(truncatedId)}/manifest.json`, '{"id": "crm-2026');
    await store.putText('crm/daily/2026-11-03/not-a-backup/manifest.json', '{"hello": "world"}');
    const copiedId = backupIdFor('crm', new Date('2026-11-04T02:00:00Z'));
    await store.putText(`${backupFolder(copiedId)}/manifest.json`, (await store.getText(`${backupFolder(newest.id)}/manifest.json`))!);

    const survey = await catalog.survey('crm');
    expect(survey.backups.map((b) => b.manifest.id)).toEqual([newest.id, older.id]);
    expect(survey.damaged).toEqual([
      { id: 'not-a-backup', key: 'crm/daily/2026-11-03/not-a-backup/manifest.json', reason: expect.stringContaining('not a backup id') },
      { id: copiedId, key: `${backupFolder(copiedId)}/manifest.json`, reason: expect.stringContaining(`names backup ${newest.id}`) },
      { id: truncatedId, key: `${backupFolder(truncatedId)}/manifest.json`, reason: expect.stringContaining('not valid JSON') },
    ]);
    expect((await run(() => activities.listBackups({ target: 'crm' }))).map((b) => b.manifest.id)).toEqual([newest.id, older.id]);

    const chosen = await run(() => activities.chooseBackup({ target: 'crm', before: '2026-12-01T00:00:00Z' }));
    expect(chosen).toMatchObject({ id: newest.id, startedAt: newest.startedAt });
    expect(chosen.skipped.map((s) => s.id)).toEqual(['not-a-backup', copiedId, truncatedId]);
    await expect(run(() => activities.getBackup({ backupId: truncatedId }))).rejects.toMatchObject({
      type: 'DamagedBackup',
      nonRetryable: true,
      message: expect.stringMatching(/^backup .* cannot be used: manifest is not valid JSON .*lifeboat backups/),
    });
    observed(
      'truncated and foreign manifests',
      'a truncated, a stray and a copied manifest listed as damaged; the good backups still listed and chosen',
    );
  });

  it('chooses the newest verified backup whose checksum verifies, naming the damaged newer one', async () => {
    const { activities, run, backup, store } = setUp(false);
    const older = await backup('2026-11-01T02:00:00Z', 'older dump');
    const newest = await backup('2026-11-02T02:00:00Z', 'newest dump');
    await store.upload(dumpKey(newest.id), Readable.from([Buffer.from('newest dunp')])); // one byte flipped
    const chosen = await run(() => activities.chooseBackup({ target: 'crm', before: '2026-12-01T00:00:00Z' }));
    expect(chosen.id).toBe(older.id);
    expect(chosen.skipped).toEqual([{ id: newest.id, reason: expect.stringMatching(/^SHA-256 mismatch/) }]);

    await store.upload(dumpKey(older.id), Readable.from([Buffer.from('older dunp')]));
    await expect(run(() => activities.chooseBackup({ target: 'crm', before: '2026-12-01T00:00:00Z' }))).rejects.toMatchObject({
      type: 'NoUsableBackup',
      message: expect.stringMatching(
        new RegExp(`^no verified, intact backup of crm .*${newest.id} \\(SHA-256 mismatch.*lifeboat verify latest`),
      ),
    });
    observed('flipped byte in the newest dump', 'the newest backup skipped as damaged, named in the step; the next intact one chosen');
  });

  it('with a manifest key, refuses a manifest edited to match a swapped dump, and an unsigned one', async () => {
    const { catalog, activities, run, backup, store } = setUp(true);
    const older = await backup('2026-11-01T02:00:00Z', 'older dump');
    const swapped = await backup('2026-11-02T02:00:00Z', 'newest dump');
    // Whoever can write to the bucket swaps the dump and fixes the checksum in the manifest.
    const evil = 'DROP TABLE crm_leads';
    await store.upload(dumpKey(swapped.id), Readable.from([Buffer.from(evil)]));
    const key = `${backupFolder(swapped.id)}/manifest.json`;
    const signed = JSON.parse((await store.getText(key))!) as Record<string, unknown>;
    expect(signed.hmacSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.getText(key)).not.toContain(KEY);
    await store.putText(
      key,
      JSON.stringify({ ...signed, sizeBytes: evil.length, sha256: createHash('sha256').update(evil).digest('hex') }),
    );
    const unsignedId = backupIdFor('crm', new Date('2026-11-03T02:00:00Z'));
    const unsigned: Record<string, unknown> = { ...signed, id: unsignedId };
    delete unsigned.hmacSha256;
    await store.putText(`${backupFolder(unsignedId)}/manifest.json`, JSON.stringify(unsigned));

    const survey = await catalog.survey('crm');
    expect(survey.backups.map((b) => b.manifest.id)).toEqual([older.id]);
    expect(survey.damaged).toEqual([
      { id: unsignedId, key: expect.any(String), reason: expect.stringContaining('not signed with the manifest key') },
      { id: swapped.id, key, reason: expect.stringContaining('signature does not match') },
    ]);
    await expect(run(() => activities.getBackup({ backupId: swapped.id }))).rejects.toMatchObject({ type: 'DamagedBackup' });
    expect((await run(() => activities.chooseBackup({ target: 'crm', before: '2026-12-01T00:00:00Z' }))).id).toBe(older.id);
  });

  it('with a manifest key, reads a verification forged in the bucket as no verification, never as passed', async () => {
    const { catalog, activities, run, backup, store } = setUp(true);
    const verified = await backup('2026-11-01T02:00:00Z', 'verified dump');
    const failed = await backup('2026-11-02T02:00:00Z', 'newer dump', false);
    await catalog.writeVerification({
      backupId: failed.id,
      verifiedAt: '2026-11-02T03:00:00Z',
      result: 'failed',
      durationMs: 1,
      tables: {},
      findings: [],
    });
    expect((await catalog.find(verified.id, 'crm'))?.verification?.result).toBe('passed');
    // Whoever can write to the bucket turns the failed verdict into a pass, keeping its signature.
    const key = `${backupFolder(failed.id)}/verification.json`;
    const signed = JSON.parse((await store.getText(key))!) as Record<string, unknown>;
    expect(signed.hmacSha256).toMatch(/^[0-9a-f]{64}$/);
    await store.putText(key, JSON.stringify({ ...signed, result: 'passed' }));
    expect((await catalog.find(failed.id, 'crm'))?.verification).toBeUndefined();
    // A verdict copied from another backup's folder is not this backup's either.
    await store.putText(key, (await store.getText(`${backupFolder(verified.id)}/verification.json`))!);
    expect((await catalog.find(failed.id, 'crm'))?.verification).toBeUndefined();
    // So the plans' choice (newest verified) stays on the backup that really passed.
    expect((await run(() => activities.chooseBackup({ target: 'crm', before: '2026-12-01T00:00:00Z' }))).id).toBe(verified.id);
    observed(
      'forged manifest or verification in the bucket',
      'an edited manifest and an unsigned one refused; a forged verification read as none',
    );
  });

  it('refuses to list a store whose manifest key is named but not set, saying what to set', () => {
    const config = parseConfig(
      `targets: { crm: { urlEnv: CRM_URL, store: disk, verifyOn: production, tables: [crm_leads] } }
stores: { disk: { type: local, path: /tmp/unused } }
backup: { manifestKeyEnv: LIFEBOAT_MANIFEST_KEY }`,
      'test',
      {},
    );
    expect(() => createResolver(config, {}).catalogOf('crm')).toThrow(
      /backup.manifestKeyEnv names LIFEBOAT_MANIFEST_KEY, which is not set: set it to the manifest key/,
    );
    expect(() => createResolver(config, { LIFEBOAT_MANIFEST_KEY: 'short' }).catalogOf('crm')).toThrow(/openssl rand -hex 32/);
  });
});
