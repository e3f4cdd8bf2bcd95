import type { Context } from "hono";
import { replaceBigInts } from "ponder";

/** c.json for values with bigints (as decimal strings). */
export function json(c: Context, value: unknown, status: 200 = 200) {
  return c.json(replaceBigInts(value, (v) => v.toString()) as object, status);
}
