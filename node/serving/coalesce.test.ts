/**
 * The token coalescer on scripted sources: what it must keep (first token at once, order,
 * `done` as is, errors after the tokens before them, exact counts) and what it may merge.
 * The transports that use it are tested with the real engine in node/http and node/p2p.
 * Most cases set `minIntervalMs: 0` (join only what is ready); the hold has its own cases.
 */
import assert from "node:assert/strict";
import { setImmediate as tick } from "node:timers/promises";
import { describe, it } from "vitest";
import type { GenerationEvent } from "../../protocol/wire.ts";
import { RequestTimeoutError } from "../errors.ts";
import { coalesceTokens } from "./coalesce.ts";

const token = (text: string): GenerationEvent => ({ type: "token", text });
const done = (text: string, completionTokens: number): GenerationEvent => ({
  type: "done",
  text,
  finishReason: "length",
  usage: { promptTokens: 5, completionTokens },
  cached: false,
});

/** A gate the scripted sources wait on: `open()` lets them go on. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

async function collect(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const textOf = (events: GenerationEvent[]) =>
  events.map((e) => (e.type === "token" ? e.text : "")).join("");

describe("coalesceTokens", () => {
  it("hands on the first token at once, while the source is still working on the next", async () => {
    const g = gate();
    let read = 0;
    const events = coalesceTokens(
      (async function* () {
        read++;
        yield token("first");
        await g.opened;
        read++;
        yield token(" second");
        yield done("first second", 2);
      })(),
      { minIntervalMs: 0 },
    );
    assert.deepEqual((await events.next()).value, token("first"));
    assert.equal(read, 1, "the second token is not made yet");
    g.open();
    assert.deepEqual(await collect(events), [token(" second"), done("first second", 2)]);
  });

  it("joins the tokens that arrived while the consumer was busy into one event, in order", async () => {
    const g = gate();
    const pieces = ["b", "c", "d", "e"];
    const events = coalesceTokens(
      (async function* () {
        yield token("a");
        await g.opened;
        for (const p of pieces) yield token(p);
        yield done("abcde", 5);
      })(),
      { minIntervalMs: 0 },
    );
    assert.deepEqual((await events.next()).value, token("a"));
    g.open();
    // The consumer is busy writing "a": the source runs on meanwhile.
    await tick();
    assert.deepEqual(await collect(events), [token("bcde"), done("abcde", 5)]);
  });

  it("reads the source ahead while the consumer waits on a slow write", async () => {
    const produced: number[] = [];
    const events = coalesceTokens(
      (async function* () {
        for (let i = 0; i < 6; i++) {
          produced.push(i);
          yield token(String(i));
          await tick();
        }
        yield done("012345", 6);
      })(),
      { minIntervalMs: 0 },
    );
    const first = await events.next();
    assert.deepEqual(first.value, token("0"));
    // A write that takes a while: the source does not wait for it.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(produced.length, 6);
    assert.deepEqual(await collect(events), [token("12345"), done("012345", 6)]);
  });

  it("keeps the text, the order and the exact counts on a source with random pauses", async () => {
    let text = "";
    const source = async function* () {
      for (let i = 0; i < 200; i++) {
        const piece = `${i}${"é".repeat(i % 3)} `;
        text += piece;
        yield token(piece);
        if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
        else if (i % 3 === 0) await tick();
      }
      yield done(text, 200);
    };
    const out: GenerationEvent[] = [];
    for await (const e of coalesceTokens(source(), { minIntervalMs: 0 })) {
      out.push(e);
      if (out.length % 2 === 0) await tick(); // a consumer that is sometimes slower
    }
    const last = out.at(-1);
    assert.deepEqual(last, done(text, 200));
    const tokens = out.slice(0, -1);
    assert.ok(tokens.every((e) => e.type === "token" && e.text.length > 0));
    assert.equal(textOf(tokens), text);
    assert.ok(tokens.length < 200, `${tokens.length} events for 200 tokens`);
  });

  it("passes `done` on as it is, and ends after it", async () => {
    const final = done("", 0);
    const out = await collect(
      coalesceTokens(
        (async function* () {
          yield final;
        })(),
      ),
    );
    assert.equal(out.length, 1);
    assert.equal(out[0], final);
  });

  it("raises the source's error after the tokens that came before it", async () => {
    const error = new RequestTimeoutError("request exceeded 10 ms");
    const out: GenerationEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of coalesceTokens(
          (async function* () {
            yield token("a");
            yield token("b");
            throw error;
          })(),
        ))
          out.push(e);
      })(),
      (e: unknown) => e === error,
    );
    assert.equal(textOf(out), "ab");
  });

  it("raises an error the source throws before its first event", async () => {
    await assert.rejects(
      collect(
        coalesceTokens(
          // biome-ignore lint/correctness/useYield: a source that fails before yielding
          (async function* (): AsyncGenerator<GenerationEvent> {
            throw new RequestTimeoutError("queued too long");
          })(),
        ),
      ),
      RequestTimeoutError,
    );
  });

  it("ends the source (its finally runs) when the consumer stops early, and reads no further", async () => {
    let ended = false;
    let produced = 0;
    const source = async function* () {
      try {
        for (let i = 0; i < 1_000; i++) {
          produced++;
          yield token(String(i));
          await new Promise((r) => setTimeout(r, 1));
        }
        yield done("", 1_000);
      } finally {
        ended = true;
      }
    };
    for await (const e of coalesceTokens(source())) if (e.type === "token") break;
    assert.equal(ended, true, "the source ended before the loop did");
    const after = produced;
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(produced, after);
    assert.ok(produced < 1_000);
  });

  it("reads at most maxBuffered events ahead of a consumer that stopped taking them", async () => {
    let produced = 0;
    const events = coalesceTokens(
      (async function* () {
        for (let i = 0; i < 100; i++) {
          produced++;
          yield token("x");
        }
        yield done("x".repeat(100), 100);
      })(),
      { maxBuffered: 8, minIntervalMs: 0 },
    );
    const first = (await events.next()).value as GenerationEvent;
    const before = produced;
    await new Promise((r) => setTimeout(r, 10));
    // 8 queued, and the one read that found the queue full.
    assert.ok(produced - before <= 9, `${produced - before} read ahead`);
    const rest = await collect(events);
    assert.equal(textOf([first, ...rest]).length, 100);
    assert.deepEqual(rest.at(-1), done("x".repeat(100), 100));
  });

  it("holds the tokens that come within the interval of the last token event, and joins them", async () => {
    const interval = 100;
    const sentAt: number[] = [];
    const source = async function* () {
      for (let i = 0; i < 20; i++) {
        yield token(String(i % 10));
        await new Promise((r) => setTimeout(r, 5));
      }
      yield done("01234567890123456789", 20);
    };
    const out: GenerationEvent[] = [];
    const start = performance.now();
    for await (const e of coalesceTokens(source(), { minIntervalMs: interval })) {
      out.push(e);
      if (e.type === "token") sentAt.push(performance.now() - start);
    }
    const tokens = out.slice(0, -1);
    assert.equal(textOf(tokens), "01234567890123456789");
    assert.deepEqual(tokens[0], token("0"), "the first token alone, at once");
    assert.ok((sentAt[0] ?? 99) < interval / 2, `first token after ${sentAt[0]} ms`);
    // 20 tokens 5 ms apart (100 ms or more) in events at least 100 ms apart, but for
    // the last, which `done` may release sooner.
    assert.ok(tokens.length <= 3, `${tokens.length} token events`);
    for (let i = 1; i < sentAt.length - 1; i++)
      assert.ok(
        (sentAt[i] ?? 0) - (sentAt[i - 1] ?? 0) >= interval - 1,
        `events ${i - 1} and ${i} ${(sentAt[i] ?? 0) - (sentAt[i - 1] ?? 0)} ms apart`,
      );
    assert.deepEqual(out.at(-1), done("01234567890123456789", 20));
  });

  it("sends a token that comes after a pause of the interval at once", async () => {
    const interval = 50;
    let madeAt = 0;
    const source = async function* () {
      yield token("a");
      await new Promise((r) => setTimeout(r, interval + 20));
      madeAt = performance.now();
      yield token("b");
      yield done("ab", 2);
    };
    const events = coalesceTokens(source(), { minIntervalMs: interval });
    assert.deepEqual((await events.next()).value, token("a"));
    assert.deepEqual((await events.next()).value, token("b"));
    assert.ok(performance.now() - madeAt < interval / 2, "not held");
    assert.deepEqual(await collect(events), [done("ab", 2)]);
  });

  it("lets `done` release the held tokens at once", async () => {
    const start = performance.now();
    const out = await collect(
      coalesceTokens(
        (async function* () {
          yield token("a");
          await tick();
          yield token("b");
          yield token("c");
          yield done("abc", 3);
        })(),
        { minIntervalMs: 10_000 },
      ),
    );
    assert.deepEqual(out, [token("a"), token("bc"), done("abc", 3)]);
    assert.ok(performance.now() - start < 1_000, "nothing waited for the interval");
  });

  it("lets an error release the held tokens, then raises it", async () => {
    const error = new RequestTimeoutError("request exceeded 10 ms");
    const out: GenerationEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of coalesceTokens(
          (async function* () {
            yield token("a");
            await tick();
            yield token("b");
            throw error;
          })(),
          { minIntervalMs: 10_000 },
        ))
          out.push(e);
      })(),
      (e: unknown) => e === error,
    );
    assert.deepEqual(out, [token("a"), token("b")]);
  });
});
