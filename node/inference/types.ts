/** What the inference engine takes; the shared wire types are in protocol/wire.ts. */
import type {
  CacheMode,
  ChatMessage,
  GenerationEvent,
  SamplingParams,
} from "../../protocol/wire.ts";

export interface GenerateRequest {
  /** A chat, formatted with the model's chat template. Ignored when `prompt` is set. */
  messages: ChatMessage[];
  /**
   * A raw text completion instead of a chat: the text is tokenized as is (after the BOS
   * token) and continued; generation ends at the end-of-sequence token. Not cached.
   */
  prompt?: string;
  params?: Partial<SamplingParams>;
  /** Aborting it (the client went away) stops generation at the next token. */
  signal?: AbortSignal;
  /** From arrival (including time queued) to the last token; default the engine's. */
  timeoutMs?: number;
  /**
   * The semantic cache: "auto" (default) reads and writes it only at temperature 0,
   * "sampled" also at temperature > 0 (the answer is then shared between requests with the
   * same parameters and seed), "off" neither reads nor writes it.
   */
  cache?: CacheMode;
}

/**
 * What a generator streams: the wire's events, with the generated token ids on `done` (every
 * token the model produced, stop-sequence and end-of-turn tokens included, so exactly
 * `usage.completionTokens` of them). The ids are the node's own (output-count proofs,
 * node/chain/proofs.ts): the request handler takes them off before a transport sends `done`.
 * A generator that does not know them (an answer from a cache that did not keep them) leaves
 * them out.
 */
export type EngineEvent =
  | Exclude<GenerationEvent, { type: "done" }>
  | (Extract<GenerationEvent, { type: "done" }> & { tokenIds?: number[] });

/** Anything that answers requests as a stream: the engine, or the engine behind the cache. */
export interface Generator {
  readonly modelId: string;
  generate: (request: GenerateRequest) => AsyncGenerator<EngineEvent, void, undefined>;
}
