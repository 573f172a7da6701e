import { defineConfig } from 'vitest/config'

// Two projects: hermetic unit tests, and e2e tests against the real daemons that scripts/rig.sh
// installs and starts once per run (test/support/rig.ts). Daemons are shared, so e2e files run
// one at a time; the 2-core machine would thrash otherwise.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 600_000,
    projects: [
      // Projects do not inherit the timeouts above. Some unit files build the Go eStargz checker in
      // beforeAll: seconds when cached, minutes on a fresh machine's empty Go module cache.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 900_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/rig.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
})
