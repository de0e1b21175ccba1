// The action of `lifeboat slack serve` (client/commands/slack.ts): Bolt is loaded only here.
import { type Command } from 'commander';
import { serveSlack } from '../slack/serve.js';
import { configOf } from './common.js';

export const serve = (_opts: unknown, command: Command): Promise<void> => serveSlack(configOf(command));
