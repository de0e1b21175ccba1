// `lifeboat keys` and `lifeboat keys enrol` (the actions: client/actions/keys.ts): whose SSH keys prove answers, and how to add a person.
// Listing shows each key's type and fingerprint exactly as `ssh-keygen -lf` prints it, so a person
// can compare it with their own; the Slack receiver's key is listed too, as it proves clicks.
// Enrolment only prints the YAML to add under `people:` (the worker's configuration is the
// allowed-signers list, edited by whoever runs the worker); it reads a public key and refuses
// anything else (a private key, RSA, not a key) with the reason.
import { type Command } from 'commander';
import { jsonOption, lazy } from './common.js';

const actions = () => import('../actions/keys.js');

export function registerKeyCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description("the people whose SSH keys prove approvals, task completions and aborts, with each key's fingerprint")
    .addOption(jsonOption())
    .action(lazy(actions, (m) => m.listKeys));

  keys
    .command('enrol')
    .description("print the configuration that enrols a person's SSH public key (Ed25519 or ECDSA)")
    .argument('<name>', 'the name the person answers as (--as), as the approvals list them')
    .argument('<file.pub>', 'their public key file, e.g. ~/.ssh/id_ed25519.pub')
    .action(lazy(actions, (m) => m.enrol));
}
