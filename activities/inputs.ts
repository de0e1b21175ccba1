// Named inputs of the activities that recover a target. Each extends TargetRef (the target by
// name, and the drill's test database when the plan runs in a drill), so that a workflow passes
// `run.where` plus what the activity needs. Types only: they are what running workflows send, so
// a field may be added only as optional.
import type { RecordSelection, TargetRef } from '../common/plans.js';
import type { StagedTable } from './postgres/staging.js';

/** The drill's isolated test database on a target's test server. */
export interface TestDatabaseRef extends TargetRef {
  testDatabase: string;
}

/** A step of an incident's run. */
export interface IncidentRef extends TargetRef {
  incidentId: string;
}

/** A database a plan restored into, beside the one it works on. */
export interface DatabaseRef extends TargetRef {
  database: string;
}

/** A restored database and the backup it must equal. */
export interface RestoredRef extends DatabaseRef {
  backupId: string;
}

/** A selection of records of a target's table. */
export interface SelectionRef extends TargetRef {
  selection: RecordSelection;
}

export interface StageInput extends IncidentRef {
  backupId: string;
  selection: RecordSelection;
  wholeTable?: boolean;
}

/** Records staged from a backup, in the incident's staging schema. */
export interface StagedRef extends IncidentRef {
  staged: StagedTable[];
}

/** Staged records compared with or applied to the live tables; `wholeTable` also removes rows the backup lacks. */
export interface StagedRecords extends StagedRef {
  wholeTable?: boolean;
}

export interface RestoreInput extends IncidentRef {
  backupId: string;
  /** A new database to restore into; in place when absent. */
  database?: string;
}
