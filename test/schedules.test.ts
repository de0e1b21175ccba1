// Schedules on the real dev server (the time-skipping server has no Schedules).
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applySchedules, listSchedules } from '../client/schedules.js';
import { testConfig, uniqueName } from './helpers.js';

describe('schedule apply', () => {
  let connection: Connection;
  let client: Client;
  const target = uniqueName('sched').replace('_', '-');
  const base = testConfig({
    prefix: 'schedules',
    extra: 'schedules: { timezone: Europe/Madrid, verify: "0 4 * * 0", retention: "30 3 * * *", freshness: "0 * * * *" }',
  });
  const config = (cron: string) => ({ ...base, targets: { [target]: base.targets.crm! }, schedules: { ...base.schedules, backup: cron } });

  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection });
  });

  afterAll(async () => {
    for (const kind of ['backup', 'verify', 'retention', 'freshness', 'drill']) {
      await client.schedule
        .getHandle(`lifeboat-${kind}-${target}`)
        .delete()
        .catch(() => undefined);
    }
    await connection.close();
  });

  it('creates the five schedules, changes nothing the second time, and follows a changed cron', async () => {
    const first = await applySchedules(client, config('0 2 * * *'));
    expect(first.map((c) => [c.id, c.change])).toEqual([
      [`lifeboat-backup-${target}`, 'created'],
      [`lifeboat-verify-${target}`, 'created'],
      [`lifeboat-retention-${target}`, 'created'],
      [`lifeboat-freshness-${target}`, 'created'],
      [`lifeboat-drill-${target}`, 'created'],
    ]);
    const before = await client.schedule.getHandle(`lifeboat-backup-${target}`).describe();

    const second = await applySchedules(client, config('0 2 * * *'));
    expect(second.every((c) => c.change === 'unchanged')).toBe(true);
    const after = await client.schedule.getHandle(`lifeboat-backup-${target}`).describe();
    expect(after.raw.conflictToken).toEqual(before.raw.conflictToken);

    expect(before.spec.timezone).toBe('Europe/Madrid');
    expect(before.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 2, end: 2, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] });
    expect(before.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'backupWorkflow',
      args: [{ target, reason: 'scheduled daily backup' }],
    });
    expect(before.policies.overlap).toBe('SKIP');

    const third = await applySchedules(client, config('15 1 * * *'));
    expect(third.find((c) => c.id === `lifeboat-backup-${target}`)?.change).toBe('updated');
    expect(third.filter((c) => c.change === 'unchanged')).toHaveLength(4);

    const listed = (await listSchedules(client)).filter((s) => s.id.endsWith(target));
    expect(listed.map((s) => [s.id, s.workflowType, s.cron, s.timezone])).toEqual([
      [`lifeboat-backup-${target}`, 'backupWorkflow', '15 1 * * *', 'Europe/Madrid'],
      [`lifeboat-drill-${target}`, 'drillWorkflow', '0 9 1-7 1,4,7,10 1', 'Europe/Madrid'],
      [`lifeboat-freshness-${target}`, 'freshnessWorkflow', '0 * * * *', 'Europe/Madrid'],
      [`lifeboat-retention-${target}`, 'retentionWorkflow', '30 3 * * *', 'Europe/Madrid'],
      [`lifeboat-verify-${target}`, 'verifyWorkflow', '0 4 * * 0', 'Europe/Madrid'],
    ]);
  });

  it('runs the drill quarterly: first Monday of January, April, July and October at 09:00 in the configured zone, overlaps skipped', async () => {
    await applySchedules(client, config('0 2 * * *'), 'drill');
    const d = await client.schedule.getHandle(`lifeboat-drill-${target}`).describe();
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'drillWorkflow', args: [{ target, requestedBy: 'schedule' }] });
    expect(d.policies.overlap).toBe('SKIP');
    expect(d.spec.timezone).toBe('Europe/Madrid');
    expect(d.spec.calendars?.[0]).toMatchObject({
      hour: [{ start: 9, end: 9, step: 1 }],
      minute: [{ start: 0, end: 0, step: 1 }],
      dayOfMonth: [{ start: 1, end: 7, step: 1 }],
      dayOfWeek: [{ start: 'MONDAY', end: 'MONDAY', step: 1 }],
    });
    const next = d.info.nextActionTimes;
    expect(next.length).toBeGreaterThan(0);
    for (const at of next) {
      // In Madrid: a Monday among the first seven days of a quarter's first month, at 09:00.
      const { weekday, day, month, hour } = Object.fromEntries(
        new Intl.DateTimeFormat('en-GB', {
          timeZone: 'Europe/Madrid',
          weekday: 'short',
          day: 'numeric',
          month: 'numeric',
          hour: 'numeric',
          hourCycle: 'h23',
        })
          .formatToParts(at)
          .map((p) => [p.type, p.value]),
      );
      expect(weekday).toBe('Mon');
      expect(Number(day)).toBeLessThanOrEqual(7);
      expect([1, 4, 7, 10]).toContain(Number(month));
      expect(Number(hour)).toBe(9);
    }
  });
});
