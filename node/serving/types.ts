/**
 * One request as the node's transports (HTTP and libp2p) hand it to the node, whatever
 * the wire format: the transports parse and validate their own framing, then call a
 * RequestHandler, which checks the job authorization (when the request is paid through
 * the marketplace), runs the model and streams GenerationEvents back.
 */
import type { ChatMessage, GenerationEvent, SamplingParams } from "../inference/types.ts";

/** A marketplace job that pays for a request, with the renter's EIP-712 authorization. */
export interface JobAuthorization {
  /** The job id on JobMarketplace, as a decimal string. */
  jobId: string;
  /** The renter's EIP-712 signature over the job id and the request (see node/auth). */
  signature: `0x${string}`;
}

export interface ServeRequest {
  /** The model id as the node serves it (its config id). */
  model: string;
  /** A chat request; exactly one of messages and prompt is set. */
  messages?: ChatMessage[];
  /** A raw text completion (no chat template). */
  prompt?: string;
  params?: Partial<SamplingParams>;
  cache?: "auto" | "sampled" | "off";
  job?: JobAuthorization;
}

export interface ServeOptions {
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  transport: "http" | "p2p";
  /** An operator API key presented with the request (HTTP bearer token), if any. */
  apiKey?: string;
}

export interface ModelCapability {
  /** The model id as the node serves it. */
  id: string;
  /** The bytes32 model id the node registers on chain. */
  chainModelId: `0x${string}`;
  /** Prices per output token, by payment token address (0x0 = ETH), as decimal strings. */
  prices: { token: `0x${string}`; pricePerToken: string }[];
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

export interface RequestHandler {
  /**
   * Streams the answer. Throws a NodeError (node/errors.ts) before the first event when the
   * request is refused (unknown model, bad authorization, busy...), and may throw one
   * mid-stream (timeout, cancelled). The last event is always `done`.
   */
  serve: (request: ServeRequest, options: ServeOptions) => AsyncIterable<GenerationEvent>;
  capabilities: () => Capabilities;
}
