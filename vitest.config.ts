import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.{ts,tsx}"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    restoreMocks: true,
    // Tests start real containers and servers: keep parallelism modest.
    maxWorkers: 2,
    // ink's colours are part of what the UI tests assert (yellow from 80%, red from 95%).
    env: { FORCE_COLOR: "1" },
  },
});
