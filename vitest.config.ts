/**
 * vitest runs the TypeScript suites; Hardhat's own runner keeps `test/contracts/`
 * (`hardhat test`). Three projects, one per step of `npm test`:
 *   indexer  test/indexer/ (a real Hardhat node, Ponder on PGlite and Postgres), and the
 *            tests beside the indexer's and the API's code
 *   node     the tests beside the code of the host node, the shared protocol, the renter, the
 *            arbiter, the governance CLI and the local marketplace
 *   e2e      test/e2e/ (the marketplace as `npm start` runs it; the docs' examples)
 * `npx vitest run` runs them all; `npx vitest run --project node` one project;
 * `npx vitest run node/config.test.ts` one file. `npm run coverage:ts` adds v8 coverage.
 */
import { configDefaults, defineConfig } from "vitest/config";

const suites = {
  indexer: ["test/indexer/**/*.test.ts", "indexer/**/*.test.ts", "api/**/*.test.ts"],
  node: [
    "node/**/*.test.ts",
    "protocol/**/*.test.ts",
    "renter/**/*.test.ts",
    "arbiter/**/*.test.ts",
    "governance/**/*.test.ts",
    "local/**/*.test.ts",
  ],
  e2e: ["test/e2e/**/*.test.ts"],
};

export default defineConfig({
  test: {
    // The TypeScript suites are the projects' `include`s below (a root `include` would be
    // merged into every project). test/contracts/ belongs to `hardhat test`; the rest of
    // `exclude` is build output and state.
    exclude: [...configDefaults.exclude, "test/contracts/**", ".fabstir/**", "**/.ponder/**"],
    // One process per file (as `node --test` did), and one file at a time: the suites bind
    // ports, create Postgres databases, start Hardhat nodes and Ponder and load native models,
    // which on a small machine do not share it well.
    pool: "forks",
    fileParallelism: false,
    // The hooks start chains, indexers and the whole local marketplace (minutes on 2 cores);
    // node:test had no timeout at all. Suites that set their own keep it.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    teardownTimeout: 120_000,
    // node:test ran `after` hooks in the order they were registered.
    sequence: { hooks: "list" },
    coverage: {
      provider: "v8",
      // Beside Hardhat's report (`npm run coverage` writes coverage/lcov.info).
      reportsDirectory: "coverage/ts",
      reporter: ["text-summary", "json-summary", "html", "lcov"],
      include: [
        "node/**/*.ts",
        "renter/**/*.ts",
        "arbiter/**/*.ts",
        "governance/**/*.ts",
        "api/**/*.ts",
        "indexer/**/*.ts",
        "local/**/*.ts",
        "protocol/**/*.ts",
      ],
      exclude: [
        "**/*.test.ts",
        "**/*.d.ts",
        // Helpers only the tests use.
        "**/test-helpers.ts",
        "**/test-models.ts",
        "abis/**",
        "indexer/generated/**",
        "bench/**",
        "scripts/**",
      ],
      // Report even when a test failed, so a run still shows where coverage stands.
      reportOnFailure: true,
    },
    projects: Object.entries(suites).map(([name, include]) => ({
      extends: true,
      test: { name, include },
    })),
  },
});
