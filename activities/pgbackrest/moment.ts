// The restore options pgBackRest takes for a moment (common/moments.ts).
import type { Moment } from '../../common/moments.js';

/**
 * pgBackRest's restore options for the moment: promoted once reached, never archiving ('off': a
 * side instance or a new data directory), or archiving on as production did ('preserve': an
 * in-place restore, which is production and goes on archiving on its new timeline).
 */
export function restoreOptions(moment: Moment, archiveMode: 'off' | 'preserve' = 'off'): string[] {
  const common = ['--target-action=promote', `--archive-mode=${archiveMode}`];
  switch (moment.kind) {
    case 'time':
      return ['--type=time', `--target=${new Date(moment.time).toISOString().replace('T', ' ').replace('Z', '+00')}`, ...common];
    case 'restore-point':
      return ['--type=name', `--target=${moment.name}`, ...common];
    case 'before-xid':
      return ['--type=xid', `--target=${moment.xid}`, '--target-exclusive', ...common];
  }
}
