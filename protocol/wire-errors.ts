/**
 * Error codes as they travel on the wire, with the HTTP status and the OpenAI error `type`
 * each maps to. The node, the renter gateway and the libp2p protocol use this one table, so a
 * code means the same thing everywhere and a client can act on the type alone. A code not in
 * the table is an internal error: 500, `server_error`.
 */
import type { FabstirError } from "./errors.ts";
import { publicMessage } from "./errors.ts";

/** Why a host refuses a request that names a marketplace job. */
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
  /** The renter's own request cannot be served by the model (its prompt and max_tokens do
   * not fit the context): the host hands the job back on chain and the renter is refunded. */
  context_length_exceeded: "context_length_exceeded",
  /** The renter did not ask for its claimed job in time: the host hands it back (refund) before
   * the marketplace's claim timeout would count it as an abandoned claim. */
  renter_absent: "renter_absent",
} as const;
export type JobRefusal = keyof typeof JOB_REFUSALS;

/** Why a host refuses a request that names a session. */
export const SESSION_REFUSALS = {
  /** No such session on chain, or its terms are not the ones the request carries. */
  session_not_found: "session_not_found",
  /** The session names another host. */
  wrong_host: "wrong_host",
  /** The request asks for a model other than the session's. */
  model_mismatch: "model_mismatch",
  /** The session is closing or settled: open a new one. */
  session_closed: "session_closed",
  /** The session's expiry has passed (or is about to). */
  session_expired: "session_expired",
  /** The host served answers the request carries no receipt for. */
  receipt_required: "receipt_required",
  /** The receipt does not cover what the host served (fewer tokens, a lower amount, another digest). */
  receipt_mismatch: "receipt_mismatch",
  /** The receipt's signature is malformed or not the renter's (nor its session signer's). */
  invalid_signature: "invalid_signature",
  /** What is left of the deposit does not pay for one more token: top up or open a new session. */
  insufficient_funds: "insufficient_funds",
  /** An answer of this session is being served now: sessions answer one request at a time. */
  session_busy: "session_busy",
} as const;
export type SessionRefusal = keyof typeof SESSION_REFUSALS;

/** The OpenAI error types this project answers with. */
export type OpenAiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "insufficient_quota"
  | "server_overloaded"
  | "timeout"
  | "server_error";

const WIRE: Record<string, readonly [status: number, type: OpenAiErrorType]> = {
  // The caller's request is wrong: fix it, do not retry it as is.
  invalid_request: [400, "invalid_request_error"],
  invalid_usage: [400, "invalid_request_error"],
  context_length_exceeded: [400, "invalid_request_error"],
  prompt_mismatch: [400, "invalid_request_error"],
  model_mismatch: [400, "invalid_request_error"],
  request_too_large: [413, "invalid_request_error"],
  model_not_found: [404, "not_found_error"],
  not_found: [404, "not_found_error"],
  job_not_found: [404, "not_found_error"],
  unauthorized: [401, "authentication_error"],
  invalid_signature: [401, "authentication_error"],
  wrong_renter: [403, "permission_error"],
  job_not_claimed: [409, "invalid_request_error"],
  job_already_served: [409, "invalid_request_error"],
  job_expired: [410, "invalid_request_error"],
  renter_absent: [410, "invalid_request_error"],
  session_not_found: [404, "not_found_error"],
  wrong_host: [403, "permission_error"],
  session_closed: [409, "invalid_request_error"],
  session_expired: [410, "invalid_request_error"],
  receipt_required: [402, "insufficient_quota"],
  receipt_mismatch: [409, "invalid_request_error"],
  session_busy: [409, "invalid_request_error"],
  cancelled: [499, "invalid_request_error"],
  // Money: the job's escrow or the renter's wallet cannot cover the request.
  underfunded: [402, "insufficient_quota"],
  insufficient_funds: [402, "insufficient_quota"],
  // Try again later, or with another host.
  busy: [503, "server_overloaded"],
  model_memory: [503, "server_overloaded"],
  stopped: [503, "server_overloaded"],
  engine_crashed: [503, "server_error"],
  no_host: [503, "server_overloaded"],
  discovery_unavailable: [503, "server_error"],
  chain_error: [503, "server_error"],
  timeout: [504, "timeout"],
  host_unresponsive: [504, "timeout"],
  host_error: [502, "server_error"],
  transaction_refused: [502, "server_error"],
};

/** The HTTP status of a wire error code (500 for an unknown code). */
export function errorStatus(code: string): number {
  return WIRE[code]?.[0] ?? 500;
}

/** The OpenAI error type of a wire error code (`server_error` for an unknown code). */
export function errorType(code: string): OpenAiErrorType {
  return WIRE[code]?.[1] ?? "server_error";
}

/** The OpenAI error object: `{ error: { message, type, param, code } }`. */
export function errorObject(code: string, message: string, param: string | null = null) {
  return { error: { message, type: errorType(code), param, code } };
}

/** A FabstirError as an OpenAI error object; internal details never reach the wire. */
export function errorObjectOf(e: FabstirError, param: string | null = null) {
  return errorObject(e.code, publicMessage(e), param);
}
