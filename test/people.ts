// How the suite's people answer each plan's tasks and gates when a test only needs the plan to run
// through: for driveIncident. An entry a run never waits for is never used, so one script serves an
// L3 into a new database and one in place alike. (No vitest import: the history recorder uses it too.)
import type { Answer } from '../client/drive.js';

export const L3_PEOPLE: Record<string, Answer> = {
  'vendor-support': { complete: { by: 'carol', note: 'VEND-9' } },
  'restore-in-place': { approve: ['alice'] },
  'cut-over': { complete: { by: 'carol' } },
  'resume-read-only': { complete: { by: 'carol' } },
  'resume-internal-users': { complete: { by: 'carol' } },
  'resume-all-users': { complete: { by: 'carol' } },
  'post-mortem': { complete: { by: 'carol' } },
  review: { complete: { by: 'carol' } },
};

/** Bob and Dana accept the data loss: the two distinct approvers L4's gate needs. */
export const L4_PEOPLE: Record<string, Answer> = {
  'vendor-escalation': { complete: { by: 'carol', note: 'SEV1-9' } },
  'accept-data-loss': { approve: ['bob', 'dana'] },
  'cut-over': { complete: { by: 'carol' } },
  'manual-reconstruction': { complete: { by: 'carol', note: 'nothing to rebuild' } },
  'audit-signoff': { complete: { by: 'dana' } },
  review: { complete: { by: 'carol' } },
};
