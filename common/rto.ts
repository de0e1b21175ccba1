// The one way a run's RTO reads, wherever a person sees it: `lifeboat status`, the incident's last
// notice, the report's Markdown and its timeline picture. Pure: workflows use it too.
//
// Guarantees:
// - A run that did not recover never reads as an RTO "missed" by some margin, nor as one with time
//   to spare: it has no recovery time, only how long it ran before it ended, and the deadline.
// - The outcome decides, not the stored verdict: results recorded before the "not-recovered"
//   verdict existed (a failed run's "missed") read the same as new ones.
import type { Outcome, RtoResult, RtoVerdict } from './plans.js';
import { formatDuration, formatTime } from './time.js';

/** The verdict a run earned: met or missed only when it recovered. */
export function rtoVerdictOf(rto: RtoResult, outcome: Outcome): RtoVerdict {
  return outcome === 'recovered' ? (rto.verdict === 'met' ? 'met' : 'missed') : 'not-recovered';
}

/** "met", "missed", "not achieved". */
export function verdictWord(verdict: RtoVerdict): string {
  return verdict === 'not-recovered' ? 'not achieved' : verdict;
}

/** "18 min to spare" or "7 min 12 s over the target". */
export function formatMargin(marginMs: number): string {
  return marginMs >= 0 ? `${formatDuration(marginMs)} to spare` : `${formatDuration(-marginMs)} over the target`;
}

const ended: Record<Exclude<Outcome, 'recovered'>, string> = {
  failed: 'failed',
  rejected: 'was rejected',
  aborted: 'was aborted',
};

/** How long the run took, in the verdict's terms: "recovered in 42 min, 18 min to spare" or "the recovery failed after 12 s (deadline …)". */
export function rtoActual(rto: RtoResult, outcome: Outcome): string {
  if (outcome === 'recovered') return `recovered in ${formatDuration(rto.actualMs)}, ${formatMargin(rto.marginMs)}`;
  return `the recovery ${ended[outcome]} after ${formatDuration(rto.actualMs)} (deadline ${formatTime(rto.deadline)})`;
}

/** "RTO 1 h: met — recovered in 42 min, 18 min to spare"; "RTO 1 h: not achieved — the recovery failed after 12 s (deadline …)". */
export function rtoSummary(rto: RtoResult, outcome: Outcome): string {
  return `RTO ${formatDuration(rto.targetMs)}: ${verdictWord(rtoVerdictOf(rto, outcome))} — ${rtoActual(rto, outcome)}`;
}

/** "RPO achieved 2 h 5 min" for a run that recovered from a backup; nothing for one that recovered nothing. */
export function rpoSummary(rto: RtoResult, outcome: Outcome): string | undefined {
  return outcome === 'recovered' && rto.rpoAchievedMs !== undefined ? `RPO achieved ${formatDuration(rto.rpoAchievedMs)}` : undefined;
}
