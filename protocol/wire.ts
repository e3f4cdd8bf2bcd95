/**
 * What a request and its answer are, whatever carries them (the node's OpenAI-compatible
 * HTTP API, its libp2p protocol, the renter's client): the chat, the sampling parameters and
 * their bounds, the streamed events, the job authorization a paid request carries, the
 * capability record a host advertises, and the HTTP header names. The transports validate
 * their own framing against the schemas here; the engine trusts what passed them.
 */

import { z } from "zod";
import type { SessionAuthorization } from "./sessions.ts";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface SamplingParams {
  temperature: number;
  topP: number;
  topK: number;
  maxTokens: number;
  /** Generation stops before the first occurrence of any of these; the text never includes it. */
  stop: string[];
  /** Makes sampling at temperature > 0 reproducible. */
  seed?: number;
}

/**
 * The bounds of each sampling parameter, one schema per field: the OpenAI body (snake_case),
 * the libp2p request frame and the engine all check against these, so a value is valid on
 * every transport or on none.
 */
export const SAMPLING = {
  temperature: z.number().min(0).max(2),
  /** 0 < top_p <= 1 */
  topP: z.number().gt(0).max(1),
  /** An integer >= 0; 0 turns it off. */
  topK: z.number().int().min(0),
  maxTokens: z.number().int().min(1),
  /** One stop sequence. */
  stopSequence: z.string().max(256),
  /** At most four stop sequences. */
  stop: z.array(z.string().max(256)).max(4),
  /** A safe integer (zod's int). */
  seed: z.number().int(),
} as const;

/** Sampling parameters in the node's own (camelCase) form, every field optional. */
export const samplingParamsSchema = z
  .object({
    temperature: SAMPLING.temperature,
    topP: SAMPLING.topP,
    topK: SAMPLING.topK,
    maxTokens: SAMPLING.maxTokens,
    stop: SAMPLING.stop,
    seed: SAMPLING.seed,
  })
  .partial();

/** The semantic cache policy a request asks for (see docs/node.md). */
export type CacheMode = "auto" | "sampled" | "off";
export const CACHE_MODES = ["auto", "sampled", "off"] as const;

export interface Usage {
  /** Tokens of the prompt as evaluated (the chat template applied). */
  promptTokens: number;
  /** Tokens the model generated, including any that formed a stop sequence. */
  completionTokens: number;
}

export type FinishReason = "stop" | "length";
export const FINISH_REASONS = ["stop", "length"] as const;
export const isFinishReason = (s: string): s is FinishReason =>
  (FINISH_REASONS as readonly string[]).includes(s);

/**
 * What an answer streams: text pieces, then one `done` with the whole text. A `token` event
 * carries the text of one or more tokens (the transports join the tokens that are ready
 * together, and the engine those of a multi-byte character): count tokens from
 * `done.usage.completionTokens`, never from the events.
 */
export type GenerationEvent =
  | { type: "token"; text: string }
  | {
      type: "done";
      text: string;
      finishReason: FinishReason;
      usage: Usage;
      /** Answered from the semantic cache instead of the model. */
      cached: boolean;
    };

/** A marketplace job that pays for a request, with the renter's EIP-712 authorization. */
export interface JobAuthorization {
  /** The job id on JobMarketplace, as a decimal string. */
  jobId: string;
  /** The renter's EIP-712 signature over the job id and the request (protocol/job-auth.ts). */
  signature: `0x${string}`;
}

/** One request as a transport hands it to the node. */
export interface ServeRequest {
  /** The model id as the node serves it (its config id). */
  model: string;
  /** A chat request; exactly one of messages and prompt is set. */
  messages?: ChatMessage[];
  /** A raw text completion (no chat template). */
  prompt?: string;
  params?: Partial<SamplingParams>;
  cache?: CacheMode;
  job?: JobAuthorization;
  /** The session the request is paid by, with the receipt for the answers before it. */
  session?: SessionAuthorization;
}

export interface ModelCapability {
  /** The model id as the node serves it. */
  id: string;
  /** The bytes32 model id the node registers on chain. */
  chainModelId: `0x${string}`;
  /** Prices per output token, by payment token address (0x0 = ETH), as decimal strings. */
  prices: { token: `0x${string}`; pricePerToken: string }[];
  /** The model's context window in tokens: prompt and answer together must fit in it. */
  contextSize: number;
}

/** What a node tells peers about itself: the capabilities protocol and the DHT record. */
export interface Capabilities {
  version: string;
  /** The host's chain address, when it is registered in the marketplace. */
  host?: `0x${string}`;
  models: ModelCapability[];
  /** Current load, summed over the chat engines. */
  load: { running: number; queued: number; slots: number };
  httpUrl?: string;
}

/** HTTP headers of the Fabstir extensions (lower case, as Hono and fetch read them). */
export const HEADERS = {
  /** The marketplace job a request is paid by (decimal id). */
  jobId: "x-fabstir-job-id",
  /** The renter's EIP-712 job authorization (65-byte hex signature). */
  jobSignature: "x-fabstir-job-signature",
  /** Whether the answer came from the host's semantic cache ("true" / "false"). */
  cached: "x-fabstir-cached",
  /** The host that answered (the renter gateway's responses). */
  host: "x-fabstir-host",
} as const;
