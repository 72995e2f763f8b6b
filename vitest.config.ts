import { defineConfig } from "vitest/config";

// Two groups: fast in-process tests in parallel, then the tests that start real nats-server,
// redis-server and service processes one file at a time, so that on a 2-core machine they do not
// starve each other of CPU (timeouts in those tests are about the cluster, not the test runner).
const realServerTests = [
  "test/services/**/*.test.ts",
  "test/e2e/**/*.test.ts",
  "test/client/**/*.test.ts",
  "test/*.test.ts",
];

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "in-process",
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: realServerTests,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "real-servers",
          include: realServerTests,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
