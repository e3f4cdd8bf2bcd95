/**
 * GET /sessions (filtered, newest first, cursor pagination) and GET /sessions/:id with its
 * checkpoints, payments, accepted proofs and the challenges of its work.
 */

import { db } from "ponder:api";
import { challenge, payment, proof, session, sessionCheckpoint } from "ponder:schema";
import { Hono } from "hono";
import { and, asc, desc, eq, lt } from "ponder";
import { NotFoundError } from "../errors.ts";
import { parse, sessionIdParam, sessionsQuery } from "../params.ts";
import { json } from "../serialize.ts";

export const sessions = new Hono();

sessions.get("/", async (c) => {
  const q = parse(sessionsQuery, c.req.query());
  const rows = await db
    .select()
    .from(session)
    .where(
      and(
        q.renter ? eq(session.renter, q.renter) : undefined,
        q.host ? eq(session.host, q.host) : undefined,
        q.model ? eq(session.modelId, q.model) : undefined,
        q.token ? eq(session.token, q.token) : undefined,
        q.status ? eq(session.status, q.status) : undefined,
        q.cursor !== undefined ? lt(session.openedEvent, q.cursor) : undefined,
      ),
    )
    // Newest first by the opening log (session ids are terms hashes, not a sequence).
    .orderBy(desc(session.openedEvent))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? last.openedEvent : null;
  return json(c, { sessions: page, nextCursor });
});

sessions.get("/:id", async (c) => {
  const id = parse(sessionIdParam, c.req.param("id"));
  const [[row], checkpoints, payments, proofs, challenges] = await Promise.all([
    db.select().from(session).where(eq(session.id, id)),
    db
      .select()
      .from(sessionCheckpoint)
      .where(eq(sessionCheckpoint.sessionId, id))
      .orderBy(asc(sessionCheckpoint.id)),
    db
      .select()
      .from(payment)
      .where(and(eq(payment.source, "session"), eq(payment.sessionId, id)))
      .orderBy(asc(payment.id)),
    db.select().from(proof).where(eq(proof.sessionId, id)).orderBy(asc(proof.id)),
    db.select().from(challenge).where(eq(challenge.sessionId, id)).orderBy(asc(challenge.id)),
  ]);
  if (!row) throw new NotFoundError(`session ${id}`);
  return json(c, { ...row, checkpoints, payments, proofs, challenges });
});
