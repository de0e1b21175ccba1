// Every error Lifeboat declares, and every failure type name that crosses the worker boundary
// (activities throw them, workflows and clients read them): one home, so they cannot drift apart.

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
  verification: 'VerificationFailed',
  hook: 'HookFailed',
  store: 'StoreError',
  slack: 'SlackFailed',
  slackBadReference: 'SlackBadReference',
  /** A destructive step an earlier attempt started and never finished: it may have run, and is not run again. */
  unfinished: 'UnfinishedStep',
  /** An approve, reject, completion or abort a run's validator refused (thrown by workflows, read by clients). */
  approvalRefused: 'ApprovalRefused',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Mistakes no retry can mend: bad input, bad configuration, a backup that is not there. */
export const NON_RETRYABLE: FailureType[] = [FailureType.input, FailureType.config, FailureType.backupId];
