import { createRequire } from "node:module";
import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatViemAssertions from "@nomicfoundation/hardhat-viem-assertions";
import { configVariable, defineConfig } from "hardhat/config";

// Hardhat cannot download compilers here (no internet), so it compiles with the
// wasm build shipped in the `solc` npm package. `version` must equal that
// package's version or Hardhat tries to download a matching native compiler.
const require = createRequire(import.meta.url);
const solcVersion: string = require("solc/package.json").version;
const solcPath = require.resolve("solc/soljson.js");

// Fuzz/invariant depth: the default tier keeps `npm test` fast on 2 cores;
// `npm run test:fuzz:deep` raises the run counts.
const deep = process.env.FABSTIR_FUZZ_PROFILE === "deep";

const compilerSettings = {
  evmVersion: "cancun",
  viaIR: true,
  optimizer: { enabled: true, runs: 10_000 },
};
const compiler = { version: solcVersion, path: solcPath, settings: compilerSettings };
// NodeRegistry runs far less often than the marketplace (registration and capability changes;
// only checkEligible is on the claim path) and at 2 000 runs its code (with FAB custody and the
// stakers pool's stake observer) exceeds the 24 576-byte limit of EIP-170, so it is optimized
// for 200 runs.
const registryCompiler = {
  ...compiler,
  settings: { ...compilerSettings, optimizer: { enabled: true, runs: 200 } },
};
// ProofSystem runs once per proof or challenge, and at 10 000 runs its code exceeds EIP-170's
// 24 576 bytes, so it is optimized for 200 runs (its gas is dominated by the proofs' pairings).
const lowRunsCompiler = {
  ...compiler,
  settings: { ...compilerSettings, optimizer: { enabled: true, runs: 200 } },
};
const profile = {
  compilers: [compiler],
  overrides: {
    "contracts/registry/NodeRegistry.sol": registryCompiler,
    "contracts/proofs/ProofSystem.sol": lowRunsCompiler,
    "contracts/test/ProofSystemV2.sol": lowRunsCompiler,
    // OpenZeppelin's governor with six extensions exceeds EIP-170 at 10 000 runs; it runs once
    // per proposal step, so 200 runs cost nothing that matters.
    "contracts/governance/FabstirGovernor.sol": lowRunsCompiler,
  },
};

export default defineConfig({
  plugins: [
    hardhatViem,
    hardhatNodeTestRunner,
    hardhatNetworkHelpers,
    hardhatKeystore,
    hardhatIgnitionViem,
    hardhatViemAssertions,
  ],
  solidity: {
    profiles: { default: profile, production: profile },
  },
  paths: {
    sources: "contracts",
    tests: { nodejs: "test/contracts", solidity: "test/contracts" },
  },
  test: {
    solidity: {
      fuzz: { runs: deep ? 5_000 : 256 },
      invariant: { runs: deep ? 512 : 64, depth: deep ? 64 : 24, failOnRevert: false },
    },
  },
  networks: {
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    // What `hardhat node` serves. FABSTIR_CHAIN_GENESIS_TIME (unix seconds) pins the genesis
    // block's time, so a recorded local chain replays onto an identical one (local/chain-log.ts).
    node: {
      type: "edr-simulated",
      ...(process.env.FABSTIR_CHAIN_GENESIS_TIME
        ? { initialDate: new Date(Number(process.env.FABSTIR_CHAIN_GENESIS_TIME) * 1000) }
        : {}),
    },
    // The local marketplace chain: `hardhat node --hostname 127.0.0.1` serves it.
    localhost: {
      type: "http",
      chainType: "op",
      url: process.env.FABSTIR_RPC_URL ?? "http://127.0.0.1:8545",
    },
    baseSepolia: {
      type: "http",
      chainType: "op",
      chainId: 84532,
      url: configVariable("BASE_SEPOLIA_RPC_URL"),
      accounts: [configVariable("BASE_SEPOLIA_DEPLOYER_KEY")],
    },
    base: {
      type: "http",
      chainType: "op",
      chainId: 8453,
      url: configVariable("BASE_RPC_URL"),
      accounts: [configVariable("BASE_DEPLOYER_KEY")],
    },
  },
});
