/**
 * Token coalescing for the streaming transports (server-sent events in node/http, frames in
 * node/p2p).
 *
 * Sending an event costs a transport more than the engine spends on a token at GPU rates
 * (JSON, framing, encryption, socket writes, and on libp2p a yamux window update coming back
 * for every frame), and all of it runs on the event loop that also drives the engine. Sent
 * one by one, tokens at a few thousand per second lose most of their rate (bench/p2p.ts).
 *
 * `coalesceTokens` reads the answer on its own, ahead of the transport, so the engine never
 * waits on a write; each time the transport asks for the next event it gets every token
 * that is ready as ONE token event with their text joined. Tokens come one per step of the
 * engine, though, and each step needs the event loop too, so reading ahead alone rarely finds
 * more than one ready: when a token event went out less than `minIntervalMs` ago, the
 * tokens that follow are held until that interval has passed and go out together. The
 * first token is never held, nor is a token that comes at least the interval after the last
 * token event: a steady stream of fewer than 1000 / minIntervalMs tokens per second (200 with
 * the default 5 ms, faster than anyone reads) goes out token by token, as it comes, and in a
 * faster one a token waits at most the interval.
 *
 * Order is kept; `done` goes out as soon as it arrives (after the tokens before it, which it
 * releases); an error of the source is raised after the tokens that came before it. A token
 * event is a piece of text, not one token (the engine already joins a multi-byte character's
 * tokens and holds back a possible stop sequence): the exact count of generated tokens is
 * `done.usage.completionTokens`, on every transport.
 */
import type { GenerationEvent } from "../../protocol/wire.ts";

/** The default least time between two token events while tokens come faster (ms). */
export const TOKEN_INTERVAL_MS = 5;

/**
 * Events read ahead of a transport that is not taking them (a slow client): past this the
 * engine waits, as it would without coalescing.
 */
export const COALESCE_MAX_BUFFERED = 256;

export interface CoalesceOptions {
  /**
   * Least time between two token events; tokens that come sooner are held and joined.
   * Default TOKEN_INTERVAL_MS; 0 joins only the tokens that are ready when the transport
   * asks for the next event, and holds none.
   */
  minIntervalMs?: number;
  /** Events read ahead at most; default COALESCE_MAX_BUFFERED. */
  maxBuffered?: number;
}

type TokenEvent = Extract<GenerationEvent, { type: "token" }>;

/**
 * The source's events with the tokens that are ready together joined into one token event.
 * Stopping the iteration early (break, return) stops reading the source and ends it (its
 * `finally` blocks run) before the iteration's own end completes.
 */
export async function* coalesceTokens(
  source: AsyncIterable<GenerationEvent>,
  options: CoalesceOptions = {},
): AsyncGenerator<GenerationEvent, void, undefined> {
  const interval = Math.max(0, options.minIntervalMs ?? TOKEN_INTERVAL_MS);
  const maxBuffered = Math.max(1, options.maxBuffered ?? COALESCE_MAX_BUFFERED);
  const iterator = source[Symbol.asyncIterator]();
  const queue: GenerationEvent[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  /** Wakes the consumer waiting for an event (or for its hold to end). */
  let wake: (() => void) | undefined;
  /** Wakes the reader waiting for room in the queue. */
  let room: (() => void) | undefined;
  /**
   * While tokens are held, another token joins them without waking the consumer (waking it
   * for each token, at thousands per second, costs the event loop the engine runs on more
   * than the transport saves); anything else, or the end, still wakes it at once.
   */
  let holding = false;

  const reader = (async () => {
    try {
      while (!stopped) {
        if (queue.length >= maxBuffered) {
          await new Promise<void>((resolve) => {
            room = resolve;
          });
          room = undefined;
          continue;
        }
        const next = await iterator.next();
        if (next.done) break;
        queue.push(next.value);
        if (!holding || next.value.type !== "token") wake?.();
      }
    } catch (e) {
      failure = { error: e };
    } finally {
      ended = true;
      wake?.();
    }
  })();

  /** Resolves when the reader adds an event or ends, or after `ms` when given. */
  function arrival(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      wake = undefined;
    });
  }

  /** The next event to hand on: the leading tokens joined, or the event at the head. */
  function take(): GenerationEvent {
    const head = queue[0] as GenerationEvent;
    if (head.type !== "token") return queue.shift() as GenerationEvent;
    let n = 1;
    while (queue[n]?.type === "token") n++;
    if (n === 1) return queue.shift() as TokenEvent;
    const tokens = queue.splice(0, n) as TokenEvent[];
    return { type: "token", text: tokens.map((t) => t.text).join("") };
  }

  /** When the last token event was handed on (performance.now()). */
  let lastToken = Number.NEGATIVE_INFINITY;
  try {
    for (;;) {
      if (queue.length === 0) {
        if (failure) throw failure.error;
        if (ended) return;
        await arrival();
        continue;
      }
      // Only tokens so far, and the last token event went out less than `interval` ago:
      // hold them until then (what arrives meanwhile joins them), unless the answer ends.
      const hold = lastToken + interval - performance.now();
      if (hold > 0 && !ended && queue.every((e) => e.type === "token")) {
        holding = true;
        try {
          await arrival(hold);
        } finally {
          holding = false;
        }
        continue;
      }
      const event = take();
      if (event.type === "token") lastToken = performance.now();
      room?.();
      yield event;
    }
  } finally {
    stopped = true;
    room?.();
    // The read in flight settles first (a source cannot be ended in the middle of a step);
    // then the source is ended, unless it already was.
    await reader;
    await iterator.return?.();
  }
}
