/**
 * One request as the node's transports (HTTP and libp2p) hand it to the node, whatever
 * the wire format: the transports parse and validate their own framing, then call a
 * RequestHandler, which checks the job authorization (when the request is paid through
 * the marketplace), runs the model and streams GenerationEvents back.
 */
import type { Capabilities, GenerationEvent, ServeRequest } from "../../protocol/wire.ts";

export interface ServeOptions {
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  transport: "http" | "p2p";
  /** An operator API key presented with the request (HTTP bearer token), if any. */
  apiKey?: string;
}

export interface RequestHandler {
  /**
   * Streams the answer. Throws a NodeError (node/errors.ts) before the first event when the
   * request is refused (unknown model, bad authorization, busy...), and may throw one
   * mid-stream (timeout, cancelled). The last event is always `done`.
   */
  serve: (request: ServeRequest, options: ServeOptions) => AsyncIterable<GenerationEvent>;
  /**
   * Measures a request without running it (no payment needed: tokenizing only): its prompt
   * tokens and the room left in the model's context. Throws ContextLengthExceededError when
   * the prompt does not fit, ModelNotFoundError for a model the node does not serve. A
   * handler without it (a proxy that does not know the model) answers 404 to checks.
   */
  check?: (request: ServeRequest) => RequestCheck;
  capabilities: () => Capabilities;
}

export interface RequestCheck {
  promptTokens: number;
  /** The model's context window (prompt and answer together). */
  contextLength: number;
  /** The most answer tokens that fit after the prompt. */
  maxTokens: number;
}
