// The restore options pgBackRest takes for a moment (common/moments.ts).
import type { Moment } from '../../common/moments.js';

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
