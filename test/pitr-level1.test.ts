// An L1 at a moment: the rows a script deleted come back as they were just before, from a side
// instance restored there by pgBackRest, while a later good change to another row stays; the side
// instance is removed at the end and the RPO is measured from the moment actually recovered to.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abort } from '../client/incidents.js';
import type { RunResult } from '../common/plans.js';
import { findJsonSchema, physicalBackupsJsonSchema, walJsonSchema } from '../client/pitr-json.js';
import { declareOn, useArchivingCluster } from './pitr-cluster.js';
import { answer, as, runLifeboat, tableSums, testConfigText, waitingFor } from './helpers.js';

describe('L1 at a moment (point-in-time recovery)', () => {
  const suite = useArchivingCluster('pitrl1', 60, 'approvals:\n  L1: { approvers: [alice, bob, carol] }');

  const leadsOf = (ids: string[]) => suite.c.sql('SELECT * FROM crm_leads WHERE id = ANY($1::bigint[]) ORDER BY id', [ids]);
  const childrenOf = (ids: string[]) => suite.c.sql('SELECT * FROM crm_activities WHERE lead_id = ANY($1::bigint[]) ORDER BY id', [ids]);
  /** Declares an L1 of the leads `keys` (and their children) at the moment `goodAt`, as carol. */
  const declareL1At = (summary: string, keys: string[], goodAt: string) =>
    declareOn(suite.worker, 'L1', summary, {
      record: { table: 'crm_leads', keys, includeChildren: true, goodBefore: new Date().toISOString() },
      moment: { kind: 'time', time: goodAt },
    });

  it('brings back the deleted leads and their children as they were just before, keeping a later change to another lead', async () => {
    await suite.c.fullBackup();
    const ids = (await suite.c.sql<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 4 OFFSET 10')).map((r) => r.id);
    const [deleted, later] = [ids.slice(0, 3), ids[3]!];
    const [leadsBefore, childrenBefore] = [await leadsOf(deleted), await childrenOf(deleted)];
    expect(childrenBefore.length).toBeGreaterThan(0);
    const goodAt = (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    await suite.c.sql('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [deleted]);
    const deletedBy = (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    // A good change made after the bad one, to another lead: an L1 from a backup would know nothing of it either way; this one must keep it.
    await suite.c.sql(`UPDATE crm_leads SET status = 'won', updated_at = now() WHERE id = $1`, [later]);
    const laterLead = await leadsOf([later]);
    await suite.c.archiveNow();

    const { input, handle } = await declareL1At('a script deleted 3 leads', deleted, goodAt);
    const plan = suite.worker.client.workflow.getHandle(`${input.incidentId}-L1`);
    const request = (await waitingFor(plan, 'apply-restore')).waiting[0]!.request!;
    expect(request.changes.find((line) => line.startsWith('crm_leads:'))).toContain('insert 3 missing row(s)');
    expect(request.backup?.id).toMatch(/^point-in-time /);
    await answer(plan, 'approve', { gate: 'apply-restore', by: 'alice' });
    await waitingFor(handle, 'review');
    await answer(handle, 'complete', { task: 'review', by: 'carol', note: 'script fixed' });
    const result = (await handle.result()) as RunResult;
    expect(result.outcome).toBe('recovered');

    expect(await leadsOf(deleted)).toEqual(leadsBefore);
    expect(await childrenOf(deleted)).toEqual(childrenBefore);
    expect(await leadsOf([later])).toEqual(laterLead);
    // Recovered to just before the deletion's commit: every commit before it is there, and the RPO counts from it.
    const recoveredTo = result.backupUsed!.startedAt;
    expect(recoveredTo >= goodAt && recoveredTo <= deletedBy).toBe(true);
    expect(result.rto!.rpoAchievedMs).toBe(Date.parse(input.declaredAt) - Date.parse(recoveredTo));
    const sideId = input.incidentId.toLowerCase();
    expect(existsSync(join(suite.c.server.pgbackrest!.dir, 'side', sideId))).toBe(false);
    expect(result.timeline.map((e) => [e.name, e.status]).filter(([name]) => /side instance/.test(name!))).toEqual([
      [expect.stringContaining('identify: restore the cluster to the moment'), 'done'],
      ['identify: stage the affected records from the side instance', 'done'],
      ['clean up the side instance', 'done'],
    ]);
  }, 600_000);

  it('an L1 at a moment aborted at its approval stops and removes its side instance, and production stays as it was', async () => {
    const ids = (await suite.c.sql<{ id: string }>('SELECT id::text FROM crm_leads ORDER BY id LIMIT 2 OFFSET 30')).map((r) => r.id);
    const goodAt = (await suite.c.sql<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    await suite.c.sql('DELETE FROM crm_leads WHERE id = ANY($1::bigint[])', [ids]);
    await suite.c.archiveNow();
    const damaged = await tableSums(suite.c.url);
    const { input, handle } = await declareL1At('declared at the wrong moment', ids, goodAt);
    await waitingFor(suite.worker.client.workflow.getHandle(`${input.incidentId}-L1`), 'apply-restore');
    const side = join(suite.c.server.pgbackrest!.dir, 'side', input.incidentId.toLowerCase());
    expect(existsSync(join(side, 'data', 'postmaster.pid'))).toBe(true);
    await abort(suite.worker.client, input.incidentId, { ...as('carol'), reason: 'wrong moment' });
    const result = (await handle.result()) as RunResult;
    expect(result.outcome).toBe('aborted');
    expect(existsSync(side)).toBe(false);
    expect(await tableSums(suite.c.url)).toEqual(damaged);
  }, 600_000);

  it('lifeboat pitr find lists the deletions of the leads, and lifeboat backups lists the physical backups after the logical ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-pitr-cli-'));
    const config = join(dir, 'lifeboat.yaml');
    writeFileSync(config, suite.c.configText);
    const env = { ...process.env, ...suite.c.env };
    const find = await runLifeboat(['--config', config, 'pitr', 'find', '--table', 'crm_leads'], env);
    expect(find.code).toBe(0);
    // The first test's deletion of 3 leads and this file's deletion of 2, each one transaction: xid, commit time, deleted, updated.
    const deletions = find.stdout.split('\n').filter((line) => /^\d+\s+\d{4}-\d\d-\d\d \S+\s+[1-9]\d*\s+0\s/.test(line));
    expect(deletions.map((line) => line.split(/\s+/)[3])).toEqual(['3', '2']);
    const backups = await runLifeboat(['--config', config, 'backups'], env);
    expect(backups.code).toBe(0);
    expect(backups.stdout).toMatch(
      /physical backups of crm \(pgBackRest stanza "pitrl1-[0-9a-f]+": ok; WAL archived [0-9A-F]{24} … [0-9A-F]{24}\)/,
    );
    expect(backups.stdout).toMatch(/\d{8}-\d{6}F\s+full\s/);

    // The same, for scripts: each --json validated against its documented shape.
    const json = async (...args: string[]) => {
      const r = await runLifeboat(['--config', config, 'pitr', ...args, '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as unknown;
    };
    const catalog = physicalBackupsJsonSchema.parse(await json('backups'));
    expect(catalog.backups.map((b) => b.type)).toContain('full');
    expect(catalog.walMax! >= catalog.backups.at(-1)!.walStop).toBe(true);
    const wal = walJsonSchema.parse(await json('wal'));
    expect(wal).toMatchObject({ fresh: true, failingWal: null, stanza: catalog.stanza });
    const found = findJsonSchema.parse(await json('find', '--table', 'crm_leads'));
    expect(found.transactions.filter((t) => t.deleted > 0 && t.updated === 0).map((t) => t.deleted)).toEqual([3, 2]);
  }, 300_000);

  it('declare refuses a moment it cannot use, before anything runs (exit 2), saying what to write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-pitr-cli-'));
    const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    const physical = file(
      'physical.yaml',
      testConfigText({ prefix: 'x', crmExtra: `    physical:\n      tool: pgbackrest\n      repoEndpoint: https://localhost:1` }),
    );
    const plainHttp = file('http.yaml', testConfigText({ prefix: 'x', crmExtra: `    physical: pgbackrest` }));
    const logical = file('logical.yaml', testConfigText({ prefix: 'x' }));
    const env = { ...process.env, ...suite.c.env };
    const declare = (config: string, ...args: string[]) =>
      runLifeboat(
        ['--config', config, 'declare', '--level', 'L1', '--table', 'crm_leads', '--keys', '1', '--summary', 'x', '--as', 'carol', ...args],
        env,
      );
    expect(await declare(physical, '--at', 'yesterday')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('"yesterday" is not a time'),
    });
    expect(await declare(physical, '--at', '2026-11-30T15:00:00Z', '--before-xid', '12')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('give one moment, not --at and --before-xid'),
    });
    expect(await declare(physical, '--before-xid', '12x')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('"12x" is not a transaction id'),
    });
    expect(await declare(plainHttp, '--at', '2026-11-30T15:00:00Z')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('targets.crm.physical.repoEndpoint: pgBackRest 2.45 reaches S3 only over HTTPS'),
    });
    expect(await declare(logical, '--at', '2026-11-30T15:00:00Z')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('a moment needs physical backups: add "physical: pgbackrest" to the target'),
    });
  }, 120_000);
});
