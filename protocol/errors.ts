/**
 * The one error base class of the project. Every error the node, the renter and the API
 * raise on purpose extends FabstirError and says what its caller can do about it:
 * `retryable` (try again later, maybe with another host) and `userError` (the request or
 * input was wrong; otherwise the fault is ours or a dependency's), plus a stable `code` that
 * goes on the wire (HTTP bodies, libp2p error frames, the CLIs' `--json`). Tests assert the
 * class or the code, never the message.
 */
export class FabstirError extends Error {
  readonly code: string = "internal";
  readonly retryable: boolean = false;
  readonly userError: boolean = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A chain call failed after its retries (RPC down or unreachable, a transaction not mined). */
export class ChainError extends FabstirError {
  override readonly code = "chain_error";
  override readonly retryable = true;
}

/**
 * The message of an error as it may be shown to a client: a user error or a retryable one
 * keeps its own words; anything else (a bug, a dependency's failure) is "internal error" on
 * the wire, and its details go to the log only.
 */
export function publicMessage(e: unknown): string {
  return e instanceof FabstirError && (e.userError || e.retryable) ? e.message : "internal error";
}
