/** Defaults of the host node, in one place. Config (node/config.ts) overrides them. */
import { availableParallelism } from "node:os";

/**
 * Threads for llama.cpp: half the cores (at least 1). On a 2-core machine more than one
 * thread makes CPU generation much slower (the threads fight the rest of the node for
 * the cores); on a GPU host the threads matter little.
 */
export const DEFAULT_THREADS = Math.max(1, Math.floor(availableParallelism() / 2));

/** Model architectures this node accepts (llama.cpp names, `general.architecture`). */
export const CHAT_ARCHITECTURES = [
  "llama",
  "mistral",
  "qwen2",
  "qwen3",
  "gemma",
  "gemma2",
  "gemma3",
  "phi3",
  "granite",
  "olmo2",
] as const;
export const EMBEDDING_ARCHITECTURES = ["bert", "nomic-bert", "jina-bert-v2"] as const;

export const INFERENCE_DEFAULTS = {
  /** Tokens of context per sequence (each concurrent request has its own). */
  contextSize: 2_048,
  /** Concurrent requests decoded together in one context (continuous batching). */
  sequences: 4,
  /** Requests allowed to wait for a free sequence; one more is refused as busy. */
  maxQueue: 16,
  /** Per request, from arrival to the last token. */
  timeoutMs: 120_000,
  maxTokens: 256,
  temperature: 0,
  topP: 1,
  topK: 40,
} as const;

export const CACHE_DEFAULTS = {
  /** Largest cosine distance (1 - cosine similarity) counted as the same prompt. */
  maxDistance: 0.05,
  ttlMs: 24 * 60 * 60 * 1000,
  maxEntries: 100_000,
  /** Rows at which a vector index is built (exact search is fast enough below). */
  indexAt: 20_000,
} as const;

/** Memory the loaded models may take together, by default: half the machine's RAM. */
export const MODEL_MEMORY_FRACTION = 0.5;
