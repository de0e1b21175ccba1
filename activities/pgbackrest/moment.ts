// A moment to recover to, as a plan names it, and the restore options pgBackRest takes for it.
// Pure: the CLI checks a moment with it before anything is declared.
import { InputError } from '../../common/errors.js';

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

/** pgBackRest's restore options for the moment: promoted once reached, never archiving. */
export function restoreOptions(moment: Moment): string[] {
  const common = ['--target-action=promote', '--archive-mode=off'];
  switch (moment.kind) {
    case 'time':
      return ['--type=time', `--target=${new Date(moment.time).toISOString().replace('T', ' ').replace('Z', '+00')}`, ...common];
    case 'restore-point':
      return ['--type=name', `--target=${moment.name}`, ...common];
    case 'before-xid':
      return ['--type=xid', `--target=${moment.xid}`, '--target-exclusive', ...common];
  }
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
