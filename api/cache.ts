/**
 * A short-lived response cache for discovery routes. Indexed data changes at most once per
 * block (2 s on Base), while renters ask the same few questions ("hosts for model X by
 * price") many times a second; serving those from memory for `ttlMs` keeps the database out
 * of the hot path. A response is at most `ttlMs` older than the index; a request with
 * `Cache-Control: no-cache` bypasses the cache (and refreshes it). Only 200 responses to GET
 * are kept, at most `maxEntries` of them (oldest evicted first). `X-Cache` says hit or miss.
 */
import type { MiddlewareHandler } from "hono";

export interface CacheOptions {
  ttlMs: number;
  maxEntries: number;
}

/** Larger answers are not kept (bounds the cache's memory to maxEntries x 256 KB). */
const MAX_BODY = 256 * 1024;

interface Entry {
  body: string;
  contentType: string;
  expires: number;
}

export function responseCache({ ttlMs, maxEntries }: CacheOptions): MiddlewareHandler {
  const entries = new Map<string, Entry>();
  return async (c, next) => {
    if (ttlMs <= 0 || c.req.method !== "GET") return next();
    const key = c.req.url;
    const now = Date.now();
    const bypass = /no-cache|no-store/.test(c.req.header("cache-control") ?? "");
    const hit = bypass ? undefined : entries.get(key);
    if (hit && hit.expires > now) {
      c.header("X-Cache", "hit");
      return c.body(hit.body, 200, { "content-type": hit.contentType });
    }
    await next();
    c.res.headers.set("X-Cache", "miss");
    if (c.res.status !== 200) return;
    const body = await c.res.clone().text();
    if (body.length > MAX_BODY) return;
    entries.delete(key);
    entries.set(key, {
      body,
      contentType: c.res.headers.get("content-type") ?? "application/json",
      expires: now + ttlMs,
    });
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
  };
}
