/**
 * The wire format of the node's libp2p protocols: length-prefixed (unsigned varint) JSON
 * frames, their zod schemas, and the helpers that read and write them on a libp2p stream.
 *
 * `/fabstir/inference/1.0.0`: the client sends ONE frame `{type:"request", request}` and
 * keeps its side of the stream open; the server answers with `{type:"token", text}` frames
 * (each with the text of one or more tokens: the host joins those that come close together;
 * the exact count is in `done.usage`) and a final `{type:"done", ...}`, or an
 * `{type:"error", code, message, retryable}` frame, then closes its side. The client closing
 * its side or resetting the stream before the answer ends cancels the request. A request
 * frame over MAX_REQUEST_FRAME_BYTES is refused with code "request_too_large"; a frame that
 * is not JSON or not a valid request with "invalid_request".
 *
 * `/fabstir/capabilities/1.0.0`: the server sends one frame with its Capabilities and
 * closes; the client sends nothing.
 */

import type { Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import { Uint8ArrayList } from "uint8arraylist";
import { z } from "zod";
import { FabstirError } from "./errors.ts";
import { sessionAuthorizationSchema } from "./sessions.ts";
import {
  CACHE_MODES,
  type Capabilities,
  FINISH_REASONS,
  type GenerationEvent,
  type ServeRequest,
  samplingParamsSchema,
} from "./wire.ts";

export const INFERENCE_PROTOCOL = "/fabstir/inference/1.0.0";
export const CAPABILITIES_PROTOCOL = "/fabstir/capabilities/1.0.0";

/** The largest request frame a server reads. */
export const MAX_REQUEST_FRAME_BYTES = 1024 * 1024;
/** The largest answer frame a client reads (a `done` frame repeats the whole text). */
export const MAX_RESPONSE_FRAME_BYTES = 8 * 1024 * 1024;
/** The largest capabilities frame (and DHT capability record). */
export const MAX_CAPABILITIES_BYTES = 64 * 1024;

/** Codes the p2p layer puts in error frames itself; the rest come from NodeError.code. */
export const WireErrorCode = {
  invalidRequest: "invalid_request",
  requestTooLarge: "request_too_large",
  timeout: "timeout",
  stopped: "stopped",
  internal: "internal",
} as const;

const hex = (bytes?: number) =>
  z.string().regex(bytes ? new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`) : /^0x[0-9a-fA-F]*$/);

const chatMessageSchema = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

export const serveRequestSchema = z
  .object({
    model: z.string().min(1).max(128),
    messages: z.array(chatMessageSchema).min(1).max(1024).optional(),
    prompt: z.string().min(1).optional(),
    params: samplingParamsSchema.optional(),
    cache: z.enum(CACHE_MODES).optional(),
    job: z
      .object({
        jobId: z.string().regex(/^[0-9]{1,78}$/, "a decimal job id"),
        signature: hex() as z.ZodType<`0x${string}`>,
      })
      .optional(),
    session: sessionAuthorizationSchema.optional(),
  })
  .refine((r) => (r.messages === undefined) !== (r.prompt === undefined), {
    message: "exactly one of messages and prompt",
  });

export const requestFrameSchema = z.object({
  type: z.literal("request"),
  request: serveRequestSchema,
});

const usageSchema = z.object({
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
});

export const responseFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("token"), text: z.string() }),
  z.object({
    type: z.literal("done"),
    text: z.string(),
    finishReason: z.enum(FINISH_REASONS),
    usage: usageSchema,
    cached: z.boolean(),
  }),
  z.object({
    type: z.literal("error"),
    code: z.string().min(1).max(64),
    message: z.string().max(4096),
    retryable: z.boolean(),
  }),
]);

export const capabilitiesSchema = z.object({
  version: z.string().max(64),
  host: (hex(20) as z.ZodType<`0x${string}`>).optional(),
  models: z
    .array(
      z.object({
        id: z.string().min(1).max(128),
        chainModelId: hex(32) as z.ZodType<`0x${string}`>,
        prices: z
          .array(
            z.object({
              token: hex(20) as z.ZodType<`0x${string}`>,
              pricePerToken: z.string().regex(/^[0-9]{1,78}$/),
            }),
          )
          .max(16),
        contextSize: z.number().int().min(0),
      }),
    )
    .max(256),
  load: z.object({
    running: z.number().int().min(0),
    queued: z.number().int().min(0),
    slots: z.number().int().min(0),
  }),
  httpUrl: z.string().max(2048).optional(),
});

export interface RequestFrame {
  type: "request";
  request: ServeRequest;
}
export interface ErrorFrame {
  type: "error";
  code: string;
  message: string;
  retryable: boolean;
}
export type ResponseFrame = GenerationEvent | ErrorFrame;

// Keep the schemas and the TypeScript types of node/serving and node/inference in step.
type Assignable<A, B extends A> = B;
export type _RequestCheck = Assignable<ServeRequest, z.infer<typeof serveRequestSchema>>;
export type _ResponseCheck = Assignable<ResponseFrame, z.infer<typeof responseFrameSchema>>;
export type _CapabilitiesCheck = Assignable<Capabilities, z.infer<typeof capabilitiesSchema>>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One frame: the JSON of `value`, length-prefixed. */
export function encodeFrame(value: unknown): Uint8ArrayList {
  return lp.encode.single(encoder.encode(JSON.stringify(value)), {
    maxDataLength: MAX_RESPONSE_FRAME_BYTES,
  });
}

/** The JSON value of a frame; throws SyntaxError/TypeError when it is not UTF-8 JSON. */
export function decodeFrame(frame: Uint8ArrayList | Uint8Array): unknown {
  return JSON.parse(decoder.decode(frame.subarray()));
}

/** Sends an encoded frame, waiting for the stream to drain when its send buffer is full. */
export async function sendFrame(
  stream: Stream,
  frame: Uint8ArrayList,
  signal?: AbortSignal,
): Promise<void> {
  if (!stream.send(frame)) await stream.onDrain({ signal });
}

/** Writes one frame (the JSON of `value`), with backpressure. */
export function writeFrame(stream: Stream, value: unknown, signal?: AbortSignal): Promise<void> {
  return sendFrame(stream, encodeFrame(value), signal);
}

/** Thrown by FrameReader for a frame whose length prefix is over the limit. */
export class FrameTooLargeError extends FabstirError {
  override readonly code = "request_too_large";
  override readonly userError = true;
}

/** Thrown by FrameReader.next when its signal aborts first. */
export class FrameTimeoutError extends FabstirError {
  override readonly code = "timeout";
  override readonly retryable = true;
}

/** Thrown by FrameReader when the stream ends in the middle of a frame. */
export class TruncatedFrameError extends FabstirError {
  override readonly code = "invalid_request";
  override readonly userError = true;
}

/** Varints of more bytes than this are refused (8 bytes hold any length we accept). */
const MAX_VARINT_BYTES = 8;

/**
 * Reads a stream's length-prefixed frames one at a time, decoding them in the stream's own
 * 'message' events (no async-iterator layers: each frame reaches its reader with the fewest
 * hops). A frame over `maxBytes` is refused as soon as its length prefix arrives
 * (FrameTooLargeError), before its body is buffered. `close()` detaches from the stream:
 * bytes arriving later stay in the stream's own bounded read buffer (over which the stream
 * resets), not in this reader.
 */
export class FrameReader {
  readonly #stream: Stream;
  readonly #maxBytes: number;
  readonly #buffer = new Uint8ArrayList();
  readonly #frames: Uint8ArrayList[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(stream: Stream, maxBytes: number) {
    this.#stream = stream;
    this.#maxBytes = maxBytes;
    stream.addEventListener("message", this.#onMessage);
    stream.addEventListener("remoteCloseWrite", this.#onEnd);
    stream.addEventListener("close", this.#onClose);
    if (stream.status !== "open") this.#ended = true;
    else if (stream.remoteWriteStatus === "closed" && stream.readBufferLength === 0)
      this.#ended = true;
  }

  readonly #onMessage = (evt: { data: Uint8Array | Uint8ArrayList }) => {
    if (this.#error) return;
    this.#buffer.append(evt.data);
    try {
      this.#decode();
    } catch (e) {
      this.#error = e as Error;
    }
    this.#wake?.();
  };
  readonly #onEnd = () => {
    this.#ended = true;
    this.#wake?.();
  };
  readonly #onClose = (evt: Event) => {
    const error = (evt as Event & { error?: Error }).error;
    if (error) this.#error ??= error;
    this.#ended = true;
    this.#wake?.();
  };

  /** Moves every complete frame from the buffer to the queue. */
  #decode() {
    while (this.#buffer.byteLength > 0) {
      let length = 0;
      let bytes = 0;
      for (;;) {
        if (bytes >= this.#buffer.byteLength) return; // the prefix is not complete yet
        if (bytes >= MAX_VARINT_BYTES) throw new FrameTooLargeError("frame length prefix too long");
        const b = this.#buffer.get(bytes);
        length += (b & 0x7f) * 2 ** (7 * bytes);
        bytes++;
        if (b < 0x80) break;
      }
      if (length > this.#maxBytes)
        throw new FrameTooLargeError(`a ${length}-byte frame is over the ${this.#maxBytes} limit`);
      if (this.#buffer.byteLength < bytes + length) return;
      this.#frames.push(this.#buffer.sublist(bytes, bytes + length));
      this.#buffer.consume(bytes + length);
    }
  }

  /**
   * The next frame, or undefined when the remote closed its side cleanly. Throws the
   * stream's error, FrameTooLargeError, TruncatedFrameError, or FrameTimeoutError when
   * `signal` aborts first (the reader stays usable).
   */
  async next(signal?: AbortSignal): Promise<Uint8ArrayList | undefined> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame) return frame;
      if (this.#error) throw this.#error;
      if (this.#ended) {
        if (this.#buffer.byteLength > 0)
          throw new TruncatedFrameError("the stream ended inside a frame");
        return undefined;
      }
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.#wake = undefined;
          reject(new FrameTimeoutError("no frame before the deadline"));
        };
        this.#wake = () => {
          this.#wake = undefined;
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  /** Detaches from the stream. */
  async close(): Promise<void> {
    this.#stream.removeEventListener("message", this.#onMessage);
    this.#stream.removeEventListener("remoteCloseWrite", this.#onEnd);
    this.#stream.removeEventListener("close", this.#onClose);
  }
}
