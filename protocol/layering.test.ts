/**
 * The one-way import rule (biome.json's noRestrictedImports overrides): apps import protocol/,
 * never each other's internals; protocol/ imports no app; local/ uses the apps' public faces;
 * benchmarks and scripts use fixtures/, not tests. Each case writes a probe file with one
 * import into the folder the rule guards, lints it with the project's Biome, and removes it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const biome = path.join(root, "node_modules", ".bin", "biome");

/** Whether Biome refuses `specifier` imported from a new file in `folder`. */
function refused(folder: string, specifier: string): boolean {
  const file = path.join(root, folder, `layering-probe-${randomUUID().slice(0, 8)}.ts`);
  writeFileSync(file, `import { a } from "${specifier}";\n\nexport const x = a;\n`);
  try {
    const r = spawnSync(biome, ["lint", "--reporter=json", file], { cwd: root, encoding: "utf8" });
    const report = JSON.parse(r.stdout) as { diagnostics: { category: string }[] };
    return report.diagnostics.some((d) => d.category === "lint/style/noRestrictedImports");
  } finally {
    rmSync(file, { force: true });
  }
}

describe("one-way imports between folders", () => {
  const wrong: [string, string][] = [
    ["node", "../renter/client.ts"],
    ["node", "../indexer/src/lib/values.ts"],
    ["node/chain", "../../fixtures/local-chain.ts"],
    ["renter", "../node/http/server.ts"],
    ["renter", "../node/chain/jobs.ts"],
    ["api", "../indexer/src/lib/values.ts"],
    ["api/routes", "../../node/errors.ts"],
    ["indexer/src", "../../node/errors.ts"],
    ["protocol", "../node/errors.ts"],
    ["protocol", "../renter/client.ts"],
    ["protocol", "../fixtures/local-chain.ts"],
    ["local", "../node/host.ts"],
    ["local", "../renter/client.ts"],
    ["local", "../arbiter/service.ts"],
    ["arbiter", "../renter/spot-check.ts"],
    ["renter", "../arbiter/service.ts"],
    ["bench", "../test/e2e/marketplace.test.ts"],
    ["scripts", "../test/indexer/indexer.test.ts"],
  ];
  for (const [folder, specifier] of wrong)
    it(`refuses ${specifier} from ${folder}/`, () => {
      assert.equal(refused(folder, specifier), true);
    });

  const right: [string, string][] = [
    ["node", "../protocol/chain-client.ts"],
    ["node", "../abis/index.ts"],
    ["node/chain", "./jobs.ts"],
    ["renter", "../protocol/openai.ts"],
    ["arbiter", "../protocol/challenges.ts"],
    ["api", "../protocol/reputation.ts"],
    ["protocol", "./errors.ts"],
    ["protocol", "../abis/index.ts"],
    ["local", "../node/index.ts"],
    ["local", "../renter/index.ts"],
    ["bench", "../fixtures/local-chain.ts"],
    ["bench", "../node/inference/engine.ts"],
  ];
  for (const [folder, specifier] of right)
    it(`allows ${specifier} from ${folder}/`, () => {
      assert.equal(refused(folder, specifier), false);
    });
});
