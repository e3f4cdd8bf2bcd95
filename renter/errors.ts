/**
 * What can go wrong for a renter, by what the caller can do about it. Every error has a
 * stable `code` (the CLI's `--json` output and the gateway's OpenAI error objects carry it)
 * and, where a job was posted, its id, so nothing paid is ever lost track of. The base class
 * is the project's (protocol/errors.ts); the gateway maps codes to HTTP statuses and OpenAI
 * error types with protocol/wire-errors.ts.
 */
import { FabstirError } from "../protocol/errors.ts";

export class RenterError extends FabstirError {
  override readonly code: string;
  /** Whether trying again (possibly with another host) can succeed. */
  override readonly retryable: boolean;
  override readonly userError: boolean;
  /** The job this error concerns, when one was posted. */
  readonly jobId: bigint | undefined;
  constructor(
    code: string,
    message: string,
    opts: { retryable?: boolean; userError?: boolean; jobId?: bigint; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.userError = opts.userError ?? false;
    this.jobId = opts.jobId;
  }
}

/** No eligible host serves the model at an acceptable price. */
export class NoHostError extends RenterError {
  constructor(message: string) {
    super("no_host", message, { retryable: true });
  }
}

/** The discovery API could not be reached or answered with an error. */
export class DiscoveryError extends RenterError {
  constructor(message: string, cause?: unknown) {
    super("discovery_unavailable", message, { retryable: true, cause });
  }
}

/** The chosen host did not claim the job in time; the job was cancelled and refunded. */
export class HostUnresponsiveError extends RenterError {
  constructor(jobId: bigint, message: string) {
    super("host_unresponsive", message, { retryable: true, jobId });
  }
}

/** The host refused or failed the request (its own error code and HTTP status are kept). */
export class HostRequestError extends RenterError {
  readonly status: number | undefined;
  readonly hostCode: string | undefined;
  constructor(
    jobId: bigint | undefined,
    message: string,
    opts: { status?: number; hostCode?: string; cause?: unknown },
  ) {
    super("host_error", message, { retryable: true, jobId, cause: opts.cause });
    this.status = opts.status;
    this.hostCode = opts.hostCode;
  }
}

/** A host could not be reached (or answered nonsense) before any job was posted for it. */
export class HostUnreachableError extends RenterError {
  constructor(message: string, cause?: unknown) {
    super("host_error", message, { retryable: true, cause });
  }
}

/** A transaction the renter sent was refused by the contracts (the contract error is named). */
export class TransactionRefusedError extends RenterError {
  constructor(what: string, jobId: bigint | undefined, message: string, cause?: unknown) {
    super("transaction_refused", `${what}: ${message}`, { jobId, cause });
  }
}

/** A job id that does not exist on the marketplace. */
export class JobNotFoundError extends RenterError {
  constructor(jobId: bigint) {
    super("job_not_found", `job ${jobId} does not exist`, { jobId, userError: true });
  }
}

/** Bad input from the user (a flag, a config value). */
export class RenterUsageError extends RenterError {
  constructor(message: string) {
    super("invalid_usage", message, { userError: true });
  }
}

/**
 * A request that cannot be served as asked (max_tokens above the model's context or the
 * contract's limit, a prompt longer than the context), found before any transaction, so
 * nothing was posted or paid; or, when `jobId` is set, found by the host after its claim,
 * which hands the job back so the deposit is refunded. `param` names the request field.
 */
export class InvalidRequestError extends RenterError {
  readonly param: string | undefined;
  constructor(message: string, param?: string, code = "invalid_request", jobId?: bigint) {
    super(code, message, { userError: true, jobId });
    this.param = param;
  }
}

/** The renter's wallet cannot pay the deposit (and gas) the request needs. */
export class InsufficientFundsError extends RenterError {
  constructor(message: string) {
    super("insufficient_funds", message, { userError: true });
  }
}

/** A session id that does not exist, or that this renter does not hold. */
export class SessionNotFoundError extends RenterError {
  constructor(message: string) {
    super("session_not_found", message, { userError: true });
  }
}
