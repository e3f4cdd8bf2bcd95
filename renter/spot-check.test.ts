/**
 * The renter's spot-checker against a real host node HTTP server on loopback (the tiny
 * generated chat model): which answers it samples, that it never asks the answering host,
 * its verdicts on honest and made-up answers, and that a verifier that fails or cannot be
 * reached leaves the answer unchecked rather than failed.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { parseNodeConfig } from "../node/config.ts";
import { createHttpApp } from "../node/http/server.ts";
import { createInferenceService, type InferenceService } from "../node/inference/service.ts";
import { type TestModels, tinyTestModels } from "../node/models/test-models.ts";
import { createRequestHandler } from "../node/serving/handler.ts";
import { type HttpServer, startHttpServer } from "../protocol/http-server.ts";
import type { ChatMessage, SamplingParams } from "../protocol/wire.ts";
import { RenterUsageError } from "./errors.ts";
import { createSpotChecker, type VerifierHost } from "./spot-check.ts";

const MODEL = "tiny-chat";
const HOST = "0x00000000000000000000000000000000000000aa";
const VERIFIER = "0x00000000000000000000000000000000000000bb";
const MESSAGES: ChatMessage[] = [{ role: "user", content: "what is the capital of france" }];

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Returns the given values in turn (the sampling draws, then the verifier picks). */
const draws = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] as number;
};

describe("renter spot-checks", () => {
  let models: TestModels;
  let service: InferenceService;
  let server: HttpServer;
  let verifier: VerifierHost;
  let dead: VerifierHost;
  /** URLs the checker called, through the real fetch. */
  const called: string[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    called.push(String(input));
    return fetch(input, init);
  };

  async function answer(params: Partial<SamplingParams>): Promise<string> {
    for await (const e of service.generator(MODEL).generate({
      messages: MESSAGES,
      params: { maxTokens: 40, ...params },
      cache: "off",
    }))
      if (e.type === "done") return e.text;
    throw new Error("no done event");
  }

  beforeAll(async () => {
    models = await tinyTestModels();
    const config = parseNodeConfig(
      {
        models: [{ id: MODEL, path: models.chat, role: "chat" }],
        gpu: false,
        threads: 1,
        engine: { contextSize: 512, sequences: 2 },
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
        load: { running: 0, queued: 0, slots: 2 },
      }),
    });
    server = await startHttpServer(
      createHttpApp({ handler, verifier: (id) => service.engine(id) }),
    );
    verifier = { httpUrl: server.url, address: VERIFIER };
    dead = { httpUrl: `http://127.0.0.1:${await closedPort()}`, address: `0x${"cc".repeat(20)}` };
  });
  afterAll(async () => {
    await server?.close();
    await service?.stop();
    await models?.remove();
  });

  it("samples the configured fraction of answers, and never a cached one", async () => {
    const text = await answer({ temperature: 0 });
    const checker = createSpotChecker({
      rate: 0.25,
      verifiers: async () => [verifier],
      random: draws(0.1, 0.0, 0.3, 0.0, 0.5, 0.9),
      fetch: recordingFetch,
    });
    const request = { model: MODEL, messages: MESSAGES, answer: text, host: HOST };
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) outcomes.push((await checker.maybeCheck(request))?.result.outcome);
    // Draws: 0.1 (checked; 0.0 picks the verifier), 0.3 (not), 0.0 (checked; 0.5), 0.9 (not).
    assert.deepEqual(outcomes, ["passed", undefined, "passed", undefined]);
    assert.equal(await checker.maybeCheck({ ...request, cached: true }), undefined);
    const never = createSpotChecker({ rate: 0, verifiers: async () => [verifier] });
    const always = createSpotChecker({ rate: 1, verifiers: async () => [verifier] });
    assert.equal(await never.maybeCheck(request), undefined);
    assert.equal((await always.maybeCheck(request))?.result.outcome, "passed");
    assert.throws(
      () => createSpotChecker({ rate: 1.5, verifiers: async () => [] }),
      RenterUsageError,
    );
  });

  it("passes honest answers, greedy and sampled, and fails made-up ones", async () => {
    const checker = createSpotChecker({ rate: 1, verifiers: async () => [verifier] });
    const greedy = await answer({});
    const r1 = await checker.maybeCheck({
      model: MODEL,
      messages: MESSAGES,
      answer: greedy,
      host: HOST,
    });
    assert.equal(r1?.result.outcome, "passed");
    assert.equal(r1?.verifier?.address, VERIFIER);
    const params = { temperature: 0.8, topK: 40, seed: 3 };
    const sampled = await answer(params);
    const r2 = await checker.maybeCheck({
      model: MODEL,
      messages: MESSAGES,
      answer: sampled,
      params,
      host: HOST,
    });
    assert.equal(r2?.result.outcome, "passed");
    // The sampled answer is not the greedy one: checked as greedy, it fails.
    const r3 = await checker.maybeCheck({
      model: MODEL,
      messages: MESSAGES,
      answer: sampled,
      host: HOST,
    });
    assert.equal(r3?.result.outcome, "failed");
    const madeUp = "paris is the capital of france and the river runs through the city ".repeat(3);
    const r4 = await checker.maybeCheck({
      model: MODEL,
      messages: MESSAGES,
      answer: madeUp,
      params,
      host: HOST,
    });
    assert.equal(r4?.result.outcome, "failed");
    if (r4?.result.outcome === "failed") assert.ok(r4.result.check.miss_rate > 0.5);
  });

  it("never asks the answering host to check itself", async () => {
    called.length = 0;
    const checker = createSpotChecker({
      rate: 1,
      verifiers: async () => [
        { httpUrl: server.url, address: HOST.toUpperCase().replace("0X", "0x") },
      ],
      fetch: recordingFetch,
    });
    const r = await checker.maybeCheck({
      model: MODEL,
      messages: MESSAGES,
      answer: "hello",
      host: HOST,
    });
    assert.equal(r?.verifier, undefined);
    assert.deepEqual(r?.result.outcome === "unchecked" && r.result.reason, "no_verifier");
    assert.deepEqual(called, []);
  });

  it("leaves the answer unchecked when verifiers fail or cannot be reached, trying another", async () => {
    const text = await answer({});
    const request = { model: MODEL, messages: MESSAGES, answer: text, host: HOST };
    const unreachable = createSpotChecker({ rate: 1, verifiers: async () => [dead], attempts: 1 });
    const u = await unreachable.maybeCheck(request);
    assert.equal(u?.result.outcome, "unchecked");
    assert.equal(u?.result.outcome === "unchecked" && u.result.reason, "verifier_unreachable");
    // A verifier that does not serve the model answers 404: unchecked, not failed.
    const wrongModel = createSpotChecker({ rate: 1, verifiers: async () => [verifier] });
    const w = await wrongModel.maybeCheck({ ...request, model: "other-model" });
    assert.equal(w?.result.outcome === "unchecked" && w.result.reason, "verifier_error");
    // A verifier that ran another model file does not count.
    const m = await wrongModel.maybeCheck({ ...request, modelSha256: "ab".repeat(32) });
    assert.equal(m?.result.outcome === "unchecked" && m.result.reason, "model_mismatch");
    // The dead verifier is picked first (draw 0.0 of two), then the live one.
    called.length = 0;
    const fallback = createSpotChecker({
      rate: 1,
      verifiers: async () => [dead, verifier],
      random: draws(0.0),
      fetch: recordingFetch,
    });
    const f = await fallback.maybeCheck({ ...request, modelSha256: models.chatSha256 });
    assert.equal(f?.result.outcome, "passed");
    assert.equal(f?.verifier?.address, VERIFIER);
    assert.equal(called.length, 2);
  });
});
