// What clients and workflows exchange: the updates people send to a run, the queries clients read,
// and the search attributes the Web UI finds runs by. Defined once; clients import them from here.
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DrillResult } from '../common/drills.js';
import type { AbortRequest, ApprovalItem, Completion, RunStatus, Vote } from '../common/plans.js';

/** Returns the gate while it still needs approvals (the two-person rule), null once approved. */
export const approveUpdate = defineUpdate<ApprovalItem | null, [Vote]>('approve');
export const rejectUpdate = defineUpdate<void, [Vote]>('reject');
export const completeUpdate = defineUpdate<void, [Completion]>('complete');
export const abortUpdate = defineUpdate<void, [AbortRequest]>('abort');
export const statusQuery = defineQuery<RunStatus>('status');

export const incidentIdSA = defineSearchAttributeKey('LifeboatIncidentId', SearchAttributeType.KEYWORD);
export const levelSA = defineSearchAttributeKey('LifeboatLevel', SearchAttributeType.KEYWORD);
export const currentStepSA = defineSearchAttributeKey('LifeboatCurrentStep', SearchAttributeType.KEYWORD);
export const rtoStatusSA = defineSearchAttributeKey('LifeboatRtoStatus', SearchAttributeType.KEYWORD);
/** The search attributes the server must know; `lifeboat dev` and the test harness register them. */
export const SEARCH_ATTRIBUTES = [incidentIdSA, levelSA, currentStepSA, rtoStatusSA];

/** The drill's verdict as soon as it is known (the optional improvements task may still be open). */
export const drillResultQuery = defineQuery<DrillResult | undefined>('drillResult');
