/**
 * The inference engine on the generated tiny chat model (node-llama-cpp on the CPU):
 * determinism, streaming, exact token counts, stop sequences, cancellation, continuous
 * batching, the bounded queue and timeouts.
 */
import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { GenerationEvent } from "../../protocol/wire.ts";
import {
  ContextLengthExceededError,
  EngineBusyError,
  InvalidRequestError,
  RequestCancelledError,
  RequestTimeoutError,
} from "../errors.ts";
import { createModelManager, type ModelManager } from "../models/manager.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { createInferenceEngine, type EngineOptions, type InferenceEngine } from "./engine.ts";
import { createProcessEngine } from "./process-engine.ts";
import type { GenerateRequest } from "./types.ts";

const ask = (content: string, params: GenerateRequest["params"] = {}): GenerateRequest => ({
  messages: [{ role: "user", content }],
  params: { maxTokens: 24, ...params },
});

async function collect(stream: AsyncIterable<GenerationEvent>) {
  const chunks: string[] = [];
  for await (const e of stream) {
    if (e.type === "token") chunks.push(e.text);
    else return { chunks, done: e };
  }
  throw new Error("the stream ended without a done event");
}

// The same behaviour from the engine on the node's thread and from the engine in its worker
// process (the node's default), which must be indistinguishable to its callers.
const variants: [string, (o: EngineOptions) => InferenceEngine][] = [
  ["in process", createInferenceEngine],
  ["in a worker process", (o) => createProcessEngine({ ...o, gpu: false })],
];

describe.each(variants)("inference engine %s", (_name, createEngine) => {
  let models: TestModels;
  let manager: ModelManager;
  let engine: InferenceEngine;
  const engines: InferenceEngine[] = [];
  /** Another engine on the same model, with its own slots and queue. */
  async function extraEngine(opts: { sequences: number; maxQueue: number }) {
    const e = createEngine({
      manager,
      modelId: "chat",
      contextSize: 512,
      threads: 1,
      ...opts,
    });
    await e.start();
    engines.push(e);
    return e;
  }

  beforeAll(async () => {
    models = await tinyTestModels();
    manager = createModelManager({
      models: [{ id: "chat", path: models.chat, role: "chat" }],
      gpu: false,
    });
    await manager.start();
    engine = createEngine({
      manager,
      modelId: "chat",
      contextSize: 512,
      sequences: 4,
      threads: 1,
    });
    await engine.start();
  });
  afterAll(async () => {
    for (const e of engines) await e.stop();
    await engine?.stop();
    await manager?.stop();
    await models?.remove();
  });

  it("is deterministic at temperature 0, and reproducible with a seed when sampling", async () => {
    const a = await collect(engine.generate(ask("What is the capital of France?")));
    const b = await collect(engine.generate(ask("What is the capital of France?")));
    assert.ok(a.done.text.length > 0);
    assert.equal(a.done.text, b.done.text);
    const sampled = (seed: number) =>
      collect(engine.generate(ask("tell me a story", { temperature: 1, topK: 0, seed })));
    const [s1, s1again, s2] = [await sampled(1), await sampled(1), await sampled(2)];
    assert.equal(s1.done.text, s1again.done.text);
    assert.notEqual(s1.done.text, s2.done.text);
  });

  it("streams chunks that join into the full text, with exact token counts", async () => {
    const request = ask("Name three colours", { maxTokens: 30 });
    const { chunks, done } = await collect(engine.generate(request));
    assert.ok(chunks.length > 5, `${chunks.length} chunks`);
    assert.equal(chunks.join(""), done.text);
    assert.equal(done.finishReason, "length");
    assert.equal(done.usage.completionTokens, 30);
    assert.equal(done.usage.promptTokens, engine.countPromptTokens(request.messages));
    assert.equal(done.cached, false);
    // The tiny model tokenizes whole words: the completion re-tokenizes to the billed count.
    const chat = await manager.acquire("chat");
    try {
      assert.ok(Math.abs(chat.model.tokenize(done.text).length - 30) <= 2);
    } finally {
      chat.release();
    }
  });

  it("stops before a stop sequence and says so", async () => {
    const full = await collect(engine.generate(ask("Name three colours", { maxTokens: 30 })));
    const words = full.done.text.trim().split(/\s+/);
    const stop = words[3] as string;
    const cut = await collect(
      engine.generate(ask("Name three colours", { maxTokens: 30, stop: [stop] })),
    );
    assert.equal(cut.done.finishReason, "stop");
    assert.equal(cut.done.text, full.done.text.slice(0, full.done.text.indexOf(stop)));
    assert.equal(cut.chunks.join(""), cut.done.text);
    assert.ok(cut.done.usage.completionTokens < 30);
  });

  it("stops producing tokens when the request is cancelled or the consumer goes away", async () => {
    const controller = new AbortController();
    let tokens = 0;
    const stream = engine.generate({
      ...ask("Talk for a long time", { maxTokens: 400 }),
      signal: controller.signal,
    });
    await assert.rejects(async () => {
      for await (const e of stream) {
        if (e.type !== "token") continue;
        tokens++;
        if (tokens === 3) controller.abort();
      }
    }, RequestCancelledError);
    assert.equal(tokens, 3, "no token after the abort");
    // A consumer that stops reading (break) also ends the generation and frees its slot.
    for await (const e of engine.generate(ask("Talk for a long time", { maxTokens: 400 }))) {
      if (e.type === "token") break;
    }
    const stats = engine.stats();
    assert.equal(stats.running, 0);
    assert.ok(stats.failed >= 2);
  });

  it("gives concurrent requests the same answers as sequential ones", async () => {
    const prompts = ["first question", "second question here", "third", "a fourth one", "fifth"];
    const sequential: string[] = [];
    for (const p of prompts) sequential.push((await collect(engine.generate(ask(p)))).done.text);
    const concurrent = await Promise.all(prompts.map((p) => collect(engine.generate(ask(p)))));
    assert.deepEqual(
      concurrent.map((c) => c.done.text),
      sequential,
    );
  });

  it("starts a new request while a long one is running (continuous batching)", async () => {
    const order: string[] = [];
    let longTokensAtShortStart = -1;
    let longTokens = 0;
    const long = (async () => {
      for await (const e of engine.generate(ask("long answer", { maxTokens: 300 }))) {
        if (e.type === "token") longTokens++;
      }
      order.push("long");
    })();
    while (longTokens < 5) await new Promise((r) => setTimeout(r, 1));
    const short = (async () => {
      longTokensAtShortStart = longTokens;
      await collect(engine.generate(ask("short answer", { maxTokens: 5 })));
      order.push("short");
    })();
    await Promise.all([long, short]);
    assert.deepEqual(order, ["short", "long"]);
    assert.ok(longTokensAtShortStart < 300);
  });

  it("refuses a request with EngineBusyError when the queue is full", async () => {
    const small = await extraEngine({ sequences: 1, maxQueue: 1 });
    const running = collect(small.generate(ask("one", { maxTokens: 200 })));
    const queued = collect(small.generate(ask("two", { maxTokens: 5 })));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      { running: small.stats().running, queued: small.stats().queued },
      { running: 1, queued: 1 },
    );
    await assert.rejects(collect(small.generate(ask("three"))), EngineBusyError);
    const [r, q] = await Promise.all([running, queued]);
    assert.equal(r.done.usage.completionTokens, 200);
    assert.equal(q.done.usage.completionTokens, 5);
  });

  it("times out a request that runs or waits too long", async () => {
    const small = await extraEngine({ sequences: 1, maxQueue: 4 });
    const slow = collect(small.generate({ ...ask("slow", { maxTokens: 2_000 }), timeoutMs: 100 }));
    await assert.rejects(slow, RequestTimeoutError);
    const blocker = collect(small.generate(ask("blocker", { maxTokens: 300 })));
    const waiting = collect(small.generate({ ...ask("waiting"), timeoutMs: 20 }));
    await assert.rejects(waiting, RequestTimeoutError);
    await blocker;
    assert.equal(small.stats().queued, 0);
  });

  it("rejects invalid parameters and a prompt longer than the context with InvalidRequestError", async () => {
    const bad: GenerateRequest[] = [
      ask("x", { temperature: -1 }),
      ask("x", { topP: 0 }),
      ask("x", { maxTokens: 0 }),
      ask("x", { stop: ["a", "b", "c", "d", "e"] }),
      { messages: [] },
      ask("word ".repeat(600)),
    ];
    for (const request of bad)
      await assert.rejects(collect(engine.generate(request)), InvalidRequestError);
    // The too-long prompt says so precisely (its code is OpenAI's, and a paid job is refunded).
    await assert.rejects(
      collect(engine.generate(ask("word ".repeat(600)))),
      ContextLengthExceededError,
    );
  });
});
