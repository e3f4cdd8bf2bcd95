/**
 * The OpenAI-compatible HTTP API on a real HTTP server and the tiny generated chat model,
 * driven by the official `openai` npm client, unmodified, and by plain fetch for what the
 * client hides (status codes, SSE framing, disconnects).
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type HttpServer, startHttpServer } from "../../protocol/http-server.ts";
import { parseNodeConfig } from "../config.ts";
import type { ProcessEngine } from "../inference/process-engine.ts";
import { createInferenceService, type InferenceService } from "../inference/service.ts";
import { createNodeMetrics, type NodeMetrics } from "../metrics.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { createRequestHandler } from "../serving/handler.ts";
import { createHttpApp } from "./server.ts";

const KEY = "operator-test-key";
const MODEL = "tiny-chat";
const PROMPT = [{ role: "user" as const, content: "hello node tell me a story" }];

async function direct(service: InferenceService, maxTokens: number, prompt?: string) {
  for await (const e of service.generator(MODEL).generate({
    messages: prompt ? [] : PROMPT,
    prompt,
    params: { temperature: 0, maxTokens },
    cache: "off",
  }))
    if (e.type === "done") return e;
  throw new Error("no done event");
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("OpenAI-compatible HTTP API", () => {
  let models: TestModels;
  let service: InferenceService;
  let metrics: NodeMetrics;
  let server: HttpServer;
  let client: OpenAI;

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
    metrics = createNodeMetrics();
    metrics.setLoadSource(() => service.stats());
    const handler = createRequestHandler({
      service,
      metrics,
      apiKeys: [KEY],
      capabilities: () => ({
        version: "test",
        models: [{ id: MODEL, chainModelId: `0x${"00".repeat(32)}`, prices: [], contextSize: 512 }],
        load: { running: 0, queued: 0, slots: 1 },
      }),
    });
    server = await startHttpServer(createHttpApp({ handler, metrics, maxBodyBytes: 64 * 1024 }));
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await service?.stop();
    await models?.remove();
  });

  it("answers a chat completion through the openai client, equal to the engine's answer", async () => {
    const expected = await direct(service, 12);
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: PROMPT,
      temperature: 0,
      max_tokens: 12,
    });
    assert.equal(res.object, "chat.completion");
    assert.equal(res.choices[0]?.message.content, expected.text);
    assert.equal(res.choices[0]?.finish_reason, expected.finishReason);
    assert.deepEqual(res.usage, {
      prompt_tokens: expected.usage.promptTokens,
      completion_tokens: expected.usage.completionTokens,
      total_tokens: expected.usage.promptTokens + expected.usage.completionTokens,
    });
  });

  it("measures a request without running it: prompt tokens and the room left in the context", async () => {
    const res = await fetch(`${server.url}/v1/chat/completions/check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: PROMPT, max_tokens: 12 }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, number>;
    const expected = await direct(service, 1);
    assert.equal(body.prompt_tokens, expected.usage.promptTokens);
    assert.equal(body.context_length, 512);
    assert.equal(body.max_tokens, 512 - expected.usage.promptTokens);
  });

  it("refuses a prompt longer than the context with OpenAI's context_length_exceeded, checked or run", async () => {
    const long = [{ role: "user" as const, content: "word ".repeat(2000) }];
    for (const path of ["/v1/chat/completions/check", "/v1/chat/completions"]) {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: MODEL, messages: long, max_tokens: 4 }),
      });
      assert.equal(res.status, 400, path);
      const { error } = (await res.json()) as { error: Record<string, string> };
      assert.equal(error.code, "context_length_exceeded", path);
      assert.equal(error.type, "invalid_request_error", path);
      assert.equal(error.param, "messages", path);
      assert.match(error.message ?? "", /512/, path);
    }
    const unknown = await fetch(`${server.url}/v1/chat/completions/check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "no-such-model", messages: PROMPT }),
    });
    assert.equal(unknown.status, 404);
  });

  it("streams a chat completion to the openai client, with usage in the last chunk", async () => {
    const expected = await direct(service, 20);
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: PROMPT,
      temperature: 0,
      max_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, "chat.completion.chunk");
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(pieces.length > 1, "the answer arrived in several chunks");
    assert.equal(pieces.join(""), expected.text);
    assert.equal(finish, expected.finishReason);
    assert.equal(usage?.completion_tokens, expected.usage.completionTokens);
    assert.equal(usage?.prompt_tokens, expected.usage.promptTokens);
  });

  it("serves raw text completions, whole and streamed", async () => {
    const prompt = "once upon a time";
    const expected = await direct(service, 10, prompt);
    const whole = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 10,
      temperature: 0,
    });
    assert.equal(whole.object, "text_completion");
    assert.equal(whole.choices[0]?.text, expected.text);
    assert.equal(whole.usage?.prompt_tokens, expected.usage.promptTokens);
    const stream = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 10,
      temperature: 0,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    assert.equal(text, expected.text);
    // OpenAI's default of 16 tokens applies when max_tokens is absent.
    const dflt = await client.completions.create({ model: MODEL, prompt, temperature: 0 });
    assert.ok((dflt.usage?.completion_tokens ?? 0) <= 16);
  });

  it("lists the served models", async () => {
    const list = await client.models.list();
    assert.deepEqual(
      list.data.map((m) => m.id),
      [MODEL],
    );
    assert.equal((await client.models.retrieve(MODEL)).id, MODEL);
    // The context length, as other OpenAI-compatible servers report it.
    assert.equal((list.data[0] as unknown as { context_length: number }).context_length, 512);
    await assert.rejects(client.models.retrieve("gpt-4"), OpenAI.NotFoundError);
  });

  it("refuses bad requests with OpenAI error objects the client raises as typed errors", async () => {
    await assert.rejects(
      client.chat.completions.create({ model: "gpt-4", messages: PROMPT }),
      (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found",
    );
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: PROMPT, temperature: 5 }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "temperature",
    );
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "messages",
    );
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: PROMPT, n: 2 }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "n",
    );
    const stranger = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(
      stranger.chat.completions.create({ model: MODEL, messages: PROMPT }),
      (e: unknown) => e instanceof OpenAI.AuthenticationError && e.code === "unauthorized",
    );
    // What the client cannot send: broken JSON, an oversized body, a half job header pair.
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}`, ...headers },
        body,
      });
    const broken = await post("{not json");
    assert.equal(broken.status, 400);
    assert.equal(
      ((await broken.json()) as { error: { code: string } }).error.code,
      "invalid_request",
    );
    const huge = await post(
      JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "x".repeat(70_000) }] }),
    );
    assert.equal(huge.status, 413);
    assert.equal(
      ((await huge.json()) as { error: { code: string } }).error.code,
      "request_too_large",
    );
    const halfJob = await post(JSON.stringify({ model: MODEL, messages: PROMPT }), {
      "x-fabstir-job-id": "7",
    });
    assert.equal(halfJob.status, 401);
    const jobWithoutGate = await post(JSON.stringify({ model: MODEL, messages: PROMPT }), {
      "x-fabstir-job-id": "7",
      "x-fabstir-job-signature": `0x${"11".repeat(65)}`,
    });
    assert.equal(jobWithoutGate.status, 401);
    assert.equal((await fetch(`${server.url}/v1/nothing`)).status, 404);
  });

  it("answers 503 with Retry-After when the engine's slot and queue are full", async () => {
    const ac = new AbortController();
    const long = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: MODEL, messages: PROMPT, max_tokens: 400, stream: true }),
      signal: ac.signal,
    });
    const reader = (long.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await until("the long request to run", () => service.stats()[MODEL]?.running === 1);
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: PROMPT, max_tokens: 2 }),
      (e: unknown) =>
        e instanceof OpenAI.APIError && e.status === 503 && e.headers?.get("retry-after") === "1",
    );
    ac.abort();
    await until("the slot to be free", () => service.stats()[MODEL]?.running === 0);
  });

  it("stops generating when a streaming client disconnects", async () => {
    const before = service.stats()[MODEL]?.failed ?? 0;
    const ac = new AbortController();
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: MODEL, messages: PROMPT, max_tokens: 450, stream: true }),
      signal: ac.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    ac.abort();
    await until(
      "the request to end as failed",
      () => (service.stats()[MODEL]?.failed ?? 0) > before,
    );
    assert.equal(service.stats()[MODEL]?.running, 0);
  });

  it("answers 503 engine_crashed when the inference worker dies mid-answer, and serves again once it is back", async () => {
    const engine = service.engine(MODEL) as ProcessEngine;
    const pid = engine.workerPid() as number;
    const pending = client.chat.completions.create({
      model: MODEL,
      messages: PROMPT,
      max_tokens: 450,
    });
    await until("the long request to run", () => service.stats()[MODEL]?.running === 1);
    process.kill(pid, "SIGKILL");
    await assert.rejects(
      pending,
      (e: unknown) =>
        e instanceof OpenAI.APIError && e.status === 503 && e.code === "engine_crashed",
    );
    await engine.whenReady();
    assert.notEqual(engine.workerPid(), pid);
    const expected = await direct(service, 12);
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: PROMPT,
      temperature: 0,
      max_tokens: 12,
    });
    assert.equal(res.choices[0]?.message.content, expected.text);
  });

  it("reports health and Prometheus metrics", async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as {
      status: string;
      models: string[];
    };
    assert.deepEqual(health, { ...health, status: "ok", models: [MODEL] });
    const res = await fetch(`${server.url}/metrics`);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    const text = await res.text();
    const ok =
      /fabstir_requests_total\{transport="http",model="tiny-chat",outcome="ok"\} (\d+)/.exec(text);
    assert.ok(ok && Number(ok[1]) >= 5, "successful requests are counted");
    assert.match(
      text,
      /fabstir_requests_total\{transport="http",model="unknown",outcome="model_not_found"\} 1/,
    );
    assert.match(text, /fabstir_tokens_total\{model="tiny-chat",kind="completion"\} \d+/);
    assert.match(
      text,
      /fabstir_time_to_first_token_seconds_count\{transport="http",model="tiny-chat"\} \d+/,
    );
    assert.match(text, /fabstir_engine_running\{model="tiny-chat"\} 0/);
  });
});
