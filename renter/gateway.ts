/**
 * The renter gateway: a local OpenAI-compatible endpoint on the renter's machine. Every
 * chat completion it answers is a marketplace job paid from the renter's wallet (choose a
 * host, post the job, authorize, stream, accept), so any OpenAI client works unchanged.
 *
 *   GET  /v1/models             models that eligible hosts offer (from the discovery API)
 *   POST /v1/chat/completions   streaming (SSE) and not
 *   GET  /health
 *
 * Each answer names its job: headers X-Fabstir-Job-Id and X-Fabstir-Host, and a `fabstir`
 * object (job id, host, whether it came from the host's cache, the payment split) on the
 * non-streaming body and on the streaming answer's last chunk. A streamed answer ends
 * ([DONE]) only after the job is accepted, so the client knows it was paid for.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { replaceBigInts } from "ponder";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import {
  chatChunk,
  chatCompletion,
  chatCompletionBody,
  usageObject,
  validationErrorObject,
} from "../protocol/openai.ts";
import { HEADERS } from "../protocol/wire.ts";
import { errorObject, errorStatus } from "../protocol/wire-errors.ts";
import type { Renter, RunEvent, RunOptions, RunResult } from "./client.ts";
import { HostRequestError, InvalidRequestError, RenterError } from "./errors.ts";

export interface GatewayOptions {
  renter: Renter;
  logger?: Logger;
  /** Defaults for every job: host choice, token, price cap, deadline. */
  run?: Omit<RunOptions, "signal" | "host">;
  maxBodyBytes?: number;
}

/** A renter error as an OpenAI error object, with the job it concerns (if one was posted). */
function errorBody(e: RenterError) {
  const body = errorObject(
    e.code,
    e.message,
    e instanceof InvalidRequestError ? (e.param ?? null) : null,
  );
  return {
    error: {
      ...body.error,
      job_id: e.jobId?.toString() ?? null,
      host_code: e instanceof HostRequestError ? (e.hostCode ?? null) : null,
    },
  };
}

function fabstirOf(r: RunResult) {
  return replaceBigInts(
    {
      job_id: r.jobId,
      host: r.host.address,
      cached: r.cached,
      verified: r.verified,
      token: r.token,
      deposit: r.deposit,
      payment: r.payment ?? null,
    },
    (v) => v.toString(),
  );
}

export function createGatewayApp(options: GatewayOptions): Hono {
  const log = (options.logger ?? silentLogger).child({ component: "gateway" });
  const { renter } = options;
  const app = new Hono();

  app.onError((e, c) => {
    if (e instanceof RenterError) {
      if (!e.userError) log.warn({ code: e.code, err: e.message }, "request failed");
      return c.json(errorBody(e), errorStatus(e.code) as 502);
    }
    // A bug or a dependency's failure: the details go to the log, never to the client.
    log.error({ err: e instanceof Error ? e.stack : String(e) }, "request failed");
    return c.json(errorObject("internal", "internal error"), 500);
  });
  app.notFound((c) =>
    c.json(errorObject("not_found", `no route ${c.req.method} ${c.req.path}`), 404),
  );

  app.get("/health", (c) =>
    c.json({ status: "ok", renter: renter.address, api: renter.discovery.url }),
  );

  app.get("/v1/models", async (c) => {
    const models = await renter.discovery.models();
    return c.json({
      object: "list",
      data: models
        .filter((m) => m.prices.length > 0)
        .map((m) => ({ id: m.name, object: "model", created: 0, owned_by: "fabstir-marketplace" })),
    });
  });

  const limit = bodyLimit({
    maxSize: options.maxBodyBytes ?? 1 << 20,
    onError: (c) => c.json(errorObject("request_too_large", "the request body is too large"), 413),
  });

  app.post("/v1/chat/completions", limit, async (c: Context) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return c.json(errorObject("invalid_request", "the body is not JSON"), 400);
    }
    const parsed = chatCompletionBody.safeParse(raw);
    if (!parsed.success) return c.json(validationErrorObject(parsed.error), 400);
    const body = parsed.data;
    const stream = (raw as { stream?: unknown }).stream === true;
    const includeUsage =
      (raw as { stream_options?: { include_usage?: unknown } }).stream_options?.include_usage ===
      true;
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    // The client's disconnect does not abort the job: it was paid for, and is settled anyway.
    const run = renter.run(body, { ...options.run });
    // Everything up to the host's first answer settles errors with a proper status code.
    const first: RunEvent[] = [];
    let next = await run.next();
    while (!next.done && next.value.type !== "claimed") {
      first.push(next.value);
      next = await run.next();
    }
    const jobId = first.find((e) => e.type === "posted")?.jobId;
    const host = first.find((e) => e.type === "host")?.host.address;
    if (jobId !== undefined) c.header(HEADERS.jobId, jobId.toString());
    if (host) c.header(HEADERS.host, host);

    if (!stream) {
      let result: RunResult | undefined;
      while (!result) {
        const n = await run.next();
        if (n.done) result = n.value;
      }
      c.header(HEADERS.cached, String(result.cached));
      log.info({ job: result.jobId.toString(), host: result.host.address }, "answered");
      return c.json({
        ...chatCompletion(id, created, body.model, result.text, result.finishReason, result.usage),
        fabstir: fabstirOf(result),
      });
    }
    return streamSSE(c, async (sse) => {
      const send = (data: unknown) => sse.writeSSE({ data: JSON.stringify(data) });
      try {
        await send(chatChunk(id, created, body.model, { role: "assistant", content: "" }, null));
        for (;;) {
          const n = await run.next();
          if (n.done) {
            const r = n.value;
            await send({
              ...chatChunk(id, created, body.model, {}, r.finishReason),
              ...(includeUsage ? {} : { fabstir: fabstirOf(r) }),
            });
            if (includeUsage)
              await send({
                id,
                object: "chat.completion.chunk",
                created,
                model: body.model,
                choices: [],
                usage: usageObject(r.usage),
                fabstir: fabstirOf(r),
              });
            break;
          }
          if (n.value.type === "token")
            await send(chatChunk(id, created, body.model, { content: n.value.text }, null));
        }
        await sse.writeSSE({ data: "[DONE]" });
      } catch (e) {
        if (e instanceof RenterError) await send(errorBody(e));
        else {
          log.error({ err: e instanceof Error ? e.stack : String(e) }, "stream failed");
          await send(errorObject("internal", "internal error"));
        }
      }
    });
  });

  return app;
}
