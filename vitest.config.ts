import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.{ts,tsx}"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    restoreMocks: true,
    // The machine has 2 cores and tests start real containers: keep parallelism modest.
    maxWorkers: 2,
  },
});
