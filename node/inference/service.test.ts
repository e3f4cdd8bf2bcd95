/** The inference service from a config: engines behind the semantic cache, on the tiny generated models. */
import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseNodeConfig } from "../config.ts";
import { ModelNotFoundError } from "../errors.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { createInferenceService, type InferenceService } from "./service.ts";
import type { GenerateRequest } from "./types.ts";

describe("inference service", () => {
  let models: TestModels;
  let service: InferenceService;
  beforeAll(async () => {
    models = await tinyTestModels();
    const config = parseNodeConfig(
      {
        models: [
          { id: "tiny-chat", path: models.chat, role: "chat", sha256: models.chatSha256 },
          { id: "tiny-embed", path: models.embed, role: "embedding" },
        ],
        gpu: false,
        threads: 1,
        engine: { contextSize: 512, sequences: 2 },
        cache: { dir: "cache" },
      },
      models.dir,
    );
    service = createInferenceService(config);
    await service.start();
  });
  afterAll(async () => {
    await service?.stop();
    await models?.remove();
  });

  it("serves the configured chat models, the second identical request from the cache", async () => {
    assert.deepEqual(service.models(), ["tiny-chat"]);
    const request: GenerateRequest = {
      messages: [{ role: "user", content: "hello node" }],
      params: { maxTokens: 8 },
    };
    const done = async () => {
      for await (const e of service.generator("tiny-chat").generate(request))
        if (e.type === "done") return e;
      throw new Error("no done event");
    };
    const first = await done();
    await service.flush();
    const second = await done();
    assert.deepEqual([first.cached, second.cached], [false, true]);
    assert.equal(second.text, first.text);
    assert.equal(service.stats()["tiny-chat"]?.completed, 1);
    assert.throws(() => service.generator("tiny-embed"), ModelNotFoundError);
    assert.throws(() => service.generator("gpt-4"), ModelNotFoundError);
  });
});
