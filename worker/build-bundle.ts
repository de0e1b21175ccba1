// Entry of the process that builds the workflow bundle: `node --import tsx worker/build-bundle.ts <file>`,
// or `node dist/current/worker/build-bundle.js <file>` when the worker runs compiled.
import { buildBundle } from './bundle.js';

await buildBundle(process.argv[2]!);
