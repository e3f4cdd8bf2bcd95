/**
 * The node's HTTP API (Hono on @hono/node-server): OpenAI-compatible chat and text
 * completions, streamed over server-sent events or answered whole, the model list, health
 * and Prometheus metrics. A marketplace job is named by two headers, `X-Fabstir-Job-Id` and
 * `X-Fabstir-Job-Signature` (the renter's EIP-712 signature); an operator uses its API key
 * as the bearer token, which is what OpenAI clients send. POST /v1/verify runs the
 * teacher-forced spot-check of another host's answer (node/inference/verify.ts).
 */
import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import {
  chatChunk,
  chatCompletion,
  chatCompletionBody,
  chatToServeRequest,
  completionBody,
  completionToServeRequest,
  textCompletion,
  usageObject,
  validationErrorObject,
} from "../../protocol/openai.ts";
import {
  receiptFromWire,
  type SessionAuthorization,
  type SignedReceipt,
  sessionFromHeaders,
  signedReceiptSchema,
} from "../../protocol/sessions.ts";
import { type VerifyResponse, verifyBody } from "../../protocol/verify.ts";
import type { FinishReason, GenerationEvent, ServeRequest, Usage } from "../../protocol/wire.ts";
import { HEADERS, type ModelCapability } from "../../protocol/wire.ts";
import { errorObject, errorObjectOf, errorStatus } from "../../protocol/wire-errors.ts";
import { ContextLengthExceededError, NodeError } from "../errors.ts";
import type { InferenceEngine } from "../inference/engine.ts";
import type { NodeMetrics } from "../metrics.ts";
import { coalesceTokens } from "../serving/coalesce.ts";
import type { RequestHandler } from "../serving/types.ts";

export interface HttpOptions {
  handler: RequestHandler;
  metrics?: NodeMetrics;
  logger?: Logger;
  /** Largest accepted request body; default 1 MiB. */
  maxBodyBytes?: number;
  /** Extra facts for GET /health (chain, p2p state). */
  health?: () => Record<string, unknown>;
  /**
   * Least time between two streamed token chunks while tokens come faster: the tokens in
   * between go out together in the next chunk. Default TOKEN_INTERVAL_MS
   * (node/serving/coalesce.ts).
   */
  tokenIntervalMs?: number;
  /** Closes a session at the renter's request (POST /v1/sessions/:id/close). */
  closeSession?: (
    sessionId: string,
    receipt: SignedReceipt | undefined,
  ) => Promise<{ paid: bigint; tokens: number; transactionHash?: `0x${string}` }>;
  /**
   * The engine that checks answers for a model (POST /v1/verify), e.g.
   * `(id) => service.engine(id)`; it throws ModelNotFoundError for a model not served here.
   * Without it the route answers 404.
   */
  verifier?: (modelId: string) => Pick<InferenceEngine, "modelSha256" | "verify">;
}

const closeBody = z.object({ receipt: signedReceiptSchema.optional() }).strict();

const DEFAULT_MAX_BODY = 1 << 20;

type Kind = "chat" | "text";

function bearer(c: Context): string | undefined {
  const h = c.req.header("authorization");
  return h?.startsWith("Bearer ") ? h.slice(7).trim() : undefined;
}

function errorResponse(c: Context, e: unknown, log: Logger) {
  if (e instanceof NodeError) {
    if (!e.userError) log.warn({ err: e.message, code: e.code }, "request failed");
    const status = errorStatus(e.code);
    if (status === 503) c.header("Retry-After", "1");
    const param = e instanceof ContextLengthExceededError ? "messages" : null;
    return c.json(errorObjectOf(e, param), status as 400);
  }
  log.error({ err: e instanceof Error ? e.stack : String(e) }, "request failed");
  return c.json(errorObject("internal", "internal error"), 500);
}

/** Reads the job headers into the request; a half-present pair is refused. */
function withJob(c: Context, request: ServeRequest): ServeRequest | Response {
  const jobId = c.req.header(HEADERS.jobId);
  const signature = c.req.header(HEADERS.jobSignature);
  if (jobId === undefined && signature === undefined) return request;
  if (!jobId || !/^\d{1,78}$/.test(jobId))
    return c.json(errorObject("invalid_request", `${HEADERS.jobId}: expected a job id`), 400);
  if (!signature || !/^0x[0-9a-fA-F]{130}$/.test(signature))
    return c.json(
      errorObject("invalid_signature", `${HEADERS.jobSignature}: expected a 65-byte signature`),
      401,
    );
  return { ...request, job: { jobId, signature: signature as `0x${string}` } };
}

/** Reads what pays for the request (job or session headers) into it. */
function paidBy(c: Context, request: ServeRequest): ServeRequest | Response {
  const withJobHeaders = withJob(c, request);
  return withJobHeaders instanceof Response ? withJobHeaders : withSession(c, withJobHeaders);
}

/** Reads the session headers into the request; malformed values are refused. */
function withSession(c: Context, request: ServeRequest): ServeRequest | Response {
  let session: SessionAuthorization | undefined;
  try {
    session = sessionFromHeaders((name) => c.req.header(name));
  } catch (e) {
    const detail = e instanceof z.ZodError ? z.prettifyError(e) : (e as Error).message;
    return c.json(errorObject("invalid_request", `malformed session headers: ${detail}`), 400);
  }
  if (!session) return request;
  if (request.job)
    return c.json(
      errorObject("invalid_request", "a request is paid by a job or a session, not both"),
      400,
    );
  return { ...request, session };
}

export function createHttpApp(options: HttpOptions): Hono {
  const log = options.logger ?? silentLogger;
  const { handler } = options;
  const app = new Hono();

  app.onError((e, c) => errorResponse(c, e, log));
  app.notFound((c) =>
    c.json(errorObject("not_found", `no route ${c.req.method} ${c.req.path}`), 404),
  );

  app.get("/health", (c) => {
    const caps = handler.capabilities();
    return c.json({
      status: "ok",
      models: caps.models.map((m) => m.id),
      load: caps.load,
      host: caps.host ?? null,
      ...options.health?.(),
    });
  });

  app.get("/metrics", async (c) => {
    if (!options.metrics) return c.text("metrics are off\n", 404);
    const { registry } = options.metrics;
    return c.body(await registry.metrics(), 200, { "Content-Type": registry.contentType });
  });

  // OpenAI's model object, plus the context length (prompt and answer together) as other
  // OpenAI-compatible servers report it.
  const modelObject = (m: ModelCapability) => ({
    id: m.id,
    object: "model" as const,
    created: 0,
    owned_by: handler.capabilities().host ?? "fabstir-host",
    context_length: m.contextSize,
  });
  app.get("/v1/models", (c) =>
    c.json({ object: "list", data: handler.capabilities().models.map(modelObject) }),
  );
  app.get("/v1/models/:id{.+}", (c) => {
    const id = c.req.param("id");
    const model = handler.capabilities().models.find((m) => m.id === id);
    if (!model)
      return c.json(errorObject("model_not_found", `model ${id} is not served here`, "model"), 404);
    return c.json(modelObject(model));
  });

  const limit = bodyLimit({
    maxSize: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
    onError: (c) =>
      c.json(
        errorObject(
          "request_too_large",
          `the request body exceeds ${options.maxBodyBytes ?? DEFAULT_MAX_BODY} bytes`,
        ),
        413,
      ),
  });

  async function parse<S extends z.ZodType>(c: Context, schema: S) {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return { response: c.json(errorObject("invalid_request", "the body is not JSON"), 400) };
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) return { response: c.json(validationErrorObject(parsed.error), 400) };
    return { body: parsed.data as z.infer<S> };
  }

  async function complete(
    c: Context,
    kind: Kind,
    request: ServeRequest,
    stream: boolean,
    includeUsage: boolean,
  ) {
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const signal = c.req.raw.signal;
    // The tokens that are ready together go out in one event (node/serving/coalesce.ts).
    const events = coalesceTokens(
      handler.serve(request, { signal, transport: "http", apiKey: bearer(c) }),
      { minIntervalMs: options.tokenIntervalMs },
    );
    // The first event settles refusals (auth, unknown model, busy) before any byte is sent,
    // so they get a proper status code.
    let first: IteratorResult<GenerationEvent>;
    try {
      first = await events.next();
    } catch (e) {
      return errorResponse(c, e, log);
    }
    if (!stream) {
      let event = first;
      try {
        while (!event.done && event.value.type !== "done") event = await events.next();
      } finally {
        // Ends the generator past its `done` event, which frees the engine's slot.
        await events.return?.();
      }
      if (event.done || event.value.type !== "done")
        throw new Error("generation ended without a done event");
      const done = event.value;
      c.header(HEADERS.cached, String(done.cached));
      return kind === "chat"
        ? c.json(
            chatCompletion(id, created, request.model, done.text, done.finishReason, done.usage),
          )
        : c.json(
            textCompletion(id, created, request.model, done.text, done.finishReason, done.usage),
          );
    }
    return streamSSE(c, async (sse) => {
      const send = (data: unknown) => sse.writeSSE({ data: JSON.stringify(data) });
      const piece = (text: string, finish: FinishReason | null) =>
        kind === "chat"
          ? chatChunk(id, created, request.model, text ? { content: text } : {}, finish)
          : textCompletion(id, created, request.model, text, finish);
      let usage: Usage | undefined;
      try {
        if (kind === "chat")
          await send(
            chatChunk(id, created, request.model, { role: "assistant", content: "" }, null),
          );
        let event = first;
        while (!event.done) {
          const e = event.value;
          if (e.type === "token") await send(piece(e.text, null));
          else {
            usage = e.usage;
            // Extra fields are ignored by OpenAI clients; Fabstir renters read whether the
            // answer came from the semantic cache.
            await send({ ...piece("", e.finishReason), fabstir: { cached: e.cached } });
          }
          event = await events.next();
        }
        if (usage && includeUsage)
          await send({
            id,
            object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
            created,
            model: request.model,
            choices: [],
            usage: usageObject(usage),
          });
        await sse.writeSSE({ data: "[DONE]" });
      } catch (e) {
        if (signal.aborted) return;
        // Mid-stream failures travel as an error event, which OpenAI clients raise.
        if (e instanceof NodeError) await send(errorObjectOf(e));
        else {
          log.error({ err: e instanceof Error ? e.stack : String(e) }, "stream failed");
          await send(errorObject("internal", "internal error"));
        }
      } finally {
        await events.return?.();
      }
    });
  }

  app.post("/v1/chat/completions", limit, async (c) => {
    const { body, response } = await parse(c, chatCompletionBody);
    if (response) return response;
    const request = paidBy(c, chatToServeRequest(body));
    if (request instanceof Response) return request;
    return complete(
      c,
      "chat",
      request,
      body.stream === true,
      body.stream_options?.include_usage === true,
    );
  });

  // Free and unpaid: a renter measures its request here before it pays for a job, so a prompt
  // that cannot fit the model's context is refused before any transaction.
  app.post("/v1/chat/completions/check", limit, async (c) => {
    const { body, response } = await parse(c, chatCompletionBody);
    if (response) return response;
    const check = options.handler.check;
    if (!check) return c.json(errorObject("not_found", "this node cannot check requests"), 404);
    try {
      const r = check(chatToServeRequest(body));
      return c.json({
        model: body.model,
        prompt_tokens: r.promptTokens,
        context_length: r.contextLength,
        max_tokens: r.maxTokens,
      });
    } catch (e) {
      return errorResponse(c, e, log);
    }
  });

  // The renter is done with a session: it hands over its last receipt and the host closes the
  // session on chain with it at once (paid up to the receipt, the rest refunded). No payment
  // is needed to call it: the receipt's signature is checked, and closing only settles.
  app.post("/v1/sessions/:id/close", limit, async (c) => {
    const close = options.closeSession;
    if (!close) return c.json(errorObject("not_found", "this node does not serve sessions"), 404);
    const id = c.req.param("id");
    if (!/^[0-9]{1,78}$/.test(id))
      return c.json(errorObject("invalid_request", "expected a decimal session id"), 400);
    const { body, response } = await parse(c, closeBody);
    if (response) return response;
    try {
      const r = await close(id, body.receipt ? receiptFromWire(body.receipt) : undefined);
      return c.json({
        session_id: id,
        paid: r.paid.toString(),
        tokens: r.tokens,
        transaction_hash: r.transactionHash ?? null,
      });
    } catch (e) {
      return errorResponse(c, e, log);
    }
  });

  // The teacher-forced spot-check of an answer another host gave (node/inference/verify.ts):
  // one forward pass over the chat and the answer, no generation. A statistical check, not a
  // proof. Not paid for now (input-token pricing comes later) and open like the request check:
  // it is bounded by the body limit, the schema's sizes (protocol/verify.ts) and the engine's
  // slots and queue (busy: 503), and an input that does not fit the context is refused
  // (context_length_exceeded) before any evaluation.
  app.post("/v1/verify", limit, async (c) => {
    const verifier = options.verifier;
    if (!verifier) return c.json(errorObject("not_found", "this node does not check answers"), 404);
    const { body, response } = await parse(c, verifyBody);
    if (response) return response;
    try {
      const engine = verifier(body.model);
      const r = await engine.verify({
        messages: body.messages.map((m) => ({
          role: m.role === "developer" ? "system" : m.role,
          content: m.content,
        })),
        answer: body.answer,
        params: { topK: body.top_k ?? undefined, topP: body.top_p ?? undefined },
        signal: c.req.raw.signal,
      });
      const result: VerifyResponse = {
        model: body.model,
        model_sha256: engine.modelSha256,
        tokens: r.tokens,
        misses: r.misses,
        miss_rate: r.missRate,
        worst_rank: r.worstRank,
        passed: r.passed,
        ms: r.ms,
      };
      return c.json(result);
    } catch (e) {
      return errorResponse(c, e, log);
    }
  });

  app.post("/v1/completions", limit, async (c) => {
    const { body, response } = await parse(c, completionBody);
    if (response) return response;
    const request = paidBy(c, completionToServeRequest(body));
    if (request instanceof Response) return request;
    return complete(
      c,
      "text",
      request,
      body.stream === true,
      body.stream_options?.include_usage === true,
    );
  });

  return app;
}
