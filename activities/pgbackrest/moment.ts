// The restore options pgBackRest takes for a moment (common/moments.ts), and the same target as the
// PostgreSQL settings pgBackRest writes for them (for a warm copy, whose restore was done before).
import type { Moment } from '../../common/moments.js';

/** The moment's time as recovery_target_time takes it (and pgBackRest's --target). */
const targetTime = (time: string) => new Date(time).toISOString().replace('T', ' ').replace('Z', '+00');

/**
 * pgBackRest's restore options for the moment: promoted once reached, never archiving ('off': a
 * side instance or a new data directory), or archiving on as production did ('preserve': an
 * in-place restore, which is production and goes on archiving on its new timeline).
 */
export function restoreOptions(moment: Moment, archiveMode: 'off' | 'preserve' = 'off'): string[] {
  const common = ['--target-action=promote', `--archive-mode=${archiveMode}`];
  switch (moment.kind) {
    case 'time':
      return ['--type=time', `--target=${targetTime(moment.time)}`, ...common];
    case 'restore-point':
      return ['--type=name', `--target=${moment.name}`, ...common];
    case 'before-xid':
      return ['--type=xid', `--target=${moment.xid}`, '--target-exclusive', ...common];
  }
}

/** The recovery target settings `restoreOptions` makes pgBackRest write into postgresql.auto.conf. */
export function recoverySettings(moment: Moment): Record<string, string> {
  const target: Record<string, string> =
    moment.kind === 'time'
      ? { recovery_target_time: targetTime(moment.time) }
      : moment.kind === 'restore-point'
        ? { recovery_target_name: moment.name }
        : { recovery_target_xid: moment.xid, recovery_target_inclusive: 'false' };
  return { ...target, recovery_target_action: 'promote' };
}
