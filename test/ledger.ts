// The fault and abuse ledger. The tests that drive a fault or an abuse through the real stack
// record, once their assertions have passed, what they observed; the global teardown prints every
// case of CASES as one table (case, expected, observed) with the counts `faults survived N/N`,
// `abuses refused M/M` and `rows lost`. A case no test recorded is printed as not observed and
// counts as failed, so a table with every case passing means every case ran and passed.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CASES = {
  // Faults: the recovery survives, nothing is lost.
  'worker SIGKILLed mid-apply (L1)': ['fault', 'another worker finishes; rows equal the backup byte for byte'],
  'worker SIGKILLed mid-restore (L3 in place)': ['fault', 'another worker finishes; production equals the backup'],
  'Temporal server killed mid in-place restore': ['fault', 'the restore commits once, one approval; production equals the backup'],
  'PostgreSQL restarted mid-backup': ['fault', 'the backup completes on a retry; its restore equals the source'],
  'PostgreSQL restarted mid-restore (L3 in place)': ['fault', 'the restore is retried whole; production equals the backup'],
  'S3 store down mid-backup': ['fault', 'the backup completes once the store is back; no partial object'],
  'flipped byte in the newest dump': ['fault', 'refused by checksum; the plan takes the newest intact backup'],
  'truncated and foreign manifests': ['fault', 'listed as damaged; listing and choosing go on'],
  'Slack down': ['fault', 'the recovery, verification and freshness check complete; notices recorded as undelivered'],
  'two backups in one second': ['fault', 'both complete under distinct ids, each with its own dump'],
  'database connection dropped under the worker': ['fault', 'the work in flight fails; the process lives on'],
  'L3 after DROP DATABASE': ['fault', 'recovered into the recreated database; tables equal the backup'],
  'worker crash mid in-place physical restore (after the stop)': [
    'fault',
    'the retry restores and starts production once; rows as at the moment',
  ],
  'in-place physical restore run again after promotion': ['fault', 'not restored again: a row written after the promotion survives'],
  'archive gap before an in-place physical restore': ['fault', 'refused naming the segment before production is stopped; rows unchanged'],
  // Abuses: refused with the reason, nothing changed.
  'approve --as another person (unproven)': ['abuse', 'refused: not signed by that person; nothing in history'],
  'raw update with "by":"alice", unsigned or borrowed proof': ['abuse', 'refused at the validator; rows untouched'],
  'one person approving as two names (L4)': ['abuse', 'refused: the second name is not proven'],
  "client's config naming mallory sole approver": ['abuse', "ignored: the worker's policy decides"],
  'plan started directly with its own approvers and actAs': ['abuse', 'refused before any step; production untouched'],
  'hook printing worker secrets': ['abuse', 'the hook never gets them; any printed secret redacted'],
  'multi-statement "read-only" check SQL': ['abuse', 'refused at load and by the database; no table created'],
  'forged manifest or verification in the bucket': ['abuse', 'read as damaged or unverified, never trusted'],
  'Slack group member whose handle is an approver': ['abuse', 'refused: people are known by immutable user id'],
  'forged or replayed Slack request': ['abuse', 'refused with 401; no Update sent'],
  'declare with invalid keys': ['abuse', 'exit 2 before anything starts'],
  'in-place physical restore approved unsigned or by someone not allowed': ['abuse', 'refused at the validator; production never stopped'],
} as const satisfies Record<string, readonly ['fault' | 'abuse', string]>;

export type CaseName = keyof typeof CASES;

export interface Observation {
  name: CaseName;
  observed: string;
  /** Rows of production that differ from what they should be, counted by the test. */
  rowsLost: number;
}

const ledgerFile = (logDir: string) => join(logDir, 'fault-abuse-cases.jsonl');

/** Records a case as observed: call it after the test's assertions on the outcome have passed. */
export function recordCase(logDir: string, name: CaseName, observed: string, rowsLost = 0): void {
  appendFileSync(ledgerFile(logDir), `${JSON.stringify({ name, observed, rowsLost } satisfies Observation)}\n`);
}

/** The table and its counts, from what the tests of this run recorded. */
export function ledgerTable(logDir: string): string {
  const file = ledgerFile(logDir);
  const seen = new Map<string, Observation>();
  if (existsSync(file))
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const o = JSON.parse(line) as Observation;
      seen.set(o.name, o);
    }
  const rows = Object.entries(CASES).map(([name, [kind, expected]]) => {
    const o = seen.get(name);
    return {
      name,
      kind,
      expected,
      observed: o?.observed ?? 'NOT OBSERVED (its test failed or did not run)',
      ok: !!o && o.rowsLost === 0,
      lost: o?.rowsLost ?? 0,
    };
  });
  const count = (kind: string) => `${rows.filter((r) => r.kind === kind && r.ok).length}/${rows.filter((r) => r.kind === kind).length}`;
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  return [
    '| case | expected | observed |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.ok ? '✔' : '✖'} ${r.kind}: ${cell(r.name)} | ${cell(r.expected)} | ${cell(r.observed)} |`),
    '',
    `faults survived ${count('fault')}, abuses refused ${count('abuse')}, rows lost ${rows.reduce((n, r) => n + r.lost, 0)}`,
  ].join('\n');
}
