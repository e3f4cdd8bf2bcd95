/**
 * The semantic cache on real LanceDB (a temp dir) with the generated embedding model:
 * exact and near-duplicate hits, the distance threshold, TTL, isolation by model and by
 * sampling parameters, the size bound, the index, and answers streamed from the cache
 * through the engine wrapper.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { ChatMessage } from "../../protocol/wire.ts";
import { createEmbedder, type Embedder } from "../inference/embedder.ts";
import { createInferenceEngine, type InferenceEngine, resolveParams } from "../inference/engine.ts";
import type { EngineEvent, GenerateRequest } from "../inference/types.ts";
import { createModelManager, type ModelManager } from "../models/manager.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { withSemanticCache } from "./cached-generator.ts";
import {
  type CachedAnswer,
  type CacheScope,
  createSemanticCache,
  type SemanticCache,
  type SemanticCacheOptions,
} from "./semantic-cache.ts";

const user = (content: string): ChatMessage[] => [{ role: "user", content }];
const answer = (text: string): CachedAnswer => ({
  chunks: text.split(/(?= )/),
  text,
  finishReason: "stop",
  usage: { promptTokens: 7, completionTokens: 3 },
});

describe("semantic cache", () => {
  let models: TestModels;
  let manager: ModelManager;
  let embedder: Embedder;
  let engine: InferenceEngine;
  let root: string;
  const caches: SemanticCache[] = [];
  let clock = 1_000_000;
  const scope: CacheScope = {
    modelId: "chat",
    modelSha256: "a".repeat(64),
    params: resolveParams({ maxTokens: 16 }),
  };

  async function cache(opts: Partial<SemanticCacheOptions> = {}) {
    const c = createSemanticCache({
      dir: await mkdtemp(path.join(root, "lance-")),
      embedder,
      maxDistance: 0.1,
      now: () => clock,
      ...opts,
    });
    await c.start();
    caches.push(c);
    return c;
  }

  beforeAll(async () => {
    models = await tinyTestModels();
    root = await mkdtemp(path.join(tmpdir(), "fabstir-cache-"));
    manager = createModelManager({
      models: [
        { id: "chat", path: models.chat, role: "chat" },
        { id: "embed", path: models.embed, role: "embedding" },
      ],
      gpu: false,
    });
    await manager.start();
    embedder = createEmbedder({ manager, modelId: "embed", threads: 1 });
    await embedder.start();
    engine = createInferenceEngine({
      manager,
      modelId: "chat",
      contextSize: 512,
      sequences: 2,
      threads: 1,
    });
    await engine.start();
  });
  afterAll(async () => {
    for (const c of caches) await c.stop();
    await engine?.stop();
    await embedder?.stop();
    await manager?.stop();
    await models?.remove();
    await rm(root, { recursive: true, force: true });
  });

  it("answers the exact prompt and a near duplicate within the distance, and misses others", async () => {
    const c = await cache();
    assert.equal(await c.lookup(scope, user("the cat sat on the mat")), undefined);
    await c.put(scope, user("the cat sat on the mat"), answer("a cat on a mat"));
    const exact = await c.lookup(scope, user("the cat sat on the mat"));
    assert.deepEqual(
      { exact: exact?.exact, text: exact?.text, usage: exact?.usage },
      { exact: true, text: "a cat on a mat", usage: { promptTokens: 7, completionTokens: 3 } },
    );
    const near = await c.lookup(scope, user("the cat sat on a mat"));
    assert.equal(near?.exact, false);
    assert.equal(near?.text, "a cat on a mat");
    assert.ok(
      (near?.distance ?? 1) > 0 && (near?.distance ?? 1) <= 0.1,
      `distance ${near?.distance}`,
    );
    assert.equal(await c.lookup(scope, user("quantum river computer network")), undefined);
  });

  it("accepts a neighbour only within the configured cosine distance", async () => {
    const strict = await cache({ maxDistance: 0.0001 });
    await strict.put(scope, user("the cat sat on the mat"), answer("x"));
    assert.equal((await strict.lookup(scope, user("the cat sat on the mat")))?.exact, true);
    assert.equal(await strict.lookup(scope, user("the cat sat on a mat")), undefined);
    const loose = await cache({ maxDistance: 0.9 });
    await loose.put(scope, user("the cat sat on the mat"), answer("x"));
    assert.equal((await loose.lookup(scope, user("the cat sat on a mat")))?.exact, false);
  });

  it("never answers across models or sampling parameters", async () => {
    const c = await cache();
    await c.put(scope, user("hello there"), answer("hi"));
    const otherModel = { ...scope, modelSha256: "b".repeat(64) };
    const otherId = { ...scope, modelId: "other" };
    assert.equal(await c.lookup(otherModel, user("hello there")), undefined);
    assert.equal(await c.lookup(otherId, user("hello there")), undefined);
    for (const params of [
      { maxTokens: 17 },
      { maxTokens: 16, topK: 5 },
      { maxTokens: 16, stop: ["."] },
    ]) {
      const s = { ...scope, params: resolveParams(params) };
      assert.equal(await c.lookup(s, user("hello there")), undefined, JSON.stringify(params));
    }
    assert.equal((await c.lookup(scope, user("hello there")))?.text, "hi");
  });

  it("expires entries after the TTL and keeps at most maxEntries, oldest dropped first", async () => {
    const c = await cache({ ttlMs: 60_000, maxEntries: 10 });
    await c.put(scope, user("old question"), answer("old"));
    clock += 61_000;
    assert.equal(await c.lookup(scope, user("old question")), undefined);
    for (let i = 0; i < 12; i++) {
      clock += 1;
      await c.put(scope, user(`question number ${i}`), answer(`answer ${i}`));
    }
    const { rows } = await c.stats(scope);
    assert.ok(rows <= 10, `${rows} rows`);
    // The oldest entries are gone (a near-duplicate newer question may still answer).
    assert.notEqual((await c.lookup(scope, user("question number 0")))?.text, "answer 0");
    assert.equal((await c.lookup(scope, user("question number 11")))?.text, "answer 11");
  });

  it("builds a vector index once large and still finds exact and near-duplicate prompts", async () => {
    const c = await cache({ indexAt: 300 });
    const words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split(
      " ",
    );
    const phrase = (i: number) =>
      [0, 1, 2, 3].map((k) => words[(i * (k + 3) + k) % words.length]).join(" ");
    for (let i = 0; i < 299; i++)
      await c.put(scope, user(`${phrase(i)} ${i}`), answer(`answer ${i}`));
    assert.deepEqual(await c.stats(scope), { rows: 299, indexed: false });
    await c.put(scope, user(`${phrase(299)} 299`), answer("answer 299"));
    assert.deepEqual(await c.stats(scope), { rows: 300, indexed: true });
    const hit = await c.lookup(scope, user(`${phrase(42)} 42`));
    assert.equal(hit?.exact, true);
    assert.equal(hit?.text, "answer 42");
    const near = await c.lookup(scope, user(`${phrase(42)} 4242`));
    assert.equal(near?.exact, false);
    assert.ok((near?.distance ?? 1) <= 0.1);
  });

  it("streams a hit through the engine wrapper with the original chunks and token counts", async () => {
    const loaded = await manager.acquire("chat");
    const gen = withSemanticCache(engine, await cache(), { modelSha256: loaded.sha256 });
    loaded.release();
    const run = async (request: GenerateRequest) => {
      const chunks: string[] = [];
      let done: Extract<EngineEvent, { type: "done" }> | undefined;
      for await (const e of gen.generate(request)) {
        if (e.type === "token") chunks.push(e.text);
        else done = e;
      }
      await gen.flush();
      assert.ok(done);
      return { chunks, done };
    };
    const req: GenerateRequest = { messages: user("what is a cache"), params: { maxTokens: 12 } };
    const first = await run(req);
    const second = await run(req);
    assert.equal(first.done.cached, false);
    assert.equal(second.done.cached, true);
    assert.deepEqual(second.chunks, first.chunks);
    assert.deepEqual(second.done.usage, first.done.usage);
    assert.equal(second.done.text, first.done.text);
    // The stored answer keeps the generated token ids (its output-count proof needs them).
    assert.equal(first.done.tokenIds?.length, first.done.usage.completionTokens);
    assert.deepEqual(second.done.tokenIds, first.done.tokenIds);
    // A near duplicate is billed for its own prompt tokens.
    const near = await run({ messages: user("what is a cache ?"), params: { maxTokens: 12 } });
    assert.equal(near.done.cached, true);
    assert.equal(near.done.usage.promptTokens, engine.countPromptTokens(user("what is a cache ?")));
    // Sampled requests are not served from the cache unless they opt in.
    const sampled: GenerateRequest = {
      ...req,
      params: { maxTokens: 12, temperature: 0.8, seed: 7 },
    };
    assert.equal((await run(sampled)).done.cached, false);
    assert.equal((await run(sampled)).done.cached, false);
    assert.equal((await run({ ...sampled, cache: "sampled" })).done.cached, false);
    assert.equal((await run({ ...sampled, cache: "sampled" })).done.cached, true);
    assert.equal((await run({ ...req, cache: "off" })).done.cached, false);
  });
});
