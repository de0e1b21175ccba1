// The actions of `lifeboat declare`, `status`, `approve`, `reject`, `complete`, `abort` and `list`
// (client/commands/incidents.ts); `report` has its own (report.ts), as it alone reads the store.
import { type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { InputError } from '../../common/errors.js';
import { IN_PLACE_AT_MOMENT_NEEDS_PHYSICAL, type Moment, checkMoment } from '../../common/moments.js';
import { type Level } from '../../common/plans.js';
import { triage } from '../../workflows/triage.js';
import { connectClient } from '../follow.js';
import { parseKeyOption, parseKeysFile } from '../key-tuples.js';
import {
  abort as abortIncident,
  complete as completeTask,
  declare as declareIncident,
  incidentInput,
  listIncidents,
  renderIncidents,
  renderStatus,
  vote,
  whoAmI,
} from '../incidents.js';
import { incidentSnapshot, incidentStatus } from '../incident-status.js';
import { listJson, statusJson } from '../status-json.js';
import { requireWorker } from '../worker-check.js';
import { answererOf, chooseTarget, configOf, printJson } from './common.js';

/** What commander gives `declare`, option by option. */
interface DeclareOptions {
  target?: string;
  summary: string;
  level?: Level;
  records?: string;
  featureDown?: boolean;
  systemDown?: boolean;
  dataLost?: boolean;
  table?: string;
  keys?: string[];
  key?: string[];
  keysFile?: string;
  where?: string[];
  children?: boolean;
  goodBefore?: string;
  at?: string;
  beforeRestorePoint?: string;
  beforeXid?: string;
  xidCommittedAt?: string;
  restorePointCreatedAt?: string;
  overrideRecordLimit?: boolean;
  inPlace?: boolean;
  freezeWrites?: boolean;
  declaredAt?: string;
  as?: string;
}

function readKeysFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`--keys-file ${file}: ${(err as Error).message}`);
  }
}

/**
 * The moment --at, --before-restore-point or --before-xid names (at most one), checked; only for a
 * target with physical backups (with --in-place: an in-place physical restore, pgbackrest restore --delta).
 */
function momentOption(opts: DeclareOptions, physical: boolean): { moment?: Moment } {
  const given = [opts.at && 'at', opts.beforeRestorePoint && 'before-restore-point', opts.beforeXid && 'before-xid'].filter(Boolean);
  if (!given.length) return {};
  if (given.length > 1) throw new InputError(`give one moment, not --${given.join(' and --')}`);
  if (!physical)
    throw new InputError(
      opts.inPlace
        ? IN_PLACE_AT_MOMENT_NEEDS_PHYSICAL
        : 'a moment needs physical backups: add "physical: pgbackrest" to the target in the configuration',
    );
  if (opts.xidCommittedAt && Number.isNaN(Date.parse(opts.xidCommittedAt)))
    throw new InputError(`--xid-committed-at "${opts.xidCommittedAt}" is not a time`);
  if (opts.restorePointCreatedAt && Number.isNaN(Date.parse(opts.restorePointCreatedAt)))
    throw new InputError(`--restore-point-created-at "${opts.restorePointCreatedAt}" is not a time`);
  const moment: Moment = opts.at
    ? { kind: 'time', time: opts.at }
    : opts.beforeRestorePoint
      ? {
          kind: 'restore-point',
          name: opts.beforeRestorePoint,
          ...(opts.restorePointCreatedAt ? { createdAt: opts.restorePointCreatedAt } : {}),
        }
      : { kind: 'before-xid', xid: opts.beforeXid!, ...(opts.xidCommittedAt ? { committedAt: opts.xidCommittedAt } : {}) };
  return { moment: checkMoment(moment) };
}

export async function declare(opts: DeclareOptions, command: Command): Promise<void> {
  const cfg = configOf(command);
  const target = chooseTarget(cfg, opts.target);
  const records = opts.records === undefined ? undefined : Number(opts.records);
  if (records !== undefined && (!Number.isSafeInteger(records) || records < 0))
    throw new InputError(`--records must be a whole number, not "${opts.records}"`);
  const declaredAt = opts.declaredAt ?? new Date().toISOString();
  const { table, keys, where } = opts;
  const keyTuples = [
    ...(opts.key ?? []).map(parseKeyOption),
    ...(opts.keysFile ? parseKeysFile(readKeysFile(opts.keysFile), opts.keysFile) : []),
  ];
  const input = incidentInput({
    target,
    summary: opts.summary,
    declaredBy: whoAmI(opts.as),
    declaredAt,
    level: opts.level,
    triage: {
      recordsAffected: records,
      featureUnavailable: opts.featureDown === true,
      systemDown: opts.systemDown === true,
      dataLost: opts.dataLost === true,
    },
    freezeWrites: opts.freezeWrites === true,
    options: {
      table,
      inPlace: opts.inPlace === true,
      ...(cfg.targets[target]!.physical ? { physical: true } : {}),
      ...momentOption(opts, cfg.targets[target]!.physical !== undefined),
      record:
        table && (keys || where || keyTuples.length)
          ? {
              table,
              keys,
              ...(keyTuples.length ? { keyTuples } : {}),
              filter: where,
              includeChildren: opts.children === true,
              goodBefore: opts.goodBefore ?? declaredAt,
              overrideRecordLimit: opts.overrideRecordLimit === true,
            }
          : undefined,
    },
  });
  // A triaged level is known here too: an L1 by triage needs its records as much as a declared one.
  const level = input.level ?? triage(input.triage ?? {}).level;
  if (level === 'L1' && !input.options.record)
    throw new InputError('an L1 needs --table and --keys or --where (the records to bring back)');
  const client = await connectClient(cfg);
  await requireWorker(client, cfg);
  await declareIncident(client, cfg, input);
  console.log(`✔ incident ${input.incidentId} declared (${input.level ?? 'level by triage'}, target ${target})`);
  console.log(`  follow it: lifeboat status ${input.incidentId} --watch`);
  console.log(`  Web UI   : ${cfg.temporal.uiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${input.incidentId}`);
}

export async function status(id: string, opts: { watch?: boolean; json?: boolean }, command: Command): Promise<void> {
  if (opts.watch && opts.json) throw new InputError('--json prints the status once: drop --watch (poll it instead)');
  const client = await connectClient(configOf(command));
  if (opts.json) {
    return printJson(statusJson(await incidentSnapshot(client, id)));
  }
  for (;;) {
    const status = await incidentStatus(client, id);
    const screen = renderStatus(status);
    if (!opts.watch) return console.log(screen);
    process.stdout.write(`\x1b[2J\x1b[H${screen}\n`);
    if (status.incident.outcome) return;
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

export async function answerGate(
  decision: 'approve' | 'reject',
  id: string,
  opts: { gate?: string; as?: string; key?: string; reason?: string },
  command: Command,
): Promise<void> {
  const cfg = configOf(command);
  if (decision === 'reject' && !opts.reason) throw new InputError('a rejection needs a reason (--reason "…")');
  const answerer = answererOf(opts);
  console.log(await vote(await connectClient(cfg), id, decision, { ...answerer, gate: opts.gate, reason: opts.reason }));
}

export async function complete(
  id: string,
  opts: { task?: string; as?: string; key?: string; note?: string; choose?: string[] },
  command: Command,
): Promise<void> {
  const cfg = configOf(command);
  const answerer = answererOf(opts);
  const client = await connectClient(cfg);
  console.log(await completeTask(client, id, { ...answerer, task: opts.task, note: opts.note, choices: opts.choose }));
}

export async function abort(id: string, opts: { reason: string; as?: string; key?: string }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const answerer = answererOf(opts);
  console.log(await abortIncident(await connectClient(cfg), id, { ...answerer, reason: opts.reason }));
}

export async function list(opts: { all?: boolean; json?: boolean }, command: Command): Promise<void> {
  const rows = await listIncidents(await connectClient(configOf(command)), Boolean(opts.all));
  if (opts.json) return printJson(listJson(rows));
  console.log(renderIncidents(rows, Boolean(opts.all)));
}
