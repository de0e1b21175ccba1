// The Temporal Schedules for each target: daily backup, weekly verification, retention, the
// freshness alarm and the quarterly drill; for a target with physical backups, pgBackRest's full,
// differential and incremental backups, its repository's verification, the WAL freshness alarm and the sweep of orphan side instances. Applying is idempotent: a schedule whose definition has
// not changed is left alone.
import { type Client, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleOptions } from '@temporalio/client';
import { createHash } from 'node:crypto';
import type { Workflow } from '@temporalio/common';
import type { LifeboatConfig } from '../config/config.js';
import type {
  backupWorkflow,
  drillWorkflow,
  freshnessWorkflow,
  physicalBackupWorkflow,
  physicalVerifyWorkflow,
  retentionWorkflow,
  sideSweepWorkflow,
  verifyWorkflow,
  walFreshnessWorkflow,
} from '../workflows/index.js';

const KINDS = ['backup', 'verify', 'retention', 'freshness', 'drill'] as const;
const PHYSICAL_KINDS = ['physical-full', 'physical-diff', 'physical-incr', 'physical-verify', 'wal-freshness', 'side-sweep'] as const;
export type ScheduleKind = (typeof KINDS)[number] | (typeof PHYSICAL_KINDS)[number];

/** A schedule's workflow and its arguments for a target, checked against the workflow's input type. */
const action = <W extends Workflow>(type: string, args: (target: string) => Parameters<W>) => ({ type, args });

const workflows = {
  backup: action<typeof backupWorkflow>('backupWorkflow', (target) => [{ target, reason: 'scheduled daily backup' }]),
  verify: action<typeof verifyWorkflow>('verifyWorkflow', (target) => [{ backupId: 'latest', target }]),
  retention: action<typeof retentionWorkflow>('retentionWorkflow', (target) => [{ target, dryRun: false }]),
  freshness: action<typeof freshnessWorkflow>('freshnessWorkflow', (target) => [{ target }]),
  // The level, scenario and approvals come from the worker's configuration when the drill starts.
  drill: action<typeof drillWorkflow>('drillWorkflow', (target) => [{ target, requestedBy: 'schedule' }]),
  'physical-full': action<typeof physicalBackupWorkflow>('physicalBackupWorkflow', (target) => [{ target, type: 'full' }]),
  'physical-diff': action<typeof physicalBackupWorkflow>('physicalBackupWorkflow', (target) => [{ target, type: 'diff' }]),
  'physical-incr': action<typeof physicalBackupWorkflow>('physicalBackupWorkflow', (target) => [{ target, type: 'incr' }]),
  'physical-verify': action<typeof physicalVerifyWorkflow>('physicalVerifyWorkflow', (target) => [{ target }]),
  'wal-freshness': action<typeof walFreshnessWorkflow>('walFreshnessWorkflow', (target) => [{ target }]),
  'side-sweep': action<typeof sideSweepWorkflow>('sideSweepWorkflow', (target) => [{ target }]),
} satisfies Record<ScheduleKind, { type: string; args: (target: string) => unknown[] }>;

/** The id of a target's schedule of a kind: what `schedule apply` creates and the board describes. */
export const scheduleId = (kind: ScheduleKind, target: string): string => `lifeboat-${kind}-${target}`;

/** The schedules of a target: all of them, but the drill only for drill.target when one is named, and the physical ones where it has physical backups. */
function kindsOf(config: LifeboatConfig, target: string): ScheduleKind[] {
  const logical = KINDS.filter((kind) => kind !== 'drill' || !config.drill.target || config.drill.target === target);
  return config.targets[target]!.physical ? [...logical, ...PHYSICAL_KINDS] : logical;
}

/** The cron expression of a kind for a target: the physical ones from its physical.schedules. */
function cronOf(config: LifeboatConfig, target: string, kind: ScheduleKind): string {
  const physical = config.targets[target]!.physical?.schedules;
  const physicalCron: Record<(typeof PHYSICAL_KINDS)[number], string | undefined> = {
    'physical-full': physical?.full,
    'physical-diff': physical?.diff,
    'physical-incr': physical?.incr,
    'physical-verify': physical?.verify,
    'wal-freshness': physical?.walFreshness,
    'side-sweep': physical?.sideSweep,
  };
  return (KINDS as readonly string[]).includes(kind)
    ? config.schedules[kind as (typeof KINDS)[number]]
    : physicalCron[kind as (typeof PHYSICAL_KINDS)[number]]!;
}

export interface ScheduleChange {
  id: string;
  change: 'created' | 'updated' | 'unchanged';
  cron: string;
}

export function desiredSchedules(config: LifeboatConfig, only?: ScheduleKind): ScheduleOptions[] {
  const { schedules, temporal } = config;
  return Object.keys(config.targets).flatMap((target) =>
    kindsOf(config, target)
      .filter((kind) => !only || kind === only)
      .map((kind): ScheduleOptions => {
        const id = scheduleId(kind, target);
        const cron = cronOf(config, target, kind);
        const definition = {
          spec: { cronExpressions: [cron], timezone: schedules.timezone },
          action: {
            type: 'startWorkflow' as const,
            workflowType: workflows[kind].type,
            args: workflows[kind].args(target),
            taskQueue: temporal.taskQueue,
            workflowId: id,
          },
        };
        const hash = createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 16);
        return {
          scheduleId: id,
          ...definition,
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
          // The server keeps cron strings as calendar specs; the memo keeps them readable for `schedule list`.
          memo: { cron, timezone: schedules.timezone },
          // The note carries a hash of the definition, so an unchanged schedule is not rewritten.
          state: { note: `managed by lifeboat schedule apply (${hash})` },
        };
      }),
  );
}

export async function applySchedules(client: Client, config: LifeboatConfig, only?: ScheduleKind): Promise<ScheduleChange[]> {
  const changes: ScheduleChange[] = [];
  for (const desired of desiredSchedules(config, only)) {
    const cron = desired.spec.cronExpressions![0]!;
    const handle = client.schedule.getHandle(desired.scheduleId);
    let current;
    try {
      current = await handle.describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await client.schedule.create(desired);
      changes.push({ id: desired.scheduleId, change: 'created', cron });
      continue;
    }
    if (current.state.note === desired.state!.note) {
      changes.push({ id: desired.scheduleId, change: 'unchanged', cron });
      continue;
    }
    // Recreated rather than updated, so the memo (which an update cannot change) follows too.
    await handle.delete();
    await client.schedule.create(desired);
    changes.push({ id: desired.scheduleId, change: 'updated', cron });
  }
  return changes;
}

export interface ScheduleListing {
  id: string;
  workflowType: string;
  cron: string;
  timezone: string;
  nextRun?: Date;
  paused: boolean;
}

export async function listSchedules(client: Client): Promise<ScheduleListing[]> {
  const found: ScheduleListing[] = [];
  for await (const summary of client.schedule.list()) {
    if (!summary.scheduleId.startsWith('lifeboat-')) continue;
    const d = await client.schedule.getHandle(summary.scheduleId).describe();
    found.push({
      id: d.scheduleId,
      workflowType: d.action.type === 'startWorkflow' ? d.action.workflowType : d.action.type,
      cron: String(d.memo?.cron ?? '(not set by lifeboat)'),
      timezone: d.spec.timezone ?? 'UTC',
      nextRun: d.info.nextActionTimes[0],
      paused: d.state.paused,
    });
  }
  return found.sort((a, b) => a.id.localeCompare(b.id));
}
