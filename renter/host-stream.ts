/**
 * Streams one paid chat completion from a host's OpenAI-compatible HTTP API: the request
 * carries the job id and the renter's signature in X-Fabstir-Job-Id / X-Fabstir-Job-Signature,
 * the answer arrives as server-sent events. Refusals (a 4xx or 5xx before the stream, or an
 * error event inside it) become HostRequestError with the host's own error code.
 */
import type { ChatCompletionBody } from "../node/http/openai.ts";
import { HostRequestError } from "./errors.ts";

export type HostStreamEvent =
  | { type: "token"; text: string }
  | {
      type: "done";
      text: string;
      finishReason: string;
      usage: { promptTokens: number; completionTokens: number };
      /** Whether the host answered from its semantic cache (the host's word for it). */
      cached: boolean;
    };

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

export async function* streamFromHost(
  httpUrl: string,
  body: ChatCompletionBody,
  job: { jobId: bigint; signature: `0x${string}` },
  signal?: AbortSignal,
): AsyncGenerator<HostStreamEvent> {
  const url = `${httpUrl.replace(/\/+$/, "")}/v1/chat/completions`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        "x-fabstir-job-id": job.jobId.toString(),
        "x-fabstir-job-signature": job.signature,
      },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
  } catch (e) {
    throw new HostRequestError(job.jobId, `the host at ${httpUrl} is unreachable: ${String(e)}`, {
      cause: e,
    });
  }
  if (!res.ok || !res.body) {
    const err = (await res.json().catch(() => undefined)) as Chunk | undefined;
    throw new HostRequestError(
      job.jobId,
      `the host refused job ${job.jobId}: ${res.status} ${err?.error?.message ?? res.statusText}`,
      { status: res.status, hostCode: err?.error?.code },
    );
  }
  let text = "";
  let finishReason: string | undefined;
  let usage: { promptTokens: number; completionTokens: number } | undefined;
  let cached = false;
  for await (const data of sseData(res.body)) {
    if (data === "[DONE]") break;
    const chunk = JSON.parse(data) as Chunk;
    if (chunk.error)
      throw new HostRequestError(
        job.jobId,
        `the host failed job ${job.jobId}: ${chunk.error.message}`,
        { hostCode: chunk.error.code },
      );
    const choice = chunk.choices?.[0];
    const piece = choice?.delta?.content;
    if (piece) {
      text += piece;
      yield { type: "token", text: piece };
    }
    if (choice?.finish_reason) finishReason = choice.finish_reason;
    if (chunk.fabstir?.cached !== undefined) cached = chunk.fabstir.cached;
    if (chunk.usage)
      usage = {
        promptTokens: chunk.usage.prompt_tokens,
        completionTokens: chunk.usage.completion_tokens,
      };
  }
  if (!usage || !finishReason)
    throw new HostRequestError(job.jobId, `the host's stream for job ${job.jobId} ended early`, {});
  yield { type: "done", text, finishReason, usage, cached };
}
