/**
 * Ponder configuration of the Fabstir indexer (root: indexer/). The chain is the local
 * Hardhat chain (31337) unless FABSTIR_CHAIN_ID says otherwise (84532 Base Sepolia,
 * 8453 Base); PONDER_RPC_URL is its JSON-RPC endpoint. Contract addresses and the start
 * block come from Ignition's deployment artifacts or the environment (indexer/deployment.ts).
 * The database is PGlite under .ponder/ unless DATABASE_URL names a Postgres server.
 */
import { createConfig } from "ponder";
import {
  fabstirGovernorAbi,
  fabstirTimelockAbi,
  fabstirTreasuryAbi,
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  proofSystemAbi,
  reputationSystemAbi,
  sessionManagerAbi,
  stakersPoolAbi,
} from "./abis/index.ts";
import { loadDeployment } from "./protocol/deployment.ts";

const chainId = Number(process.env.FABSTIR_CHAIN_ID ?? 31337);
const local = chainId === 31337;
const rpc = process.env.PONDER_RPC_URL ?? (local ? "http://127.0.0.1:8545" : undefined);
if (!rpc) throw new Error(`PONDER_RPC_URL is required for chain ${chainId}`);
const { addresses, startBlock } = loadDeployment(chainId);

const at = (address: `0x${string}`) => ({ chain: "fabstir" as const, address, startBlock });

export default createConfig({
  database: process.env.DATABASE_URL
    ? { kind: "postgres", connectionString: process.env.DATABASE_URL }
    : { kind: "pglite", directory: process.env.FABSTIR_PGLITE_DIR },
  chains: {
    fabstir: {
      id: chainId,
      // Ponder throttles each URL, starting near 20 requests/s and ramping up slowly. A local
      // node has no limit worth respecting: listing it many times lets Ponder fetch in parallel.
      rpc: local ? Array<string>(16).fill(rpc) : rpc,
      maxRequestsPerSecond: local ? 1_000 : undefined,
      pollingInterval: local ? 200 : undefined,
      // Each local chain is new: never reuse cached logs of another chain with the same id.
      disableCache: local,
    },
  },
  contracts: {
    FABToken: { abi: fabTokenAbi, ...at(addresses.FABToken) },
    NodeRegistry: { abi: nodeRegistryAbi, ...at(addresses.NodeRegistry) },
    JobMarketplace: { abi: jobMarketplaceAbi, ...at(addresses.JobMarketplace) },
    PaymentEscrow: { abi: paymentEscrowAbi, ...at(addresses.PaymentEscrow) },
    SessionManager: { abi: sessionManagerAbi, ...at(addresses.SessionManager) },
    ReputationSystem: { abi: reputationSystemAbi, ...at(addresses.ReputationSystem) },
    ProofSystem: { abi: proofSystemAbi, ...at(addresses.ProofSystem) },
    StakersPool: { abi: stakersPoolAbi, ...at(addresses.StakersPool) },
    FabstirTreasury: { abi: fabstirTreasuryAbi, ...at(addresses.FabstirTreasury) },
    FabstirGovernor: { abi: fabstirGovernorAbi, ...at(addresses.FabstirGovernor) },
    FabstirTimelock: { abi: fabstirTimelockAbi, ...at(addresses.FabstirTimelock) },
  },
});
