// Two test files at a time: most tests wait on real processes (servers, browsers, timeouts), so a
// second file keeps the second core busy; vitest's default on two cores is one.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    maxWorkers: 2,
  },
});
