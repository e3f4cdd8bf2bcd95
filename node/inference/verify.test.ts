/**
 * The teacher-forced spot-check: the scoring on hand-made distributions, then the engine's
 * check on the generated tiny chat model: honest answers of the same engine pass (greedy and
 * sampled), random text and a different model's answers fail, and the check is refused,
 * cancelled and bounded like a request.
 */
import assert from "node:assert/strict";
import path from "node:path";
import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { ChatMessage } from "../../protocol/wire.ts";
import {
  ContextLengthExceededError,
  EngineBusyError,
  InvalidRequestError,
  RequestCancelledError,
} from "../errors.ts";
import { createModelManager, type ModelManager } from "../models/manager.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { createInferenceEngine, type InferenceEngine } from "./engine.ts";
import { reseededCopy } from "./reseeded-model.ts";
import type { GenerateRequest } from "./types.ts";
import { scoreToken } from "./verify.ts";

const dist = (entries: [number, number][]) => new Map(entries as [Token, number][]);
const t = (n: number) => n as Token;

describe("scoring a claimed token", () => {
  const d = dist([
    [10, 0.5],
    [11, 0.2],
    [12, 0.199],
    [13, 0.1],
    [14, 0.001],
  ]);
  it("ranks the token and applies top-k", () => {
    assert.deepEqual(scoreToken(d, t(10), { topK: 1, topP: 1 }, 0), { rank: 0, fits: true });
    assert.deepEqual(scoreToken(d, t(11), { topK: 1, topP: 1 }, 0), { rank: 1, fits: false });
    assert.deepEqual(scoreToken(d, t(13), { topK: 4, topP: 1 }, 0), { rank: 3, fits: true });
    assert.deepEqual(scoreToken(d, t(14), { topK: 4, topP: 1 }, 0), { rank: 4, fits: false });
    assert.equal(scoreToken(d, t(14), { topK: 0, topP: 1 }, 0).fits, true);
  });
  it("counts a near-tie within the logit tolerance as tied", () => {
    // 0.2 / 0.199 is e^0.005: tied at tolerance 0.05, not at 0.001.
    assert.equal(scoreToken(d, t(12), { topK: 2, topP: 1 }, 0.05).fits, true);
    assert.equal(scoreToken(d, t(12), { topK: 2, topP: 1 }, 0.001).fits, false);
  });
  it("applies top-p after top-k, renormalized over the top k", () => {
    // Over the whole distribution 0.5 + 0.2 = 0.7 is above token 12; over the top 3 it is
    // 0.7 / 0.899 = 0.78.
    assert.equal(scoreToken(d, t(12), { topK: 0, topP: 0.75 }, 0).fits, true);
    assert.equal(scoreToken(d, t(12), { topK: 3, topP: 0.75 }, 0).fits, false);
    assert.equal(scoreToken(d, t(11), { topK: 3, topP: 0.75 }, 0).fits, true);
  });
  it("misses a token the window does not hold", () => {
    assert.deepEqual(scoreToken(d, t(99), { topK: 2, topP: 1 }, 0.05), { rank: 5, fits: false });
  });
});

describe("the engine's teacher-forced check", () => {
  let models: TestModels;
  let manager: ModelManager;
  let engine: InferenceEngine;
  let other: InferenceEngine;
  const chats: ChatMessage[][] = [
    "What is the capital of France?",
    "tell me a story about the river",
    "how does the market price a token",
    "name three colours",
    "write a line about the weather",
    "why is the sky blue",
  ].map((content) => [{ role: "user", content }]);

  async function answer(e: InferenceEngine, request: GenerateRequest): Promise<string> {
    for await (const ev of e.generate(request)) if (ev.type === "done") return ev.text;
    throw new Error("no done event");
  }

  beforeAll(async () => {
    models = await tinyTestModels();
    const otherPath = path.join(models.dir, "other-chat.gguf");
    await reseededCopy(models.chat, otherPath, 7);
    manager = createModelManager({
      models: [
        { id: "chat", path: models.chat, role: "chat" },
        { id: "other", path: otherPath, role: "chat" },
      ],
      gpu: false,
    });
    await manager.start();
    const make = async (modelId: string, sequences = 2, maxQueue = 4) => {
      const e = createInferenceEngine({
        manager,
        modelId,
        contextSize: 512,
        sequences,
        maxQueue,
        threads: 1,
      });
      await e.start();
      return e;
    };
    engine = await make("chat");
    other = await make("other");
  });
  afterAll(async () => {
    await other?.stop();
    await engine?.stop();
    await manager?.stop();
    await models?.remove();
  });

  it("passes the same engine's greedy answers at top-k 1, every token its first choice", async () => {
    for (const messages of chats) {
      const text = await answer(engine, { messages, params: { temperature: 0, maxTokens: 48 } });
      const r = await engine.verify({ messages, answer: text, params: { topK: 1 } });
      assert.equal(r.passed, true, `${JSON.stringify(text)}: ${JSON.stringify(r)}`);
      assert.equal(r.misses, 0);
      assert.equal(r.worstRank, 0);
      assert.ok(r.tokens >= 40, `${r.tokens} tokens`);
    }
    assert.equal(engine.stats().running, 0, "the check's slot is back in the pool");
  });

  it("passes the same engine's sampled answers (temperature 0.8, top-k 40) at top-k 40", async () => {
    let worst = 0;
    for (const [i, messages] of chats.entries()) {
      const params = { temperature: 0.8, topK: 40, maxTokens: 48, seed: i };
      const text = await answer(engine, { messages, params });
      const r = await engine.verify({ messages, answer: text, params: { topK: 40 } });
      assert.equal(r.passed, true, `${JSON.stringify(text)}: ${JSON.stringify(r)}`);
      assert.ok(r.missRate <= 0.05, `miss rate ${r.missRate}`);
      worst = Math.max(worst, r.worstRank);
    }
    assert.ok(worst > 0, "sampling picked tokens other than the first choice");
  });

  it("fails random text", async () => {
    const chat = await manager.acquire("chat");
    let seed = 42;
    const rnd = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    try {
      for (const messages of chats) {
        // Random ordinary pieces (after the special and byte tokens), detokenized.
        const tokens = Array.from({ length: 48 }, () => (261 + Math.floor(rnd() * 763)) as Token);
        const text = chat.model.detokenize(tokens);
        const r40 = await engine.verify({ messages, answer: text, params: { topK: 40 } });
        assert.equal(r40.passed, false);
        assert.ok(r40.missRate > 0.6, `miss rate ${r40.missRate} at top-k 40`);
        const r1 = await engine.verify({ messages, answer: text, params: { topK: 1 } });
        assert.ok(r1.missRate > 0.9, `miss rate ${r1.missRate} at top-k 1`);
      }
    } finally {
      chat.release();
    }
  });

  it("fails another model's answers, greedy and sampled", async () => {
    for (const [i, messages] of chats.entries()) {
      const greedy = await answer(other, { messages, params: { temperature: 0, maxTokens: 48 } });
      const g = await engine.verify({ messages, answer: greedy, params: { topK: 1 } });
      assert.equal(g.passed, false);
      assert.ok(g.missRate > 0.9, `miss rate ${g.missRate} at top-k 1`);
      const params = { temperature: 0.8, topK: 40, maxTokens: 48, seed: i };
      const sampled = await answer(other, { messages, params });
      const s = await engine.verify({ messages, answer: sampled, params: { topK: 40 } });
      assert.equal(s.passed, false);
      assert.ok(s.missRate > 0.6, `miss rate ${s.missRate} at top-k 40`);
    }
  });

  it("fails an answer to another chat (why cached answers are not checked)", async () => {
    const [a, b] = chats as [ChatMessage[], ChatMessage[]];
    const text = await answer(engine, { messages: a, params: { temperature: 0, maxTokens: 48 } });
    const r = await engine.verify({ messages: b, answer: text, params: { topK: 1 } });
    assert.equal(r.passed, false);
  });

  it("refuses an empty answer, one that does not fit the context, and bad cut-offs", async () => {
    const messages = chats[0] as ChatMessage[];
    await assert.rejects(engine.verify({ messages, answer: "" }), InvalidRequestError);
    await assert.rejects(
      engine.verify({ messages, answer: "word ".repeat(600) }),
      ContextLengthExceededError,
    );
    await assert.rejects(
      engine.verify({ messages, answer: "hello", params: { topP: 0 } }),
      InvalidRequestError,
    );
    await assert.rejects(engine.verify({ messages: [], answer: "hello" }), InvalidRequestError);
  });

  it("is cancelled by its signal and refused as busy when the queue is full", async () => {
    const messages = chats[1] as ChatMessage[];
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      engine.verify({ messages, answer: "the river", signal: controller.signal }),
      RequestCancelledError,
    );
    const small = createInferenceEngine({
      manager,
      modelId: "chat",
      contextSize: 512,
      sequences: 1,
      maxQueue: 0,
      threads: 1,
    });
    await small.start();
    try {
      const long = answer(small, { messages, params: { maxTokens: 200 } });
      await new Promise((r) => setTimeout(r, 5));
      await assert.rejects(small.verify({ messages, answer: "the river" }), EngineBusyError);
      await long;
      const r = await small.verify({ messages, answer: "the river" });
      assert.equal(r.tokens > 0, true);
      assert.equal(small.stats().running, 0);
    } finally {
      await small.stop();
    }
  });
});
