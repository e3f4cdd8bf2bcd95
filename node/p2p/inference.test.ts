/**
 * Inference over `/fabstir/inference/1.0.0` between real libp2p nodes on 127.0.0.1: the
 * real engine on the tiny generated model, error frames, cancellation and graceful stop
 * (scripted handlers where a test needs slow or failing requests).
 */
import assert from "node:assert/strict";
import * as lp from "it-length-prefixed";
import { afterAll, beforeAll, describe, it, onTestFinished } from "vitest";
import {
  chainId,
  localNode,
  scriptedHandler,
  serviceHandler,
  waitFor,
} from "../../fixtures/p2p.ts";
import { decodeFrame, encodeFrame, INFERENCE_PROTOCOL } from "../../protocol/p2p.ts";
import type { GenerationEvent, ServeRequest } from "../../protocol/wire.ts";
import { parseNodeConfig } from "../config.ts";
import { EngineBusyError, RequestCancelledError } from "../errors.ts";
import { createInferenceService, type InferenceService } from "../inference/service.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import type { RequestHandler } from "../serving/types.ts";
import { PeerUnreachableError, RemoteError } from "./errors.ts";
import { requestInference, startInferenceServer } from "./inference.ts";
import type { P2PNode } from "./node.ts";

const chat = (content: string, maxTokens = 24): ServeRequest => ({
  model: "tiny-chat",
  messages: [{ role: "user", content }],
  params: { temperature: 0, maxTokens },
  cache: "off",
});

async function collect(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** Rejects with the RemoteError the request ends with; checks its code and retryable flag. */
async function remoteError(
  events: AsyncIterable<GenerationEvent>,
  code: string,
  retryable: boolean,
): Promise<RemoteError> {
  let error: unknown;
  await assert.rejects(collect(events), (e: unknown) => {
    error = e;
    return e instanceof RemoteError && e.code === code && e.retryable === retryable;
  });
  return error as RemoteError;
}

describe("p2p inference", () => {
  let models: TestModels;
  let service: InferenceService;
  let engineHost: P2PNode;
  let scriptHost: P2PNode;
  let client: P2PNode;
  const scripted = scriptedHandler(200, 10);

  beforeAll(async () => {
    models = await tinyTestModels();
    const config = parseNodeConfig(
      {
        models: [{ id: "tiny-chat", path: models.chat, role: "chat", sha256: models.chatSha256 }],
        gpu: false,
        threads: 1,
        engine: { contextSize: 512, sequences: 2 },
        cache: { enabled: false },
      },
      models.dir,
    );
    service = createInferenceService(config);
    [, engineHost, scriptHost, client] = await Promise.all([
      service.start(),
      localNode(),
      localNode(),
      localNode(),
    ]);
    await startInferenceServer(engineHost, serviceHandler(service, { "tiny-chat": chainId("01") }));
    // The scripted model, plus models that fail before the first event.
    const failing: RequestHandler = {
      serve(request, options) {
        if (request.model === "busy") throw new EngineBusyError("2 running, 16 queued");
        if (request.model === "boom") throw new Error("a secret internal detail");
        return scripted.handler.serve(request, options);
      },
      capabilities: scripted.handler.capabilities,
    };
    await startInferenceServer(scriptHost, failing, { requestTimeoutMs: 300 });
    // The client knows the hosts by address; later requests name them by peer id.
    for (const host of [engineHost, scriptHost]) await client.dial(host.multiaddrs()[0] ?? "");
  });
  afterAll(async () => {
    await Promise.all([engineHost, scriptHost, client].map((n) => n?.stop()));
    await service?.stop();
    await models?.remove();
  });

  it("streams the engine's answer: the tokens join into the done text, equal to the generator at temperature 0", async () => {
    const request = chat("tell me about the sea");
    let direct: GenerationEvent | undefined;
    for await (const e of service.generator("tiny-chat").generate({
      messages: request.messages ?? [],
      params: request.params,
      cache: "off",
    }))
      if (e.type === "done") direct = e;
    assert.ok(direct?.type === "done");

    const events = await collect(requestInference(client, engineHost.peerId, request));
    const done = events.at(-1);
    assert.ok(done?.type === "done");
    const tokens = events.slice(0, -1);
    assert.ok(tokens.length > 1, "the answer came in several token frames");
    assert.ok(tokens.every((e) => e.type === "token"));
    assert.equal(tokens.map((e) => (e.type === "token" ? e.text : "")).join(""), done.text);
    assert.equal(done.text, direct.text);
    assert.deepEqual(done.usage, direct.usage);
    assert.equal(done.finishReason, direct.finishReason);
    assert.equal(done.cached, false);

    // By multiaddr this time: the open connection is reused, not dialled again.
    const again = await collect(
      requestInference(client, (engineHost.multiaddrs()[0] ?? "").toString(), request),
    );
    assert.deepEqual(again.at(-1), done);
    assert.equal(client.libp2p.getConnections(engineHost.peerId).length, 1);
  });

  it("answers errors with error frames: unknown model, busy, internal, too large", async () => {
    const unknown = await remoteError(
      requestInference(client, engineHost.peerId, { ...chat("hi"), model: "gpt-4" }),
      "model_not_found",
      false,
    );
    assert.equal(unknown.userError, true);
    assert.equal(unknown.peer, engineHost.peerId.toString());

    await remoteError(
      requestInference(client, scriptHost.peerId, { ...chat("hi"), model: "busy" }),
      "busy",
      true,
    );
    const internal = await remoteError(
      requestInference(client, scriptHost.peerId, { ...chat("hi"), model: "boom" }),
      "internal",
      false,
    );
    assert.doesNotMatch(internal.message, /secret/);

    const huge = chat("x".repeat(1_100_000));
    await remoteError(
      requestInference(client, engineHost.peerId, huge),
      "request_too_large",
      false,
    );
  });

  it("refuses malformed and schema-invalid request frames with invalid_request, and a silent client with timeout", async () => {
    /** Sends raw bytes on a new stream and returns the decoded frames of the answer. */
    const exchange = async (bytes?: Uint8Array) => {
      const connection = await client.dial(scriptHost.peerId);
      const stream = await connection.newStream(INFERENCE_PROTOCOL);
      if (bytes) stream.send(bytes);
      const frames: unknown[] = [];
      for await (const f of lp.decode(stream)) frames.push(decodeFrame(f));
      await stream.close();
      return frames;
    };
    const codeOf = (frames: unknown[]) => {
      assert.equal(frames.length, 1);
      return (frames[0] as { type: string; code: string }).code;
    };
    const text = (s: string) => lp.encode.single(new TextEncoder().encode(s)).subarray();

    assert.equal(codeOf(await exchange(text("{not json"))), "invalid_request");
    assert.equal(
      codeOf(await exchange(encodeFrame({ type: "hello" }).subarray())),
      "invalid_request",
    );
    const noMessages = await exchange(
      encodeFrame({ type: "request", request: { model: "scripted" } }).subarray(),
    );
    assert.equal(codeOf(noMessages), "invalid_request");
    assert.match(
      (noMessages[0] as { message: string }).message,
      /exactly one of messages and prompt/,
    );
    const badParams = await exchange(
      encodeFrame({
        type: "request",
        request: { ...chat("hi"), params: { temperature: -1 } },
      }).subarray(),
    );
    assert.equal(codeOf(badParams), "invalid_request");
    assert.equal(codeOf(await exchange()), "timeout");
  });

  it("cancels the handler when the client aborts or stops reading mid-stream", async () => {
    const request = { ...chat("count"), model: "scripted" };
    const controller = new AbortController();
    const before = scripted.calls.length;
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const e of requestInference(client, scriptHost.peerId, request, {
          signal: controller.signal,
        }))
          if (e.type === "token" && ++received === 3) controller.abort();
      })(),
      RequestCancelledError,
    );
    const aborted = scripted.calls[before];
    assert.ok(aborted, "the handler was called");
    await waitFor(() => aborted.signal.aborted, "the handler's signal to abort", 5_000);
    await aborted.ended;

    // Breaking out of the loop cancels too.
    for await (const e of requestInference(client, scriptHost.peerId, request))
      if (e.type === "token") break;
    const abandoned = scripted.calls[before + 1];
    assert.ok(abandoned);
    await waitFor(() => abandoned.signal.aborted, "the handler's signal to abort", 5_000);
    await abandoned.ended;
  });

  it("joins tokens that come faster than the frame interval into fewer frames, text and counts exact", async () => {
    // 60 tokens about 1 ms apart (setTimeout 0): faster than one frame per 5 ms.
    const fast = scriptedHandler(60, 0);
    const host = await localNode();
    onTestFinished(() => host.stop());
    await startInferenceServer(host, fast.handler);
    const request = { ...chat("count"), model: "scripted" };
    const events = await collect(
      requestInference(client, (host.multiaddrs()[0] ?? "").toString(), request),
    );
    const done = events.at(-1);
    assert.ok(done?.type === "done");
    const frames = events.slice(0, -1);
    assert.equal(frames[0]?.type === "token" && frames[0].text, "t0 ", "the first token alone");
    assert.ok(frames.length < 30, `${frames.length} token frames for 60 tokens`);
    assert.equal(frames.map((e) => (e.type === "token" ? e.text : "")).join(""), done.text);
    assert.equal(done.usage.completionTokens, 60);

    // Without an interval, tokens that come 10 ms apart go out one frame each.
    const slow = scriptedHandler(5, 10);
    const paced = await localNode();
    onTestFinished(() => paced.stop());
    await startInferenceServer(paced, slow.handler, { tokenIntervalMs: 0 });
    const one = await collect(
      requestInference(client, (paced.multiaddrs()[0] ?? "").toString(), request),
    );
    assert.deepEqual(
      one.map((e) => (e.type === "token" ? e.text : e.type)),
      ["t0 ", "t1 ", "t2 ", "t3 ", "t4 ", "done"],
    );
  });

  it("stop() lets an in-flight stream finish, refuses new requests, then closes the connection", async () => {
    const slow = scriptedHandler(10, 30);
    const host = await localNode();
    onTestFinished(() => host.stop()); // when the test fails early (stop() is idempotent)
    await startInferenceServer(host, slow.handler);
    await client.dial(host.multiaddrs()[0] ?? "");
    const request = { ...chat("count"), model: "scripted" };
    const events: GenerationEvent[] = [];
    let stopping: Promise<void> | undefined;
    for await (const e of requestInference(client, host.peerId, request)) {
      events.push(e);
      if (!stopping) {
        stopping = host.stop({ graceMs: 5_000 });
        await remoteError(requestInference(client, host.peerId, request), "stopped", true);
      }
    }
    assert.equal(events.length, 11);
    assert.equal(events.at(-1)?.type, "done");
    await stopping;
    await waitFor(
      () => client.libp2p.getConnections(host.peerId).length === 0,
      "the connection to close",
    );

    // The host is gone: the dial fails, and the next one fails at once (dial backoff).
    await assert.rejects(
      collect(requestInference(client, host.peerId, request)),
      PeerUnreachableError,
    );
    await assert.rejects(
      collect(requestInference(client, host.peerId, request)),
      (e: unknown) => e instanceof PeerUnreachableError && /next dial in/.test(e.message),
    );
  });

  it("stop() ends a stream still running after the grace period with a clean 'stopped' error frame", async () => {
    const endless = scriptedHandler(500, 20);
    const host = await localNode();
    onTestFinished(() => host.stop()); // when the test fails early (stop() is idempotent)
    await startInferenceServer(host, endless.handler);
    await client.dial(host.multiaddrs()[0] ?? "");
    let stopping: Promise<void> | undefined;
    let tokens = 0;
    await remoteError(
      (async function* () {
        for await (const e of requestInference(client, host.peerId, {
          ...chat("c"),
          model: "scripted",
        })) {
          tokens++;
          stopping ??= host.stop({ graceMs: 150 });
          yield e;
        }
      })(),
      "stopped",
      true,
    );
    assert.ok(tokens > 1 && tokens < 100, `${tokens} tokens before the stop`);
    await stopping;
    assert.equal(endless.calls[0]?.signal.aborted, true);
    await waitFor(
      () => client.libp2p.getConnections(host.peerId).length === 0,
      "the connection to close",
    );
  });
});
