// The action of `lifeboat report` (client/commands/incidents.ts): the incident's report, from the store.
import { type Command } from 'commander';
import { readReport, renderMarkdown } from '../../activities/reports/report.js';
import { openStore } from '../../activities/storage/open.js';
import { CliError } from '../cli-process.js';
import { chooseTarget, configOf, printJson } from './common.js';

export async function report(id: string, opts: { target?: string; json?: boolean }, command: Command): Promise<void> {
  const cfg = configOf(command);
  const target = chooseTarget(cfg, opts.target);
  const storeName = cfg.targets[target]!.store;
  const store = openStore(storeName, cfg.stores[storeName]!);
  const found = await readReport(store, id);
  if (!found)
    throw new CliError(`no report for ${id} in store "${storeName}" yet: it is written when the incident ends (lifeboat status ${id})`, 1);
  if (opts.json) return printJson(found);
  console.log(renderMarkdown(found, 'timeline.svg'));
  console.error(`(stored under ${store.location}/reports/${id}/)`);
}
