/**
 * GET /proofs: accepted output-count proofs (one row per submission), newest first, filtered
 * by host and work, with a cursor. What a proof proves is exactly the billed token count
 * against the committed output (docs/proofs.md).
 */

import { db } from "ponder:api";
import { proof } from "ponder:schema";
import { Hono } from "hono";
import { and, desc, eq, lt } from "ponder";
import { parse, proofsQuery } from "../params.ts";
import { json } from "../serialize.ts";

export const proofs = new Hono();

proofs.get("/", async (c) => {
  const q = parse(proofsQuery, c.req.query());
  const rows = await db
    .select()
    .from(proof)
    .where(
      and(
        q.host ? eq(proof.host, q.host) : undefined,
        q.work ? eq(proof.work, q.work) : undefined,
        q.job !== undefined ? eq(proof.jobId, q.job) : undefined,
        q.session !== undefined ? eq(proof.sessionId, q.session) : undefined,
        q.cursor !== undefined ? lt(proof.id, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(proof.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? last.id : null;
  return json(c, { proofs: page, nextCursor });
});
