// The actions of `lifeboat keys` and `lifeboat keys enrol` (client/commands/keys.ts).
import { type Command } from 'commander';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { InputError } from '../../common/errors.js';
import { parsePublicKey } from '../../common/ssh-keys.js';
import { table } from '../format.js';
import { keysJson } from '../read-json.js';
import { configOf, printJson } from './common.js';

const ENROL_HINT =
  "enrol a person: lifeboat keys enrol <name> <file.pub>   (prints the YAML to add under people: in the worker's configuration)";
const RECEIVER_HINT =
  "the Slack receiver signs clicks with its own key: ssh-keygen -t ed25519 -N '' -f slack-receiver, then set notify.slack.receiver.signingKeyFile: slack-receiver and publicKeyFiles: [slack-receiver.pub]";
const PERSON = /^[A-Za-z0-9._@-]{1,64}$/;

/** The public key lines of `file`, each checked; refusals say what to give instead. */
function readPublicKeys(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (give the path of a .pub file)`,
    );
  }
  if (text.includes('PRIVATE KEY'))
    throw new InputError(`${file} is a private key: give its .pub file instead (the private half never leaves your machine)`);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!lines.length) throw new InputError(`${file} holds no public key: give a .pub file made by ssh-keygen -t ed25519`);
  for (const line of lines) {
    try {
      parsePublicKey(line);
    } catch (err) {
      throw new InputError(`${file}: ${(err as Error).message}`);
    }
  }
  return lines;
}

/** The .pub files of a throwaway keys folder (client/stack/keys.ts), as person → key lines. */
const throwawayPeople = (dir: string) =>
  (existsSync(dir) ? readdirSync(dir) : [])
    .filter((f) => f.endsWith('.pub'))
    .map((f) => [f.slice(0, -'.pub'.length), readPublicKeys(join(dir, f))] as const);

type Source = 'configuration' | 'throwaway' | 'slack-receiver';

export function listKeys(opts: { json?: boolean }, command: Command): void {
  const config = configOf(command);
  const configured = Object.entries(config.people).map(([who, p]) => [who, p.keys] as const);
  const dir = process.env.LIFEBOAT_KEYS_DIR;
  // In a shell of `lifeboat dev`, its worker's people are the throwaway keys there, not the file's.
  const throwaway = !configured.length && dir;
  const people = throwaway ? throwawayPeople(dir) : configured;
  const source: Source = throwaway ? 'throwaway' : 'configuration';
  // A signer beside the people: the receiver proves the clicks of the Slack users notify.slack.users maps.
  const receiverKeys = config.notify.slack?.receiver.publicKeys ?? [];
  const signers = [
    ...people.map(([who, lines]) => ({ who, lines, source })),
    ...(receiverKeys.length ? [{ who: '(Slack receiver)', lines: receiverKeys, source: 'slack-receiver' as const }] : []),
  ];
  const rows = signers.flatMap(({ who, lines, source }) =>
    lines.map((line) => {
      const key = parsePublicKey(line);
      return { person: who, type: key.type, fingerprint: key.fingerprint, comment: key.comment ?? null, source };
    }),
  );
  if (opts.json) return printJson(keysJson(rows));
  if (throwaway) console.log(`the embedded stack's throwaway keys (${dir}):`);
  if (!rows.length) console.log('no people configured: answers are not required to be signed');
  else
    console.log(
      table(
        ['person', 'type', 'fingerprint', 'comment'],
        rows.map((r) => [r.person, r.type, r.fingerprint, r.comment ?? '']),
      ),
    );
  console.log(`\n${ENROL_HINT}`);
  if (config.notify.slack && !receiverKeys.length) console.log(RECEIVER_HINT);
}

export function enrol(name: string, file: string): void {
  if (!PERSON.test(name)) throw new InputError(`"${name}" is not a person's name: use letters, digits, ".", "_", "@" or "-"`);
  const lines = readPublicKeys(file);
  for (const line of lines) console.error(`${name}: ${parsePublicKey(line).fingerprint} (compare with ssh-keygen -lf ${file})`);
  console.error("add this under people: in the worker's configuration, then restart the worker:\n");
  console.log(stringify({ people: { [name]: { keys: lines } } }, { lineWidth: 0 }).trimEnd());
}
