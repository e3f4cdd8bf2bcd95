/** GET /stats/daily: marketplace stats per UTC day, newest first, with volume per token. */

import { db } from "ponder:api";
import { dailyStats, dailyVolume } from "ponder:schema";
import { Hono } from "hono";
import { and, desc, gte, inArray, lte } from "ponder";
import { dailyQuery, parse } from "../params.ts";
import { json } from "../serialize.ts";

export const stats = new Hono();

stats.get("/daily", async (c) => {
  const q = parse(dailyQuery, c.req.query());
  const days = await db
    .select()
    .from(dailyStats)
    .where(
      and(
        q.from ? gte(dailyStats.day, q.from) : undefined,
        q.to ? lte(dailyStats.day, q.to) : undefined,
      ),
    )
    .orderBy(desc(dailyStats.day))
    .limit(q.limit);
  const volumes =
    days.length === 0
      ? []
      : await db
          .select()
          .from(dailyVolume)
          .where(
            inArray(
              dailyVolume.day,
              days.map((d) => d.day),
            ),
          );
  return json(c, {
    days: days.map((d) => ({ ...d, volume: volumes.filter((v) => v.day === d.day) })),
  });
});
