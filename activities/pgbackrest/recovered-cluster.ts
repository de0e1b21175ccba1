// A recovered cluster: L3 and L4 at a moment restore the target's whole cluster with pgBackRest into
// a new data directory (physical.configDir/recovered/<id>, by side-instance.ts's machinery), start it
// on its own loopback port, promoted, and keep it running after the plan: it is what the application
// is cut over to. Guarantees:
// - production is never touched: a new data directory, and --archive-mode=off, so the recovered
//   cluster never pushes WAL into the production stanza (it needs archiving of its own before it
//   takes writes: the cut-over task says so);
// - its folder says what it is (recovered/, not side/, so no sweep of side instances takes it) and
//   holds its record (recovered.json: target, moment, where it listens, when it was made);
// - a retried restore first removes what an earlier attempt left under the same id, and
//   `removeRecovered` (a plan that ends before its cut-over) always can.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Moment, describeMoment } from '../../common/moments.js';
import { type SideInstance, removeInstance, restoreInstance } from './side-instance.js';
import type { PhysicalTarget } from './target.js';

export interface RecoveredCluster extends SideInstance {
  /** Where it listens (the database server's loopback interface: pgBackRest runs beside the database). */
  host: string;
  /** The application's database on it. */
  database: string;
}

export const RECOVERED_RECORD = 'recovered.json';

export async function restoreRecovered(p: PhysicalTarget, id: string, moment: Moment, database: string): Promise<RecoveredCluster> {
  const instance = await restoreInstance(p, 'recovered', id, moment);
  const cluster = { ...instance, host: '127.0.0.1', database };
  const record = {
    kind: 'recovered cluster',
    target: p.target,
    stanza: p.settings.stanza,
    moment: describeMoment(moment),
    ...cluster,
    restoredAt: new Date().toISOString(),
    archiving: 'off: set up archiving (a new stanza) before it takes writes',
  };
  writeFileSync(join(dirname(instance.dataDir), RECOVERED_RECORD), `${JSON.stringify(record, null, 2)}\n`);
  return cluster;
}

/** Stops a recovered cluster and removes its folder; false when there was none. */
export function removeRecovered(p: PhysicalTarget, id: string): Promise<boolean> {
  return removeInstance(p, 'recovered', id);
}
