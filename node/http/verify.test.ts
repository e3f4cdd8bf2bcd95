/**
 * POST /v1/verify, the spot-check route, on the tiny generated chat model through Hono's
 * app.request(): the verdict on honest and random answers, and the refusals (model not
 * served here, input too long for the context, malformed or oversized bodies, busy engine,
 * a node without a verifier).
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, it } from "vitest";
import { verifyResponse } from "../../protocol/verify.ts";
import { parseNodeConfig } from "../config.ts";
import { createInferenceService, type InferenceService } from "../inference/service.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { createRequestHandler } from "../serving/handler.ts";
import { createHttpApp } from "./server.ts";

const MODEL = "tiny-chat";
const MESSAGES = [{ role: "user" as const, content: "hello node tell me a story" }];

describe("POST /v1/verify", () => {
  let models: TestModels;
  let service: InferenceService;
  let app: Hono;
  let honest: string;

  const post = (body: unknown, target: Hono = app) =>
    target.request("/v1/verify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const code = async (res: Response) =>
    ((await res.json()) as { error: { code: string } }).error.code;

  beforeAll(async () => {
    models = await tinyTestModels();
    const config = parseNodeConfig(
      {
        models: [{ id: MODEL, path: models.chat, role: "chat" }],
        gpu: false,
        threads: 1,
        engine: { contextSize: 512, sequences: 1, maxQueue: 0 },
        cache: { enabled: false },
      },
      models.dir,
    );
    service = createInferenceService(config);
    await service.start();
    const handler = createRequestHandler({
      service,
      open: true,
      capabilities: () => ({
        version: "test",
        models: [{ id: MODEL, chainModelId: `0x${"00".repeat(32)}`, prices: [], contextSize: 512 }],
        load: { running: 0, queued: 0, slots: 1 },
      }),
    });
    app = createHttpApp({
      handler,
      maxBodyBytes: 64 * 1024,
      verifier: (id) => service.engine(id),
    });
    for await (const e of service.generator(MODEL).generate({
      messages: MESSAGES,
      params: { temperature: 0, maxTokens: 40 },
      cache: "off",
    }))
      if (e.type === "done") honest = e.text;
  });
  afterAll(async () => {
    await service?.stop();
    await models?.remove();
  });

  it("passes an honest greedy answer and names the model file it ran", async () => {
    const res = await post({ model: MODEL, messages: MESSAGES, answer: honest, top_k: 1 });
    assert.equal(res.status, 200);
    const body = verifyResponse.parse(await res.json());
    assert.equal(body.model, MODEL);
    assert.equal(body.model_sha256, models.chatSha256);
    assert.equal(body.passed, true);
    assert.equal(body.misses, 0);
    assert.equal(body.worst_rank, 0);
    assert.ok(body.tokens >= 30, `${body.tokens} tokens`);
  });

  it("fails text the model did not write", async () => {
    const answer = "mountain escrow kel za rain computer ".repeat(6);
    const res = await post({ model: MODEL, messages: MESSAGES, answer });
    assert.equal(res.status, 200);
    const body = verifyResponse.parse(await res.json());
    assert.equal(body.passed, false);
    assert.ok(body.miss_rate > 0.5, `miss rate ${body.miss_rate}`);
  });

  it("refuses a model not served here, and input that does not fit the context", async () => {
    const unknown = await post({ model: "other", messages: MESSAGES, answer: honest });
    assert.equal(unknown.status, 404);
    assert.equal(await code(unknown), "model_not_found");
    const long = await post({ model: MODEL, messages: MESSAGES, answer: "word ".repeat(600) });
    assert.equal(long.status, 400);
    assert.equal(await code(long), "context_length_exceeded");
  });

  it("refuses malformed and oversized bodies", async () => {
    for (const body of [
      { model: MODEL, messages: MESSAGES },
      { model: MODEL, messages: MESSAGES, answer: "" },
      { model: MODEL, messages: [], answer: "hi" },
      { model: MODEL, messages: MESSAGES, answer: "hi", top_p: 0 },
      { model: MODEL, messages: MESSAGES, answer: "hi", top_k: -1 },
      "not json",
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(await code(res), "invalid_request");
    }
    const big = await post({ model: MODEL, messages: MESSAGES, answer: "x".repeat(70 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(await code(big), "request_too_large");
  });

  it("is refused as busy while the only slot is generating", async () => {
    const running = (async () => {
      for await (const e of service.generator(MODEL).generate({
        messages: MESSAGES,
        params: { maxTokens: 300 },
        cache: "off",
      }))
        if (e.type === "done") return e;
    })();
    await new Promise((r) => setTimeout(r, 5));
    const res = await post({ model: MODEL, messages: MESSAGES, answer: honest, top_k: 1 });
    assert.equal(res.status, 503);
    assert.equal(await code(res), "busy");
    await running;
  });

  it("answers 404 on a node without a verifier", async () => {
    const handler = createRequestHandler({
      service,
      capabilities: () => ({ version: "t", models: [], load: { running: 0, queued: 0, slots: 0 } }),
    });
    const bare = createHttpApp({ handler });
    const res = await post({ model: MODEL, messages: MESSAGES, answer: honest }, bare);
    assert.equal(res.status, 404);
    assert.equal(await code(res), "not_found");
  });
});
