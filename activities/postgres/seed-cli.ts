// Seeds the demo CRM: npx tsx activities/postgres/seed-cli.ts --leads N [--reset]
// The database comes from CRM_DATABASE_URL, so no password shows on the command line.
import { parseArgs } from 'node:util';
import { seedCrm } from './seed.js';

function usage(message: string): never {
  console.error(`${message}\nusage: CRM_DATABASE_URL=postgresql://... npx tsx activities/postgres/seed-cli.ts --leads N [--reset]`);
  process.exit(2);
}

let values: { leads?: string; reset?: boolean };
try {
  ({ values } = parseArgs({ options: { leads: { type: 'string' }, reset: { type: 'boolean' } } }));
} catch (err) {
  usage((err as Error).message);
}
const url = process.env.CRM_DATABASE_URL;
if (!url) usage('CRM_DATABASE_URL is not set');
// Digits only: Number() would also accept "1e6", " 12" or "0x10".
const leads = /^\d+$/.test(values.leads ?? '') ? Number(values.leads) : NaN;
if (!Number.isSafeInteger(leads) || leads < 1) usage(`--leads must be a positive integer, got ${values.leads ?? 'nothing'}`);

const started = performance.now();
const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
try {
  const counts = await seedCrm(url, {
    leads,
    reset: values.reset ?? false,
    onProgress: (phase) => console.log(`[${elapsed()}s] ${phase}`),
  });
  for (const [table, n] of Object.entries(counts)) console.log(`${table.padEnd(20)} ${String(n).padStart(10)}`);
  console.log(`seeded ${Object.values(counts).reduce((a, b) => a + b, 0)} rows in ${elapsed()} s`);
} catch (err) {
  console.error(`seeding failed: ${(err as Error).message}`);
  process.exit(1);
}
