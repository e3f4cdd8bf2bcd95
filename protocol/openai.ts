/**
 * The OpenAI wire format the node speaks: zod schemas of the request bodies (fields the
 * node does not use are accepted and ignored, as OpenAI's own server does for clients
 * that send newer fields; fields it cannot honour are refused by name), their mapping to a
 * ServeRequest, and the response and error objects.
 */
import { z } from "zod";
import {
  CACHE_MODES,
  type ChatMessage,
  type FinishReason,
  SAMPLING,
  type SamplingParams,
  type ServeRequest,
  type Usage,
} from "./wire.ts";
import { errorObject } from "./wire-errors.ts";

const sampling = {
  temperature: SAMPLING.temperature.nullish(),
  top_p: SAMPLING.topP.nullish(),
  /** Not in OpenAI's API; llama.cpp servers accept it and so does this node. */
  top_k: SAMPLING.topK.nullish(),
  seed: SAMPLING.seed.nullish(),
  stop: z.union([SAMPLING.stopSequence, SAMPLING.stop]).nullish(),
  n: z.literal(1, { error: "only n = 1 is supported" }).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  user: z.string().max(256).nullish(),
  /** Not OpenAI's: "auto" (default), "sampled" or "off"; see the semantic cache docs. */
  cache: z.enum(CACHE_MODES).nullish(),
};

const textPart = z.object({ type: z.literal("text"), text: z.string() });

const message = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([z.string(), z.array(textPart).min(1)]),
  name: z.string().optional(),
});

export const chatCompletionBody = z.object({
  model: z.string().min(1).max(128),
  messages: z.array(message).min(1).max(1024),
  max_tokens: SAMPLING.maxTokens.nullish(),
  max_completion_tokens: SAMPLING.maxTokens.nullish(),
  logprobs: z.literal(false, { error: "logprobs are not supported" }).nullish(),
  tools: z.array(z.unknown()).max(0, { error: "tools are not supported" }).nullish(),
  response_format: z
    .object({ type: z.literal("text", { error: "only text responses are supported" }) })
    .nullish(),
  ...sampling,
});

export const completionBody = z.object({
  model: z.string().min(1).max(128),
  prompt: z.union([z.string().min(1), z.array(z.string().min(1)).length(1)]),
  /** OpenAI's default for /v1/completions is 16. */
  max_tokens: SAMPLING.maxTokens.nullish(),
  echo: z.literal(false, { error: "echo is not supported" }).nullish(),
  suffix: z.null({ error: "suffix is not supported" }).nullish(),
  logprobs: z.null({ error: "logprobs are not supported" }).nullish(),
  best_of: z.literal(1, { error: "only best_of = 1 is supported" }).nullish(),
  ...sampling,
});

export type ChatCompletionBody = z.infer<typeof chatCompletionBody>;
export type CompletionBody = z.infer<typeof completionBody>;

function params(
  body: {
    temperature?: number | null;
    top_p?: number | null;
    top_k?: number | null;
    seed?: number | null;
    stop?: string | string[] | null;
  },
  maxTokens: number | undefined,
): Partial<SamplingParams> {
  const p: Partial<SamplingParams> = {};
  if (body.temperature != null) p.temperature = body.temperature;
  if (body.top_p != null) p.topP = body.top_p;
  if (body.top_k != null) p.topK = body.top_k;
  if (body.seed != null) p.seed = body.seed;
  if (body.stop != null) p.stop = typeof body.stop === "string" ? [body.stop] : body.stop;
  if (maxTokens !== undefined) p.maxTokens = maxTokens;
  return p;
}

export function chatToServeRequest(body: ChatCompletionBody): ServeRequest {
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""),
  }));
  return {
    model: body.model,
    messages,
    params: params(body, body.max_completion_tokens ?? body.max_tokens ?? undefined),
    cache: body.cache ?? undefined,
  };
}

export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

export function completionToServeRequest(body: CompletionBody): ServeRequest {
  return {
    model: body.model,
    prompt: typeof body.prompt === "string" ? body.prompt : body.prompt[0],
    params: params(body, body.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS),
    cache: body.cache ?? undefined,
  };
}

export function usageObject(u: Usage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
  };
}

export function chatCompletion(
  id: string,
  created: number,
  model: string,
  text: string,
  finishReason: FinishReason,
  usage: Usage,
) {
  return {
    id,
    object: "chat.completion" as const,
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant" as const, content: text, refusal: null },
        logprobs: null,
        finish_reason: finishReason,
      },
    ],
    usage: usageObject(usage),
  };
}

export function chatChunk(
  id: string,
  created: number,
  model: string,
  delta: { role?: "assistant"; content?: string },
  finishReason: FinishReason | null,
) {
  return {
    id,
    object: "chat.completion.chunk" as const,
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
}

export function textCompletion(
  id: string,
  created: number,
  model: string,
  text: string,
  finishReason: FinishReason | null,
  usage?: Usage,
) {
  return {
    id,
    object: "text_completion" as const,
    created,
    model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    ...(usage ? { usage: usageObject(usage) } : {}),
  };
}

/** The first zod issue as an OpenAI error naming the parameter. */
export function validationErrorObject(error: z.ZodError) {
  const issue = error.issues[0];
  const param = issue?.path.join(".") || null;
  return errorObject(
    "invalid_request",
    issue ? `${param ?? "body"}: ${issue.message}` : "invalid request",
    param,
  );
}
