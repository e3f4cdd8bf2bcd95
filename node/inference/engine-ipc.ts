/**
 * The messages between the host node and its inference worker process
 * (node/inference/process-engine.ts and engine-process.ts), and how the engine's errors cross
 * that boundary: by their stable `code`, rebuilt on the node's side as the same classes, so the
 * HTTP and p2p layers map them to the same wire errors as an in-process engine's.
 *
 * The channel carries JSON (Node's "json" IPC serialization: in bench/p2p.ts it let the worker
 * stream about 1.5x faster than the "advanced" one), so every value here is plain JSON data.
 */
import {
  ContextLengthExceededError,
  EngineBusyError,
  EngineCrashedError,
  InvalidRequestError,
  ModelFileError,
  ModelHashMismatchError,
  ModelMemoryError,
  ModelNotFoundError,
  NodeError,
  RequestCancelledError,
  RequestTimeoutError,
  StoppedError,
} from "../errors.ts";
import type { ModelConfig } from "../models/manager.ts";
import type { KnownHash } from "../models/validate.ts";
import type { EngineStats } from "./engine.ts";
import type { EngineEvent, GenerateRequest } from "./types.ts";
import type { VerifyRequest, VerifyResult } from "./verify.ts";

/** What the worker needs to load one chat model and run its engine. */
export interface WorkerInit {
  model: ModelConfig;
  /** The node's hash of the model file, if it has one: the worker does not hash it again. */
  knownHash?: KnownHash;
  gpu: "auto" | false | "cuda" | "vulkan" | "metal";
  memoryBudgetBytes?: number;
  contextSize?: number;
  sequences?: number;
  maxQueue?: number;
  timeoutMs?: number;
  threads?: number;
  logLevel: string;
  /** How long the worker may hold a token to send it with the next ones (ProcessEngineOptions). */
  holdMs: number;
}

/** A generation request without its AbortSignal (cancelling is a message of its own). */
export type WorkerGenerate = Omit<GenerateRequest, "signal" | "cache">;
export type WorkerVerify = Omit<VerifyRequest, "signal">;

export type ToWorker =
  | { type: "init"; init: WorkerInit }
  | { type: "generate"; id: number; request: WorkerGenerate }
  | { type: "verify"; id: number; request: WorkerVerify }
  | { type: "cancel"; id: number }
  | { type: "stop" }
  /** The node's watchdog: the worker answers `pong` with the same sequence number. */
  | { type: "ping"; seq: number };

export interface SerializedError {
  name: string;
  code: string;
  message: string;
  fields?: Record<string, unknown>;
}

export type FromWorkerOne =
  | { type: "ready"; sha256: string; contextSize: number; stats: EngineStats }
  | { type: "event"; id: number; event: EngineEvent }
  | { type: "end"; id: number; stats: EngineStats }
  | { type: "verified"; id: number; result: VerifyResult; stats: EngineStats }
  | { type: "error"; id: number | null; error: SerializedError; stats?: EngineStats }
  /** One of pino's JSON log lines (level as a number, msg, and the record's fields). */
  | { type: "log"; line: string }
  | { type: "stopped" }
  | { type: "pong"; seq: number };

/** The worker's messages travel in batches (engine-process.ts: tokens close together share one). */
export interface FromWorker {
  type: "batch";
  messages: FromWorkerOne[];
}

/** An error as it crosses to the node: its class's code and the fields that class carries. */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof NodeError) {
    const fields: Record<string, unknown> = {};
    for (const key of ["promptTokens", "contextLength", "path", "expected", "actual"])
      if (key in e) fields[key] = (e as unknown as Record<string, unknown>)[key];
    return { name: e.name, code: e.code, message: e.message, fields };
  }
  const error = e instanceof Error ? e : new Error(String(e));
  return { name: error.name, code: "internal", message: error.message };
}

/**
 * The error class the worker threw, rebuilt from its code; an unknown code (a bug in the
 * worker) becomes a plain Error, which the transports report as an internal error.
 */
export function deserializeError(s: SerializedError): Error {
  const f = s.fields ?? {};
  const num = (k: string) => Number(f[k] ?? 0);
  const str = (k: string) => String(f[k] ?? "");
  let e: Error;
  switch (s.code) {
    case "context_length_exceeded":
      e = new ContextLengthExceededError(num("promptTokens"), num("contextLength"));
      e.message = s.message;
      return e;
    case "invalid_request":
      return new InvalidRequestError(s.message);
    case "busy":
      return new EngineBusyError(s.message);
    case "timeout":
      return new RequestTimeoutError(s.message);
    case "cancelled":
      return new RequestCancelledError(s.message);
    case "stopped":
      return new StoppedError(s.message);
    case "model_not_found":
      return new ModelNotFoundError(s.message);
    case "model_memory":
      return new ModelMemoryError(s.message);
    case "model_hash_mismatch":
      return new ModelHashMismatchError(str("path"), str("expected"), str("actual"));
    case "model_file_invalid":
      e = new ModelFileError(str("path"), "");
      e.message = s.message;
      return e;
    case "engine_crashed":
      return new EngineCrashedError(s.message);
    default:
      e = new Error(s.message);
      e.name = s.name;
      return e;
  }
}
