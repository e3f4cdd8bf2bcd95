/** What the inference engine takes and streams; the HTTP and p2p layers map these to the wire. */
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
  cache?: "auto" | "sampled" | "off";
}

export interface Usage {
  /** Tokens of the prompt as evaluated (the chat template applied). */
  promptTokens: number;
  /** Tokens the model generated, including any that formed a stop sequence. */
  completionTokens: number;
}

export type FinishReason = "stop" | "length";

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

/** Anything that answers requests as a stream: the engine, or the engine behind the cache. */
export interface Generator {
  readonly modelId: string;
  generate: (request: GenerateRequest) => AsyncGenerator<GenerationEvent, void, undefined>;
}
