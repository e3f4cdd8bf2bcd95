/**
 * The whole marketplace on one machine, as `npm start` runs it and as the end-to-end tests
 * start it: a Hardhat chain on 127.0.0.1 with the contracts deployed by the LocalDev Ignition
 * module, a funded demo renter, the indexer and API on PGlite, the generated demo models,
 * host nodes that stake and register themselves, a renter gateway for the demo renter (which
 * spot-checks a sample of its answers), and the arbiter that decides output challenges and
 * disputes (arbiter/, holding ARBITER_ROLE as dev account 10).
 *
 * State lives in one folder (default .fabstir/local): the recorded chain (chain-log.ts),
 * each host's config, keystore and data (peer key, job state, semantic cache), and
 * marketplace.json, which tells the CLIs where everything is. Starting again replays the
 * chain and resumes the hosts; the indexer rebuilds its tables from the replayed chain.
 * `fresh` starts from nothing.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { erc20Abi, formatEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  proofSystemAbi,
  testStablecoinAbi,
} from "../abis/index.ts";
import { type Arbiter, createArbiter, discoveryVerifiers } from "../arbiter/index.ts";
import {
  DEFAULT_MODELS_DIR,
  generateModel,
  type HostNode,
  parseNodeConfig,
  reseededCopy,
  startHostNode,
} from "../node/index.ts";
import { createChainClient } from "../protocol/chain-client.ts";
import { loadDeployment } from "../protocol/deployment.ts";
import { type HttpServer, startHttpServer } from "../protocol/http-server.ts";
import { writeKeystore } from "../protocol/keystore.ts";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import {
  createGatewayApp,
  createRenter,
  type MarketplaceFile,
  type Renter,
} from "../renter/index.ts";
import { deployedAddresses, deployLocalDev, ROOT, startHardhatNode } from "./chain.ts";
import { readGenesisTime, replayChainLog, startChainRecorder } from "./chain-log.ts";
import { devPrivateKey } from "./dev-accounts.ts";
import { type Indexer, startIndexerProcess } from "./indexer.ts";
import { freePort, portInUse, waitFor } from "./process.ts";

export const LOCAL_DEFAULTS = {
  dataDir: path.join(ROOT, ".fabstir", "local"),
  deploymentId: "fabstir-local",
  hosts: 2,
  chainPort: 8545,
  apiPort: 42069,
  gatewayPort: 8787,
  arbiterPort: 8790,
  /** The arbiter is dev account 10: the LocalDev module grants it ARBITER_ROLE. */
  arbiterIndex: 10,
  /** The fraction of the gateway's session answers another host checks. */
  spotCheckRate: 0.1,
  /** Host i (1-based) serves HTTP on hostPort + i - 1. */
  hostPort: 8081,
  chatModel: "fabstir-tiny-chat",
  embeddingModel: "fabstir-tiny-embed",
  /** The demo renter is dev account 9; hosts are accounts 1..8. */
  renterIndex: 9,
  /** Host i asks (i + 1) gwei per token in ETH, and (i + 1) * 10 base units of tUSD. */
  priceGwei: (i: number) => BigInt(i + 1),
  keystorePassword: "fabstir-local",
} as const;

export interface LocalMarketplaceOptions {
  dataDir?: string;
  fresh?: boolean;
  hosts?: number;
  /** Ports; 0 picks a free one (the tests do). */
  chainPort?: number;
  apiPort?: number;
  gatewayPort?: number;
  hostPort?: number;
  arbiterPort?: number;
  /** The gateway's spot-check rate, 0..1 (default LOCAL_DEFAULTS.spotCheckRate). */
  spotCheckRate?: number;
  /**
   * Hosts (1-based) that cheat: they serve a reseeded copy of the chat model under its name
   * (node/inference/reseeded-model.ts), text the listed model would not produce. For the
   * trust layer's end-to-end test and demos; default none.
   */
  cheaters?: number[];
  /**
   * An operator API key (at least 16 characters) that every host accepts in its
   * `http.apiKeys`, so a caller can use a host's own API without a job or session (the
   * benchmarks' baseline); default none, as a host's default is.
   */
  hostApiKey?: string;
  logger?: Logger;
  /** One line per step, for people watching. */
  onProgress?: (line: string) => void;
}

export interface LocalMarketplace {
  file: MarketplaceFile;
  dataDir: string;
  hosts: { address: `0x${string}`; url: string; node: HostNode }[];
  renter: Renter;
  indexer: Indexer;
  gateway: HttpServer;
  arbiter: { url: string; service: Arbiter };
  /** Whether the chain was replayed from an earlier run. */
  resumed: boolean;
  stop: () => Promise<void>;
}

async function port(wanted: number, what: string): Promise<number> {
  if (wanted === 0) return freePort();
  if (await portInUse(wanted))
    throw new Error(
      `port ${wanted} (${what}) is in use: is another marketplace running? Stop it, or choose another port`,
    );
  return wanted;
}

export async function startLocalMarketplace(
  options: LocalMarketplaceOptions = {},
): Promise<LocalMarketplace> {
  const logger = options.logger ?? silentLogger;
  const progress = options.onProgress ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir ?? LOCAL_DEFAULTS.dataDir);
  const hostCount = options.hosts ?? LOCAL_DEFAULTS.hosts;
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > 8)
    throw new Error("hosts: between 1 and 8");
  // One deployment folder per data folder, so tests and `npm start` never share one.
  const deploymentId =
    dataDir === LOCAL_DEFAULTS.dataDir
      ? LOCAL_DEFAULTS.deploymentId
      : `${LOCAL_DEFAULTS.deploymentId}-${path.basename(dataDir)}`;
  const deploymentDir = path.join(ROOT, "ignition", "deployments", deploymentId);
  const chainLog = path.join(dataDir, "chain.jsonl");

  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((e) => logger.warn({ err: String(e) }, "stop failed"));
  };
  try {
    if (options.fresh) await rm(dataDir, { recursive: true, force: true });
    const genesisTime = readGenesisTime(chainLog);
    const resumed =
      genesisTime !== undefined && existsSync(path.join(deploymentDir, "deployed_addresses.json"));
    if (!resumed) {
      await rm(dataDir, { recursive: true, force: true });
      await rm(deploymentDir, { recursive: true, force: true });
    }
    await mkdir(dataDir, { recursive: true });

    const chainPort = await port(options.chainPort ?? LOCAL_DEFAULTS.chainPort, "chain");
    progress(`starting the chain on 127.0.0.1:${chainPort}`);
    const node = await startHardhatNode(
      chainPort,
      resumed ? { FABSTIR_CHAIN_GENESIS_TIME: String(genesisTime) } : {},
    );
    stops.push(() => node.proc.stop());
    const rpcUrl = node.url;
    if (resumed) {
      progress("replaying the recorded chain");
      const blocks = await replayChainLog(rpcUrl, chainLog, (done, total) =>
        progress(`  block ${done} of ${total}`),
      );
      progress(`replayed ${blocks} blocks`);
    }
    const recorder = await startChainRecorder(rpcUrl, chainLog, {
      onError: (e) => logger.error({ err: String(e) }, "recording the chain failed"),
    });
    stops.push(() => recorder.stop());

    // The demo models before the contracts: the deployment lists them in the ModelCatalog with
    // their files' hashes (ignition/lib/local.ts).
    const modelsDir = DEFAULT_MODELS_DIR;
    await mkdir(modelsDir, { recursive: true });
    for (const name of [LOCAL_DEFAULTS.chatModel, LOCAL_DEFAULTS.embeddingModel] as const) {
      const file = path.join(modelsDir, `${name}.gguf`);
      if (existsSync(file)) continue;
      progress(`generating the demo model ${name}`);
      await generateModel(name, file);
    }
    const chatModelFile = path.join(modelsDir, `${LOCAL_DEFAULTS.chatModel}.gguf`);
    const chatModelSha256 = await sha256OfFile(chatModelFile);
    if (!resumed) {
      progress("deploying the contracts (Ignition, LocalDev module)");
      await deployLocalDev(rpcUrl, deploymentId, {
        chatModelSha256: `0x${chatModelSha256}`,
        embeddingModelSha256: `0x${await sha256OfFile(
          path.join(modelsDir, `${LOCAL_DEFAULTS.embeddingModel}.gguf`),
        )}`,
      });
    }
    const addresses = loadDeployment(31337, { FABSTIR_DEPLOYMENT_DIR: deploymentDir }).addresses;
    const stablecoin = deployedAddresses(deploymentDir)["FabstirLocalDev#TestStablecoin"];
    if (!stablecoin) throw new Error("the deployment has no TestStablecoin");
    const renterKey = devPrivateKey(LOCAL_DEFAULTS.renterIndex);
    const arbiterAccount = privateKeyToAccount(devPrivateKey(LOCAL_DEFAULTS.arbiterIndex));
    const renterAccount = privateKeyToAccount(renterKey);
    const hostKeys = Array.from({ length: hostCount }, (_, i) => devPrivateKey(i + 1));

    // Funding: the deployer's FAB to each host (twice the minimum stake), tUSD to the renter.
    const deployer = createChainClient({
      rpcUrl,
      chainId: 31337,
      account: privateKeyToAccount(devPrivateKey(0)),
      logger,
    });
    const minimumStake = await deployer.public.readContract({
      address: addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "minimumStake",
    });
    for (const key of hostKeys) {
      const host = privateKeyToAccount(key).address;
      const fab = await deployer.public.readContract({
        address: addresses.FABToken,
        abi: fabTokenAbi,
        functionName: "balanceOf",
        args: [host],
      });
      if (fab < minimumStake)
        await deployer.send("fund host", {
          address: addresses.FABToken,
          abi: fabTokenAbi,
          functionName: "transfer",
          args: [host, minimumStake * 2n],
        });
    }
    const usd = await deployer.public.readContract({
      address: stablecoin,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [renterAccount.address],
    });
    if (usd === 0n)
      await deployer.send("fund renter", {
        address: stablecoin,
        abi: testStablecoinAbi,
        functionName: "mint",
        args: [renterAccount.address, 10_000n * 10n ** 6n],
      });
    // The arbiter's key decides output challenges and disputes (docs/trust.md). The LocalDev
    // module grants it ARBITER_ROLE during the governance handover (the deployer keeps no admin
    // power to grant it later), so a deployment without it is one made before governance.
    for (const [name, address, abi] of [
      ["ProofSystem", addresses.ProofSystem, proofSystemAbi],
      ["JobMarketplace", addresses.JobMarketplace, jobMarketplaceAbi],
    ] as const) {
      const role = await deployer.read(`${name} ARBITER_ROLE`, {
        address,
        abi,
        functionName: "ARBITER_ROLE",
      });
      const has = await deployer.read(`${name} hasRole`, {
        address,
        abi,
        functionName: "hasRole",
        args: [role, arbiterAccount.address],
      });
      if (!has)
        throw new Error(
          `the arbiter ${arbiterAccount.address} has no ARBITER_ROLE on ${name}: this deployment predates governance; start over with npm start -- --fresh`,
        );
    }
    const eth = await deployer.public.getBalance({ address: renterAccount.address });
    progress(
      `renter ${renterAccount.address}: ${formatEther(eth)} test ETH, ${usd === 0n ? "10000" : String(usd / 10n ** 6n)} tUSD`,
    );

    const apiPort = await port(options.apiPort ?? LOCAL_DEFAULTS.apiPort, "indexer API");
    progress(`starting the indexer and API on 127.0.0.1:${apiPort} (Ponder on PGlite)`);
    // The indexer rebuilds from the chain each start (fast at this size, and always consistent).
    const pgliteDir = path.join(dataDir, "pglite");
    await rm(pgliteDir, { recursive: true, force: true });
    const indexer = await startIndexerProcess({ rpcUrl, deploymentDir, port: apiPort, pgliteDir });
    stops.push(() => indexer.stop());

    // The reference file's hash: what the arbiter and the gateway accept verdicts about.
    const modelSha256 = { [LOCAL_DEFAULTS.chatModel]: chatModelSha256 };
    const cheaters = new Set(options.cheaters ?? []);
    const cheatFile = path.join(dataDir, `${LOCAL_DEFAULTS.chatModel}.reseeded.gguf`);
    if (cheaters.size > 0 && !existsSync(cheatFile)) {
      progress(`hosts ${[...cheaters].join(", ")} will cheat: serving a reseeded chat model`);
      await reseededCopy(chatModelFile, cheatFile, 7);
    }

    const hosts: LocalMarketplace["hosts"] = [];
    const hostPortBase = options.hostPort ?? LOCAL_DEFAULTS.hostPort;
    let bootstrap: string | undefined;
    for (const [i, key] of hostKeys.entries()) {
      const dir = path.join(dataDir, `host-${i + 1}`);
      await mkdir(dir, { recursive: true });
      const keystore = path.join(dir, "key.json");
      if (!existsSync(keystore))
        await writeKeystore(keystore, key, LOCAL_DEFAULTS.keystorePassword, 1 << 12);
      const httpPort = await port(hostPortBase === 0 ? 0 : hostPortBase + i, `host ${i + 1}`);
      const gwei = LOCAL_DEFAULTS.priceGwei(i);
      const raw = {
        dataDir: "data",
        models: [
          {
            id: LOCAL_DEFAULTS.chatModel,
            path: cheaters.has(i + 1) ? cheatFile : chatModelFile,
            role: "chat",
          },
          {
            id: LOCAL_DEFAULTS.embeddingModel,
            path: path.join(modelsDir, `${LOCAL_DEFAULTS.embeddingModel}.gguf`),
            role: "embedding",
          },
        ],
        threads: 1,
        engine: { contextSize: 1024, sequences: 2 },
        cache: { enabled: true },
        http: { port: httpPort, ...(options.hostApiKey ? { apiKeys: [options.hostApiKey] } : {}) },
        p2p: {
          listen: ["/ip4/127.0.0.1/tcp/0"],
          bootstrap: bootstrap ? [bootstrap] : [],
          lan: true,
        },
        chain: {
          rpcUrl,
          chainId: 31337,
          keystore: "key.json",
          deploymentDir,
          region: "local",
          offers: [
            { model: LOCAL_DEFAULTS.chatModel, pricePerToken: (gwei * 10n ** 9n).toString() },
            {
              model: LOCAL_DEFAULTS.chatModel,
              token: stablecoin,
              pricePerToken: (gwei * 10n).toString(),
            },
          ],
          pollIntervalMs: 200,
          minTimeLeftSec: 10,
        },
      };
      const configFile = path.join(dir, "node.json");
      await writeFile(configFile, `${JSON.stringify(raw, null, 2)}\n`);
      progress(`starting host ${i + 1} (${privateKeyToAccount(key).address})`);
      const hostNode = await startHostNode(parseNodeConfig(raw, dir), {
        logger: logger.child({ host: i + 1 }),
        env: { ...process.env, FABSTIR_KEYSTORE_PASSWORD: LOCAL_DEFAULTS.keystorePassword },
      });
      stops.push(() => hostNode.stop());
      bootstrap ??= hostNode.p2p?.multiaddrs()[0]?.toString();
      hosts.push({
        address: hostNode.address as `0x${string}`,
        url: hostNode.http?.url ?? "",
        node: hostNode,
      });
    }

    const arbiterPort = await port(options.arbiterPort ?? LOCAL_DEFAULTS.arbiterPort, "arbiter");
    const arbiterService = await createArbiter({
      chain: createChainClient({ rpcUrl, chainId: 31337, account: arbiterAccount, logger }),
      chainId: 31337,
      addresses,
      verifiers: discoveryVerifiers(indexer.url),
      modelSha256,
      dataDir: path.join(dataDir, "arbiter"),
      retryMs: 5_000,
      logger,
    });
    stops.push(() => arbiterService.stop());
    const arbiterServer = await startHttpServer(arbiterService.app, { port: arbiterPort });
    stops.push(() => arbiterServer.close());
    progress(`arbiter ${arbiterAccount.address} on ${arbiterServer.url}`);

    const renter = createRenter({
      rpcUrl,
      chainId: 31337,
      apiUrl: indexer.url,
      account: renterAccount,
      addresses,
      logger,
      spotCheck: {
        rate: options.spotCheckRate ?? LOCAL_DEFAULTS.spotCheckRate,
        arbiterUrl: arbiterServer.url,
        modelSha256,
      },
    });
    // The API lists a host once the indexer has its registration.
    await waitFor(
      "the indexer to list every host",
      async () =>
        (await renter.discovery.hosts({ model: LOCAL_DEFAULTS.chatModel })).length >= hostCount ||
        undefined,
      120_000,
    );
    const gatewayPort = await port(options.gatewayPort ?? LOCAL_DEFAULTS.gatewayPort, "gateway");
    const gateway = await startHttpServer(createGatewayApp({ renter, logger }), {
      port: gatewayPort,
    });
    stops.push(() => gateway.close());
    // Runs before the gateway and the hosts stop: each host settles its session on chain. A
    // chain or host that is already gone must not hold the shutdown: at most 30 s.
    stops.push(async () => {
      const held = renter.sessions.held().length;
      const closed = await Promise.race([
        renter.sessions.stop(),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000).unref()),
      ]);
      if (held > 0)
        progress(
          closed
            ? `${closed.filter((c) => c.how === "host").length} of ${held} gateway sessions settled by their hosts`
            : `the gateway's ${held} sessions were not settled within 30 s (their hosts close them when idle)`,
        );
    });

    const file: MarketplaceFile = {
      chainId: 31337,
      rpcUrl,
      apiUrl: indexer.url,
      gatewayUrl: gateway.url,
      arbiterUrl: arbiterServer.url,
      deploymentDir,
      addresses: { ...addresses, TestStablecoin: stablecoin },
      renter: { address: renterAccount.address, privateKey: renterKey },
      hosts: hosts.map((h, i) => ({
        address: h.address,
        httpUrl: h.url,
        config: path.join(dataDir, `host-${i + 1}`, "node.json"),
      })),
    };
    const fileName = path.join(dataDir, "marketplace.json");
    await writeFile(fileName, `${JSON.stringify(file, null, 2)}\n`);
    stops.push(() => rm(fileName, { force: true }));
    return {
      file,
      dataDir,
      hosts,
      renter,
      indexer,
      gateway,
      arbiter: { url: arbiterServer.url, service: arbiterService },
      resumed,
      stop: async () => {
        await stopAll();
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
