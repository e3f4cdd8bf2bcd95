/**
 * What every governance step works with: a chain client signing as the governance account, and
 * the deployment's addresses (the governor, the timelock, FAB and the governed contracts).
 */
import path from "node:path";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type ChainClient, createChainClient } from "../protocol/chain-client.ts";
import { loadDeployment } from "../protocol/deployment.ts";
import type { Logger } from "../protocol/logger.ts";
import type { Addresses } from "./actions.ts";
import { GovernanceUsageError } from "./errors.ts";

export interface Governance {
  chain: ChainClient;
  addresses: Addresses;
  /** The deployment's first block: where the governor's logs start. */
  startBlock: number;
  /** The project root: compiled artifacts and storage-layout snapshots are found under it. */
  root: string;
}

export interface ConnectOptions {
  rpcUrl: string;
  chainId: number;
  /** The account that proposes and votes; reads need none (a throwaway key that signs nothing). */
  privateKey?: string;
  /** An Ignition deployment folder (default: FABSTIR_DEPLOYMENT_DIR or the chain's own). */
  deploymentDir?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

export const ROOT = path.resolve(import.meta.dirname, "..");

/** Connects to the deployment on `chainId` at `rpcUrl`. */
export function connectGovernance(options: ConnectOptions): Governance {
  const key = options.privateKey ?? generatePrivateKey();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key))
    throw new GovernanceUsageError("the governance key must be 0x + 64 hex digits");
  const env = options.env ?? process.env;
  const deployment = loadDeployment(
    options.chainId,
    options.deploymentDir ? { ...env, FABSTIR_DEPLOYMENT_DIR: options.deploymentDir } : env,
  );
  return {
    chain: createChainClient({
      rpcUrl: options.rpcUrl,
      chainId: options.chainId,
      account: privateKeyToAccount(key as Hex),
      logger: options.logger,
      retry: { attempts: 3 },
    }),
    addresses: deployment.addresses,
    startBlock: deployment.startBlock,
    root: ROOT,
  };
}
