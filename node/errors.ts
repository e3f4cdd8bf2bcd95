/**
 * The host node's errors. Each says what the caller can do about it: `retryable` (try again
 * later, maybe elsewhere) and `userError` (the request was wrong; ours otherwise), plus a
 * stable `code` that the HTTP and p2p layers put on the wire (see protocol/errors.ts for the
 * base class shared with the renter and the API). Tests assert the class, not the message.
 */
import { FabstirError } from "../protocol/errors.ts";
import type { JobRefusal, SessionRefusal } from "../protocol/wire-errors.ts";

export class NodeError extends FabstirError {}

/** A model id the node does not serve. */
export class ModelNotFoundError extends NodeError {
  override readonly code = "model_not_found";
  override readonly userError = true;
}

/** A configured model file that is missing, not GGUF, truncated or of an unsupported architecture. */
export class ModelFileError extends NodeError {
  override readonly code = "model_file_invalid";
  readonly path: string;
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`${path}: ${reason}`, options);
    this.path = path;
  }
}

/** The file's sha256 differs from the configured or registered hash: never serve it. */
export class ModelHashMismatchError extends NodeError {
  override readonly code = "model_hash_mismatch";
  readonly path: string;
  readonly expected: string;
  readonly actual: string;
  constructor(path: string, expected: string, actual: string) {
    super(`${path}: sha256 is ${actual}, expected ${expected}`);
    this.path = path;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Loading the model would exceed the memory budget while every loaded model is in use. */
export class ModelMemoryError extends NodeError {
  override readonly code = "model_memory";
  override readonly retryable = true;
}

/** The engine's queue is full: try again later or another host. */
export class EngineBusyError extends NodeError {
  override readonly code = "busy";
  override readonly retryable = true;
}

/**
 * The inference worker process (node/inference/process-engine.ts) ended while the request was
 * in flight (a crash, a kill, out of memory), or is being restarted after that: try again
 * shortly or with another host.
 */
export class EngineCrashedError extends NodeError {
  override readonly code = "engine_crashed";
  override readonly retryable = true;
}

/** The request did not finish within its time limit. */
export class RequestTimeoutError extends NodeError {
  override readonly code = "timeout";
  override readonly retryable = true;
}

/** The caller cancelled the request (its signal aborted, or the client went away). */
export class RequestCancelledError extends NodeError {
  override readonly code = "cancelled";
  override readonly userError = true;
}

/** A malformed request, or one the model cannot take (a prompt longer than its context). */
export class InvalidRequestError extends NodeError {
  override readonly code: string = "invalid_request";
  override readonly userError = true;
}

/**
 * The prompt (with room for at least one answer token) does not fit the model's context. A
 * paid job with such a request is handed back on chain at once (refuseJob), refunding its
 * renter. The code is OpenAI's for the same case.
 */
export class ContextLengthExceededError extends InvalidRequestError {
  override readonly code = "context_length_exceeded";
  readonly promptTokens: number;
  readonly contextLength: number;
  constructor(promptTokens: number, contextLength: number) {
    super(
      `the prompt is ${promptTokens} tokens; this model's context holds ${contextLength} (prompt and answer together)`,
    );
    this.promptTokens = promptTokens;
    this.contextLength = contextLength;
  }
}

/** The engine or cache was used after stop(). */
export class StoppedError extends NodeError {
  override readonly code = "stopped";
  override readonly retryable = true;
}

/** The request carries no valid operator API key and no job authorization. */
export class UnauthorizedError extends NodeError {
  override readonly code = "unauthorized";
  override readonly userError = true;
}

/** A request for a marketplace job that this node refuses to serve; `code` says why. */
export class JobRefusedError extends NodeError {
  override readonly code: JobRefusal;
  override readonly userError = true;
  readonly jobId: string;
  constructor(code: JobRefusal, jobId: string, message: string, options?: ErrorOptions) {
    super(`job ${jobId}: ${message}`, options);
    this.code = code;
    this.jobId = jobId;
  }
}

/** A request for a session that this node refuses to serve; `code` says why. */
export class SessionRefusedError extends NodeError {
  override readonly code: SessionRefusal;
  override readonly userError = true;
  override readonly retryable: boolean;
  readonly sessionId: string;
  constructor(code: SessionRefusal, sessionId: string, message: string, options?: ErrorOptions) {
    super(`session ${sessionId}: ${message}`, options);
    this.code = code;
    this.sessionId = sessionId;
    this.retryable = code === "session_busy";
  }
}
