/**
 * The inference engine of one chat model: requests are formatted with the model's chat
 * template, sampled with their own parameters and streamed token by token. Continuous
 * batching: the engine owns one llama.cpp context with `sequences` slots; each running
 * request holds one slot, and node-llama-cpp decodes the pending tokens of all slots in
 * one batch, so a new request starts as soon as a slot is free instead of waiting for the
 * others to finish. Requests beyond the slots wait in a bounded queue; one more is refused
 * with EngineBusyError. Each request has a timeout, and its AbortSignal (a client that
 * went away) stops generation at the next token.
 */
import {
  type ChatHistoryItem,
  type ChatWrapper,
  type ControlledEvaluateInputItem,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import {
  type ChatMessage,
  type FinishReason,
  type SamplingParams,
  samplingParamsSchema,
} from "../../protocol/wire.ts";
import { DEFAULT_THREADS, INFERENCE_DEFAULTS } from "../constants.ts";
import {
  ContextLengthExceededError,
  EngineBusyError,
  InvalidRequestError,
  RequestCancelledError,
  RequestTimeoutError,
  StoppedError,
} from "../errors.ts";
import type { LoadedModel, ModelManager } from "../models/manager.ts";
import { StopSequenceFilter } from "./text-stream.ts";
import type { EngineEvent, GenerateRequest, Generator } from "./types.ts";
import {
  checkAnswer,
  type TokenScore,
  VERIFY_DEFAULTS,
  type VerifyParams,
  type VerifyRequest,
  type VerifyResult,
  VerifyTooLongError,
  verdict,
  windowOf,
} from "./verify.ts";

export interface EngineOptions {
  manager: ModelManager;
  modelId: string;
  /** Tokens of context per sequence. */
  contextSize?: number;
  sequences?: number;
  maxQueue?: number;
  timeoutMs?: number;
  threads?: number;
  logger?: Logger;
}

export interface EngineStats {
  running: number;
  queued: number;
  completed: number;
  failed: number;
  slots: number;
}

export interface InferenceEngine extends Generator {
  start: () => Promise<void>;
  /** The sha256 of the loaded model file (after start). */
  readonly modelSha256: string;
  /** Prompt tokens of `messages` after the chat template (or of a raw prompt), as billed. */
  countPromptTokens: (messages: ChatMessage[], prompt?: string) => number;
  /** Tokens of context per request (prompt and answer together), after start. */
  contextSize: () => number;
  /**
   * The teacher-forced spot-check of an answer (node/inference/verify.ts): one forward pass
   * over the chat (formatted as for generation) and the answer, scoring every answer token
   * against the sampler's cut-offs. A prefill, not a generation: it takes a slot like a
   * request and is refused the same ways (busy, timeout, cancelled, too long for the context).
   */
  verify: (request: VerifyRequest) => Promise<VerifyResult>;
  stats: () => EngineStats;
  /** Waits for running requests to end (queued ones are refused), then frees the context. */
  stop: () => Promise<void>;
}

const STOP_GRACE_MS = 10_000;

interface Waiter {
  resolve: (s: LlamaContextSequence) => void;
  reject: (e: Error) => void;
}

export function resolveParams(p: Partial<SamplingParams> = {}): SamplingParams {
  const params: SamplingParams = {
    temperature: p.temperature ?? INFERENCE_DEFAULTS.temperature,
    topP: p.topP ?? INFERENCE_DEFAULTS.topP,
    topK: p.topK ?? INFERENCE_DEFAULTS.topK,
    maxTokens: p.maxTokens ?? INFERENCE_DEFAULTS.maxTokens,
    stop: p.stop ?? [],
    seed: p.seed,
  };
  // The same bounds as every transport's (protocol/wire.ts), for callers that skip them.
  const checked = samplingParamsSchema.safeParse(params);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new InvalidRequestError(`invalid ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return params;
}

function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  if (messages.length === 0) throw new InvalidRequestError("messages must not be empty");
  const history: ChatHistoryItem[] = messages.map((m) => {
    if (m.role === "system") return { type: "system", text: m.content };
    if (m.role === "user") return { type: "user", text: m.content };
    if (m.role === "assistant") return { type: "model", response: [m.content] };
    throw new InvalidRequestError(`unknown role ${String((m as { role: unknown }).role)}`);
  });
  // An empty model turn at the end makes the template open the assistant's answer.
  history.push({ type: "model", response: [] });
  return history;
}

/**
 * The tokens of a request as the model sees them (a chat through the model's chat template, or
 * a raw prompt after the BOS token) and the token sequences that end its answer. Shared by the
 * engine and by the process engine's billing side (node/inference/process-engine.ts), which
 * counts prompt tokens with a vocabulary-only copy of the model.
 */
export function formatPrompt(
  model: LlamaModel,
  wrapper: ChatWrapper,
  messages: ChatMessage[],
  raw?: string,
): { tokens: Token[]; triggers: Token[][] } {
  if (raw !== undefined) {
    if (raw.length === 0) throw new InvalidRequestError("prompt must not be empty");
    const tokens = model.tokenize(raw);
    const bos = model.tokens.bos;
    if (bos !== null && model.tokens.shouldPrependBosToken && tokens[0] !== bos)
      tokens.unshift(bos);
    const eos = model.tokens.eos;
    return { tokens, triggers: eos === null ? [] : [[eos]] };
  }
  const state = wrapper.generateContextState({ chatHistory: toChatHistory(messages) });
  const tokens = state.contextText.tokenize(model.tokenizer);
  const triggers = state.stopGenerationTriggers
    .map((t) => t.tokenize(model.tokenizer, "trimLeadingSpace"))
    .filter((t) => t.length > 0);
  return { tokens, triggers };
}

export function createInferenceEngine(options: EngineOptions): InferenceEngine {
  const log = (options.logger ?? silentLogger).child({ model_id: options.modelId });
  const slots = options.sequences ?? INFERENCE_DEFAULTS.sequences;
  const maxQueue = options.maxQueue ?? INFERENCE_DEFAULTS.maxQueue;
  const defaultTimeout = options.timeoutMs ?? INFERENCE_DEFAULTS.timeoutMs;
  let loaded: LoadedModel | undefined;
  let context: LlamaContext | undefined;
  let wrapper: ChatWrapper | undefined;
  let stopping = false;
  let running = 0;
  const counters = { completed: 0, failed: 0 };
  const waiters: Waiter[] = [];
  /** Idle sequences of the context; a running request holds one. */
  const pool: LlamaContextSequence[] = [];
  let idle: (() => void) | undefined;

  function started() {
    if (!loaded || !context || !wrapper || stopping)
      throw new StoppedError(`engine for ${options.modelId} is not running`);
    return { model: loaded.model, context, wrapper };
  }

  function promptOf(messages: ChatMessage[], raw?: string) {
    const { model, wrapper } = started();
    return formatPrompt(model, wrapper, messages, raw);
  }

  /** A free sequence, now or when one is released; refused when the queue is full. */
  function takeSlot(signal: AbortSignal): Promise<LlamaContextSequence> {
    started();
    const free = pool.pop();
    if (free && waiters.length === 0) {
      running++;
      return Promise.resolve(free);
    }
    if (free) pool.push(free);
    if (waiters.length >= maxQueue)
      return Promise.reject(
        new EngineBusyError(
          `${running} requests running and ${waiters.length} queued; try again later`,
        ),
      );
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      waiters.push(waiter);
      signal.addEventListener(
        "abort",
        () => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Clears the sequence's tokens and hands it to the next queued request, or back to the pool. */
  async function freeSlot(sequence: LlamaContextSequence) {
    try {
      await sequence.clearHistory();
    } catch (e) {
      log.warn({ err: String(e) }, "clearing a sequence failed");
    }
    const next = stopping ? undefined : waiters.shift();
    if (next) return next.resolve(sequence);
    running--;
    pool.push(sequence);
    if (running === 0) idle?.();
  }

  async function* generate(request: GenerateRequest): AsyncGenerator<EngineEvent, void, undefined> {
    const params = resolveParams(request.params);
    const { model } = started();
    const { tokens: prompt, triggers } = promptOf(request.messages, request.prompt);
    const contextSize = started().context.contextSize;
    if (prompt.length >= contextSize)
      throw new ContextLengthExceededError(prompt.length, contextSize);
    const maxTokens = Math.min(params.maxTokens, contextSize - prompt.length);
    const timeoutMs = request.timeoutMs ?? defaultTimeout;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const failure = () =>
      timeout.aborted
        ? new RequestTimeoutError(`request exceeded ${timeoutMs} ms`)
        : new RequestCancelledError("request cancelled");
    if (signal.aborted) throw failure();

    let sequence: LlamaContextSequence;
    try {
      sequence = await takeSlot(signal);
    } catch (e) {
      if (signal.aborted) throw failure();
      throw e;
    }
    const started_at = performance.now();
    const generated: Token[] = [];
    let pending: Token[] = [];
    const filter = new StopSequenceFilter(params.stop);
    let finishReason: FinishReason = "length";
    let ok = false;
    try {
      const tokens = sequence.evaluate(prompt, {
        temperature: params.temperature,
        topK: params.topK,
        topP: params.topP,
        seed: params.seed,
      });
      for await (const token of tokens) {
        if (signal.aborted) throw failure();
        if (stopping) throw new StoppedError("engine stopping");
        generated.push(token);
        if (triggers.some((t) => endsWith(generated, t))) {
          finishReason = "stop";
          break;
        }
        pending.push(token);
        const piece = model.detokenize(
          pending,
          false,
          generated.slice(-pending.length - 8, -pending.length),
        );
        // A token that ends inside a multi-byte character waits for the rest of it.
        if (!piece.endsWith("\uFFFD")) {
          pending = [];
          const text = filter.push(piece);
          if (text) yield { type: "token", text };
        }
        if (filter.stopped) {
          finishReason = "stop";
          break;
        }
        if (generated.length >= maxTokens) break;
      }
      if (signal.aborted) throw failure();
      if (generated.length < maxTokens && !filter.stopped) finishReason = "stop";
      const rest = filter.flush();
      if (rest) yield { type: "token", text: rest };
      ok = true;
      yield {
        type: "done",
        text: filter.text,
        finishReason,
        usage: { promptTokens: prompt.length, completionTokens: generated.length },
        cached: false,
        // Exactly the tokens counted above (re-tokenizing the text would not give them back:
        // it lacks the stop tokens, and a model may emit a non-canonical tokenization).
        tokenIds: generated.map(Number),
      };
    } finally {
      await freeSlot(sequence);
      if (ok) counters.completed++;
      else counters.failed++;
      log.debug(
        {
          prompt_tokens: prompt.length,
          completion_tokens: generated.length,
          ms: Math.round(performance.now() - started_at),
          ok,
        },
        "request finished",
      );
    }
  }

  /** The sampler cut-offs of a check: generation's defaults, within generation's bounds. */
  function verifyParams(p: Partial<VerifyParams> = {}): VerifyParams {
    const params = resolveParams({ topK: p.topK, topP: p.topP });
    return { topK: params.topK, topP: params.topP };
  }

  async function verify(request: VerifyRequest): Promise<VerifyResult> {
    const params = verifyParams(request.params);
    const maxMissRate = request.maxMissRate ?? VERIFY_DEFAULTS.maxMissRate;
    const tolerance = request.tolerance ?? VERIFY_DEFAULTS.logitTolerance;
    const { model, context } = started();
    const { tokens: prompt } = promptOf(request.messages);
    const answer = model.tokenize(request.answer, false, "trimLeadingSpace");
    if (answer.length === 0) throw new InvalidRequestError("answer must not be empty");
    // The answer's last token is never fed back, as in generation: prompt + answer fits
    // exactly when the generation that wrote it did.
    if (prompt.length + answer.length > context.contextSize)
      throw new VerifyTooLongError(prompt.length, answer.length, context.contextSize);
    const timeoutMs = request.timeoutMs ?? defaultTimeout;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const failure = () =>
      timeout.aborted
        ? new RequestTimeoutError(`check exceeded ${timeoutMs} ms`)
        : new RequestCancelledError("check cancelled");
    if (signal.aborted) throw failure();
    let sequence: LlamaContextSequence;
    try {
      sequence = await takeSlot(signal);
    } catch (e) {
      if (signal.aborted) throw failure();
      throw e;
    }
    const started_at = performance.now();
    let scores: TokenScore[] = [];
    let realignments = 0;
    try {
      // Per position, the top of the distribution and the claimed token's logit (verify.ts
      // windowOf). With top-k, llama.cpp's own top-k sampler picks the window (a partial sort);
      // without it, all logits are sorted and their total weight normalizes them.
      const window = windowOf(params);
      const limited = params.topK > 0;
      const sampler = limited
        ? { options: { temperature: 1, topK: window, topP: 1, minP: 0, seed: 0 } }
        : { totalLogitWeight: true };
      const evaluate = async (tokens: Token[], claimed: (Token | undefined)[]) => {
        if (sequence.nextTokenIndex + tokens.length > context.contextSize)
          throw new VerifyTooLongError(prompt.length, answer.length, context.contextSize);
        const input = tokens.map((t, i): ControlledEvaluateInputItem => {
          const next = claimed[i];
          const filter = { tokens: next === undefined ? [] : [next], includeTop: window };
          return [t, { generateNext: { logits: { filter }, ...sampler } }];
        });
        const out = await sequence.controlledEvaluate(input);
        return tokens.map((_, i) => {
          const next = out[i]?.next;
          const top = next?.logits?.values().next().value;
          if (!next?.logits || top === undefined) throw new Error(`no logits at input ${i}`);
          const total = limited ? 1 : (next.totalLogitWeight ?? 1);
          const dist = new Map<Token, number>();
          for (const [t, logit] of next.logits) dist.set(t, Math.exp(logit - top) / total);
          return dist;
        });
      };
      const check = () => {
        if (signal.aborted) throw failure();
        if (stopping) throw new StoppedError("engine stopping");
      };
      // The prompt in chunks (cancellable), with the distribution after its last token.
      const chunk = VERIFY_DEFAULTS.chunkTokens;
      for (let at = 0; at < prompt.length - 1; at += chunk) {
        check();
        await sequence.evaluateWithoutGeneratingNewTokens(
          prompt.slice(at, Math.min(at + chunk, prompt.length - 1)),
        );
      }
      check();
      const [initial] = await evaluate(prompt.slice(-1), [answer[0]]);
      if (!initial) throw new Error("no distribution after the prompt");
      const walked = await checkAnswer(
        {
          evaluate,
          rewind: (count) =>
            count > 0
              ? sequence.eraseContextTokenRanges([
                  { start: sequence.nextTokenIndex - count, end: sequence.nextTokenIndex },
                ])
              : Promise.resolve(),
          tokenize: (text) => model.tokenize(text, false, "trimLeadingSpace"),
          // As generation writes it: the first token without the tokenizer's leading space,
          // the others after the token before them.
          text: (t, previous) =>
            previous === undefined
              ? model.detokenize([t])
              : model.detokenize([t], false, [previous]),
          check,
        },
        request.answer,
        initial,
        params,
        tolerance,
      );
      scores = walked.scores;
      realignments = walked.realignments;
      check();
      return verdict(scores, maxMissRate, Math.round(performance.now() - started_at));
    } finally {
      await freeSlot(sequence);
      log.debug(
        {
          prompt_tokens: prompt.length,
          answer_tokens: scores.length,
          misses: scores.filter((s) => !s.fits).length,
          realignments,
          ms: Math.round(performance.now() - started_at),
        },
        "check finished",
      );
    }
  }

  return {
    modelId: options.modelId,
    contextSize: () => started().context.contextSize,
    get modelSha256() {
      if (!loaded) throw new StoppedError(`engine for ${options.modelId} is not running`);
      return loaded.sha256;
    },
    async start() {
      loaded = await options.manager.acquire(options.modelId);
      try {
        context = await loaded.model.createContext({
          contextSize: options.contextSize ?? INFERENCE_DEFAULTS.contextSize,
          sequences: slots,
          threads: options.threads ?? DEFAULT_THREADS,
        });
      } catch (e) {
        loaded.release();
        loaded = undefined;
        throw e;
      }
      for (let i = 0; i < slots; i++) pool.push(context.getSequence());
      wrapper = resolveChatWrapper(loaded.model);
      log.info(
        { slots, context_size: context.contextSize, chat_wrapper: wrapper.wrapperName },
        "engine started",
      );
    },
    generate,
    verify,
    countPromptTokens: (messages, prompt) => promptOf(messages, prompt).tokens.length,
    stats: () => ({ running, queued: waiters.length, slots, ...counters }),
    async stop() {
      if (!loaded) return;
      stopping = true;
      for (const w of waiters.splice(0)) w.reject(new StoppedError("engine stopping"));
      // Running requests end at their next token once stopping; a consumer that stopped
      // pulling is not waited for longer than the grace period.
      if (running > 0)
        await Promise.race([
          new Promise<void>((r) => (idle = r)),
          new Promise((r) => setTimeout(r, STOP_GRACE_MS)),
        ]);
      pool.length = 0;
      await context?.dispose();
      loaded.release();
      context = undefined;
      loaded = undefined;
    },
  };
}

function endsWith(tokens: Token[], suffix: Token[]): boolean {
  if (suffix.length > tokens.length) return false;
  const offset = tokens.length - suffix.length;
  return suffix.every((t, i) => tokens[offset + i] === t);
}
