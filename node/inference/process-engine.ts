/**
 * The inference engine of one chat model, run in a worker process of its own
 * (node/inference/engine-process.ts) behind the same interface as the in-process engine
 * (node/inference/engine.ts). The node's default: node-llama-cpp's token loop then has a
 * JavaScript thread to itself, so the transports' work on the node's thread (HTTP, libp2p,
 * receipts) no longer slows generation, and a crash in llama.cpp ends the worker, not the node.
 *
 * What stays on the node's thread: counting a request's prompt tokens (billing, context
 * checks), synchronously, with a vocabulary-only copy of the model (its tokenizer and chat
 * template, no weights), through the same formatting code as the engine (formatPrompt).
 *
 * Recovery: when the worker exits unexpectedly, or the watchdog finds it hung (an unanswered
 * ping, or a request past its time limit) and kills it, the requests in flight fail with
 * EngineCrashedError (retryable, `engine_crashed`), requests that arrive meanwhile are refused
 * with the same code, and the worker is started again after a delay that doubles on each crash
 * in a row (1 s up to 30 s). Requests are not replayed: a half-streamed answer cannot be.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type ChatWrapper, type LlamaModel, resolveChatWrapper } from "node-llama-cpp";
import { silentLogger } from "../../protocol/logger.ts";
import { INFERENCE_DEFAULTS } from "../constants.ts";
import { EngineCrashedError, RequestCancelledError, StoppedError } from "../errors.ts";
import { knownHash } from "../models/validate.ts";
import { TOKEN_INTERVAL_MS } from "../serving/coalesce.ts";
import {
  type EngineOptions,
  type EngineStats,
  formatPrompt,
  type InferenceEngine,
} from "./engine.ts";
import {
  deserializeError,
  type FromWorker,
  type FromWorkerOne,
  type ToWorker,
} from "./engine-ipc.ts";
import type { EngineEvent, GenerateRequest } from "./types.ts";
import type { VerifyRequest, VerifyResult } from "./verify.ts";

export interface ProcessEngineOptions extends EngineOptions {
  /** As the model manager's: "auto" detects a GPU, false forces the CPU. */
  gpu?: "auto" | false | "cuda" | "vulkan" | "metal";
  memoryBudgetBytes?: number;
  /** The first restart's delay after a crash; it doubles on each crash in a row (default 1 s). */
  restartDelayMs?: number;
  /**
   * The watchdog: the node pings the worker every `pingIntervalMs` (default 5 s) and treats it
   * as hung, kills and restarts it, when a ping is unanswered for `hangMs` (default 20 s), or
   * when a request outlives its own time limit by `hangMs` (the engine ends a request at its
   * limit between two tokens: one that does not end is stuck in a decode step).
   */
  watchdog?: { pingIntervalMs?: number; hangMs?: number };
  /**
   * A token that comes less than this after the worker's last message waits to go with the
   * next ones (at most this long); the first token and a token after a pause go at once.
   * Default TOKEN_INTERVAL_MS, the transports' own interval (node/serving/coalesce.ts): at
   * rates where the transports join tokens anyway, the worker then wakes the node's thread at
   * most as often as the transports write, and a token is held no longer than they would
   * hold it. 0 sends each token as it comes.
   */
  holdMs?: number;
}

const WORKER = fileURLToPath(new URL("./engine-process.ts", import.meta.url));
const STOP_GRACE_MS = 15_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that ran this long without crashing resets the restart delay. */
const HEALTHY_AFTER_MS = 60_000;
const PINO_LEVELS: Record<number, "debug" | "info" | "warn" | "error"> = {
  10: "debug",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "error",
};

/** Node flags the worker needs too (type stripping on older Node 22 releases); no debugger or test-runner flags. */
const execArgv = () =>
  process.execArgv.filter((a) =>
    /^--(experimental-strip-types|experimental-transform-types|no-warnings|disable-warning|max-old-space-size)/.test(
      a,
    ),
  );

interface Stream {
  kind: "stream";
  deadline: NodeJS.Timeout;
  events: EngineEvent[];
  done: boolean;
  error?: Error;
  wake?: () => void;
}
interface Call {
  kind: "call";
  deadline: NodeJS.Timeout;
  resolve: (r: VerifyResult) => void;
  reject: (e: Error) => void;
}

export interface ProcessEngine extends InferenceEngine {
  /** The worker's process id while it runs (operators, fault-injection tests). */
  workerPid: () => number | undefined;
  /** Resolves when a worker is ready to serve (after start, or after a crash's restart). */
  whenReady: () => Promise<void>;
}

export function createProcessEngine(options: ProcessEngineOptions): ProcessEngine {
  const log = (options.logger ?? silentLogger).child({ model_id: options.modelId });
  const slots = options.sequences ?? INFERENCE_DEFAULTS.sequences;
  const firstDelay = options.restartDelayMs ?? 1_000;
  const pingIntervalMs = options.watchdog?.pingIntervalMs ?? 5_000;
  const hangMs = options.watchdog?.hangMs ?? 20_000;
  const defaultTimeout = options.timeoutMs ?? INFERENCE_DEFAULTS.timeoutMs;
  let pingSeq = 0;
  let pongSeq = 0;
  let lastPong = 0;
  let pinger: NodeJS.Timeout | undefined;
  let child: ChildProcess | undefined;
  let info: { sha256: string; contextSize: number } | undefined;
  let vocab: { model: LlamaModel; wrapper: ChatWrapper } | undefined;
  let stopping = false;
  let ready = false;
  let readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let restartTimer: NodeJS.Timeout | undefined;
  let restartDelay = firstDelay;
  let startedAt = 0;
  let nextId = 0;
  const pending = new Map<number, Stream | Call>();
  const counters = { completed: 0, failed: 0 };

  const send = (m: ToWorker) => {
    if (child?.connected) child.send(m);
  };

  function settleReady(error?: Error) {
    const waiters = readyWaiters;
    readyWaiters = [];
    for (const w of waiters) error ? w.reject(error) : w.resolve();
  }

  function finish(id: number, error?: Error) {
    const p = pending.get(id);
    if (!p) return; // a request the node no longer waits for (cancelled by its consumer)
    clearTimeout(p.deadline);
    if (p.kind === "call") {
      pending.delete(id);
      if (error) counters.failed++;
      else counters.completed++;
      if (error) p.reject(error);
      return;
    }
    p.done = true;
    p.error = error;
    p.wake?.();
  }

  function handle(m: FromWorkerOne) {
    switch (m.type) {
      case "event": {
        const p = pending.get(m.id);
        if (p?.kind === "stream") {
          p.events.push(m.event);
          p.wake?.();
        }
        return;
      }
      case "end":
        return finish(m.id);
      case "verified": {
        const p = pending.get(m.id);
        if (p?.kind === "call") p.resolve(m.result);
        return finish(m.id);
      }
      case "error":
        if (m.id === null) return settleReady(deserializeError(m.error));
        return finish(m.id, deserializeError(m.error));
      case "ready":
        info = { sha256: m.sha256, contextSize: m.contextSize };
        ready = true;
        startedAt = Date.now();
        if (child) watch(child);
        log.info({ pid: child?.pid, context_size: m.contextSize }, "inference worker ready");
        return settleReady();
      case "log": {
        try {
          const { level, msg, ...fields } = JSON.parse(m.line) as { level: number; msg?: string };
          log[PINO_LEVELS[level] ?? "info"]({ ...fields, worker: true }, msg ?? "");
        } catch {
          log.info({ worker: true }, m.line);
        }
        return;
      }
      case "pong":
        pongSeq = Math.max(pongSeq, m.seq);
        lastPong = Date.now();
        return;
      case "stopped":
        return;
    }
  }

  /** Kills a worker the watchdog found hung; its exit fails what is in flight and restarts it. */
  function killHung(worker: ChildProcess, why: string) {
    if (child !== worker) return;
    log.error({ pid: worker.pid, why }, "inference worker hung: killing it");
    worker.kill("SIGKILL");
  }

  /** A request's own time limit plus hangMs: past it, the worker is stuck. */
  function deadlineFor(id: number, timeoutMs: number | undefined) {
    const worker = child;
    const timer = setTimeout(
      () => {
        if (worker && pending.has(id))
          killHung(worker, `a request outlived its ${timeoutMs ?? defaultTimeout} ms limit`);
      },
      (timeoutMs ?? defaultTimeout) + hangMs,
    );
    timer.unref();
    return timer;
  }

  /** From the worker's `ready` on: a ping every pingIntervalMs, unanswered for hangMs = hung. */
  function watch(worker: ChildProcess) {
    clearInterval(pinger);
    lastPong = Date.now();
    pongSeq = pingSeq;
    pinger = setInterval(() => {
      if (child !== worker || !worker.connected) return;
      if (pongSeq < pingSeq && Date.now() - lastPong > hangMs)
        return killHung(worker, `no answer to a ping for ${Date.now() - lastPong} ms`);
      send({ type: "ping", seq: ++pingSeq });
    }, pingIntervalMs);
    pinger.unref();
  }

  function spawnWorker(): Promise<void> {
    const config = options.manager.config(options.modelId);
    const worker = fork(WORKER, [], {
      serialization: "json",
      execArgv: execArgv(),
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child = worker;
    ready = false;
    const whenReady = new Promise<void>((resolve, reject) =>
      readyWaiters.push({ resolve, reject }),
    );
    worker.on("message", (m: FromWorker) => {
      if (child !== worker) return;
      for (const one of m.messages) handle(one);
    });
    worker.on("error", (e) => log.error({ err: String(e) }, "inference worker error"));
    worker.on("exit", (code, signal) => {
      if (child !== worker) return;
      clearInterval(pinger);
      child = undefined;
      const wasReady = ready;
      ready = false;
      const reason = `the inference worker exited (${signal ?? `code ${code}`})`;
      const error = stopping
        ? new StoppedError(`engine for ${options.modelId} stopped`)
        : new EngineCrashedError(`${reason}; it is being restarted`);
      for (const id of [...pending.keys()]) finish(id, error);
      settleReady(error);
      // A worker that never got ready at start() is not retried (start() fails instead); after
      // that, a crash or a failed restart is retried with a growing delay until stop().
      if (stopping || !info) return;
      if (wasReady && Date.now() - startedAt > HEALTHY_AFTER_MS) restartDelay = firstDelay;
      log.error({ code, signal, restart_in_ms: restartDelay }, "inference worker crashed");
      const delay = restartDelay;
      restartDelay = Math.min(restartDelay * 2, MAX_RESTART_DELAY_MS);
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        if (stopping) return;
        spawnWorker().catch((e) =>
          log.error({ err: String(e) }, "inference worker failed to restart"),
        );
      }, delay);
    });
    send({
      type: "init",
      init: {
        model: config,
        knownHash: knownHash(config.path),
        gpu: options.gpu ?? "auto",
        memoryBudgetBytes: options.memoryBudgetBytes,
        contextSize: options.contextSize,
        sequences: options.sequences,
        maxQueue: options.maxQueue,
        timeoutMs: options.timeoutMs,
        threads: options.threads,
        logLevel: log.level,
        holdMs: options.holdMs ?? TOKEN_INTERVAL_MS,
      },
    });
    return whenReady;
  }

  function running() {
    if (stopping || !info) throw new StoppedError(`engine for ${options.modelId} is not running`);
    if (!ready || !child)
      throw new EngineCrashedError(
        `the inference worker of ${options.modelId} is restarting after a crash; try again shortly`,
      );
    return info;
  }

  async function* generate(request: GenerateRequest): AsyncGenerator<EngineEvent, void, undefined> {
    running();
    const id = ++nextId;
    const stream: Stream = {
      kind: "stream",
      events: [],
      done: false,
      deadline: deadlineFor(id, request.timeoutMs),
    };
    pending.set(id, stream);
    const { signal, cache: _cache, ...rest } = request;
    send({ type: "generate", id, request: rest });
    const cancel = () => {
      send({ type: "cancel", id });
      stream.wake?.();
    };
    if (signal?.aborted) cancel();
    else signal?.addEventListener("abort", cancel, { once: true });
    let read = 0;
    let ok = false;
    try {
      for (;;) {
        // As the in-process engine: no token after the caller's abort, even one already here.
        if (signal?.aborted) throw new RequestCancelledError("request cancelled");
        if (read < stream.events.length) {
          const event = stream.events[read] as EngineEvent;
          stream.events[read++] = undefined as unknown as EngineEvent;
          if (read === stream.events.length) {
            stream.events.length = 0;
            read = 0;
          }
          // As the in-process engine: an answer is complete once its `done` is handed over.
          if (event.type === "done") ok = true;
          yield event;
          continue;
        }
        if (stream.error) throw stream.error;
        if (stream.done) return;
        await new Promise<void>((resolve) => {
          stream.wake = resolve;
        });
        stream.wake = undefined;
      }
    } finally {
      if (ok) counters.completed++;
      else counters.failed++;
      signal?.removeEventListener("abort", cancel);
      // A consumer that stopped pulling before the end: the worker stops generating.
      if (!stream.done && !ok) cancel();
      clearTimeout(stream.deadline);
      pending.delete(id);
    }
  }

  function verify(request: VerifyRequest): Promise<VerifyResult> {
    try {
      running();
    } catch (e) {
      return Promise.reject(e);
    }
    const id = ++nextId;
    const { signal, ...rest } = request;
    return new Promise<VerifyResult>((resolve, reject) => {
      pending.set(id, {
        kind: "call",
        resolve,
        reject,
        deadline: deadlineFor(id, request.timeoutMs),
      });
      send({ type: "verify", id, request: rest });
      const cancel = () => send({ type: "cancel", id });
      if (signal?.aborted) cancel();
      else signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  return {
    modelId: options.modelId,
    get modelSha256() {
      return running().sha256;
    },
    contextSize: () => running().contextSize,
    countPromptTokens(messages, prompt) {
      if (!vocab) throw new StoppedError(`engine for ${options.modelId} is not running`);
      return formatPrompt(vocab.model, vocab.wrapper, messages, prompt).tokens.length;
    },
    workerPid: () => child?.pid,
    whenReady: () =>
      ready
        ? Promise.resolve()
        : stopping
          ? Promise.reject(new StoppedError(`engine for ${options.modelId} stopped`))
          : new Promise((resolve, reject) => readyWaiters.push({ resolve, reject })),
    async start() {
      const config = options.manager.config(options.modelId);
      const model = await options.manager.llama.loadModel({
        modelPath: config.path,
        vocabOnly: true,
      });
      vocab = { model, wrapper: resolveChatWrapper(model) };
      try {
        await spawnWorker();
      } catch (e) {
        // The worker reports a failed load and exits; start() returns when it is gone.
        const worker = child;
        if (worker) {
          const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
          worker.kill("SIGKILL");
          await exited;
        }
        vocab = undefined;
        await model.dispose();
        throw e;
      }
      restartDelay = firstDelay;
      log.info({ slots, pid: child?.pid }, "engine started in a worker process");
    },
    generate,
    verify,
    stats(): EngineStats {
      // The worker's engine takes requests in order: those beyond its slots wait in its queue.
      const inFlight = pending.size;
      return {
        running: Math.min(inFlight, slots),
        queued: Math.max(0, inFlight - slots),
        slots,
        ...counters,
      };
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      clearTimeout(restartTimer);
      clearInterval(pinger);
      const worker = child;
      if (worker) {
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        send({ type: "stop" });
        const timer = setTimeout(() => worker.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      const error = new StoppedError(`engine for ${options.modelId} stopped`);
      for (const id of [...pending.keys()]) finish(id, error);
      settleReady(error);
      const model = vocab?.model;
      vocab = undefined;
      info = undefined;
      await model?.dispose();
    },
  };
}
