/**
 * The renter gateway: a local OpenAI-compatible endpoint on the renter's machine, paid from
 * the renter's wallet, so any OpenAI client works unchanged. By default it chats on sessions
 * (renter/sessions.ts): the first request for a model opens a session with a host (one
 * transaction), later ones reuse it with no transaction, each carrying the signed receipt for
 * the answers before it; sessions close when idle and when the gateway stops. With mode "job"
 * every chat completion is a marketplace job (choose a host, post, authorize, stream, accept).
 *
 *   GET  /v1/models             models that eligible hosts offer (from the discovery API)
 *   POST /v1/chat/completions   streaming (SSE) and not
 *   GET  /v1/fabstir/checks     the spot-checks of this gateway's answers and their challenges
 *   POST /v1/fabstir/ratings    rates a settled session or job once: {"kind","id","stars"}
 *   GET  /health
 *
 * Each answer names what paid for it: on sessions, headers X-Fabstir-Session and
 * X-Fabstir-Host and a `fabstir` object (session id, host, this answer's cost, the session's
 * tokens, spent and remaining deposit, transactions this answer needed); on jobs, headers
 * X-Fabstir-Job-Id and X-Fabstir-Host and a `fabstir` object (job id, host, cache, payment
 * split), where a streamed answer ends ([DONE]) only after the job is accepted. The object is
 * on the non-streaming body and on the streaming answer's last chunk.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { replaceBigInts } from "ponder";
import { z } from "zod";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import {
  type ChatCompletionBody,
  chatChunk,
  chatCompletion,
  chatCompletionBody,
  usageObject,
  validationErrorObject,
} from "../protocol/openai.ts";
import { SESSION_HEADERS } from "../protocol/sessions.ts";
import { type FinishReason, HEADERS } from "../protocol/wire.ts";
import { errorObject, errorStatus } from "../protocol/wire-errors.ts";
import type { Renter, RunEvent, RunOptions, RunResult } from "./client.ts";
import { tokenAddress } from "./discovery.ts";
import { HostRequestError, InvalidRequestError, RenterError } from "./errors.ts";
import type { SessionAnswer } from "./sessions.ts";
import type { TrustGuard } from "./trust.ts";

/** A rating of a settled session or job of this renter (ReputationSystem.rateSession / rateJob). */
const ratingBody = z.object({
  kind: z.enum(["session", "job"]),
  id: z.string().regex(/^\d{1,78}$/, "a decimal id"),
  stars: z.number().int().min(1).max(5),
});

export interface GatewayOptions {
  renter: Renter;
  logger?: Logger;
  /**
   * How answers are paid: "session" (default: one deposit per host and model, renter-signed
   * receipts, no transaction per answer) or "job" (one marketplace job per request).
   */
  mode?: "session" | "job";
  /** Defaults for every job: host choice, token, price cap, deadline. */
  run?: Omit<RunOptions, "signal" | "host">;
  maxBodyBytes?: number;
  /**
   * Spot-checks of session answers (renter/trust.ts; default the renter's own): a sampled
   * answer is checked after it reached the caller; a failed one distrusts its host and
   * becomes a bonded challenge.
   */
  trust?: TrustGuard;
}

function fabstirOfSession(a: SessionAnswer) {
  return {
    session_id: a.sessionId.toString(),
    host: a.host.address,
    cached: a.cached,
    token: a.token,
    cost: a.cost.toString(),
    tokens: a.tokens,
    spent: a.spent.toString(),
    remaining: a.remaining.toString(),
    transactions: a.transactions,
  };
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
  const trust = options.trust ?? renter.trust;
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

  app.get("/v1/fabstir/checks", (c) =>
    c.json({
      sampling: trust !== undefined,
      checks: replaceBigInts(trust?.reports() ?? [], (v) => v.toString()),
    }),
  );

  app.post("/v1/fabstir/ratings", async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return c.json(errorObject("invalid_request", "the body is not JSON"), 400);
    }
    const parsed = ratingBody.safeParse(raw);
    if (!parsed.success) return c.json(validationErrorObject(parsed.error), 400);
    const { kind, id, stars } = parsed.data;
    const r = await renter.rate(kind, BigInt(id), stars);
    return c.json({
      kind,
      id,
      stars,
      host: r.host ?? null,
      weight: r.weight.toString(),
      score: r.score ?? null,
      transaction_hash: r.tx,
    });
  });

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
    if ((options.mode ?? "session") === "session")
      return sessionAnswer(c, body, { id, created, stream, includeUsage });
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
    return streamAnswer(c, { id, created, model: body.model, includeUsage }, async (token) => {
      for (;;) {
        const n = await run.next();
        if (n.done) return { ...n.value, fabstir: fabstirOf(n.value) };
        if (n.value.type === "token") await token(n.value.text);
      }
    });
  });

  /**
   * One answer on a session. Everything before the first token (opening or topping up the
   * session, a refusal, a failover) settles errors with a proper status code.
   */
  async function sessionAnswer(
    c: Context,
    body: ChatCompletionBody,
    o: { id: string; created: number; stream: boolean; includeUsage: boolean },
  ) {
    const { id, created } = o;
    const chat = renter.sessions.chat(body, {
      token: options.run?.token ? tokenAddress(options.run.token) : undefined,
      maxPricePerToken: options.run?.maxPricePerToken,
    });
    const pending: string[] = [];
    let next = await chat.next();
    while (!next.done && next.value.type !== "token") {
      if (next.value.type === "asking") {
        c.header(SESSION_HEADERS.id, next.value.sessionId.toString());
        c.header(HEADERS.host, next.value.host);
      }
      next = await chat.next();
    }
    if (!next.done && next.value.type === "token") pending.push(next.value.text);
    if (!o.stream) {
      while (!next.done) next = await chat.next();
      const a = next.value;
      void trust?.afterAnswer(a);
      c.header(HEADERS.cached, String(a.cached));
      return c.json({
        ...chatCompletion(id, created, body.model, a.text, a.finishReason, a.usage),
        fabstir: fabstirOfSession(a),
      });
    }
    return streamAnswer(
      c,
      { id, created, model: body.model, includeUsage: o.includeUsage },
      async (token) => {
        for (const text of pending) await token(text);
        while (!next.done) {
          next = await chat.next();
          if (!next.done && next.value.type === "token") await token(next.value.text);
        }
        void trust?.afterAnswer(next.value);
        return { ...next.value, fabstir: fabstirOfSession(next.value) };
      },
    );
  }

  /**
   * Streams one answer as OpenAI's chunks: the role, each piece `produce` hands to `token`,
   * the finish reason, the usage chunk when asked for, [DONE]. The `fabstir` object rides on
   * the last chunk. An error after the first byte is an error object in the stream.
   */
  function streamAnswer(
    c: Context,
    m: { id: string; created: number; model: string; includeUsage: boolean },
    produce: (token: (text: string) => Promise<void>) => Promise<{
      finishReason: FinishReason;
      usage: { promptTokens: number; completionTokens: number };
      fabstir: unknown;
    }>,
  ) {
    return streamSSE(c, async (sse) => {
      const send = (data: unknown) => sse.writeSSE({ data: JSON.stringify(data) });
      try {
        await send(chatChunk(m.id, m.created, m.model, { role: "assistant", content: "" }, null));
        const r = await produce((text) =>
          send(chatChunk(m.id, m.created, m.model, { content: text }, null)),
        );
        await send({
          ...chatChunk(m.id, m.created, m.model, {}, r.finishReason),
          ...(m.includeUsage ? {} : { fabstir: r.fabstir }),
        });
        if (m.includeUsage)
          await send({
            id: m.id,
            object: "chat.completion.chunk",
            created: m.created,
            model: m.model,
            choices: [],
            usage: usageObject(r.usage),
            fabstir: r.fabstir,
          });
        await sse.writeSSE({ data: "[DONE]" });
      } catch (e) {
        if (e instanceof RenterError) await send(errorBody(e));
        else {
          log.error({ err: e instanceof Error ? e.stack : String(e) }, "stream failed");
          await send(errorObject("internal", "internal error"));
        }
      }
    });
  }

  return app;
}
