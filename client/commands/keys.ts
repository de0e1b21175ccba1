// `lifeboat keys` and `lifeboat keys enrol`: whose SSH keys prove answers, and how to add a person.
// Listing shows each key's type and fingerprint exactly as `ssh-keygen -lf` prints it, so a person
// can compare it with their own; the Slack receiver's key is listed too, as it proves clicks.
// Enrolment only prints the YAML to add under `people:` (the worker's configuration is the
// allowed-signers list, edited by whoever runs the worker); it reads a public key and refuses
// anything else (a private key, RSA, not a key) with the reason.
import { type Command } from 'commander';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { InputError } from '../../common/errors.js';
import { parsePublicKey } from '../../common/sshsig.js';
import { table } from '../format.js';
import { configOf } from './common.js';

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

export function registerKeyCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description("the people whose SSH keys prove approvals, task completions and aborts, with each key's fingerprint")
    .action(() => {
      const config = configOf(program);
      const configured = Object.entries(config.people).map(([who, p]) => [who, p.keys] as const);
      const dir = process.env.LIFEBOAT_KEYS_DIR;
      // In a shell of `lifeboat dev`, its worker's people are the throwaway keys there, not the file's.
      const people = configured.length || !dir ? configured : throwawayPeople(dir);
      if (dir && people !== configured) console.log(`the embedded stack's throwaway keys (${dir}):`);
      // A signer beside the people: the receiver proves the clicks of the Slack users notify.slack.users maps.
      const receiverKeys = config.notify.slack?.receiver.publicKeys ?? [];
      const signers = receiverKeys.length ? [...people, ['(Slack receiver)', receiverKeys] as const] : people;
      if (!signers.length) {
        console.log('no people configured: answers are not required to be signed');
      } else {
        const rows = signers.flatMap(([who, lines]) =>
          lines.map((line) => {
            const key = parsePublicKey(line);
            return [who, key.type, key.fingerprint, key.comment ?? ''];
          }),
        );
        console.log(table(['person', 'type', 'fingerprint', 'comment'], rows));
      }
      console.log(`\n${ENROL_HINT}`);
      if (config.notify.slack && !receiverKeys.length) console.log(RECEIVER_HINT);
    });

  keys
    .command('enrol')
    .description("print the configuration that enrols a person's SSH public key (Ed25519 or ECDSA)")
    .argument('<name>', 'the name the person answers as (--as), as the approvals list them')
    .argument('<file.pub>', 'their public key file, e.g. ~/.ssh/id_ed25519.pub')
    .action((name: string, file: string) => {
      if (!PERSON.test(name)) throw new InputError(`"${name}" is not a person's name: use letters, digits, ".", "_", "@" or "-"`);
      const lines = readPublicKeys(file);
      for (const line of lines) console.error(`${name}: ${parsePublicKey(line).fingerprint} (compare with ssh-keygen -lf ${file})`);
      console.error("add this under people: in the worker's configuration, then restart the worker:\n");
      console.log(stringify({ people: { [name]: { keys: lines } } }, { lineWidth: 0 }).trimEnd());
    });
}
