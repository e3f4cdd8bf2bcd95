/**
 * The host node's errors. Each says what the caller can do about it: `retryable` (try again
 * later, maybe elsewhere) and `userError` (the request was wrong; ours otherwise), plus a
 * stable `code` that the HTTP and p2p layers put on the wire. Tests assert the class, not
 * the message.
 */
export class NodeError extends Error {
  readonly code: string = "internal";
  readonly retryable: boolean = false;
  readonly userError: boolean = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

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
  override readonly code = "invalid_request";
  override readonly userError = true;
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

/** Why a request that names a marketplace job is refused. */
export const JOB_REFUSALS = {
  /** The signature is malformed or does not recover to an address. */
  invalid_signature: "invalid_signature",
  /** The signer is not the job's renter. */
  wrong_renter: "wrong_renter",
  /** The job does not exist, or this node's host has not claimed it (or it is finished). */
  job_not_claimed: "job_not_claimed",
  /** The job's deadline has passed. */
  job_expired: "job_expired",
  /** The request does not hash to the job's prompt hash. */
  prompt_mismatch: "prompt_mismatch",
  /** The job was already served: one request per job (replay protection). */
  job_already_served: "job_already_served",
  /** The escrow does not hold the job's deposit. */
  underfunded: "underfunded",
  /** The request asks for a model other than the job's. */
  model_mismatch: "model_mismatch",
} as const;
export type JobRefusal = keyof typeof JOB_REFUSALS;

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

/** A chain call failed after its retries (RPC down, transaction reverted unexpectedly). */
export class ChainError extends NodeError {
  override readonly code = "chain_error";
  override readonly retryable = true;
}
