/**
 * Where every program (the indexer, the node, the renter, the local marketplace) finds the
 * contracts: deployed addresses and the start block, from
 * Hardhat Ignition's deployment artifacts (`ignition/deployments/chain-<id>/`) or,
 * when set, from the environment. Nothing here is pasted by hand.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FabstirError } from "./errors.ts";

export const CONTRACT_NAMES = [
  "FABToken",
  "NodeRegistry",
  "JobMarketplace",
  "PaymentEscrow",
  "SessionManager",
  "ReputationSystem",
  "ProofSystem",
  "StakersPool",
  "FabstirTreasury",
  "FabstirGovernor",
  "FabstirTimelock",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface Deployment {
  chainId: number;
  addresses: Record<ContractName, `0x${string}`>;
  startBlock: number;
}

const ENV_KEYS: Record<ContractName, string> = {
  FABToken: "FABSTIR_FAB_TOKEN_ADDRESS",
  NodeRegistry: "FABSTIR_NODE_REGISTRY_ADDRESS",
  JobMarketplace: "FABSTIR_JOB_MARKETPLACE_ADDRESS",
  PaymentEscrow: "FABSTIR_PAYMENT_ESCROW_ADDRESS",
  SessionManager: "FABSTIR_SESSION_MANAGER_ADDRESS",
  ReputationSystem: "FABSTIR_REPUTATION_SYSTEM_ADDRESS",
  ProofSystem: "FABSTIR_PROOF_SYSTEM_ADDRESS",
  StakersPool: "FABSTIR_STAKERS_POOL_ADDRESS",
  FabstirTreasury: "FABSTIR_TREASURY_ADDRESS",
  FabstirGovernor: "FABSTIR_GOVERNOR_ADDRESS",
  FabstirTimelock: "FABSTIR_TIMELOCK_ADDRESS",
};

/** No deployment is known for the chain: a configuration the program cannot run with. */
export class DeploymentNotFoundError extends FabstirError {
  override readonly code = "deployment_not_found";
  override readonly userError = true;
}

/**
 * Reads the deployment of `chainId`. Environment variables win over artifacts:
 * FABSTIR_<CONTRACT>_ADDRESS and FABSTIR_START_BLOCK; FABSTIR_DEPLOYMENT_DIR points
 * at another Ignition deployment folder.
 */
export function loadDeployment(
  chainId: number,
  env: NodeJS.ProcessEnv = process.env,
  // import.meta.dirname is not available under Ponder's vite-node loader.
  root = fileURLToPath(new URL("..", import.meta.url)),
): Deployment {
  const dir =
    env.FABSTIR_DEPLOYMENT_DIR ?? path.join(root, "ignition", "deployments", `chain-${chainId}`);
  const artifactAddresses = readArtifactAddresses(dir);
  const addresses = {} as Record<ContractName, `0x${string}`>;
  for (const name of CONTRACT_NAMES) {
    const value = env[ENV_KEYS[name]] ?? artifactAddresses[name];
    if (!value || !/^0x[0-9a-fA-F]{40}$/.test(value)) {
      throw new DeploymentNotFoundError(
        `No address for ${name} on chain ${chainId}: set ${ENV_KEYS[name]} or deploy with Ignition (looked in ${dir})`,
      );
    }
    addresses[name] = value as `0x${string}`;
  }
  const startBlock = env.FABSTIR_START_BLOCK
    ? Number.parseInt(env.FABSTIR_START_BLOCK, 10)
    : readArtifactStartBlock(dir);
  if (!Number.isSafeInteger(startBlock) || startBlock < 0) {
    throw new DeploymentNotFoundError(`Invalid start block ${env.FABSTIR_START_BLOCK}`);
  }
  return { chainId, addresses, startBlock };
}

/** `deployed_addresses.json` maps "Fabstir#JobMarketplace" (the proxy, as the contract) to an address. */
function readArtifactAddresses(dir: string): Partial<Record<ContractName, string>> {
  const file = path.join(dir, "deployed_addresses.json");
  if (!existsSync(file)) return {};
  const all = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  const out: Partial<Record<ContractName, string>> = {};
  for (const name of CONTRACT_NAMES) {
    const entry = Object.entries(all).find(([key]) => key.endsWith(`#${name}`));
    if (entry) out[name] = entry[1];
  }
  return out;
}

/** The first block of the deployment: the lowest confirmed block in Ignition's journal. */
function readArtifactStartBlock(dir: string): number {
  const file = path.join(dir, "journal.jsonl");
  if (!existsSync(file)) return 0;
  let lowest = Number.POSITIVE_INFINITY;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /"blockNumber":\s*"?(\d+)/.exec(line);
    if (match?.[1]) lowest = Math.min(lowest, Number(match[1]));
  }
  return Number.isFinite(lowest) ? lowest : 0;
}
