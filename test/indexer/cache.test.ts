/** The discovery response cache (api/cache.ts) on a plain Hono app: hits, expiry, bypass, bounds. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { describe, it } from "vitest";
import { responseCache } from "../../api/cache.ts";

function app(ttlMs: number, maxEntries = 10) {
  let calls = 0;
  const a = new Hono();
  a.use("*", responseCache({ ttlMs, maxEntries }));
  a.get("/n", (c) => c.json({ n: ++calls, q: c.req.query("q") ?? null }));
  a.get("/missing", (c) => c.json({ n: ++calls }, 404));
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await a.request(path, { headers });
    const body = (await res.json()) as { n: number; q?: string | null };
    return { cache: res.headers.get("x-cache"), status: res.status, body };
  };
  return { get, calls: () => calls };
}

describe("discovery response cache", () => {
  it("answers a repeated GET from memory until the TTL passes", async () => {
    const { get, calls } = app(100);
    assert.deepEqual(await get("/n"), { cache: "miss", status: 200, body: { n: 1, q: null } });
    assert.deepEqual(await get("/n"), { cache: "hit", status: 200, body: { n: 1, q: null } });
    assert.equal(calls(), 1);
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual((await get("/n")).body, { n: 2, q: null });
  });

  it("keys on the full query string and never caches errors", async () => {
    const { get, calls } = app(10_000);
    assert.equal((await get("/n?q=a")).body.q, "a");
    assert.equal((await get("/n?q=b")).body.q, "b");
    assert.equal((await get("/n?q=a")).cache, "hit");
    await get("/missing");
    const again = await get("/missing");
    assert.equal(again.status, 404);
    assert.equal(again.cache, "miss");
    assert.equal(calls(), 4);
  });

  it("is bypassed and refreshed by Cache-Control: no-cache, and off at TTL 0", async () => {
    const { get } = app(10_000);
    await get("/n");
    const fresh = await get("/n", { "cache-control": "no-cache" });
    assert.equal(fresh.cache, "miss");
    assert.equal(fresh.body.n, 2);
    assert.equal((await get("/n")).body.n, 2);
    const off = app(0);
    await off.get("/n");
    assert.equal((await off.get("/n")).body.n, 2);
  });

  it("keeps at most maxEntries answers, evicting the oldest", async () => {
    const { get, calls } = app(10_000, 2);
    await get("/n?q=1");
    await get("/n?q=2");
    await get("/n?q=3");
    assert.equal((await get("/n?q=3")).cache, "hit");
    assert.equal((await get("/n?q=1")).cache, "miss");
    assert.equal(calls(), 4);
  });
});
