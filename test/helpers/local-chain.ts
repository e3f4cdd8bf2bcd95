/**
 * Real parts for cross-component tests: a Hardhat node on 127.0.0.1 (a child process),
 * the contracts deployed to it with the production Ignition module, wallets for the
 * default dev accounts, and a Ponder indexer child process on PGlite or Postgres.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
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

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
const BIN = path.join(ROOT, "node_modules", ".bin");
const MNEMONIC = "test test test test test test test test test test test junk";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

function startProcess(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Proc {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: "pipe",
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  child.stderr?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => out,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

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
  const url = `http://127.0.0.1:${port}`;
  const node = startProcess(
    path.join(BIN, "hardhat"),
    ["node", "--hostname", "127.0.0.1", "--port", String(port)],
    {
      cwd: ROOT,
    },
  );
  const publicClient = createPublicClient({ chain: hardhat, transport: http(url) });
  await waitFor(
    "hardhat node",
    async () => (await publicClient.getChainId()) || undefined,
    60_000,
  ).catch((e) => {
    throw new Error(`${e}\n${node.output()}`);
  });
  const deploymentId = `test-${port}`;
  const deploy = startProcess(
    path.join(BIN, "hardhat"),
    [
      "ignition",
      "deploy",
      "ignition/modules/LocalDev.ts",
      "--network",
      "localhost",
      "--build-profile",
      "default",
      "--deployment-id",
      deploymentId,
    ],
    { cwd: ROOT, env: { FABSTIR_RPC_URL: url } },
  );
  const code = await new Promise<number | null>((resolve) => deploy.child.once("exit", resolve));
  if (code !== 0) throw new Error(`ignition deploy failed:\n${deploy.output()}`);
  const deploymentDir = path.join(ROOT, "ignition", "deployments", deploymentId);
  const deployment = loadDeployment(31337, { FABSTIR_DEPLOYMENT_DIR: deploymentDir });
  const { readFile } = await import("node:fs/promises");
  const all = JSON.parse(
    await readFile(path.join(deploymentDir, "deployed_addresses.json"), "utf8"),
  ) as Record<string, `0x${string}`>;
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

export interface Indexer {
  url: string;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
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
  opts: { databaseUrl?: string; pgliteDir?: string; schema?: string } = {},
): Promise<Indexer> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PONDER_TELEMETRY_DISABLED: "1",
    PONDER_RPC_URL: chain.url,
    FABSTIR_DEPLOYMENT_DIR: chain.deploymentDir,
    FABSTIR_CHAIN_ID: "31337",
  };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  else env.FABSTIR_PGLITE_DIR = opts.pgliteDir ?? path.join(ROOT, ".ponder-test", `pglite-${port}`);
  const proc = startProcess(
    path.join(BIN, "ponder"),
    [
      "start",
      "--config",
      "../ponder.config.ts",
      "--schema",
      opts.schema ?? "fabstir",
      "--port",
      String(port),
    ],
    { cwd: path.join(ROOT, "indexer"), env },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "ponder http server",
    async () => ((await fetch(`${url}/openapi.json`)).ok ? true : undefined),
    120_000,
  ).catch((e) => {
    throw new Error(`${e}\n${proc.output()}`);
  });
  return { url, output: proc.output, stop: proc.stop };
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
