/**
 * Errors of the libp2p layer, NodeError subclasses like the rest of the node (node/errors.ts):
 * a peer that cannot be reached, a peer that breaks the wire protocol, an error a remote
 * host reported in an error frame (its code and retryable flag carried over), and an
 * identity file the node refuses to use.
 */
import { NodeError } from "../errors.ts";

/** The peer could not be dialled (or failed so recently that it is in dial backoff). */
export class PeerUnreachableError extends NodeError {
  override readonly code = "peer_unreachable";
  override readonly retryable = true;
}

/** The remote broke the protocol: a malformed or oversized frame, or a stream that ended early. */
export class ProtocolError extends NodeError {
  override readonly code = "protocol_error";
  override readonly retryable = true;
}

/** Codes a remote reports for requests that were wrong (not worth retrying elsewhere). */
const USER_ERROR_CODES = new Set([
  "invalid_request",
  "request_too_large",
  "model_not_found",
  "cancelled",
]);

/** A remote host answered with an error frame: its code, message and retryable flag. */
export class RemoteError extends NodeError {
  override readonly code: string;
  override readonly retryable: boolean;
  override readonly userError: boolean;
  /** The remote peer id (string form). */
  readonly peer: string;
  constructor(peer: string, code: string, message: string, retryable: boolean) {
    super(`${peer}: ${code}: ${message}`);
    this.peer = peer;
    this.code = code;
    this.retryable = retryable;
    this.userError = USER_ERROR_CODES.has(code);
  }
}

/** The node's identity key file exists but cannot be read as a private key. */
export class IdentityFileError extends NodeError {
  override readonly code = "identity_invalid";
  readonly path: string;
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(
      `${path}: ${reason}; refusing to replace it (move it away to create a new identity)`,
      options,
    );
    this.path = path;
  }
}
