import { defineConfig } from 'vitest/config';

// The AWS SDK warns that releases after January 2027 need Node 22; ours is pinned.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// One real stack (PostgreSQL, SeaweedFS, Temporal) for the whole suite, started by the global setup.
// The forks pool is required: the threads pool crashes Temporal's native bridge.
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup-keys.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
