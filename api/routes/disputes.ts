/** GET /disputes: job disputes, newest first, filtered by host, renter and outcome, with a cursor. */

import { db } from "ponder:api";
import { dispute } from "ponder:schema";
import { Hono } from "hono";
import { and, desc, eq, lt } from "ponder";
import { disputesQuery, parse } from "../params.ts";
import { json } from "../serialize.ts";

export const disputes = new Hono();

disputes.get("/", async (c) => {
  const q = parse(disputesQuery, c.req.query());
  const rows = await db
    .select()
    .from(dispute)
    .where(
      and(
        q.host ? eq(dispute.host, q.host) : undefined,
        q.renter ? eq(dispute.renter, q.renter) : undefined,
        q.outcome ? eq(dispute.outcome, q.outcome) : undefined,
        q.cursor !== undefined ? lt(dispute.jobId, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(dispute.jobId))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? String(last.jobId) : null;
  return json(c, { disputes: page, nextCursor });
});
