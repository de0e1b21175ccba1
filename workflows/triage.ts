// The DR document's disaster levels, decided from the first answers an incident commander has.
import type { Level, TriageAnswers } from '../common/plans.js';

/** L4 complete data loss; L3 system down; L2 a feature unavailable or 10+ records; L1 fewer than 10 records. */
export function triage(answers: TriageAnswers): { level: Level; why: string } {
  if (answers.dataLost) return { level: 'L4', why: 'data is lost (catastrophic)' };
  if (answers.systemDown) return { level: 'L3', why: 'the system is down (major outage)' };
  if (answers.featureUnavailable) return { level: 'L2', why: 'a feature is unavailable (moderate outage)' };
  const records = answers.recordsAffected ?? 0;
  if (records >= 10) return { level: 'L2', why: `${records} records affected: 10 or more is a moderate outage` };
  if (records > 0) return { level: 'L1', why: `${records} record(s) affected: a minor data issue` };
  throw new Error('triage needs at least one answer: records affected, feature unavailable, system down or data lost');
}
