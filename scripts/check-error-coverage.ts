/**
 * Revert-path and event coverage of the core contracts. EDR (Hardhat's EVM) does not
 * report branch coverage, and nearly every branch in these contracts is a guard that
 * reverts with a custom error, so this script checks the next best thing: every custom
 * error and every event the core contracts declare is named by at least one test
 * (TypeScript or Solidity). Prints the figures; exits 1 if one is never exercised.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const CORE = [
  "escrow/PaymentEscrow.sol/PaymentEscrow",
  "marketplace/JobMarketplace.sol/JobMarketplace",
  "registry/NodeRegistry.sol/NodeRegistry",
  "models/ModelCatalog.sol/ModelCatalog",
  "token/FABToken.sol/FABToken",
  "sessions/SessionManager.sol/SessionManager",
  "reputation/ReputationSystem.sol/ReputationSystem",
  "proofs/ProofSystem.sol/ProofSystem",
  "tokenomics/StakersPool.sol/StakersPool",
  "tokenomics/FabstirTreasury.sol/FabstirTreasury",
  "governance/FabstirGovernor.sol/FabstirGovernor",
  "governance/FabstirTimelock.sol/FabstirTimelock",
];
/**
 * The errors and events OpenZeppelin declares: the core contracts inherit them, and OpenZeppelin's
 * own tests cover them. Everything else in a core contract's ABI is declared here, and must be
 * named by a test.
 */
async function openZeppelinNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const pkg of ["contracts", "contracts-upgradeable"]) {
    const dir = path.join(root, "node_modules", "@openzeppelin", pkg);
    const entries = await readdir(dir, { withFileTypes: true, recursive: true });
    for (const e of entries) {
      if (!e.isFile() || !e.name.endsWith(".sol")) continue;
      const text = await readFile(path.join(e.parentPath, e.name), "utf8");
      for (const m of text.matchAll(/\b(?:error|event)\s+(\w+)\s*\(/g)) names.add(m[1] as string);
    }
  }
  return names;
}

async function testSources(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile() && /\.(test\.ts|t\.sol)$/.test(e.name));
  const texts = await Promise.all(
    files.map((f) => readFile(path.join(f.parentPath, f.name), "utf8")),
  );
  return texts.join("\n");
}

const tests = await testSources(path.join(root, "test"));
const inherited = await openZeppelinNames();
let missing = 0;
for (const artifact of CORE) {
  const { abi } = JSON.parse(
    await readFile(path.join(root, "artifacts", "contracts", `${artifact}.json`), "utf8"),
  ) as { abi: { type: string; name?: string }[] };
  const names = abi
    .filter((e) => (e.type === "error" || e.type === "event") && e.name && !inherited.has(e.name))
    .map((e) => `${e.type} ${e.name}`);
  const untested = names.filter((n) => !new RegExp(`\\b${n.split(" ")[1]}\\b`).test(tests));
  missing += untested.length;
  const name = artifact.split("/").at(-1);
  process.stdout.write(
    `${name}: ${names.length - untested.length}/${names.length} own errors and events exercised by tests\n`,
  );
  for (const n of untested) process.stdout.write(`  not exercised: ${n}\n`);
}
process.exitCode = missing > 0 ? 1 : 0;
