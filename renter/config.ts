/**
 * Where the renter's tools find the marketplace and the renter's key, in this order:
 * flags, then environment (FABSTIR_RPC_URL, FABSTIR_API_URL, FABSTIR_CHAIN_ID,
 * FABSTIR_DEPLOYMENT_DIR, FABSTIR_RENTER_PRIVATE_KEY or FABSTIR_RENTER_KEYSTORE with
 * FABSTIR_KEYSTORE_PASSWORD), then the file `npm start` writes for the local marketplace
 * (.fabstir/local/marketplace.json, or FABSTIR_MARKETPLACE_FILE), whose renter is a public
 * dev account.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { loadDeployment } from "../protocol/deployment.ts";
import { decryptKeystore } from "../protocol/keystore.ts";
import { RenterUsageError } from "./errors.ts";

export const ROOT = path.resolve(import.meta.dirname, "..");
export const LOCAL_MARKETPLACE_FILE = path.join(ROOT, ".fabstir", "local", "marketplace.json");

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);
/** What `npm start` writes for the tools (and people) that use the local marketplace. */
export const marketplaceFileSchema = z.object({
  chainId: z.number().int(),
  rpcUrl: z.string().url(),
  apiUrl: z.string().url(),
  gatewayUrl: z.string().url().optional(),
  /** The local arbiter (arbiter/), which receives the evidence of output challenges. */
  arbiterUrl: z.string().url().optional(),
  deploymentDir: z.string(),
  addresses: z.object({
    FABToken: hex,
    NodeRegistry: hex,
    JobMarketplace: hex,
    PaymentEscrow: hex,
    SessionManager: hex.optional(),
    ReputationSystem: hex.optional(),
    ProofSystem: hex.optional(),
    StakersPool: hex.optional(),
    FabstirTreasury: hex.optional(),
    FabstirGovernor: hex.optional(),
    FabstirTimelock: hex.optional(),
    TestStablecoin: hex.optional(),
  }),
  renter: z.object({ address: hex, privateKey: hex }),
  hosts: z.array(z.object({ address: hex, httpUrl: z.string(), config: z.string() })),
});
export type MarketplaceFile = z.infer<typeof marketplaceFileSchema>;

/** The local marketplace's file: FABSTIR_MARKETPLACE_FILE, else the default data folder's. */
export function marketplaceFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.FABSTIR_MARKETPLACE_FILE ?? LOCAL_MARKETPLACE_FILE;
}

export function readMarketplaceFile(file = marketplaceFilePath()): MarketplaceFile | undefined {
  if (!existsSync(file)) return undefined;
  return marketplaceFileSchema.parse(JSON.parse(readFileSync(file, "utf8")));
}

export interface RenterSettings {
  rpcUrl: string;
  apiUrl: string;
  chainId: number;
  addresses: {
    JobMarketplace: `0x${string}`;
    PaymentEscrow: `0x${string}`;
    SessionManager: `0x${string}`;
    ReputationSystem: `0x${string}`;
    ProofSystem: `0x${string}`;
  };
  /** Where a failed spot-check's evidence goes (FABSTIR_ARBITER_URL, else the local arbiter). */
  arbiterUrl: string | undefined;
  privateKey: `0x${string}`;
}

export function resolveRenterSettings(
  flags: { rpc?: string; api?: string; marketplace?: string },
  env: NodeJS.ProcessEnv = process.env,
): RenterSettings {
  const local = readMarketplaceFile(flags.marketplace ?? marketplaceFilePath(env));
  const rpcUrl = flags.rpc ?? env.FABSTIR_RPC_URL ?? local?.rpcUrl;
  const apiUrl = flags.api ?? env.FABSTIR_API_URL ?? local?.apiUrl;
  const chainId = Number(env.FABSTIR_CHAIN_ID ?? local?.chainId ?? 31337);
  if (!rpcUrl || !apiUrl)
    throw new RenterUsageError(
      "no marketplace: run `npm start`, or set FABSTIR_RPC_URL and FABSTIR_API_URL (or --rpc and --api)",
    );
  const deploymentDir = env.FABSTIR_DEPLOYMENT_DIR ?? local?.deploymentDir;
  const addresses = loadDeployment(chainId, {
    ...env,
    ...(deploymentDir ? { FABSTIR_DEPLOYMENT_DIR: deploymentDir } : {}),
  }).addresses;
  let privateKey = env.FABSTIR_RENTER_PRIVATE_KEY as `0x${string}` | undefined;
  if (!privateKey && env.FABSTIR_RENTER_KEYSTORE) {
    const password = env.FABSTIR_KEYSTORE_PASSWORD;
    if (!password)
      throw new RenterUsageError("FABSTIR_KEYSTORE_PASSWORD unlocks FABSTIR_RENTER_KEYSTORE");
    privateKey = decryptKeystore(readFileSync(env.FABSTIR_RENTER_KEYSTORE, "utf8"), password);
  }
  privateKey ??= local?.renter.privateKey as `0x${string}` | undefined;
  if (!privateKey || !/^0x[0-9a-fA-F]{64}$/.test(privateKey))
    throw new RenterUsageError(
      "no renter key: set FABSTIR_RENTER_PRIVATE_KEY (0x + 64 hex digits) or FABSTIR_RENTER_KEYSTORE",
    );
  return {
    rpcUrl,
    apiUrl,
    chainId,
    addresses: {
      JobMarketplace: addresses.JobMarketplace,
      PaymentEscrow: addresses.PaymentEscrow,
      SessionManager: addresses.SessionManager,
      ReputationSystem: addresses.ReputationSystem,
      ProofSystem: addresses.ProofSystem,
    },
    arbiterUrl: env.FABSTIR_ARBITER_URL ?? local?.arbiterUrl,
    privateKey,
  };
}

export function renterAccount(settings: RenterSettings) {
  return privateKeyToAccount(settings.privateKey);
}
