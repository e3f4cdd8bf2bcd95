/**
 * The host node's configuration: one typed, validated object (zod), read from a JSON file
 * and environment overrides: inference (models, engine, cache), the HTTP API, libp2p, and
 * the chain (registry entry, prices, job policy). Relative paths are resolved against the
 * config file's folder. Secrets (the host key, the keystore password) never live here:
 * they come from the environment.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { CACHE_DEFAULTS, DEFAULT_THREADS, INFERENCE_DEFAULTS } from "./constants.ts";
import { NodeError } from "./errors.ts";

const modelSchema = z.object({
  id: z.string().min(1).max(128),
  path: z.string().min(1),
  role: z.enum(["chat", "embedding"]),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "a sha256 in hex")
    .optional(),
  gpuLayers: z.union([z.literal("auto"), z.number().int().min(0)]).optional(),
});

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 0x address");
const wei = z.string().regex(/^\d{1,78}$/, "an integer amount in the token's smallest unit");

const offerSchema = z.object({
  /** A chat model's id from `models`. */
  model: z.string().min(1),
  /** "ETH" or an ERC-20 address the escrow accepts. */
  token: z.union([z.literal("ETH"), address]).default("ETH"),
  pricePerToken: wei,
});

const chainSchema = z.object({
  rpcUrl: z.string().url(),
  /** A WebSocket endpoint for new-block subscriptions; polling otherwise. */
  wsUrl: z.string().url().optional(),
  chainId: z.number().int().positive().default(31337),
  /** A V3 keystore file; its password comes from FABSTIR_KEYSTORE_PASSWORD. */
  keystore: z.string().optional(),
  /** An Ignition deployment folder; default ignition/deployments/chain-<id>. */
  deploymentDir: z.string().optional(),
  /** FAB to keep staked (wei); default the registry's minimum. */
  stake: wei.optional(),
  region: z.string().max(32).default(""),
  hardware: z
    .object({
      gpuModel: z.string().max(32),
      vramMiB: z.number().int().min(0),
      gpuCount: z.number().int().min(0).max(65_535),
    })
    .optional(),
  offers: z.array(offerSchema).min(1),
  pollIntervalMs: z.number().int().min(50).default(1_000),
  confirmations: z.number().int().min(0).default(0),
  maxActiveJobs: z.number().int().min(1).default(16),
  minTimeLeftSec: z.number().int().min(0).default(60),
  autoRelease: z.boolean().default(true),
  /** When the node checkpoints and closes its sessions (node/chain/sessions.ts). */
  sessions: z
    .object({
      /** Checkpoint once unpaid receipts reach this share of the deposit (basis points). */
      checkpointBps: z.number().int().min(1).max(10_000).optional(),
      /** Close a session with no request for this many seconds. */
      idleCloseSec: z.number().int().min(1).optional(),
      /** Close a session this many seconds before its expiry. */
      expiryMarginSec: z.number().int().min(0).optional(),
      /** Stop serving a session after this many answers cut short. */
      maxAborted: z.number().int().min(1).optional(),
    })
    .default({}),
  /** Output-count proofs of what the node served, and answers to count challenges (docs/proofs.md). */
  proofs: z
    .object({
      /** Prove what is served and answer count challenges (an unanswered one is slashed). */
      enabled: z.boolean().default(true),
      /** "always": submit every proof; "challenged": prove and keep, submit only when challenged. */
      submit: z.enum(["always", "challenged"]).default("always"),
      /** Proofs computed at once (one already uses every core). */
      maxConcurrent: z.number().int().min(1).max(8).default(1),
    })
    .prefault({}),
});

const httpSchema = z.object({
  enabled: z.boolean().default(true),
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65_535).default(8080),
  /** The URL renters use, registered on chain; default http://host:port. */
  publicUrl: z.string().url().optional(),
  /** Operator keys (bearer tokens) that use the node without a job. */
  apiKeys: z.array(z.string().min(16)).default([]),
  /** Serve anyone without a job or key (private or development nodes only). */
  open: z.boolean().default(false),
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .default(1 << 20),
});

const p2pSchema = z.object({
  enabled: z.boolean().default(true),
  listen: z.array(z.string()).default(["/ip4/0.0.0.0/tcp/4001"]),
  announce: z.array(z.string()).default([]),
  bootstrap: z.array(z.string()).default([]),
  mdns: z.boolean().default(false),
  /** Loopback and LAN addresses are dialable (local networks, tests). */
  lan: z.boolean().default(false),
  maxConnections: z.number().int().min(1).default(256),
});

export const nodeConfigSchema = z
  .object({
    /** Node state: identity key, chain checkpoint, job records. */
    dataDir: z.string().default("data"),
    models: z.array(modelSchema).min(1),
    gpu: z
      .union([z.literal("auto"), z.literal(false), z.enum(["cuda", "vulkan", "metal"])])
      .default("auto"),
    threads: z.number().int().min(1).max(256).default(DEFAULT_THREADS),
    memoryBudgetBytes: z.number().int().positive().optional(),
    engine: z
      .object({
        contextSize: z.number().int().min(128).default(INFERENCE_DEFAULTS.contextSize),
        sequences: z.number().int().min(1).max(64).default(INFERENCE_DEFAULTS.sequences),
        maxQueue: z.number().int().min(0).default(INFERENCE_DEFAULTS.maxQueue),
        timeoutMs: z.number().int().positive().default(INFERENCE_DEFAULTS.timeoutMs),
        /**
         * "process" (default): each chat model's engine runs in a worker process of its own
         * (node/inference/process-engine.ts); "inline": on the node's own thread.
         */
        isolation: z.enum(["process", "inline"]).default("process"),
      })
      .prefault({}),
    cache: z
      .object({
        enabled: z.boolean().default(true),
        dir: z.string().default("data/cache"),
        /** The embedding model's id (one of `models` with role "embedding"). */
        embeddingModel: z.string().optional(),
        maxDistance: z.number().min(0).max(2).default(CACHE_DEFAULTS.maxDistance),
        ttlMs: z.number().int().positive().default(CACHE_DEFAULTS.ttlMs),
        maxEntries: z.number().int().positive().default(CACHE_DEFAULTS.maxEntries),
        indexAt: z.number().int().positive().default(CACHE_DEFAULTS.indexAt),
      })
      .prefault({}),
    http: httpSchema.prefault({}),
    p2p: p2pSchema.prefault({}),
    chain: chainSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    for (const [i, m] of c.models.entries()) {
      if (ids.has(m.id))
        ctx.addIssue({
          code: "custom",
          path: ["models", i, "id"],
          message: `duplicate model id ${m.id}`,
        });
      ids.add(m.id);
    }
    const chat = new Set(c.models.filter((m) => m.role === "chat").map((m) => m.id));
    for (const [i, o] of (c.chain?.offers ?? []).entries())
      if (!chat.has(o.model))
        ctx.addIssue({
          code: "custom",
          path: ["chain", "offers", i, "model"],
          message: `${o.model} is not a chat model in models`,
        });
    if (c.cache.enabled) {
      const embedding = c.models.filter((m) => m.role === "embedding");
      const chosen = c.cache.embeddingModel ?? embedding[0]?.id;
      if (!chosen || !embedding.some((m) => m.id === chosen))
        ctx.addIssue({
          code: "custom",
          path: ["cache", "embeddingModel"],
          message:
            'the semantic cache needs a model with role "embedding" (or cache.enabled: false)',
        });
    }
  });

export type NodeConfig = z.infer<typeof nodeConfigSchema>;

/** A config the node cannot run with; `issues` name each bad field by its path. */
export class ConfigError extends NodeError {
  override readonly code = "config_invalid";
  override readonly userError = true;
  readonly issues: string[];
  constructor(source: string, issues: string[]) {
    super(`invalid node config (${source}):\n  ${issues.join("\n  ")}`);
    this.issues = issues;
  }
}

/** Validates `raw` and resolves relative paths against `baseDir`. */
export function parseNodeConfig(raw: unknown, baseDir: string, source = "config"): NodeConfig {
  const result = nodeConfigSchema.safeParse(raw);
  if (!result.success)
    throw new ConfigError(
      source,
      result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  const config = result.data;
  for (const m of config.models) m.path = path.resolve(baseDir, m.path);
  config.cache.dir = path.resolve(baseDir, config.cache.dir);
  config.dataDir = path.resolve(baseDir, config.dataDir);
  if (config.chain?.keystore) config.chain.keystore = path.resolve(baseDir, config.chain.keystore);
  if (config.chain?.deploymentDir)
    config.chain.deploymentDir = path.resolve(baseDir, config.chain.deploymentDir);
  config.cache.embeddingModel ??= config.models.find((m) => m.role === "embedding")?.id;
  return config;
}

/** Reads a JSON config file; FABSTIR_THREADS and FABSTIR_GPU (`auto`, `false`, `cuda`, ...) override it. */
export async function loadNodeConfig(file: string, env = process.env): Promise<NodeConfig> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new ConfigError(file, [e instanceof Error ? e.message : String(e)]);
  }
  if (env.FABSTIR_THREADS) raw.threads = Number(env.FABSTIR_THREADS);
  if (env.FABSTIR_GPU) raw.gpu = env.FABSTIR_GPU === "false" ? false : env.FABSTIR_GPU;
  return parseNodeConfig(raw, path.dirname(path.resolve(file)), file);
}
