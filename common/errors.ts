// Every error Lifeboat declares, and every failure type name that crosses the worker boundary
// (activities throw them, workflows and clients read them): one home, so they cannot drift apart.
import type { Outcome } from './plans.js';

/** Input refused before anything runs; the CLI exits 2 on it. */
export class InputError extends Error {
  override name = 'InputError';
}

export class BackupIdError extends InputError {
  override name = 'BackupIdError';
}

/** A configuration that cannot work: refused with the field and what to write instead. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The `type` of each ApplicationFailure an activity throws. */
export const FailureType = {
  input: 'InputError',
  config: 'ConfigError',
  backupId: 'BackupIdError',
  backupNotFound: 'BackupNotFound',
  noUsableBackup: 'NoUsableBackup',
  checksumMismatch: 'ChecksumMismatch',
  damagedBackup: 'DamagedBackup',
  criticalCheck: 'CriticalCheckFailed',
  recovery: 'RecoveryError',
  /** A point-in-time restore that could not reach its moment (an archive gap, no commit after it): the details name the newest reachable moment. */
  recoveryTarget: 'RecoveryTargetUnreachable',
  verification: 'VerificationFailed',
  hook: 'HookFailed',
  store: 'StoreError',
  slack: 'SlackFailed',
  slackBadReference: 'SlackBadReference',
  /** A destructive step an earlier attempt started and never finished: it may have run, and is not run again. */
  unfinished: 'UnfinishedStep',
  /** An approve, reject, completion or abort a run's validator refused (thrown by workflows, read by clients). */
  approvalRefused: 'ApprovalRefused',
  /** A recovery run (incident or plan) that failed: its workflow execution fails, its RunResult the failure's details. */
  runFailed: 'RunFailed',
  /** A recovery run stopped by an approver's rejection: failed like RunFailed, for it did not recover either. */
  runRejected: 'RunRejected',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Mistakes no retry can mend: bad input, bad configuration, a backup that is not there. */
export const NON_RETRYABLE: FailureType[] = [FailureType.input, FailureType.config, FailureType.backupId];

/**
 * How a recovery run that did not recover ends its workflow execution, so the Web UI shows what
 * happened: failed and rejected runs fail (this type, non-retryable, the RunResult as the details).
 * An aborted run completes: a person asked it to stop at a safe point and it did, cleaning up; an
 * abort is how a commander withdraws a run declared by mistake or at the wrong level, and a red
 * FAILED there would read (and alert) like a recovery that broke. Its outcome still says "aborted"
 * in the result, the status and the report. Undefined: the run completes.
 */
export function runFailureType(outcome: Outcome): FailureType | undefined {
  return outcome === 'failed' ? FailureType.runFailed : outcome === 'rejected' ? FailureType.runRejected : undefined;
}

/** The failure types that carry a RunResult as their details. */
export const RUN_FAILURE_TYPES: readonly string[] = [FailureType.runFailed, FailureType.runRejected];
