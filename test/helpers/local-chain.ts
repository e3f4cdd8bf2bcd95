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
  bytesToHex,
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
  intervalMs = 200,
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
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** Removes ANSI escape sequences (colours, cursor moves) from process output. */
export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
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
    // Logs are matched by tests: ask for plain text, and strip colour codes anyway
    // (some CI environments force colour on, which broke a log match once).
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...opts.env },
    stdio: "pipe",
  });
  let out = "";
  const append = (d: Buffer) => {
    out = (out + d.toString()).slice(-100_000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => stripAnsi(out),
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** The private key of Hardhat's default dev account `index` (public knowledge: local chains only). */
export function devPrivateKey(index: number): `0x${string}` {
  const key = mnemonicToAccount(MNEMONIC, { addressIndex: index }).getHdKey().privateKey;
  if (!key) throw new Error(`no private key for dev account ${index}`);
  return bytesToHex(key);
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
  /** Whether Ponder serves 200 on /ready (backfill done). */
  ready: () => Promise<boolean>;
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
  opts: {
    databaseUrl?: string;
    pgliteDir?: string;
    schema?: string;
    viewsSchema?: string;
    /** Another Ponder app's root folder (its ponder.config.ts inside); default the real indexer. */
    root?: string;
    /** The path polled until the HTTP server answers 200; default /openapi.json. */
    upPath?: string;
    /** The RPC Ponder reads (for example a test/helpers/rpc-proxy.ts in front of the chain); default the chain's. */
    rpcUrl?: string;
  } = {},
): Promise<Indexer> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PONDER_TELEMETRY_DISABLED: "1",
    PONDER_RPC_URL: opts.rpcUrl ?? chain.url,
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
      opts.root ? "ponder.config.ts" : "../ponder.config.ts",
      "--schema",
      opts.schema ?? "fabstir",
      "--port",
      String(port),
      ...(opts.viewsSchema ? ["--views-schema", opts.viewsSchema] : []),
    ],
    { cwd: opts.root ?? path.join(ROOT, "indexer"), env },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    "ponder http server",
    async () => ((await fetch(`${url}${opts.upPath ?? "/openapi.json"}`)).ok ? true : undefined),
    120_000,
  ).catch((e) => {
    throw new Error(`${e}\n${proc.output()}`);
  });
  const ready = async () => (await fetch(`${url}/ready`)).status === 200;
  return { url, ready, output: proc.output, stop: proc.stop };
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
