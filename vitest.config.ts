// Two test files at a time: most tests wait on real processes (servers, browsers, timeouts), so a
// second file keeps the second core busy; vitest's default on two cores is one.
// A test that runs the real command waits on real processes; on a loaded two-core CI machine one
// that takes half a second alone can take several, so no test gets vitest's default 5 s. The
// limit is there to end a hung test, not to time one (benchmarks do that, in test/bench/).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
