/**
 * GET /challenges (newest first, filtered, cursor pagination) and GET /challenges/:id with the
 * offence it recorded and the proofs of its work. A challenge is economic, not a proof: its
 * `status` says how it ended (docs/proofs.md).
 */

import { db } from "ponder:api";
import { challenge, offence, proof } from "ponder:schema";
import { Hono } from "hono";
import { and, asc, desc, eq, lt } from "ponder";
import { NotFoundError } from "../errors.ts";
import { challengeIdParam, challengesQuery, parse } from "../params.ts";
import { json } from "../serialize.ts";

export const challenges = new Hono();

challenges.get("/", async (c) => {
  const q = parse(challengesQuery, c.req.query());
  const rows = await db
    .select()
    .from(challenge)
    .where(
      and(
        q.host ? eq(challenge.host, q.host) : undefined,
        q.challenger ? eq(challenge.challenger, q.challenger) : undefined,
        q.kind ? eq(challenge.kind, q.kind) : undefined,
        q.status ? eq(challenge.status, q.status) : undefined,
        q.work ? eq(challenge.work, q.work) : undefined,
        q.job !== undefined ? eq(challenge.jobId, q.job) : undefined,
        q.session !== undefined ? eq(challenge.sessionId, q.session) : undefined,
        q.cursor !== undefined ? lt(challenge.id, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(challenge.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? String(last.id) : null;
  return json(c, { challenges: page, nextCursor });
});

challenges.get("/:id", async (c) => {
  const id = parse(challengeIdParam, c.req.param("id"));
  const [[row], [recorded]] = await Promise.all([
    db.select().from(challenge).where(eq(challenge.id, id)),
    db.select().from(offence).where(eq(offence.challengeId, id)),
  ]);
  if (!row) throw new NotFoundError(`challenge ${id}`);
  // The work's proofs: whether (and when) the host proved the count challenged.
  const workId = row.jobId ?? row.sessionId;
  const proofs =
    workId === null
      ? []
      : await db
          .select()
          .from(proof)
          .where(eq(row.work === "Job" ? proof.jobId : proof.sessionId, workId))
          .orderBy(asc(proof.id));
  return json(c, { ...row, offence: recorded ?? null, proofs });
});
