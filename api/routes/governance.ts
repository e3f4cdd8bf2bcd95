/**
 * GET /governance/proposals and /governance/proposals/:id: the governor's proposals, newest
 * first, each with its tally, its quorum at the snapshot (FAB's total supply then times the
 * quorum numerator then, both from the indexed history) and its state as the governor's
 * `state()` would return it at the latest indexed block (api/governance.ts); one proposal comes
 * with its votes.
 */

import { db } from "ponder:api";
import { fabSupplyChange, proposal, quorumNumeratorChange, vote } from "ponder:schema";
import { Hono } from "hono";
import { and, asc, desc, eq, lt, lte } from "ponder";
import { indexedTime } from "../chain-time.ts";
import { NotFoundError } from "../errors.ts";
import { proposalState, quorumOf } from "../governance.ts";
import { parse, proposalIdParam, proposalsQuery } from "../params.ts";
import { json } from "../serialize.ts";

export const governance = new Hono();

type Proposal = typeof proposal.$inferSelect;

/** The quorum at `snapshot`, or null while the snapshot is not yet past (or nothing is known). */
async function quorumAt(snapshot: bigint, now: bigint): Promise<bigint | null> {
  if (snapshot >= now) return null;
  const [[supply], [numerator]] = await Promise.all([
    db
      .select({ supply: fabSupplyChange.supply })
      .from(fabSupplyChange)
      .where(lte(fabSupplyChange.at, snapshot))
      .orderBy(desc(fabSupplyChange.id))
      .limit(1),
    db
      .select({ numerator: quorumNumeratorChange.numerator })
      .from(quorumNumeratorChange)
      .where(lte(quorumNumeratorChange.at, snapshot))
      .orderBy(desc(quorumNumeratorChange.id))
      .limit(1),
  ]);
  if (!supply || !numerator) return null;
  return quorumOf(supply.supply, numerator.numerator);
}

async function withState(p: Proposal, now: bigint) {
  const quorum = await quorumAt(p.voteStart, now);
  const { seq: _seq, ...rest } = p;
  return {
    ...rest,
    quorum,
    quorumReached: quorum === null ? null : quorum <= p.forVotes + p.abstainVotes,
    state: proposalState(p, now, quorum),
  };
}

governance.get("/proposals", async (c) => {
  const q = parse(proposalsQuery, c.req.query());
  const [now, rows] = await Promise.all([
    indexedTime(),
    db
      .select()
      .from(proposal)
      .where(
        and(
          q.proposer ? eq(proposal.proposer, q.proposer) : undefined,
          q.cursor !== undefined ? lt(proposal.seq, q.cursor) : undefined,
        ),
      )
      .orderBy(desc(proposal.seq))
      .limit(q.limit + 1),
  ]);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? last.seq : null;
  const proposals = await Promise.all(page.map((p) => withState(p, now)));
  return json(c, { asOf: now, proposals, nextCursor });
});

governance.get("/proposals/:id", async (c) => {
  const id = parse(proposalIdParam, c.req.param("id"));
  const [now, [row], votes] = await Promise.all([
    indexedTime(),
    db.select().from(proposal).where(eq(proposal.id, id)),
    db
      .select()
      .from(vote)
      .where(eq(vote.proposalId, id))
      .orderBy(asc(vote.blockNumber), asc(vote.voter)),
  ]);
  if (!row) throw new NotFoundError(`proposal ${id}`);
  return json(c, { asOf: now, ...(await withState(row, now)), votes });
});
