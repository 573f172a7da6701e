import { defineConfig } from 'vitest/config'

// Unit tests are hermetic; e2e tests talk to the real daemons that scripts/rig.sh starts.
// The daemons are shared per run, so files run one at a time to keep their logs readable
// and the 2-core machine from thrashing.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    pool: 'forks',
  },
})
