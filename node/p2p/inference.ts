/**
 * The node's inference over libp2p (wire format in protocol.ts). The server side exposes a
 * RequestHandler on `/fabstir/inference/1.0.0` and `/fabstir/capabilities/1.0.0`: it reads
 * one request frame (size-limited, with a deadline), streams the handler's events back as
 * frames with backpressure (the tokens that are ready together in one frame), maps thrown
 * NodeErrors to error frames, and aborts the handler's signal when the client closes or
 * resets the stream. The client side sends a request to a peer and yields its
 * GenerationEvents, throwing RemoteError on an error frame; breaking out of the iteration or
 * aborting its signal cancels the request on the host.
 */
import type { Connection, Stream } from "@libp2p/interface";
import type { Uint8ArrayList } from "uint8arraylist";
import { z } from "zod";
import {
  CAPABILITIES_PROTOCOL,
  capabilitiesSchema,
  decodeFrame,
  type ErrorFrame,
  encodeFrame,
  FrameReader,
  FrameTimeoutError,
  FrameTooLargeError,
  INFERENCE_PROTOCOL,
  MAX_CAPABILITIES_BYTES,
  MAX_REQUEST_FRAME_BYTES,
  MAX_RESPONSE_FRAME_BYTES,
  requestFrameSchema,
  responseFrameSchema,
  sendFrame,
  WireErrorCode,
  writeFrame,
} from "../../protocol/p2p.ts";
import type { Capabilities, GenerationEvent, ServeRequest } from "../../protocol/wire.ts";
import { InvalidRequestError, NodeError, RequestCancelledError } from "../errors.ts";
import { coalesceTokens } from "../serving/coalesce.ts";
import type { RequestHandler } from "../serving/types.ts";
import { PeerUnreachableError, ProtocolError, RemoteError } from "./errors.ts";
import type { DialTarget, P2PNode } from "./node.ts";

export interface InferenceServerOptions {
  /** How long a client has, once its stream is open, to send the request frame; default 10 s. */
  requestTimeoutMs?: number;
  /** The largest request frame; default MAX_REQUEST_FRAME_BYTES (1 MiB). */
  maxRequestBytes?: number;
  /** Concurrent inference streams on one connection; default 32. */
  maxStreamsPerConnection?: number;
  /**
   * Least time between two token frames while tokens come faster: the tokens in between go
   * out together in the next frame. Default TOKEN_INTERVAL_MS (node/serving/coalesce.ts).
   */
  tokenIntervalMs?: number;
}

export interface InferenceServer {
  /** Requests being served now. */
  active: () => number;
  /** Stops accepting streams on both protocols (in-flight ones go on). */
  stop: () => Promise<void>;
}

/** How long closing our side of a stream may take before the stream is reset. */
const CLOSE_TIMEOUT_MS = 5_000;
/** How long a stream whose answer is complete may wait for the peer to close its side. */
const LINGER_MS = 10_000;

/** Ends our side of a stream; resets it if that stalls or the peer never closes its side. */
async function closeWrite(stream: Stream): Promise<void> {
  try {
    await stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) });
  } catch (e) {
    stream.abort(e as Error);
    return;
  }
  if (stream.status === "open")
    setTimeout(() => {
      if (stream.status === "open") stream.abort(new Error("peer did not close its side"));
    }, LINGER_MS).unref();
}

/** Registers the inference and capabilities protocols of `handler` on the node. */
export async function startInferenceServer(
  node: P2PNode,
  handler: RequestHandler,
  options: InferenceServerOptions = {},
): Promise<InferenceServer> {
  const log = node.logger.child({ component: "p2p-inference" });
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_FRAME_BYTES;
  const streams = options.maxStreamsPerConnection ?? 32;
  let active = 0;

  async function refuse(stream: Stream, frame: ErrorFrame): Promise<void> {
    try {
      await writeFrame(stream, frame, AbortSignal.timeout(CLOSE_TIMEOUT_MS));
      await closeWrite(stream);
    } catch {
      stream.abort(new Error(`refused: ${frame.code}`));
    }
  }

  function errorFrame(e: unknown): ErrorFrame {
    if (node.shutdownSignal.aborted)
      return {
        type: "error",
        code: WireErrorCode.stopped,
        message: "the host is shutting down",
        retryable: true,
      };
    if (e instanceof NodeError)
      return { type: "error", code: e.code, message: e.message, retryable: e.retryable };
    log.error({ err: e instanceof Error ? e.stack : String(e) }, "inference handler failed");
    return {
      type: "error",
      code: WireErrorCode.internal,
      message: "internal error",
      retryable: false,
    };
  }

  /** Reads and validates the request frame; undefined when the stream was answered already. */
  async function readRequest(stream: Stream): Promise<ServeRequest | undefined> {
    const reader = new FrameReader(stream, maxRequestBytes);
    let raw: Uint8ArrayList | undefined;
    try {
      raw = await reader.next(AbortSignal.timeout(requestTimeoutMs));
    } catch (e) {
      await reader.close();
      const [code, message, retryable]: [string, string, boolean] =
        e instanceof FrameTooLargeError
          ? [WireErrorCode.requestTooLarge, `request frame over ${maxRequestBytes} bytes`, false]
          : e instanceof FrameTimeoutError
            ? [WireErrorCode.timeout, `no request within ${requestTimeoutMs} ms`, true]
            : [
                WireErrorCode.invalidRequest,
                `malformed request frame: ${(e as Error).message}`,
                false,
              ];
      if (stream.status === "open" && stream.writeStatus === "writable")
        await refuse(stream, { type: "error", code, message, retryable });
      else stream.abort(e as Error);
      return undefined;
    }
    await reader.close();
    if (!raw) {
      await closeWrite(stream); // closed without asking anything
      return undefined;
    }
    let value: unknown;
    try {
      value = decodeFrame(raw);
    } catch (e) {
      await refuse(stream, {
        type: "error",
        code: WireErrorCode.invalidRequest,
        message: `request frame is not JSON: ${(e as Error).message}`,
        retryable: false,
      });
      return undefined;
    }
    const parsed = requestFrameSchema.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(
        (i) => `${i.path.join(".") || "(frame)"}: ${i.message}`,
      );
      await refuse(stream, {
        type: "error",
        code: WireErrorCode.invalidRequest,
        message: `invalid request: ${issues.join("; ").slice(0, 1000)}`,
        retryable: false,
      });
      return undefined;
    }
    return parsed.data.request as ServeRequest;
  }

  async function serveStream(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    const request = await readRequest(stream);
    if (!request) return;
    if (node.stopping) {
      await refuse(stream, {
        type: "error",
        code: WireErrorCode.stopped,
        message: "the host is shutting down",
        retryable: true,
      });
      return;
    }
    // The client closing its side or resetting the stream before the answer ends cancels it.
    const gone = new AbortController();
    const onGone = () => {
      if (!finished) gone.abort(new RequestCancelledError("the client went away"));
    };
    let finished = false;
    stream.addEventListener("close", onGone);
    stream.addEventListener("remoteCloseWrite", onGone);
    if (stream.status !== "open" || stream.remoteWriteStatus === "closed") onGone();
    const signal = AbortSignal.any([gone.signal, node.shutdownSignal]);
    const started = performance.now();
    let frames = 0;
    let tokens = 0;
    active++;
    try {
      // The tokens that are ready together go out in one frame (node/serving/coalesce.ts).
      const events = coalesceTokens(handler.serve(request, { signal, transport: "p2p" }), {
        minIntervalMs: options.tokenIntervalMs,
      });
      for await (const event of events) {
        if (gone.signal.aborted) break;
        if (event.type === "token") frames++;
        else {
          finished = true;
          tokens = event.usage.completionTokens;
        }
        await writeFrame(stream, event, gone.signal);
      }
      if (!finished && !gone.signal.aborted)
        throw new Error("the request handler ended without a done event");
    } catch (e) {
      if (gone.signal.aborted) {
        log.debug({ peer, model: request.model, frames }, "client went away; request cancelled");
        return;
      }
      finished = true;
      const frame = errorFrame(e);
      log.debug({ peer, model: request.model, code: frame.code }, "inference request failed");
      await writeFrame(stream, frame, AbortSignal.timeout(CLOSE_TIMEOUT_MS)).catch(() => {});
    } finally {
      active--;
      stream.removeEventListener("close", onGone);
      stream.removeEventListener("remoteCloseWrite", onGone);
    }
    if (gone.signal.aborted) {
      stream.abort(new RequestCancelledError("the client went away"));
      return;
    }
    log.debug(
      { peer, model: request.model, tokens, frames, ms: Math.round(performance.now() - started) },
      "inference request served",
    );
    await closeWrite(stream);
  }

  await node.libp2p.handle(
    INFERENCE_PROTOCOL,
    (stream, connection) => {
      node.track(serveStream(stream, connection)).catch((e) => {
        log.warn({ err: String(e) }, "inference stream failed");
        stream.abort(e as Error);
      });
    },
    { maxInboundStreams: streams, maxOutboundStreams: streams },
  );
  await node.libp2p.handle(
    CAPABILITIES_PROTOCOL,
    async (stream) => {
      try {
        await writeFrame(stream, handler.capabilities(), AbortSignal.timeout(CLOSE_TIMEOUT_MS));
        await closeWrite(stream);
      } catch (e) {
        stream.abort(e as Error);
      }
    },
    { maxInboundStreams: 4, maxOutboundStreams: 4 },
  );
  return {
    active: () => active,
    async stop() {
      await node.libp2p.unhandle([INFERENCE_PROTOCOL, CAPABILITIES_PROTOCOL]);
    },
  };
}

export interface RequestOptions {
  /** Aborting it cancels the request (on the host too) and rejects with RequestCancelledError. */
  signal?: AbortSignal;
}

/** Opens a stream for `protocol` to the peer; dial and negotiation failures become NodeErrors. */
async function openStream(
  node: P2PNode,
  target: DialTarget,
  protocol: string,
  signal: AbortSignal | undefined,
  maxOutboundStreams: number,
): Promise<{ stream: Stream; peer: string }> {
  const connection = await node.dial(target, { signal });
  const peer = connection.remotePeer.toString();
  try {
    const stream = await connection.newStream(protocol, { signal, maxOutboundStreams });
    return { stream, peer };
  } catch (e) {
    if (signal?.aborted) throw new RequestCancelledError("cancelled by the caller", { cause: e });
    if ((e as Error).name === "UnsupportedProtocolError")
      throw new ProtocolError(`${peer} does not speak ${protocol}`, { cause: e });
    throw new PeerUnreachableError(`cannot open ${protocol} to ${peer}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** A stream or frame failure as a NodeError (cancellation when the caller's signal aborted). */
function streamFailure(peer: string, e: unknown, signal?: AbortSignal): NodeError {
  if (signal?.aborted) return new RequestCancelledError("cancelled by the caller", { cause: e });
  if (e instanceof NodeError) return e;
  if (e instanceof FrameTooLargeError)
    return new ProtocolError(`${peer} sent a frame over the size limit`, { cause: e });
  if (e instanceof SyntaxError || e instanceof TypeError || e instanceof z.ZodError)
    return new ProtocolError(`${peer} sent a malformed frame: ${e.message}`, { cause: e });
  return new PeerUnreachableError(`stream to ${peer} failed: ${(e as Error).message}`, {
    cause: e,
  });
}

/**
 * Sends `request` to the peer and yields the answer's events; the last is `done`. Throws
 * RemoteError for the host's error frame, RequestCancelledError when `signal` aborts,
 * PeerUnreachableError or ProtocolError when the peer or stream fails. Stopping the
 * iteration early cancels the request on the host.
 */
export async function* requestInference(
  node: P2PNode,
  target: DialTarget,
  request: ServeRequest,
  options: RequestOptions = {},
): AsyncGenerator<GenerationEvent, void, undefined> {
  const { signal } = options;
  if (signal?.aborted) throw new RequestCancelledError("cancelled by the caller");
  let requestFrame: Uint8ArrayList;
  try {
    requestFrame = encodeFrame({ type: "request", request });
  } catch (e) {
    throw new InvalidRequestError(`cannot encode the request: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const { stream, peer } = await openStream(node, target, INFERENCE_PROTOCOL, signal, 32);
  const onAbort = () => stream.abort(new RequestCancelledError("cancelled by the caller"));
  signal?.addEventListener("abort", onAbort, { once: true });
  const reader = new FrameReader(stream, MAX_RESPONSE_FRAME_BYTES);
  let complete = false;
  try {
    // Written while reading: the host may refuse an oversized request before taking it all.
    sendFrame(stream, requestFrame).catch(() => {});
    while (true) {
      let frame: ReturnType<typeof responseFrameSchema.parse>;
      try {
        const raw = await reader.next();
        if (!raw) throw new ProtocolError(`${peer} closed the stream before the answer ended`);
        frame = responseFrameSchema.parse(decodeFrame(raw));
      } catch (e) {
        throw streamFailure(peer, e, signal);
      }
      if (frame.type === "error") {
        complete = true;
        throw new RemoteError(peer, frame.code, frame.message, frame.retryable);
      }
      if (frame.type === "done") {
        complete = true;
        yield frame;
        return;
      }
      yield frame;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.close();
    if (complete) closeWrite(stream).catch(() => {});
    else stream.abort(new RequestCancelledError("the caller stopped reading"));
  }
}

/** The peer's Capabilities through `/fabstir/capabilities/1.0.0`. */
export async function queryCapabilities(
  node: P2PNode,
  target: DialTarget,
  options: RequestOptions = {},
): Promise<Capabilities> {
  const { signal } = options;
  const { stream, peer } = await openStream(node, target, CAPABILITIES_PROTOCOL, signal, 4);
  const onAbort = () => stream.abort(new RequestCancelledError("cancelled by the caller"));
  signal?.addEventListener("abort", onAbort, { once: true });
  const reader = new FrameReader(stream, MAX_CAPABILITIES_BYTES);
  try {
    const raw = await reader.next();
    if (!raw) throw new ProtocolError(`${peer} sent no capabilities`);
    return capabilitiesSchema.parse(decodeFrame(raw)) as Capabilities;
  } catch (e) {
    throw streamFailure(peer, e, signal);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.close();
    // We send nothing; closing our side only now, as libp2p drops unread data when both
    // sides are closed.
    closeWrite(stream).catch(() => {});
  }
}
