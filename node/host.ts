/**
 * One host node, assembled from its config: inference (models, engines, semantic cache),
 * the request handler, the OpenAI-compatible HTTP API, libp2p (identity, DHT discovery,
 * the inference and capabilities protocols) and, when a chain is configured, the
 * registry entry, the job monitor and the job gate. Start order: models first (a node that
 * cannot serve must not register), then the transports, then the chain (its registration
 * carries the transports' addresses). Stop runs it backwards and lets answers in flight
 * finish.
 */
import path from "node:path";
import { keccak256, stringToHex, zeroAddress } from "viem";
import { loadDeployment } from "../protocol/deployment.ts";
import { type HttpServer, startHttpServer } from "../protocol/http-server.ts";
import { loadHostAccount } from "../protocol/keystore.ts";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import { chainModelId } from "../protocol/model-id.ts";
import type { Capabilities } from "../protocol/wire.ts";
import { type HostChain, startHostChain } from "./chain/host-chain.ts";
import type { DesiredRegistration } from "./chain/registration.ts";
import type { NodeConfig } from "./config.ts";
import { createHttpApp } from "./http/server.ts";
import { createInferenceService, type InferenceService } from "./inference/service.ts";
import { createNodeMetrics, type NodeMetrics } from "./metrics.ts";
import { createDiscovery, type Discovery } from "./p2p/discovery.ts";
import { loadOrCreateIdentity } from "./p2p/identity.ts";
import { type InferenceServer, startInferenceServer } from "./p2p/inference.ts";
import { createP2PNode, type P2PNode } from "./p2p/node.ts";
import { createRequestHandler } from "./serving/handler.ts";
import type { RequestHandler } from "./serving/types.ts";

export const NODE_VERSION = "0.1.0";

export interface HostNode {
  readonly config: NodeConfig;
  readonly service: InferenceService;
  readonly handler: RequestHandler;
  readonly metrics: NodeMetrics;
  readonly http: HttpServer | undefined;
  readonly p2p: P2PNode | undefined;
  readonly discovery: Discovery | undefined;
  readonly chain: HostChain | undefined;
  /** The host's chain address, when a chain is configured. */
  readonly address: `0x${string}` | undefined;
  stop: () => Promise<void>;
}

const padded = (s: string) => stringToHex(s, { size: 32 });

/** Starts a host node; on failure, what was started is stopped again. */
export async function startHostNode(
  config: NodeConfig,
  options: { logger?: Logger; env?: NodeJS.ProcessEnv } = {},
): Promise<HostNode> {
  const logger = options.logger ?? silentLogger;
  const env = options.env ?? process.env;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((e) => logger.warn({ err: String(e) }, "stop failed"));
  };
  try {
    const service = createInferenceService(config, logger);
    stops.push(() => service.stop());
    await service.start();
    const metrics = createNodeMetrics();
    metrics.setLoadSource(() => service.stats());
    const account = config.chain
      ? await loadHostAccount({ keystore: config.chain.keystore }, env)
      : undefined;
    let httpUrl: string | undefined;
    const offers = (config.chain?.offers ?? []).map((o) => ({
      model: o.model,
      modelId: chainModelId(o.model),
      token: (o.token === "ETH" ? zeroAddress : o.token.toLowerCase()) as `0x${string}`,
      pricePerToken: BigInt(o.pricePerToken),
    }));
    const capabilities = (): Capabilities => {
      const stats = Object.values(service.stats());
      return {
        version: NODE_VERSION,
        host: account?.address,
        models: service.models().map((id) => ({
          id,
          chainModelId: chainModelId(id),
          prices: offers
            .filter((o) => o.model === id)
            .map((o) => ({ token: o.token, pricePerToken: o.pricePerToken.toString() })),
          contextSize: config.engine.contextSize,
        })),
        load: {
          running: stats.reduce((n, s) => n + s.running, 0),
          queued: stats.reduce((n, s) => n + s.queued, 0),
          slots: stats.reduce((n, s) => n + s.slots, 0),
        },
        httpUrl,
      };
    };
    // The chain's job gate is created after the transports; requests before it are refused.
    let chain: HostChain | undefined;
    const handler = createRequestHandler({
      service,
      metrics,
      apiKeys: config.http.apiKeys,
      open: config.http.open,
      capabilities,
      jobs: config.chain
        ? {
            open: (auth, request) => {
              if (!chain) throw new Error("the chain is not connected yet");
              return chain.jobs.open(auth, request);
            },
          }
        : undefined,
      sessions: config.chain
        ? {
            open: (auth, request) => {
              if (!chain) throw new Error("the chain is not connected yet");
              return chain.sessions.open(auth, request);
            },
          }
        : undefined,
    });

    let http: HttpServer | undefined;
    if (config.http.enabled) {
      const app = createHttpApp({
        handler,
        metrics,
        logger,
        maxBodyBytes: config.http.maxBodyBytes,
        // Teacher-forced spot-checks for renters (POST /v1/verify; docs/trust.md).
        verifier: (id) => service.engine(id),
        closeSession: config.chain
          ? (id, receipt) => {
              if (!chain) throw new Error("the chain is not connected yet");
              return chain.sessions.close(id, receipt);
            }
          : undefined,
        health: () => ({
          peer_id: p2p?.peerId.toString() ?? null,
          chain: chain
            ? {
                connected: chain.monitor.lastError === undefined,
                checkpoint: chain.state.data.checkpoint,
                jobs: chain.jobs.counts(),
                sessions: chain.sessions.counts(),
                proofs: chain.proofs?.counts() ?? null,
              }
            : null,
        }),
      });
      http = await startHttpServer(app, { host: config.http.host, port: config.http.port });
      stops.push(() => (http as HttpServer).close());
      httpUrl = config.http.publicUrl ?? http.url;
    }

    let p2p: P2PNode | undefined;
    let discovery: Discovery | undefined;
    if (config.p2p.enabled) {
      const privateKey = await loadOrCreateIdentity(path.join(config.dataDir, "peer.key"));
      p2p = await createP2PNode({
        privateKey,
        listen: config.p2p.listen,
        announce: config.p2p.announce,
        bootstrap: config.p2p.bootstrap,
        mdns: config.p2p.mdns,
        lan: config.p2p.lan,
        maxConnections: config.p2p.maxConnections,
        logger,
      });
      stops.push(() => (p2p as P2PNode).stop());
      const server: InferenceServer = await startInferenceServer(p2p, handler);
      stops.push(() => server.stop());
      discovery = createDiscovery(p2p, { capabilities });
      stops.push(() => (discovery as Discovery).stop());
      await discovery.start();
    }

    if (config.chain && account) {
      const c = config.chain;
      const deployment = loadDeployment(c.chainId, {
        ...env,
        ...(c.deploymentDir ? { FABSTIR_DEPLOYMENT_DIR: c.deploymentDir } : {}),
      });
      // Hardware defaults to what node-llama-cpp detects: the GPU backend and its VRAM.
      const compute = await service.manager.compute();
      const vramMiB = compute.vram ? Math.floor(compute.vram.total / 2 ** 20) : 0;
      const registration: DesiredRegistration = {
        stake: c.stake ? BigInt(c.stake) : 0n,
        hardware: c.hardware
          ? { ...c.hardware, gpuModel: padded(c.hardware.gpuModel) }
          : compute.gpu && vramMiB > 0
            ? { gpuModel: padded(String(compute.gpu).toUpperCase()), vramMiB, gpuCount: 1 }
            : { gpuModel: padded("CPU"), vramMiB: 0, gpuCount: 0 },
        region: padded(c.region),
        endpoints: {
          peerId: p2p
            ? (`0x${Buffer.from(p2p.peerId.toMultihash().bytes).toString("hex")}` as `0x${string}`)
            : "0x",
          multiaddrs: p2p
            ? p2p
                .multiaddrs()
                .map((m) => m.toString())
                .slice(0, 8)
            : [],
          httpUrl: httpUrl ?? "",
        },
        metadataDigest: keccak256(
          stringToHex(JSON.stringify({ version: NODE_VERSION, models: service.models() })),
        ),
        offers: offers.map((o) => ({
          modelId: o.modelId,
          token: o.token,
          pricePerToken: o.pricePerToken,
        })),
        // Every chat model runs with the engine's context size (prompt and answer together).
        contexts: [...new Set(offers.map((o) => o.modelId))].map((modelId) => ({
          modelId,
          contextLength: config.engine.contextSize,
        })),
      };
      chain = await startHostChain({
        rpcUrl: c.rpcUrl,
        wsUrl: c.wsUrl,
        chainId: c.chainId,
        account,
        addresses: deployment.addresses,
        startBlock: deployment.startBlock,
        stateFile: path.join(config.dataDir, `chain-${c.chainId}.json`),
        sessionFile: path.join(config.dataDir, `sessions-${c.chainId}.json`),
        sessionPolicy: c.sessions,
        // On unless the config turns it off: a count challenge left unanswered is slashed.
        proofs: c.proofs.enabled
          ? {
              file: path.join(config.dataDir, `proofs-${c.chainId}.json`),
              policy: { submit: c.proofs.submit, maxConcurrent: c.proofs.maxConcurrent },
            }
          : undefined,
        registration: await withMinimumStake(
          registration,
          deployment.addresses.NodeRegistry,
          c.rpcUrl,
        ),
        policy: {
          maxActiveJobs: c.maxActiveJobs,
          minTimeLeftSec: c.minTimeLeftSec,
          autoRelease: c.autoRelease,
        },
        pollIntervalMs: c.pollIntervalMs,
        confirmations: c.confirmations,
        metrics,
        logger,
      });
      stops.push(() => (chain as HostChain).stop());
    }
    logger.info(
      {
        http: httpUrl,
        peer_id: p2p?.peerId.toString(),
        host: account?.address,
        models: service.models(),
      },
      "host node started",
    );
    return {
      config,
      service,
      handler,
      metrics,
      http,
      p2p,
      discovery,
      chain,
      address: account?.address,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** A stake of 0 in the config means the registry's current minimum. */
async function withMinimumStake(
  r: DesiredRegistration,
  registry: `0x${string}`,
  rpcUrl: string,
): Promise<DesiredRegistration> {
  if (r.stake > 0n) return r;
  const { createPublicClient, http } = await import("viem");
  const { nodeRegistryAbi } = await import("../abis/index.ts");
  const client = createPublicClient({ transport: http(rpcUrl) });
  const minimum = await client.readContract({
    address: registry,
    abi: nodeRegistryAbi,
    functionName: "minimumStake",
  });
  return { ...r, stake: minimum };
}
