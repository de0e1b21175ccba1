// How an activity refuses: a non-retryable Temporal failure whose type is one of the names in
// common/errors.ts, so workflows and clients can tell the causes apart without parsing messages.
import { ApplicationFailure } from '@temporalio/common';
import type { FailureType } from '../common/errors.js';

/** A failure no retry can mend (bad input, a missing or damaged backup, a failed check). */
export const refuse = (message: string, type: FailureType): ApplicationFailure => ApplicationFailure.nonRetryable(message, type);
