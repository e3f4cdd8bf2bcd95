/**
 * Real parts for cross-component tests: a Hardhat node on 127.0.0.1 (a child process),
 * the contracts deployed to it with the production Ignition module, wallets for the
 * default dev accounts, and a Ponder indexer child process on PGlite or Postgres.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  http,
  type PublicClient,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { loadDeployment } from "../../indexer/deployment.ts";
import { deployedAddresses, deployLocalDev, startHardhatNode } from "../../local/chain.ts";
import { devPrivateKey, DEV_MNEMONIC as MNEMONIC } from "../../local/dev-accounts.ts";
import { type Indexer, startIndexerProcess } from "../../local/indexer.ts";
import { freePort, stripAnsi, waitFor } from "../../local/process.ts";

export { devPrivateKey, freePort, type Indexer, stripAnsi, waitFor };

export const ROOT = path.resolve(import.meta.dirname, "..", "..");

/** A wallet of Hardhat's default dev mnemonic (account 0 deployed the contracts). */
function makeWallet(url: string, index: number) {
  return createWalletClient({
    chain: hardhat,
    transport: http(url),
    account: mnemonicToAccount(MNEMONIC, { addressIndex: index }),
  });
}
export type Wallet = ReturnType<typeof makeWallet>;

export interface LocalChain {
  url: string;
  deploymentDir: string;
  addresses: ReturnType<typeof loadDeployment>["addresses"];
  stablecoin: `0x${string}`;
  publicClient: PublicClient;
  testClient: ReturnType<typeof createTestClient>;
  wallet: (index: number) => Wallet;
  mine: (blocks: number) => Promise<void>;
  stop: () => Promise<void>;
}

/** Starts `hardhat node` on a free loopback port and deploys the LocalDev Ignition module to it. */
export async function startLocalChain(): Promise<LocalChain> {
  const port = await freePort();
  const { url, proc: node } = await startHardhatNode(port);
  const publicClient = createPublicClient({ chain: hardhat, transport: http(url) });
  const deploymentDir = await deployLocalDev(url, `test-${port}`);
  const deployment = loadDeployment(31337, { FABSTIR_DEPLOYMENT_DIR: deploymentDir });
  const all = deployedAddresses(deploymentDir);
  const stablecoin = all["FabstirLocalDev#TestStablecoin"];
  if (!stablecoin) throw new Error("no TestStablecoin in the deployment");
  const testClient = createTestClient({ chain: hardhat, mode: "hardhat", transport: http(url) });
  return {
    url,
    deploymentDir,
    addresses: deployment.addresses,
    stablecoin,
    publicClient,
    testClient,
    wallet: (index) => makeWallet(url, index),
    // evm_mine one by one: hardhat_mine with a count produces blocks whose parent hashes Ponder rejects.
    mine: async (blocks) => {
      for (let i = 0; i < blocks; i++) await testClient.mine({ blocks: 1 });
    },
    stop: async () => {
      await node.stop();
      await rm(deploymentDir, { recursive: true, force: true });
    },
  };
}

/** Runs one statement as the postgres superuser on the local server (127.0.0.1:5432, trust auth). */
async function pgAdmin(statement: string): Promise<void> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: 5432,
    user: "postgres",
    database: "postgres",
  });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A fresh Postgres database on the local server; returns its URL and a drop function. */
export async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `fabstir_test_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  await pgAdmin(`create database ${name}`);
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () => pgAdmin(`drop database if exists ${name} with (force)`),
  };
}

/** Runs `ponder start` against `chain` (PGlite in a temp dir unless `databaseUrl`) and waits for its HTTP server. */
export async function startIndexer(
  chain: LocalChain,
  /** As startIndexerProcess; `rpcUrl` defaults to the chain's (point it at a test/helpers/rpc-proxy.ts to misbehave). */
  opts: Partial<Omit<Parameters<typeof startIndexerProcess>[0], "deploymentDir" | "port">> = {},
): Promise<Indexer> {
  return startIndexerProcess({
    ...opts,
    rpcUrl: opts.rpcUrl ?? chain.url,
    deploymentDir: chain.deploymentDir,
    port: await freePort(),
    pgliteDir: opts.databaseUrl ? undefined : opts.pgliteDir,
  });
}

/** Response JSON, asserted field by field by the tests. */
// biome-ignore lint/suspicious/noExplicitAny: tests check the shape themselves
type Json = any;

/** GET `path` from the API as JSON (status included). */
export async function getJson(
  base: string,
  pathname: string,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${pathname}`);
  return { status: res.status, body: await res.json() };
}
