// Physical backups of a target by pgBackRest: taking one (full, differential or incremental, the
// activity heartbeating while it runs), listing them with the WAL range the repository holds
// (`pgbackrest info --output=json`), and verifying the repository (`pgbackrest verify`).
// Retention is pgBackRest's own (repo1-retention-full, from the configuration): it expires after each backup.
import { FailureType } from '../../common/errors.js';
import { refuse } from '../failure.js';
import { heartbeatWhile } from '../heartbeat.js';
import type { Resolver } from '../resolve.js';
import { pgbackrest } from './run.js';
import { type PhysicalTarget, physicalTarget } from './target.js';

export type PhysicalBackupType = 'full' | 'diff' | 'incr';

export interface PhysicalBackup {
  label: string;
  type: PhysicalBackupType;
  startedAt: string;
  stoppedAt: string;
  /** Bytes of the cluster, and what this backup added to the repository. */
  size: number;
  repoSize: number;
  /** The WAL segments the backup needs to be consistent. */
  walStart: string;
  walStop: string;
}

export interface PhysicalCatalog {
  stanza: string;
  backups: PhysicalBackup[];
  /** The oldest and newest WAL segment in the repository (the span point-in-time recovery can reach). */
  walMin?: string;
  walMax?: string;
  status: string;
}

interface InfoJson {
  name: string;
  status: { code: number; message: string };
  archive: { min: string | null; max: string | null }[];
  backup: {
    label: string;
    type: PhysicalBackupType;
    timestamp: { start: number; stop: number };
    info: { size: number; repository: { delta: number } };
    archive: { start: string; stop: string };
    error?: boolean;
  }[];
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

export async function physicalCatalog(p: PhysicalTarget): Promise<PhysicalCatalog> {
  const [info] = JSON.parse(await pgbackrest(p.runner, 'info', ['--output=json'])) as InfoJson[];
  if (!info) return { stanza: p.settings.stanza, backups: [], status: 'missing stanza' };
  const archives = info.archive.filter((a) => a.min && a.max);
  return {
    stanza: info.name,
    status: info.status.message,
    walMin: archives[0]?.min ?? undefined,
    walMax: archives.at(-1)?.max ?? undefined,
    backups: info.backup
      .filter((b) => !b.error)
      .map((b) => ({
        label: b.label,
        type: b.type,
        startedAt: iso(b.timestamp.start),
        stoppedAt: iso(b.timestamp.stop),
        size: b.info.size,
        repoSize: b.info.repository.delta,
        walStart: b.archive.start,
        walStop: b.archive.stop,
      })),
  };
}

export function createPhysicalBackupActivities(resolve: Resolver) {
  return {
    /** A backup of the whole cluster; the newest one in the repository afterwards is it. Expires what retention no longer keeps. */
    async physicalBackup(input: { target: string; type: PhysicalBackupType }): Promise<PhysicalBackup> {
      const p = await physicalTarget(resolve, input.target);
      await heartbeatWhile({ phase: `pgbackrest ${input.type} backup` }, () => pgbackrest(p.runner, 'backup', [`--type=${input.type}`]));
      const { backups } = await physicalCatalog(p);
      return backups.at(-1)!;
    },

    /** Checks every backup and WAL segment in the repository; findings fail it (a VerificationFailed, like a failed verification). */
    async verifyPhysical(input: { target: string }): Promise<{ report: string }> {
      const p = await physicalTarget(resolve, input.target);
      const report = await heartbeatWhile({ phase: 'pgbackrest verify' }, () =>
        pgbackrest(p.runner, 'verify', ['--output=text', '--verbose']).catch((err: Error) => {
          throw refuse(
            `the pgBackRest repository of stanza "${p.settings.stanza}" failed verification: ${err.message}`,
            FailureType.verification,
          );
        }),
      );
      return { report: report.trim() };
    },
  };
}
