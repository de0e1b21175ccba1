// A moment to recover to, as a plan names it (`declare --at`, `--before-restore-point`,
// `--before-xid`), checked and described the one way. Pure: workflows, activities and the CLI share it.
import { InputError } from './errors.js';

export type Moment =
  | { kind: 'time'; time: string }
  | { kind: 'restore-point'; name: string; /** When it was created, if known: picks the backup set before it. */ createdAt?: string }
  | { kind: 'before-xid'; xid: string; /** The transaction's commit time, if known (pitr find gives it). */ committedAt?: string };

/** Checks a moment, refusing with what to write instead. */
export function checkMoment(moment: Moment): Moment {
  if (moment.kind === 'time' && Number.isNaN(Date.parse(moment.time)))
    throw new InputError(`"${moment.time}" is not a time: write one such as 2026-11-30T15:02:00Z (ISO 8601, with its zone)`);
  if (moment.kind === 'restore-point' && !/^[A-Za-z0-9_.:-]{1,63}$/.test(moment.name))
    throw new InputError(`"${moment.name}" is not a restore point name (letters, digits, "_", ".", ":" or "-", at most 63)`);
  if (moment.kind === 'before-xid' && !/^[1-9][0-9]{0,18}$/.test(moment.xid))
    throw new InputError(`"${moment.xid}" is not a transaction id: write the number \`lifeboat pitr find\` lists`);
  return moment;
}

/** The latest time the moment is known to be before (the backup set must end before it). */
export function momentTime(moment: Moment): string | undefined {
  return moment.kind === 'time' ? moment.time : moment.kind === 'restore-point' ? moment.createdAt : moment.committedAt;
}

export function describeMoment(moment: Moment): string {
  return moment.kind === 'time'
    ? `the moment ${moment.time}`
    : moment.kind === 'restore-point'
      ? `the restore point "${moment.name}"`
      : `just before transaction ${moment.xid}`;
}

/** The refusal of an in-place restore to a moment by runs begun before it was offered (they replay as they ran). */
export const IN_PLACE_AT_MOMENT =
  'an in-place restore to a moment is not offered: drop --in-place; L3 and L4 at a moment recover the whole cluster into a new data directory beside production, and the cut-over task says where it listens';

/** An in-place restore to a moment is physical: a target without pgBackRest cannot have one. */
export const IN_PLACE_AT_MOMENT_NEEDS_PHYSICAL =
  'an in-place restore to a moment needs physical backups (pgBackRest): add "physical: pgbackrest" to the target, or drop the moment for an in-place restore of the newest verified logical backup';

/** The ways back from an in-place restore to a moment: the restore point made just before it (and when), the safety backup. */
export interface InPlaceUndo {
  restorePoint?: string;
  /** When the point was made: the undo then starts from the newest backup before it, on the point's own timeline. */
  restorePointCreatedAt?: string;
  safetyBackup?: string;
}

/**
 * How to undo an in-place restore to a moment, or bring production back when it failed: the restore
 * point made just before it, or the safety backup taken before that.
 */
export function inPlaceUndo(target: string, undo: InPlaceUndo): string {
  const ways = [
    ...(undo.restorePoint
      ? [
          `lifeboat declare --level L3 --target ${target} --in-place --before-restore-point ${undo.restorePoint}` +
            (undo.restorePointCreatedAt ? ` --restore-point-created-at ${undo.restorePointCreatedAt}` : '') +
            ` --summary "undo the in-place restore" (production as it was just before the restore)`,
        ]
      : []),
    ...(undo.safetyBackup
      ? [
          `pgbackrest restore --delta --set=${undo.safetyBackup} --type=immediate --target-action=promote --target-timeline=current as the data directory's owner, then pg_ctl start (production as its safety backup ${undo.safetyBackup} holds it)`,
        ]
      : []),
  ];
  return ways.length ? `To undo: ${ways.join('; or ')}` : 'No undo point was made: restore production from its newest backup';
}
