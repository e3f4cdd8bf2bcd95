/**
 * Where the governance CLI finds the chain, the deployment and its key, in this order: flags,
 * then the environment (FABSTIR_RPC_URL, FABSTIR_CHAIN_ID, FABSTIR_DEPLOYMENT_DIR,
 * FABSTIR_GOVERNANCE_KEY), then the file `npm start` writes for the local marketplace
 * (.fabstir/local/marketplace.json, or FABSTIR_MARKETPLACE_FILE), then the defaults
 * (http://127.0.0.1:8545, chain 31337, ignition/deployments/chain-<id>). The key is never
 * taken from the marketplace file: governance signs with a key its user chose.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { type ConnectOptions, ROOT } from "./client.ts";
import { GovernanceUsageError } from "./errors.ts";

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";
export const DEFAULT_CHAIN_ID = 31337;

/** The part of the local marketplace's file (local/marketplace.ts writes it) used here. */
const marketplaceFile = z.object({
  chainId: z.number().int(),
  rpcUrl: z.string().url(),
  deploymentDir: z.string(),
});

function readMarketplace(env: NodeJS.ProcessEnv) {
  const file =
    env.FABSTIR_MARKETPLACE_FILE ?? path.join(ROOT, ".fabstir", "local", "marketplace.json");
  if (!existsSync(file)) return undefined;
  const parsed = marketplaceFile.safeParse(JSON.parse(readFileSync(file, "utf8")));
  return parsed.success ? parsed.data : undefined;
}

export interface GovernanceFlags {
  "rpc-url"?: string;
  "chain-id"?: string;
  "deployment-dir"?: string;
  key?: string;
}

/** The CLI's connection settings, validated. */
export function resolveGovernanceSettings(
  flags: GovernanceFlags,
  env: NodeJS.ProcessEnv = process.env,
): Omit<ConnectOptions, "logger"> {
  const local = readMarketplace(env);
  const rawChainId = flags["chain-id"] ?? env.FABSTIR_CHAIN_ID;
  if (rawChainId !== undefined && !/^\d+$/.test(rawChainId))
    throw new GovernanceUsageError(`--chain-id expects a whole number, got ${rawChainId}`);
  const key = flags.key ?? env.FABSTIR_GOVERNANCE_KEY;
  if (key !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(key))
    throw new GovernanceUsageError("the governance key must be 0x + 64 hex digits");
  const deploymentDir =
    flags["deployment-dir"] ?? env.FABSTIR_DEPLOYMENT_DIR ?? local?.deploymentDir;
  return {
    rpcUrl: flags["rpc-url"] ?? env.FABSTIR_RPC_URL ?? local?.rpcUrl ?? DEFAULT_RPC_URL,
    chainId: rawChainId !== undefined ? Number(rawChainId) : (local?.chainId ?? DEFAULT_CHAIN_ID),
    privateKey: key,
    deploymentDir: deploymentDir === undefined ? undefined : path.resolve(deploymentDir),
    env,
  };
}
