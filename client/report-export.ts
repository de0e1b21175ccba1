// Copies runs' reports out of the store into a folder of the checkout, so they can be read after
// the store is gone (the demo's store stops with the demo): each run's report.md, report.json and
// timeline.svg under <folder>/<id>/, the Markdown's picture link unchanged (it is relative), and an
// index.md listing them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reportKeys } from '../activities/reports/report.js';
import type { BackupStore } from '../activities/storage/store.js';

export async function exportReports(store: BackupStore, runs: { id: string; title: string }[], folder: string): Promise<string[]> {
  const written: string[] = [];
  for (const { id } of runs) {
    const keys = reportKeys(id);
    const dir = join(folder, id);
    mkdirSync(dir, { recursive: true });
    for (const key of [keys.markdown, keys.json, keys.svg]) {
      const text = await store.getText(key);
      if (text === undefined) throw new Error(`the report of ${id} is missing ${key} in store "${store.name}"`);
      writeFileSync(join(dir, key.split('/').at(-1)!), text);
    }
    written.push(join(dir, 'report.md'));
  }
  const index = ['# Reports', '', ...runs.map((r) => `- [${r.title.replace(/[[\]]/g, '')}](${r.id}/report.md)`), ''];
  writeFileSync(join(folder, 'index.md'), index.join('\n'));
  return written;
}
