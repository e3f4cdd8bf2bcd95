/**
 * The engine in its worker process, where it differs from the engine on the node's thread
 * (engine.test.ts runs the shared behaviour on both): a worker killed mid-answer fails the
 * request in flight with a retryable code and refuses new ones until it is back, then answers
 * as before; a worker that cannot load its model fails start(); stop() ends the process.
 */
import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { GenerationEvent } from "../../protocol/wire.ts";
import { errorStatus } from "../../protocol/wire-errors.ts";
import { EngineCrashedError, ModelHashMismatchError, StoppedError } from "../errors.ts";
import { createModelManager, type ModelManager } from "../models/manager.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import {
  createProcessEngine,
  type ProcessEngine,
  type ProcessEngineOptions,
} from "./process-engine.ts";
import type { GenerateRequest } from "./types.ts";

const ask = (content: string, maxTokens = 24): GenerateRequest => ({
  messages: [{ role: "user", content }],
  params: { maxTokens },
});

async function text(stream: AsyncIterable<GenerationEvent>) {
  for await (const e of stream) if (e.type === "done") return e.text;
  throw new Error("the stream ended without a done event");
}

async function until(what: string, ok: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("inference engine in a worker process", () => {
  let models: TestModels;
  let manager: ModelManager;
  let engine: ProcessEngine;
  /** An engine of the tiny chat model in its worker, on the CPU, with these options. */
  const engineOf = (o: Partial<ProcessEngineOptions> = {}) =>
    createProcessEngine({
      manager,
      modelId: "chat",
      contextSize: 512,
      threads: 1,
      gpu: false,
      ...o,
    });

  beforeAll(async () => {
    models = await tinyTestModels();
    manager = createModelManager({
      models: [
        { id: "chat", path: models.chat, role: "chat" },
        { id: "wrong-hash", path: models.chat, role: "chat", sha256: "0".repeat(64) },
      ],
      gpu: false,
      validateOnStart: false,
    });
    await manager.start();
    engine = engineOf({ sequences: 2, restartDelayMs: 50 });
    await engine.start();
  });
  afterAll(async () => {
    await engine?.stop();
    await manager?.stop();
    await models?.remove();
  });

  it("fails the answer in flight with engine_crashed when the worker dies, then restarts it", async () => {
    const before = await text(engine.generate(ask("What is the capital of France?")));
    const pid = engine.workerPid() as number;
    assert.ok(pid > 0 && pid !== process.pid);

    let tokens = 0;
    const inFlight = (async () => {
      for await (const e of engine.generate(ask("Talk for a long time", 2_000)))
        if (e.type === "token" && ++tokens === 3) process.kill(pid, "SIGKILL");
    })();
    const error = await inFlight.then(
      () => assert.fail("the answer went on after its worker was killed"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof EngineCrashedError, String(error));
    assert.equal(error.retryable, true);
    assert.equal(errorStatus(error.code), 503);

    // Until the new worker is ready, requests are refused at once with the same code.
    await assert.rejects(text(engine.generate(ask("anyone there?"))), EngineCrashedError);
    assert.equal(engine.stats().running, 0);

    await engine.whenReady();
    const restarted = engine.workerPid() as number;
    assert.notEqual(restarted, pid);
    assert.equal(await text(engine.generate(ask("What is the capital of France?"))), before);
    // The prompt count (billing) never depended on the worker.
    assert.ok(engine.countPromptTokens(ask("hello").messages) > 0);
  });

  it("kills and restarts a hung worker: an unanswered ping, or a request past its time limit", async () => {
    // SIGSTOP freezes the worker as a hang would: no pong, no token, no exit.
    const pinged = engineOf({
      restartDelayMs: 50,
      watchdog: { pingIntervalMs: 50, hangMs: 400 },
    });
    const limited = engineOf({
      restartDelayMs: 50,
      watchdog: { pingIntervalMs: 3_600_000, hangMs: 400 },
    });
    try {
      await pinged.start();
      const idlePid = pinged.workerPid() as number;
      process.kill(idlePid, "SIGSTOP");
      await until("the idle hung worker to be replaced", () => {
        const pid = pinged.workerPid();
        return pid !== undefined && pid !== idlePid;
      });
      await pinged.whenReady();
      assert.equal(alive(idlePid), false);
      assert.ok((await text(pinged.generate(ask("still there?")))).length > 0);

      // No pings here: the request's own limit (100 ms) plus hangMs finds the frozen worker.
      await limited.start();
      const busyPid = limited.workerPid() as number;
      let tokens = 0;
      const started = Date.now();
      const frozen = (async () => {
        for await (const e of limited.generate({
          ...ask("Talk for a long time", 2_000),
          timeoutMs: 100,
        }))
          if (e.type === "token" && ++tokens === 1) process.kill(busyPid, "SIGSTOP");
      })();
      await assert.rejects(frozen, EngineCrashedError);
      assert.ok(Date.now() - started >= 400, "killed before its limit and the grace had passed");
      await limited.whenReady();
      assert.notEqual(limited.workerPid(), busyPid);
      assert.equal(alive(busyPid), false);
    } finally {
      await pinged.stop();
      await limited.stop();
    }
  });

  it("refuses a model file whose hash differs at start, in the worker, with the file's error", async () => {
    const wrong = engineOf({ modelId: "wrong-hash" });
    await assert.rejects(wrong.start(), ModelHashMismatchError);
    assert.equal(wrong.workerPid(), undefined);
    await wrong.stop();
  });

  it("ends the worker process on stop and refuses requests after it", async () => {
    const other = engineOf();
    await other.start();
    const pid = other.workerPid() as number;
    assert.ok(alive(pid));
    await other.stop();
    assert.equal(other.workerPid(), undefined);
    assert.equal(alive(pid), false);
    assert.throws(() => other.countPromptTokens(ask("x").messages), StoppedError);
    await assert.rejects(text(other.generate(ask("x"))), StoppedError);
  });
});
