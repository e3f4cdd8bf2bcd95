/**
 * How the HTTP API streams tokens that come faster than one event per token interval
 * (node/serving/coalesce.ts): a scripted handler stands in for an engine at GPU rates, which
 * the tiny CPU model cannot be relied on to reach on a busy CI machine; server.test.ts streams
 * the real engine.
 */
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { scriptedHandler } from "../../fixtures/p2p.ts";
import { createHttpApp } from "./server.ts";

interface Chunk {
  choices: { delta?: { content?: string }; text?: string }[];
  usage?: { completion_tokens: number };
}

/** The JSON chunks of a chat completion stream, `[DONE]` left out. */
async function chunks(res: Response): Promise<Chunk[]> {
  const body = await res.text();
  return body
    .split("\n\n")
    .map((event) => event.replace(/^data: ?/, ""))
    .filter((data) => data && data !== "[DONE]")
    .map((data) => JSON.parse(data) as Chunk);
}

const request = (tokens: number) =>
  new Request("http://node/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "scripted",
      messages: [{ role: "user", content: "count" }],
      max_tokens: tokens,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });

const contentOf = (all: Chunk[]) =>
  all.map((c) => c.choices[0]?.delta?.content ?? "").filter((text) => text !== "");

describe("HTTP streaming of fast tokens", () => {
  it("joins tokens that come faster than the interval into fewer chunks; text and usage exact", async () => {
    // 60 tokens about 1 ms apart (setTimeout 0).
    const app = createHttpApp({ handler: scriptedHandler(60, 0).handler });
    const res = await app.request(request(60));
    assert.equal(res.status, 200);
    const all = await chunks(res);
    const pieces = contentOf(all);
    assert.equal(pieces[0], "t0 ", "the first token alone");
    assert.ok(pieces.length < 30, `${pieces.length} chunks for 60 tokens`);
    assert.equal(pieces.join(""), Array.from({ length: 60 }, (_, i) => `t${i} `).join(""));
    assert.equal(all.at(-1)?.usage?.completion_tokens, 60);
  });

  it("sends one chunk per token when they come slower than the interval", async () => {
    const app = createHttpApp({ handler: scriptedHandler(4, 30).handler, tokenIntervalMs: 5 });
    const pieces = contentOf(await chunks(await app.request(request(4))));
    assert.deepEqual(pieces, ["t0 ", "t1 ", "t2 ", "t3 "]);
  });
});
