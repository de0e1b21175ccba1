// The configuration schema, and the loader of the one Lifeboat configuration file. Invalid files are refused with the
// field path and what was expected, so an operator can fix them without reading code.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../common/errors.js';
import { Redactor } from '../common/redact.js';
import { parsePublicKey } from '../common/ssh-keys.js';
import { duration, envName, name } from './fields.js';
import { physical, physicalStoreProblem } from './physical.js';
import { statementCount } from './sql-statements.js';

// As PostgreSQL spells them, case and spaces kept, schema-qualified outside public (billing.invoices, Mixed Case).
const tableName = z.string().regex(
  // eslint-disable-next-line no-control-regex -- control characters are what the pattern keeps out
  /^(?:[^.\s"\x00-\x1f][^."\x00-\x1f]{0,62}\.)?[^.\s"\x00-\x1f][^."\x00-\x1f]{0,62}$/,
  'expected a table name as PostgreSQL spells it: table (in schema public) or schema.table, without quotes',
);

/** A check's SQL: one statement, so that nothing can end the read-only or rolled-back transaction it runs in. */
const oneStatement = z
  .string()
  .min(1)
  .refine(
    (sql) => statementCount(sql) === 1,
    'expected exactly one SQL statement (a check runs alone in its transaction: split several into checks of their own)',
  );

const integrityCheck = z.strictObject({
  name: z.string().min(1),
  // Counts offending rows: any value above zero is a finding. Runs in a read-only transaction.
  sql: oneStatement,
  /**
   * L1: the same check limited to the rows it restored, run instead of `sql` when the L1 restored
   * rows of `table` (the rest of the database the apply did not touch): `$1` is the text[] of those
   * rows' keys as the key prints (the value for a one-column key, the row form (5,17) for several).
   */
  restoredRows: z.strictObject({ table: tableName, sql: oneStatement }).optional(),
});

const criticalCheck = z.strictObject({
  name: z.string().min(1),
  // Runs inside a transaction that is always rolled back, and sequences it moved are set back: it may write, nothing stays.
  sql: oneStatement,
});

const target = z.strictObject({
  urlEnv: envName,
  store: name,
  tables: z.array(tableName).min(1),
  integrityChecks: z.array(integrityCheck).default([]),
  criticalChecks: z.array(criticalCheck).default([]),
  /** Hooks by role: freezeWrites / unfreezeWrites (incident), rollback (L2 code rollback), cutover (L3). */
  hooks: z
    .strictObject({ freezeWrites: name.optional(), unfreezeWrites: name.optional(), rollback: name.optional(), cutover: name.optional() })
    .default({}),
  /** The verification server: where verification, drills and recovery copies restore into. */
  scratchUrlEnv: envName.optional(),
  /** "production": without a scratchUrlEnv, restore those copies on the target's own server (an explicit choice). */
  verifyOn: z.literal('production').optional(),
  /** How L3/L4 restore the whole database. */
  restore: z
    .strictObject({
      /**
       * keep: the backup's owners and grants (refused, naming them, when the server lacks a role they name);
       * drop: everything owned by the role the worker connects as, no grants: for a fresh server without the application's roles.
       */
      owners: z.enum(['keep', 'drop']).default('keep'),
    })
    .prefault({}),
  /** Physical backups and point-in-time recovery by pgBackRest (config/physical.ts). */
  physical: physical.optional(),
});

const s3Store = z.strictObject({
  type: z.literal('s3'),
  endpoint: z.url().optional(),
  bucket: z.string().min(3),
  prefix: z.string().default('backups'),
  region: z.string().default('us-east-1'),
  accessKeyIdEnv: envName.default('AWS_ACCESS_KEY_ID'),
  secretAccessKeyEnv: envName.default('AWS_SECRET_ACCESS_KEY'),
  partSizeMiB: z.number().int().min(5).max(512).default(16),
});

const localStore = z.strictObject({
  type: z.literal('local'),
  path: z.string().min(1),
  prefix: z.string().default('backups'),
});

const level = z.strictObject({ rto: duration, rtoTarget: duration.optional(), rpo: duration });

const commandHook = z.strictObject({
  type: z.literal('command'),
  /** argv, run without a shell; the incident's id, target and action arrive as LIFEBOAT_* variables. */
  command: z.array(z.string().min(1)).min(1),
  /** Variables of the worker's environment the command gets; besides them only PATH, HOME, the locale, LIFEBOAT_* and libpq's. */
  env: z.array(envName).default([]),
  timeout: duration.default('5m'),
});

const webhookHook = z.strictObject({
  type: z.literal('webhook'),
  url: z.url(),
  /** An environment variable holding a bearer token, if the endpoint needs one. */
  tokenEnv: envName.optional(),
  timeout: duration.default('1m'),
});

const approvals = z.strictObject({
  approvers: z.array(z.string().min(1)).default([]),
  gates: z.record(z.string(), z.array(z.string().min(1))).default({}),
});

const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack user id such as U0123ABCD');

const slack = z.strictObject({
  /** The bot token (xoxb-…); Slack is used only when this variable is set on the worker. */
  tokenEnv: envName.default('SLACK_BOT_TOKEN'),
  /** The channel id (C…) every run's thread goes into. */
  channel: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'expected a Slack channel id such as C0123ABCD'),
  /** The Web API's base URL: Slack's own unless a proxy (or the tests' fake server) stands in. */
  apiUrl: z.url().optional(),
  /** How often the client itself retries a failed or rate-limited call before the failure is recorded. */
  retries: z.number().int().min(0).max(10).default(2),
  /** The approval receiver (`lifeboat slack serve`): Slack's interactivity requests reach it here. */
  receiver: z
    .strictObject({
      transport: z.enum(['http', 'socket']).default('http'),
      /** The interface HTTP listens on: loopback by default; 0.0.0.0 in a container, or to take connections from elsewhere. */
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(3000),
      path: z.string().regex(/^\//, 'expected a path such as /slack/events').default('/slack/events'),
      signingSecretEnv: envName.default('SLACK_SIGNING_SECRET'),
      /** Socket Mode's app-level token (xapp-…). */
      appTokenEnv: envName.default('SLACK_APP_TOKEN'),
      /** The receiver's own SSH key (private, or a .pub with ssh-agent): it signs each click it relays. Only `slack serve` reads it. */
      signingKeyFile: z.string().min(1).optional(),
      /** Its public half, as lines of a .pub file: the worker trusts it to vote for the `users` below, as them and no one else. */
      publicKeys: z.array(z.string().min(1)).default([]),
      /** Files holding such lines, read when the configuration is loaded (relative to the working directory). */
      publicKeyFiles: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  /** Slack user id → approver identity, as the approval lists name people: by immutable id, never by handle. */
  users: z.record(slackUserId, z.string().min(1)).default({}),
});

const drill = z.strictObject({
  /** The target rehearsed; defaults to the only configured target. */
  target: name.optional(),
  level: z.enum(['L1', 'L2', 'L3', 'L4']).default('L3'),
  /** L1: how many random rows of the target's first table are deleted (with their children). */
  records: z.number().int().min(1).max(10).default(5),
  /** L1 and L2: the table the scenario damages; by default chosen from the foreign keys (L1: one whose children go with it; L2: one nothing references). */
  table: tableName.optional(),
  /** The server the isolated test database is created on; defaults to the target's scratch server. */
  testUrlEnv: envName.optional(),
  /** "drill": gates and tasks are answered by the drill's own identity; "human": people answer them. */
  approvals: z.enum(['drill', 'human']).default('drill'),
  approveAs: z.string().min(1).default('lifeboat-drill'),
  /** The "improvements" task opened after a drill, and how long it may stay open before escalating. */
  improvements: z.boolean().default(true),
  improvementsDeadline: duration.default('14d'),
  /** Also rehearse a point-in-time recovery (physical targets): writes and deletes marker rows in one table on production. */
  pointInTime: z.boolean().default(false),
});

/** A person who may answer runs, and the SSH public keys that prove them (an allowed-signers list). */
const person = z.strictObject({
  /** Public keys as lines of a .pub file: "ssh-ed25519 AAAA… comment". */
  keys: z.array(z.string().min(1)).default([]),
  /** Files holding such lines, read when the configuration is loaded (relative to the working directory). */
  keyFiles: z.array(z.string().min(1)).default([]),
});

const schema = z.strictObject({
  temporal: z
    .strictObject({
      address: z.string().default('127.0.0.1:7233'),
      namespace: z.string().default('default'),
      taskQueue: z.string().default('lifeboat'),
      uiUrl: z.string().default('http://127.0.0.1:8233'),
      /** Worker Versioning: each run finishes on the worker version it started on (worker/versioning.ts). Absent: unversioned. */
      versioning: z
        .strictObject({
          /** The Worker Deployment; defaults to the task queue's name. */
          deployment: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected a deployment name of letters, digits, "-" or "_"')
            .optional(),
          /** Defaults to the workflow bundle's hash (workflows-<hash>): new workflow code, new version. */
          buildId: z
            .string()
            .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'expected a build id of letters, digits, ".", "-" or "_"')
            .optional(),
          /** when-none: become current if the deployment has no current version; always: on every start; never: the operator decides. */
          makeCurrent: z.enum(['when-none', 'always', 'never']).default('when-none'),
        })
        .optional(),
    })
    .prefault({}),
  targets: z.record(name, target).refine((t) => Object.keys(t).length > 0, 'at least one target is needed'),
  stores: z.record(name, z.discriminatedUnion('type', [s3Store, localStore])),
  levels: z.strictObject({ L1: level, L2: level, L3: level, L4: level }).prefault({
    L1: { rto: '1h', rpo: '24h' },
    L2: { rto: '4h', rpo: '24h' },
    L3: { rto: '24h', rpo: '24h' },
    L4: { rto: '72h', rtoTarget: '48h', rpo: '24h' },
  }),
  backup: z
    .strictObject({
      compression: z.number().int().min(0).max(9).default(1),
      /** The variable holding the key that signs and checks manifests (HMAC-SHA256); unsigned manifests when absent. */
      manifestKeyEnv: envName.optional(),
    })
    .prefault({}),
  retention: z
    .strictObject({
      daily: z.number().int().min(1).default(7),
      weekly: z.number().int().min(0).default(4),
      monthly: z.number().int().min(0).default(6),
    })
    .prefault({}),
  freshness: z.strictObject({ maxAge: duration.default('25h') }).prefault({}),
  hooks: z.record(name, z.discriminatedUnion('type', [commandHook, webhookHook])).default({}),
  /** Who may approve each level's gates; a gate-specific list replaces the level's. */
  approvals: z
    .strictObject({
      selfApproval: z.boolean().default(false),
      L1: approvals.prefault({}),
      L2: approvals.prefault({}),
      L3: approvals.prefault({}),
      L4: approvals.prefault({}),
    })
    .prefault({}),
  /** When set, every approval, task completion and abort must be signed by one of the person's keys. */
  people: z.record(z.string().min(1), person).default({}),
  notify: z.strictObject({ responseTeam: z.array(z.string()).default([]), slack: slack.optional() }).prefault({}),
  drill: drill.prefault({}),
  schedules: z
    .strictObject({
      timezone: z.string().default('UTC'),
      backup: z.string().default('0 2 * * *'),
      verify: z.string().default('0 4 * * 0'),
      retention: z.string().default('30 3 * * *'),
      freshness: z.string().default('0 * * * *'),
      // The first Monday of each quarter at 09:00: Temporal ANDs day-of-month and day-of-week.
      drill: z.string().default('0 9 1-7 1,4,7,10 1'),
    })
    .prefault({}),
});

export type LifeboatConfig = z.infer<typeof schema>;
export type TargetConfig = LifeboatConfig['targets'][string];
export type StoreConfig = LifeboatConfig['stores'][string];
export type S3StoreConfig = Extract<StoreConfig, { type: 's3' }>;
export type LocalStoreConfig = Extract<StoreConfig, { type: 'local' }>;
export type HookConfig = LifeboatConfig['hooks'][string];
export type SlackConfig = NonNullable<LifeboatConfig['notify']['slack']>;

/**
 * Replaces ${VAR} and ${VAR:-default} with values from the environment; comment lines are left
 * alone. Each value taken from the environment is added to `taken`.
 */
function interpolateEnv(text: string, env: NodeJS.ProcessEnv, source: string, taken: string[]): string {
  const interpolate = (line: string) =>
    line.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g, (_, variable: string, hasDefault, fallback) => {
      const value = env[variable];
      if (value !== undefined && value !== '') {
        taken.push(value);
        return value;
      }
      if (hasDefault !== undefined) return fallback as string;
      throw new ConfigError(`${source}: environment variable ${variable} is not set (write \${${variable}:-default} to give a default)`);
    });
  return text
    .split('\n')
    .map((line) => (/^\s*#/.test(line) ? line : interpolate(line)))
    .join('\n');
}

/** Fields that no longer exist, and what to write instead: more useful than "unknown field". */
const REMOVED: Record<string, string> = {
  'notify.slack.userGroups':
    "was removed: a group member's Slack handle is theirs to change, so it cannot name an approver. List each approver by Slack user id under notify.slack.users (U0123ALICE: alice)",
};

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const path = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code !== 'unrecognized_keys') return [`${path}: ${issue.message}`];
  const removed = (key: string) => REMOVED[[...issue.path, key].join('.')];
  const unknown = issue.keys.filter((key) => !removed(key));
  return [
    ...issue.keys.filter(removed).map((key) => `${path}.${key} ${removed(key)}`),
    ...(unknown.length ? [`${path}: unknown field(s) ${unknown.join(', ')}`] : []),
  ];
}

/**
 * Parses and checks a configuration file's text. A refusal never quotes a value that came from the
 * environment (a YAML error shows the lines around it, and `${VAR}` may have put a password there).
 */
export function parseConfig(text: string, source = 'configuration', env = process.env): LifeboatConfig {
  const taken: string[] = [];
  try {
    return parseInterpolated(text, source, env, taken);
  } catch (err) {
    throw new Redactor(taken).error(err);
  }
}

function parseInterpolated(text: string, source: string, env: NodeJS.ProcessEnv, taken: string[]): LifeboatConfig {
  let raw: unknown;
  try {
    raw = parseYaml(interpolateEnv(text, env, source, taken));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  // Parsed once per process: generating zod's fast parser would cost more than it saves.
  const result = schema.safeParse(raw ?? {}, { jitless: true });
  if (!result.success) {
    const lines = result.error.issues.flatMap(describeIssue).map((line) => `  - ${line}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  const config = result.data;
  for (const [targetName, t] of Object.entries(config.targets)) {
    for (const [role, hook] of Object.entries(t.hooks)) {
      if (hook && !config.hooks[hook]) {
        throw new ConfigError(
          `${source} is invalid:\n  - targets.${targetName}.hooks.${role}: no hook named "${hook}" (known: ${Object.keys(config.hooks).join(', ') || 'none'})`,
        );
      }
    }
    if (!t.scratchUrlEnv && t.verifyOn !== 'production') {
      throw new ConfigError(
        `${source} is invalid:\n  - targets.${targetName}: no verification server: verification and drills restore backups onto one. Write scratchUrlEnv: <VARIABLE> (the connection string of a server other than production), or verifyOn: production to restore them on the target's own server`,
      );
    }
    const store = config.stores[t.store];
    if (!store) {
      throw new ConfigError(
        `${source} is invalid:\n  - targets.${targetName}.store: no store named "${t.store}" (known: ${Object.keys(config.stores).join(', ') || 'none'})`,
      );
    }
    const problem = t.physical && physicalStoreProblem(targetName, t.physical, store);
    if (problem) throw new ConfigError(`${source} is invalid:\n  - ${problem}`);
  }
  for (const [who, p] of Object.entries(config.people)) p.keys = publicKeys(p.keys, p.keyFiles, source, `people.${who}.keys`);
  const receiver = config.notify.slack?.receiver;
  if (receiver) receiver.publicKeys = publicKeys(receiver.publicKeys, receiver.publicKeyFiles, source, 'notify.slack.receiver.publicKeys');
  return config;
}

export const DEFAULT_CONFIG_PATH = 'config/lifeboat.example.yaml';

export function loadConfig(path = process.env.LIFEBOAT_CONFIG ?? DEFAULT_CONFIG_PATH, env = process.env): LifeboatConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read configuration file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (set LIFEBOAT_CONFIG or pass --config)`,
    );
  }
  return parseConfig(text, path, env);
}

/** The key lines of `field` and of the files its sibling lists (keys → keyFiles), each parsed: a refusal names the field and the key. */
function publicKeys(lines: string[], files: string[], source: string, field: string): string[] {
  const all = [...lines, ...files.flatMap((file) => readKeyFile(file, `${source}: ${field.replace(/s$/, 'Files')}`))];
  all.forEach((line, i) => {
    try {
      parsePublicKey(line);
    } catch (err) {
      throw new ConfigError(`${source} is invalid:\n  - ${field}[${i}]: ${(err as Error).message}`);
    }
  });
  return all;
}

/** The public key lines of a .pub or allowed-keys file (blank lines and comments skipped). */
function readKeyFile(path: string, field: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

/** Looks a target up by name, refusing unknown names with the list of known ones. */
export function targetConfig(config: LifeboatConfig, target: string): TargetConfig {
  const t = config.targets[target];
  if (!t) throw new ConfigError(`unknown target "${target}" (configured targets: ${Object.keys(config.targets).join(', ')})`);
  return t;
}

const unitMs = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function durationMs(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (!match) throw new ConfigError(`not a duration: ${value}`);
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}
