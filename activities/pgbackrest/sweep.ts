// Orphan side instances swept. A plan removes its side instance in its clean-up and a retried
// restore replaces it, but a plan that was terminated, or whose worker died for good, leaves a
// running PostgreSQL and a folder behind. Each side folder records its owner (owner.json: the
// workflow and run that restored it, written before the restore starts); the sweep asks Temporal
// about that run and stops and removes the instance only when the run is known to be closed (or
// gone from Temporal). Asking Temporal, rather than judging a heartbeat file's age, never removes the
// instance of a plan that waits days on an approval. Guarantees:
// - an instance whose run is open, or whose state cannot be learned (Temporal unreachable, no owner
//   record), is left alone and the reason logged: the sweep removes only what it knows is orphaned;
// - each removal is logged with its owner, and the sweep never throws (it runs beside other work).
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Who restored a side instance: the plan's workflow run (the activity's own). */
export interface SideOwner {
  workflowId: string;
  runId: string;
  workflowType: string;
  createdAt: string;
}

const OWNER_FILE = 'owner.json';

export function writeOwner(folder: string, owner: SideOwner): void {
  writeFileSync(join(folder, OWNER_FILE), `${JSON.stringify(owner)}\n`, { mode: 0o644 });
}

function readOwner(folder: string): SideOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(folder, OWNER_FILE), 'utf8')) as Partial<SideOwner>;
    return typeof owner.workflowId === 'string' && typeof owner.runId === 'string' ? (owner as SideOwner) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the owner's run is open: true, false, or undefined when Temporal cannot say. */
export type OwnerCheck = (owner: SideOwner) => Promise<boolean | undefined>;

/** Asks Temporal (the worker's namespace) whether the run is still running; a run Temporal no longer knows is not. */
export function ownerRunning(client: Client): OwnerCheck {
  return (owner) =>
    client.workflow
      .getHandle(owner.workflowId, owner.runId)
      .describe()
      .then(
        (d) => d.status.name === 'RUNNING',
        (err: unknown) => (err instanceof WorkflowNotFoundError ? false : undefined),
      );
}

export interface SweepEntry {
  id: string;
  action: 'removed' | 'kept';
  why: string;
}

export interface SideFolders {
  /** The folder holding one folder per side instance (physical.configDir/side). */
  root: string;
  /** Stops an instance and removes its folder (side-instance.ts removeSide). */
  remove(id: string): Promise<unknown>;
}

/** Where the sweep says what it did: a removal is a warning (something ended without cleaning up), a kept instance information. */
export interface SweepLog {
  info(line: string): void;
  warn(line: string): void;
}

/**
 * Stops and removes the side instances whose owning run is closed; `keep` (the id about to be
 * restored) is not looked at. Returns what it did and logs each line.
 */
export async function sweepSides(sides: SideFolders, running: OwnerCheck, log: SweepLog, keep?: string): Promise<SweepEntry[]> {
  if (!existsSync(sides.root)) return [];
  const entries: SweepEntry[] = [];
  for (const id of readdirSync(sides.root)) {
    if (id === keep) continue;
    const entry = await sweepOne(sides, id, running).catch((err: Error): SweepEntry => ({
      id,
      action: 'kept',
      why: `could not be swept: ${err.message}`,
    }));
    log[entry.action === 'removed' ? 'warn' : 'info'](`side instance ${join(sides.root, id)}: ${entry.action}, ${entry.why}`);
    entries.push(entry);
  }
  return entries;
}

async function sweepOne(sides: SideFolders, id: string, running: OwnerCheck): Promise<SweepEntry> {
  const folder = join(sides.root, id);
  const owner = readOwner(folder);
  if (!owner) return { id, action: 'kept', why: `no owner record (${OWNER_FILE}); remove it by hand if no plan uses it: ${folder}` };
  const whose = `workflow ${owner.workflowId} (run ${owner.runId})`;
  const open = await running(owner);
  if (open === undefined) return { id, action: 'kept', why: `Temporal could not say whether ${whose} runs` };
  if (open) return { id, action: 'kept', why: `${whose} is running` };
  await sides.remove(id);
  return { id, action: 'removed', why: `${whose} is no longer running: its instance was stopped and its folder removed` };
}
