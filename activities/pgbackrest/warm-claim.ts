// An L3/L4 at a moment takes the stanza's warm copy (warm-copy.ts) instead of restoring the cluster
// again: the copy is moved, by one atomic rename, into the recovered cluster's folder, its recovery
// target set to the moment, and it is started as a cold restore would be (side-instance.ts).
// Guarantees:
// - only a copy that can reach the moment is taken: recorded complete, its backup stopped before
//   the moment, and pg_controldata saying it is still in recovery (never started read-write nor
//   promoted) with the recorded system identifier and the backup's timeline; otherwise the reason
//   is returned and the caller restores cold;
// - the rename is the claim: a second incident finds no copy and restores cold; a copy found
//   wrong after the claim is removed (it could not be used by anyone);
// - the recovery target replaces the `immediate`/`shutdown` settings pgBackRest wrote for the
//   copy (one setting of each name), keeping its restore_command and archive_mode = off.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Moment, describeMoment, momentTime } from '../../common/moments.js';
import { recoverySettings } from './moment.js';
import type { PhysicalTarget } from './target.js';
import { type WarmRecord, controlData, readWarmRecord, warmFolder } from './warm-copy.js';

export type WarmClaim = { claimed: true; record: WarmRecord } | { claimed: false; why: string };

/** Why the copy cannot serve the moment, before it is claimed; undefined when it can. */
function unfit(record: WarmRecord | undefined, moment: Moment): string | undefined {
  if (!record) return 'no warm copy is prepared';
  const before = momentTime(moment);
  if (!before) return `the time of ${describeMoment(moment)} is not known, so the warm copy's backup cannot be shown to precede it`;
  if (!(record.stoppedAt < new Date(before).toISOString()))
    return `the warm copy's backup ${record.label} stopped at ${record.stoppedAt}, not before ${describeMoment(moment)}`;
  return undefined;
}

/**
 * Replaces the recovery target settings in postgresql.auto.conf by the moment's, and points the
 * restore_command pgBackRest wrote (its --pg1-path names the folder restored into) at `data`, the data's new place.
 */
export function retarget(autoConf: string, moment: Moment, data: string): string {
  const settings = recoverySettings(moment);
  const kept = autoConf
    .split('\n')
    .filter((line) => !/^\s*recovery_target\w*\s*=/.test(line))
    .map((line) => (/^\s*restore_command\s*=/.test(line) ? line.replace(/--pg1-path=\S+/, `--pg1-path=${data}`) : line));
  while (kept.length && kept.at(-1) === '') kept.pop();
  const lines = Object.entries(settings).map(([name, value]) => `${name} = '${value.replace(/'/g, "''")}'`);
  return `${kept.join('\n')}\n# lifeboat: the warm copy's recovery target, the moment of the incident\n${lines.join('\n')}\n`;
}

/**
 * Claims the warm copy for a cluster recovered into `folder` (which exists and holds no data/),
 * leaving it at `folder`/data ready to start. Returns why not when it cannot be used.
 */
export async function claimWarmCopy(p: PhysicalTarget, moment: Moment, folder: string): Promise<WarmClaim> {
  if (!p.config.warmCopy) return { claimed: false, why: 'physical.warmCopy is false' };
  const warm = warmFolder(p);
  const why = unfit(readWarmRecord(warm), moment);
  if (why) return { claimed: false, why };
  const claimed = join(folder, 'warm');
  try {
    renameSync(warm, claimed);
  } catch {
    return { claimed: false, why: 'the warm copy was taken by another recovery' };
  }
  const refused = (reason: string): WarmClaim => {
    rmSync(claimed, { recursive: true, force: true });
    return { claimed: false, why: `the warm copy was refused and removed: ${reason}` };
  };
  // Read again inside the claimed folder: a preparation may have begun between the first look and the rename.
  const record = readWarmRecord(claimed);
  const stillUnfit = unfit(record, moment);
  if (!record || stillUnfit) return refused(stillUnfit ?? 'its record is gone');
  const data = join(claimed, 'data');
  if (!existsSync(join(data, 'recovery.signal'))) return refused('recovery.signal is missing (it was started out of recovery)');
  const control = await controlData(p, data).catch((err: Error) => ({ state: `unreadable: ${err.message}`, systemId: '', timeline: 0 }));
  if (control.state !== 'shut down in recovery')
    return refused(`its cluster state is "${control.state}", not "shut down in recovery" (it was started read-write or promoted)`);
  if (control.systemId !== record.systemId)
    return refused(`its system identifier ${control.systemId} is not the recorded ${record.systemId}`);
  if (control.timeline !== record.timeline)
    return refused(`it is on timeline ${control.timeline}, not its backup's ${record.timeline} (it was promoted)`);
  const autoConf = join(data, 'postgresql.auto.conf');
  writeFileSync(autoConf, retarget(readFileSync(autoConf, 'utf8'), moment, join(folder, 'data')));
  renameSync(data, join(folder, 'data'));
  rmSync(claimed, { recursive: true, force: true });
  return { claimed: true, record };
}
