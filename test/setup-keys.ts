// Every test process signs its people's answers with the suite's throwaway keys, as the embedded
// stack's CLI does: driveIncident and the CLI find <LIFEBOAT_KEYS_DIR>/<name> (client/sign.ts).
import { inject } from 'vitest';

process.env.LIFEBOAT_KEYS_DIR = inject('keysDir');
