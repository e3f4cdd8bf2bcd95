/**
 * The inference worker process: one chat model's engine (node/inference/engine.ts), run apart
 * from the host node's transports. The node forks it (node/inference/process-engine.ts) and
 * talks to it over the IPC channel (node/inference/engine-ipc.ts). Why a process of its own:
 * node-llama-cpp's token loop runs on the JavaScript thread between native decode steps, so on
 * the node's thread every HTTP/libp2p write delays the next token (at GPU-class rates the
 * streams kept 0.85-0.93 of the engine's tokens/s); here the loop has its thread to itself. A
 * crash of llama.cpp (a malformed model, out of memory) also ends this process, not the node.
 *
 * Output: a fast engine's tokens share a message (holdMs below) instead of paying one each,
 * and wake the node's thread once per message; the first token is never held.
 */
import { pino } from "pino";
import type { Logger } from "../../protocol/logger.ts";
import { createModelManager, type ModelManager } from "../models/manager.ts";
import { rememberHash } from "../models/validate.ts";
import { createInferenceEngine, type InferenceEngine } from "./engine.ts";
import {
  type FromWorker,
  type FromWorkerOne,
  serializeError,
  type ToWorker,
  type WorkerInit,
} from "./engine-ipc.ts";

if (!process.send) {
  console.error("engine-process.ts is started by the host node (process-engine.ts), not by hand");
  process.exit(2);
}

/**
 * Tokens that come less than `holdMs` (WorkerInit) after the last message wait for the next
 * one; the first token, a token after a pause, and every message other than a token go out at
 * once, after what waits. Set from the init message.
 */
let holdMs = 0;
let outbox: FromWorkerOne[] = [];
let lastSent = 0;
let holding: NodeJS.Timeout | undefined;

function flush(then?: () => void) {
  clearTimeout(holding);
  holding = undefined;
  if (outbox.length === 0) return then?.();
  const message: FromWorker = { type: "batch", messages: outbox };
  outbox = [];
  lastSent = performance.now();
  process.send?.(message, undefined, {}, (err) => {
    if (err) process.exit(1); // the node is gone
    then?.();
  });
}

function post(m: FromWorkerOne) {
  outbox.push(m);
  if (holding) {
    if (m.type !== "event") flush();
    return;
  }
  const wait = lastSent + holdMs - performance.now();
  if (m.type !== "event" || wait <= 0) return flush();
  holding = setTimeout(() => flush(), wait);
}

/** Sends what is left, then ends the process. */
const exitAfterFlush = () => flush(() => process.exit(0));

/** Log records go to the node as pino's JSON lines; it writes them with its own logger. */
function relayLogger(level: string): Logger {
  return pino(
    { level, base: null, timestamp: false },
    { write: (line: string) => post({ type: "log", line }) },
  );
}

let manager: ModelManager | undefined;
let engine: InferenceEngine | undefined;
const controllers = new Map<number, AbortController>();

async function init(options: WorkerInit) {
  holdMs = options.holdMs;
  if (options.knownHash) rememberHash(options.model.path, options.knownHash);
  const logger = relayLogger(options.logLevel);
  manager = createModelManager({
    models: [options.model],
    gpu: options.gpu,
    memoryBudgetBytes: options.memoryBudgetBytes,
    // The node validated the file before forking; the load below validates it again (with
    // the node's hash when it sent one: the file is re-read only if it changed since).
    validateOnStart: false,
    logger,
  });
  await manager.start();
  engine = createInferenceEngine({
    manager,
    modelId: options.model.id,
    contextSize: options.contextSize,
    sequences: options.sequences,
    maxQueue: options.maxQueue,
    timeoutMs: options.timeoutMs,
    threads: options.threads,
    logger,
  });
  await engine.start();
  post({
    type: "ready",
    sha256: engine.modelSha256,
    contextSize: engine.contextSize(),
    stats: engine.stats(),
  });
}

async function generate(id: number, request: Extract<ToWorker, { type: "generate" }>["request"]) {
  const controller = new AbortController();
  controllers.set(id, controller);
  try {
    if (!engine) throw new Error("the worker has no engine yet");
    for await (const event of engine.generate({ ...request, signal: controller.signal }))
      post({ type: "event", id, event });
    post({ type: "end", id, stats: engine.stats() });
  } catch (e) {
    post({ type: "error", id, error: serializeError(e), stats: engine?.stats() });
  } finally {
    controllers.delete(id);
  }
}

async function verify(id: number, request: Extract<ToWorker, { type: "verify" }>["request"]) {
  const controller = new AbortController();
  controllers.set(id, controller);
  try {
    if (!engine) throw new Error("the worker has no engine yet");
    const result = await engine.verify({ ...request, signal: controller.signal });
    post({ type: "verified", id, result, stats: engine.stats() });
  } catch (e) {
    post({ type: "error", id, error: serializeError(e), stats: engine?.stats() });
  } finally {
    controllers.delete(id);
  }
}

async function stop() {
  try {
    await engine?.stop();
    await manager?.stop();
  } finally {
    post({ type: "stopped" });
    exitAfterFlush();
  }
}

process.on("message", (m: ToWorker) => {
  switch (m.type) {
    case "init":
      init(m.init).catch((e) => {
        post({ type: "error", id: null, error: serializeError(e) });
        exitAfterFlush();
      });
      return;
    case "generate":
      void generate(m.id, m.request);
      return;
    case "verify":
      void verify(m.id, m.request);
      return;
    case "cancel":
      controllers.get(m.id)?.abort();
      return;
    case "ping":
      post({ type: "pong", seq: m.seq });
      return;
    case "stop":
      void stop();
      return;
  }
});
// The node went away (killed, crashed): nothing is left to serve.
process.on("disconnect", () => process.exit(0));
