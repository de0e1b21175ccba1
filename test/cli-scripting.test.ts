// The read commands as a script uses them: bin/lifeboat with --json, each output parsed by the zod
// schema the README documents (client/read-json.ts), against the suite's servers and a worker of
// the test's own; and the shell completion generated from the program, checked against every
// command and option the program has, by bash itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { commandTree } from '../client/completion.js';
import { buildProgram } from '../client/program.js';
import { auditJsonSchema, backupsJsonSchema, drillsJsonSchema, keysJsonSchema, schedulesJsonSchema } from '../client/read-json.js';
import { type LifeboatConfig, parseConfig } from '../config/config.js';
import {
  type CliRun,
  type TestDatabase,
  type TestWorker,
  backupAndVerify,
  createCrmDatabase,
  driveIncident,
  runLifeboat,
  startL1Incident,
  startTestWorker,
  suiteKey,
  testConfigText,
  testEnv,
  uniqueName,
} from './helpers.js';

const fingerprint = (who: string) => execFileSync('ssh-keygen', ['-lf', `${suiteKey(who)}.pub`], { encoding: 'utf8' }).split(' ')[1]!;

describe('--json on every read command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-json-'));
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let worker: TestWorker;
  let config: LifeboatConfig;
  let configFile: string;
  let backupId: string;
  /** The only target of the schedules' configuration: its schedules are its own on the shared server. */
  const scheduled = uniqueName('json').replace('_', '-');
  let schedulesFile: string;

  const lifeboat = (...args: string[]): Promise<CliRun> => runLifeboat(['--config', configFile, ...args], env);
  /** Runs a read command with --json: exit 0, nothing on stderr, its stdout parsed as JSON. */
  const json = async (...args: string[]): Promise<unknown> => {
    const run = await lifeboat(...args, '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout);
  };

  beforeAll(async () => {
    db = await createCrmDatabase(120);
    env = { ...process.env, ...testEnv(db), TEMPORAL_ADDRESS: inject('temporalAddress') };
    const text = testConfigText({
      prefix: uniqueName('cli-json'),
      taskQueue: uniqueName('cli-json'),
      temporalAddress: '${TEMPORAL_ADDRESS}',
      extra: 'approvals:\n  L1: { approvers: [alice, bob] }',
    });
    configFile = join(dir, 'lifeboat.yaml');
    writeFileSync(configFile, text);
    schedulesFile = join(dir, 'schedules.yaml');
    writeFileSync(schedulesFile, text.replace('\n  crm:\n', `\n  ${scheduled}:\n`));
    config = parseConfig(text, configFile, env);
    worker = await startTestWorker(config, testEnv(db));
    backupId = await backupAndVerify(worker);
  });

  afterAll(async () => {
    for (const kind of ['backup', 'verify', 'retention', 'freshness', 'drill'])
      await worker?.client.schedule
        .getHandle(`lifeboat-${kind}-${scheduled}`)
        .delete()
        .catch(() => undefined);
    await worker?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keys --json: every enrolled person with the fingerprint ssh-keygen prints', async () => {
    const keys = keysJsonSchema.parse(await json('keys'));
    expect(keys.map((k) => k.person).sort()).toEqual([...inject('suitePeople')].sort());
    for (const k of keys) expect(k).toMatchObject({ type: 'ssh-ed25519', fingerprint: fingerprint(k.person), source: 'configuration' });
  });

  it('backups --json: the manifest and its verification, every key present', async () => {
    const backups = backupsJsonSchema.parse(await json('backups', '--target', 'crm'));
    expect(backups).toHaveLength(1);
    const [only] = backups;
    expect(only!.damaged).toBeNull();
    expect(only!.manifest).toMatchObject({ id: backupId, target: 'crm', store: 'main', tags: [] });
    expect(Object.keys(only!.manifest!.tables).sort()).toEqual([
      'crm_activities',
      'crm_agents',
      'crm_lead_notes',
      'crm_leads',
      'crm_notifications',
      'crm_reminders',
    ]);
    expect(only!.manifest!.tables.crm_leads).toBe(120);
    expect(only!.verification).toMatchObject({ result: 'passed', findings: [] });
  });

  it('audit --json: each decision of an incident with its signer and key, verified (exit 0)', async () => {
    const lost = await withClient(db.url, async (c) =>
      (
        await c.query<{ id: string }>('DELETE FROM crm_leads WHERE id IN (SELECT id FROM crm_leads ORDER BY id LIMIT 2) RETURNING id::text')
      ).rows.map((r) => r.id),
    );
    const { incidentId } = await startL1Incident(worker, config, lost, 'audit as JSON');
    const result = await driveIncident(worker.client, incidentId, {
      'apply-restore': { approve: ['alice'] },
      review: { complete: { by: 'carol', note: 'a script deleted them' } },
    });
    expect(result.outcome).toBe('recovered');

    const audit = auditJsonSchema.parse(await json('audit', incidentId));
    expect(audit.run).toBe(incidentId);
    expect(audit.verified).toBe(true);
    expect(audit.decisions.map((d) => [d.workflowId, d.item, d.decision, d.by, d.key, d.verdict, d.ok])).toEqual([
      [`${incidentId}-L1`, 'apply-restore', 'approve', 'alice', fingerprint('alice'), 'verified', true],
      [incidentId, 'review', 'complete', 'carol', fingerprint('carol'), 'verified', true],
    ]);
  }, 180_000);

  it('schedule list --json: the schedules schedule apply made, with their next run', async () => {
    const apply = await runLifeboat(['--config', schedulesFile, 'schedule', 'apply'], env);
    expect(apply.code, apply.stderr).toBe(0);
    const list = await runLifeboat(['--config', schedulesFile, 'schedule', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const ours = schedulesJsonSchema.parse(JSON.parse(list.stdout)).filter((s) => s.id.endsWith(`-${scheduled}`));
    expect(ours.map((s) => [s.id, s.workflowType, s.paused])).toEqual(
      [
        ['backup', 'backupWorkflow'],
        ['drill', 'drillWorkflow'],
        ['freshness', 'freshnessWorkflow'],
        ['retention', 'retentionWorkflow'],
        ['verify', 'verifyWorkflow'],
      ].map(([kind, type]) => [`lifeboat-${kind}-${scheduled}`, type, false]),
    );
    for (const s of ours) expect(Date.parse(s.nextRun!)).toBeGreaterThan(Date.now());
  });

  it('drills --json: a drill run from the CLI, with its verdict and every table checked', async () => {
    const run = await lifeboat('drill', 'run', '--target', 'crm', '--level', 'L1', '--records', '2', '--as', 'carol');
    expect(run.code, run.stderr).toBe(0);
    const drillId = /^✔ L1 drill (drill-\S+) of crm: PASSED$/m.exec(run.stdout)?.[1];
    expect(drillId, run.stdout).toBeDefined();
    await driveIncident(worker.client, drillId!, { improvements: { complete: { by: 'carol', note: 'none' } } });

    const drills = drillsJsonSchema.parse(await json('drills', '--target', 'crm'));
    expect(drills).toHaveLength(1);
    expect(drills[0]).toMatchObject({
      drillId,
      target: 'crm',
      level: 'L1',
      verdict: 'passed',
      rtoVerdict: 'met',
      improvements: 'recorded by carol: none',
    });
    expect(drills[0]!.tables.map((t) => t.checksum)).toEqual(drills[0]!.tables.map(() => 'match'));
    expect(drills[0]!.backup?.id).toBe(backupId);
  }, 180_000);

  it('a --json read that fails still says why on stderr with its exit code, and prints no JSON', async () => {
    const run = await lifeboat('audit', 'inc-20200101-000000-0000', '--json');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('✖ no run inc-20200101-000000-0000 (lifeboat list --all shows incidents)\n');
  });
});

describe('shell completion', () => {
  const program = buildProgram();
  const tree = commandTree(program);
  const script = (shell: 'bash' | 'zsh') => {
    const run = spawnSync(join(process.cwd(), 'bin/lifeboat'), ['completion', shell], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    return run.stdout;
  };
  /** What the bash completion offers after `words` (the last one being completed), as bash itself computes it. */
  const complete = (bashScript: string, words: string[]): string[] => {
    const file = join(mkdtempSync(join(tmpdir(), 'lifeboat-completion-')), 'lifeboat.bash');
    writeFileSync(file, bashScript);
    const probe = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _lifeboat; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const out = execFileSync('bash', ['-c', probe], { encoding: 'utf8' });
    rmSync(file, { force: true });
    return out.split('\n').filter(Boolean);
  };

  it('the bash script is valid bash and offers every command, subcommand and option of the program', () => {
    const bash = script('bash');
    expect(spawnSync('bash', ['-n'], { input: bash }).status).toBe(0);
    // The program's own tree, walked here independently of the generator's tables.
    const paths: string[][] = [];
    const walk = (command: typeof program, path: string[]) => {
      paths.push(path);
      for (const sub of command.commands) walk(sub, [...path, sub.name()]);
    };
    walk(program, []);
    expect(paths.length).toBeGreaterThan(30);
    for (const path of paths) {
      const node = path.reduce((parent, name) => parent.commands.find((s) => s.name() === name)!, program);
      const offered = complete(bash, ['lifeboat', ...path, '-']);
      for (const option of [...node.options, ...program.options]) {
        for (const flag of [option.long, option.short].filter(Boolean)) expect(offered, `${path.join(' ')} ${flag}`).toContain(flag);
      }
      expect(offered).toContain('--help');
      const subs = complete(bash, ['lifeboat', ...path, '']);
      for (const sub of node.commands) expect(subs, `lifeboat ${path.join(' ')}`).toContain(sub.name());
    }
    // The tree the generator read is the program's: same commands, same depth.
    expect(tree.map((n) => n.path).sort()).toEqual(paths.map((p) => ['lifeboat', ...p].join(' ')).sort());
  });

  it("completes an option's choices and files, after global options and option values", () => {
    const bash = script('bash');
    expect(complete(bash, ['lifeboat', 'dr'])).toEqual(['drill', 'drills']);
    expect(complete(bash, ['lifeboat', '--config', 'my.yaml', 'drill', 'r'])).toEqual(['run']);
    expect(complete(bash, ['lifeboat', 'drill', 'run', '--level', ''])).toEqual(['L1', 'L2', 'L3', 'L4']);
    expect(complete(bash, ['lifeboat', 'declare', '--summary', 'status', '--lev'])).toEqual(['--level']);
    expect(complete(bash, ['lifeboat', 'completion', 'z'])).toEqual([]);
    const files = complete(bash, ['lifeboat', '--config', join(process.cwd(), 'config', 'lifeboat.example.ya')]);
    expect(files).toEqual([join(process.cwd(), 'config', 'lifeboat.example.yaml')]);
  });

  it('the zsh script names every command and option, and zsh accepts it where zsh is installed', () => {
    const zsh = script('zsh');
    expect(zsh.startsWith('#compdef lifeboat\n')).toBe(true);
    for (const node of tree) {
      if (node.commands.length) expect(zsh).toContain(`[${node.path.replace(/ /g, '.')}]=`);
      for (const o of node.options) for (const name of o.names) expect(zsh).toContain(`'${node.path.replace(/ /g, '.')} ${name}'`);
    }
    const zshPath = ['/usr/bin/zsh', '/bin/zsh'].find((p) => existsSync(p));
    if (zshPath) expect(spawnSync(zshPath, ['-n'], { input: zsh }).status).toBe(0);
  });

  it('refuses a shell it does not know with exit 2', () => {
    const run = spawnSync(join(process.cwd(), 'bin/lifeboat'), ['completion', 'fish'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("error: command-argument value 'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh.");
  });
});
