// Entry of the process that builds the workflow bundle: `node --import tsx worker/build-bundle.ts <file>`.
import { buildBundle } from './bundle.js';

await buildBundle(process.argv[2]!);
