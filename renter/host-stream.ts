/**
 * Streams one paid chat completion from a host's OpenAI-compatible HTTP API: the request
 * carries the job id and the renter's signature in X-Fabstir-Job-Id / X-Fabstir-Job-Signature,
 * the answer arrives as server-sent events. Refusals (a 4xx or 5xx before the stream, or an
 * error event inside it) become HostRequestError with the host's own error code.
 */

import { z } from "zod";
import type { ChatCompletionBody } from "../protocol/openai.ts";
import { type SessionAuthorization, sessionHeaders } from "../protocol/sessions.ts";
import {
  type FinishReason,
  type GenerationEvent,
  HEADERS,
  isFinishReason,
} from "../protocol/wire.ts";
import { HostRequestError, HostUnreachableError, InvalidRequestError } from "./errors.ts";

/** The host's answer as it streams: the node's own event type (protocol/wire.ts). */
export type HostStreamEvent = GenerationEvent;

interface Chunk {
  choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number };
  fabstir?: { cached?: boolean };
  error?: { code?: string; message?: string };
}

/** Yields the payloads of `data:` lines, one per server-sent event. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart())
          .join("\n");
        if (data) yield data;
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

/** What pays for a request: a job (its id and the renter's authorization) or a session. */
export type PaidBy =
  | { kind: "job"; jobId: bigint; signature: `0x${string}` }
  | { kind: "session"; auth: SessionAuthorization };

function paidHeaders(paid: PaidBy): Record<string, string> {
  return paid.kind === "job"
    ? { [HEADERS.jobId]: paid.jobId.toString(), [HEADERS.jobSignature]: paid.signature }
    : sessionHeaders(paid.auth);
}

export async function* streamFromHost(
  httpUrl: string,
  body: ChatCompletionBody,
  paid: PaidBy,
  signal?: AbortSignal,
): AsyncGenerator<HostStreamEvent> {
  const jobId = paid.kind === "job" ? paid.jobId : undefined;
  const what = paid.kind === "job" ? `job ${paid.jobId}` : `session ${paid.auth.sessionId}`;
  const url = `${httpUrl.replace(/\/+$/, "")}/v1/chat/completions`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...paidHeaders(paid),
      },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
  } catch (e) {
    throw new HostRequestError(jobId, `the host at ${httpUrl} is unreachable: ${String(e)}`, {
      cause: e,
    });
  }
  if (!res.ok || !res.body) {
    const err = (await res.json().catch(() => undefined)) as Chunk | undefined;
    throw new HostRequestError(
      jobId,
      `the host refused ${what}: ${res.status} ${err?.error?.message ?? res.statusText}`,
      { status: res.status, hostCode: err?.error?.code },
    );
  }
  let text = "";
  let finishReason: FinishReason | undefined;
  let usage: { promptTokens: number; completionTokens: number } | undefined;
  let cached = false;
  for await (const data of sseData(res.body)) {
    if (data === "[DONE]") break;
    const chunk = JSON.parse(data) as Chunk;
    if (chunk.error)
      throw new HostRequestError(jobId, `the host failed ${what}: ${chunk.error.message}`, {
        hostCode: chunk.error.code,
      });
    const choice = chunk.choices?.[0];
    const piece = choice?.delta?.content;
    if (piece) {
      text += piece;
      yield { type: "token", text: piece };
    }
    const finish = choice?.finish_reason;
    if (finish) {
      if (!isFinishReason(finish))
        throw new HostRequestError(jobId, `the host sent an unknown finish_reason ${finish}`, {});
      finishReason = finish;
    }
    if (chunk.fabstir?.cached !== undefined) cached = chunk.fabstir.cached;
    if (chunk.usage)
      usage = {
        promptTokens: chunk.usage.prompt_tokens,
        completionTokens: chunk.usage.completion_tokens,
      };
  }
  if (!usage || !finishReason)
    throw new HostRequestError(jobId, `the host's stream for ${what} ended early`, {});
  yield { type: "done", text, finishReason, usage, cached };
}

const checkResponse = z.object({
  prompt_tokens: z.number().int().min(0),
  context_length: z.number().int().min(1),
  max_tokens: z.number().int().min(0),
});

/**
 * Asks the host to measure a request before anything is paid (POST
 * /v1/chat/completions/check: tokenizing only, free). Returns the prompt's tokens and the room
 * left in the model's context; throws InvalidRequestError when the prompt cannot fit. A host
 * without the endpoint (an older node) answers 404: then undefined, and the host's own check
 * after the claim still refunds an oversized request.
 */
export async function checkWithHost(
  httpUrl: string,
  body: ChatCompletionBody,
  signal?: AbortSignal,
): Promise<{ promptTokens: number; contextLength: number; maxTokens: number } | undefined> {
  const url = `${httpUrl.replace(/\/+$/, "")}/v1/chat/completions/check`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(10_000)])
        : AbortSignal.timeout(10_000),
    });
  } catch (e) {
    throw new HostUnreachableError(`the host at ${httpUrl} is unreachable: ${String(e)}`, e);
  }
  const json: unknown = await res.json().catch(() => undefined);
  if (res.status === 404) return undefined;
  if (!res.ok) {
    const err = (json as Chunk | undefined)?.error;
    if (res.status === 400)
      throw new InvalidRequestError(
        `${err?.message ?? "the host refused the request"} (host ${httpUrl})`,
        "messages",
        err?.code ?? "invalid_request",
      );
    throw new HostUnreachableError(`the host at ${httpUrl} answered ${res.status} to a check`);
  }
  const parsed = checkResponse.safeParse(json);
  if (!parsed.success)
    throw new HostUnreachableError(`the host at ${httpUrl} sent a malformed check answer`);
  return {
    promptTokens: parsed.data.prompt_tokens,
    contextLength: parsed.data.context_length,
    maxTokens: parsed.data.max_tokens,
  };
}
