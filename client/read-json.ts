// The shapes the read commands print with --json besides status and list (client/status-json.ts):
// audit, schedule list, keys, backups and drills. Each is a zod schema here, which the command
// validates its output against before printing and README.md documents. As for status: every key
// is always present (null or [] when empty), and a key changes meaning only with a new shape.
import { z } from 'zod';
import type { BackupSummary, DamagedBackup } from '../common/backups.js';
import type { DrillRecord } from '../common/drills.js';
import type { AuditRow } from './audit.js';
import type { ScheduleListing } from './schedules.js';
import { orNull } from './status-json.js';

const iso = z.iso.datetime({ offset: true });

export const auditJsonSchema = z.strictObject({
  run: z.string(),
  /** True when every decision verifies (the command's exit 0). */
  verified: z.boolean(),
  decisions: z.array(
    z.strictObject({
      time: iso,
      workflowId: z.string(),
      item: z.string(),
      decision: z.enum(['approve', 'reject', 'complete', 'abort']),
      by: z.string(),
      /** The key's fingerprint, with "via <channel>" when a receiver signed for the person; "" when unsigned. */
      key: z.string(),
      verdict: z.string(),
      ok: z.boolean(),
    }),
  ),
});

export const schedulesJsonSchema = z.array(
  z.strictObject({
    id: z.string(),
    workflowType: z.string(),
    cron: z.string(),
    timezone: z.string(),
    nextRun: iso.nullable(),
    paused: z.boolean(),
  }),
);

export const keysJsonSchema = z.array(
  z.strictObject({
    /** The person (or "(Slack receiver)"). */
    person: z.string(),
    type: z.string(),
    fingerprint: z.string().startsWith('SHA256:'),
    comment: z.string().nullable(),
    /** Where the key is enrolled: the configuration's people, the embedded stack's throwaway keys, or the Slack receiver. */
    source: z.enum(['configuration', 'throwaway', 'slack-receiver']),
  }),
);

export const backupsJsonSchema = z.array(
  z.strictObject({
    /** The backup's manifest (null for a damaged one). */
    manifest: z
      .strictObject({
        id: z.string(),
        target: z.string(),
        store: z.string(),
        startedAt: iso,
        finishedAt: iso,
        durationMs: z.number().int(),
        sizeBytes: z.number().int(),
        sha256: z.string(),
        serverVersion: z.string(),
        pgDumpVersion: z.string(),
        compression: z.number().int(),
        /** Row count per table, as dumped. */
        tables: z.record(z.string(), z.number().int()),
        tags: z.array(z.string()),
        reason: z.string(),
      })
      .nullable(),
    verification: z
      .strictObject({
        result: z.enum(['passed', 'failed']),
        verifiedAt: iso,
        durationMs: z.number().int(),
        findings: z.array(z.strictObject({ check: z.string(), detail: z.string() })),
      })
      .nullable(),
    /** A manifest that cannot be used, and why (null for a usable backup). */
    damaged: z.strictObject({ id: z.string(), key: z.string(), reason: z.string() }).nullable(),
  }),
);

export const drillsJsonSchema = z.array(
  z.strictObject({
    drillId: z.string(),
    target: z.string(),
    level: z.enum(['L1', 'L2', 'L3', 'L4']),
    scenario: z.string(),
    /** When the loss was simulated (the drill's "incident" started then). */
    declaredAt: iso.nullable(),
    verdict: z.enum(['passed', 'failed']),
    recoveryMs: z.number().int().nullable(),
    rtoMs: z.number().int(),
    rtoVerdict: z.enum(['met', 'missed', 'not achieved', 'not measured']),
    rpoMs: z.number().int(),
    rpoAchievedMs: z.number().int().nullable(),
    rpoVerdict: z.enum(['met', 'missed', 'not measured']),
    backup: z.strictObject({ id: z.string(), startedAt: iso }).nullable(),
    testDatabase: z.string(),
    recoveredDatabase: z.string().nullable(),
    tables: z.array(
      z.strictObject({
        table: z.string(),
        rows: z.number().int().nullable(),
        expectedRows: z.number().int().nullable(),
        checksum: z.enum(['match', 'differs', 'missing', 'no reference']),
      }),
    ),
    criticalChecks: z.array(z.string()),
    improvements: z.string(),
    /** drill.pointInTime's rehearsal; null when it did not run. */
    pointInTime: z
      .strictObject({
        verdict: z.enum(['passed', 'failed', 'skipped']),
        detail: z.string(),
        recoveredTo: iso.nullable(),
        rpoAchievedMs: z.number().int().nullable(),
      })
      .nullable(),
  }),
);

export const auditJson = (run: string, rows: AuditRow[]) =>
  auditJsonSchema.parse({ run, verified: rows.every((r) => r.ok), decisions: rows });

export const schedulesJson = (list: ScheduleListing[]) =>
  schedulesJsonSchema.parse(list.map((s) => ({ ...s, nextRun: s.nextRun?.toISOString() ?? null })));

export const keysJson = (rows: z.input<typeof keysJsonSchema>) => keysJsonSchema.parse(rows);

export const backupsJson = (backups: BackupSummary[], damaged: DamagedBackup[]) =>
  backupsJsonSchema.parse([
    ...backups.map(({ manifest: m, verification: v }) => ({
      manifest: {
        id: m.id,
        target: m.target,
        store: m.store,
        startedAt: m.startedAt,
        finishedAt: m.finishedAt,
        durationMs: m.durationMs,
        sizeBytes: m.sizeBytes,
        sha256: m.sha256,
        serverVersion: m.serverVersion,
        pgDumpVersion: m.pgDumpVersion,
        compression: m.compression,
        tables: m.tables,
        tags: m.tags,
        reason: m.reason,
      },
      verification: v ? { result: v.result, verifiedAt: v.verifiedAt, durationMs: v.durationMs, findings: v.findings } : null,
      damaged: null,
    })),
    ...damaged.map((d) => ({ manifest: null, verification: null, damaged: { id: d.id, key: d.key, reason: d.reason } })),
  ]);

export const drillsJson = (drills: DrillRecord[]) =>
  drillsJsonSchema.parse(
    drills.map((d) => ({
      drillId: d.drillId,
      target: d.target,
      level: d.level,
      scenario: d.scenario,
      declaredAt: orNull(d.declaredAt),
      verdict: d.verdict,
      recoveryMs: orNull(d.recoveryMs),
      rtoMs: d.rtoMs,
      rtoVerdict: d.rtoVerdict,
      rpoMs: d.rpoMs,
      rpoAchievedMs: orNull(d.rpoAchievedMs),
      rpoVerdict: d.rpoVerdict,
      backup: d.backup ? { id: d.backup.id, startedAt: d.backup.startedAt } : null,
      testDatabase: d.testDatabase,
      recoveredDatabase: orNull(d.recoveredDatabase),
      tables: d.tables.map((t) => ({ table: t.table, rows: orNull(t.rows), expectedRows: orNull(t.expectedRows), checksum: t.checksum })),
      criticalChecks: d.criticalChecks,
      improvements: d.improvements,
      pointInTime: d.pointInTime
        ? {
            verdict: d.pointInTime.verdict,
            detail: d.pointInTime.detail,
            recoveredTo: orNull(d.pointInTime.recoveredTo),
            rpoAchievedMs: orNull(d.pointInTime.rpoAchievedMs),
          }
        : null,
    })),
  );
