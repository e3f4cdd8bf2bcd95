/**
 * GET /hosts (discovery with filters, sorting and cursor pagination) and GET /hosts/:address.
 * `score` is the ReputationSystem's (as last emitted): the score renters' minimum scores are
 * checked against on chain; `indexerScore` is the indexer's own from its counters.
 */

import { db } from "ponder:api";
import {
  challenge,
  dispute,
  host,
  hostEarning,
  hostModel,
  hostOffer,
  hostProofRecord,
  hostReputation,
  offence,
  proof,
  rating,
  registryConfig,
} from "ponder:schema";
import { Hono } from "hono";
import { and, asc, desc, eq, gt, ilike, lt, lte, sql } from "ponder";

type SQL = ReturnType<typeof eq>;

import { reputation } from "../../protocol/reputation.ts";
import { eligibleHost, REGISTRY_CONFIG_ID } from "../eligibility.ts";
import { InvalidParameterError, NotFoundError } from "../errors.ts";
import { address, hostsQuery, parse } from "../params.ts";
import { emptyRecord, ratingAverage, recordOf } from "../record.ts";
import { json } from "../serialize.ts";

type Sort = "price" | "score" | "recent";
interface Cursor {
  k: string;
  a: string;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

function decodeCursor(raw: string, sort: Sort): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Cursor;
    const keyOk = sort === "recent" || sort === "price" ? /^\d+$/.test(c.k) : /^\d{1,4}$/.test(c.k);
    if (typeof c.a !== "string" || !/^0x[0-9a-f]{40}$/.test(c.a) || !keyOk)
      throw new Error("shape");
    return c;
  } catch {
    throw new InvalidParameterError(
      "cursor",
      "not a cursor returned by this endpoint for this sort",
    );
  }
}

/** How many of a host's latest ratings, offences, disputes, challenges and proofs its page lists. */
const RECENT = 20;

export const hosts = new Hono();

hosts.get("/", async (c) => {
  const q = parse(hostsQuery, c.req.query());
  if (q.sort === "price" && !q.model)
    throw new InvalidParameterError("sort", "sort=price needs model");
  if (q.maxPrice !== undefined && !q.model)
    throw new InvalidParameterError("maxPrice", "maxPrice needs model");

  const where: (SQL | undefined)[] = [];
  if (q.minScore !== undefined) where.push(sql`${host.score} >= ${q.minScore}`);
  if (q.region) where.push(ilike(host.region, q.region));
  if (q.gpu) where.push(ilike(host.gpuModel, `%${q.gpu}%`));
  if (q.maxPrice !== undefined) where.push(lte(hostOffer.pricePerToken, q.maxPrice));

  // Keyset pagination: (key, address) strictly after the cursor in the sort order.
  const key =
    q.sort === "price"
      ? hostOffer.pricePerToken
      : q.sort === "score"
        ? host.score
        : host.registeredAt;
  if (q.cursor) {
    const cur = decodeCursor(q.cursor, q.sort);
    const k = q.sort === "score" ? Number(cur.k) : BigInt(cur.k);
    const after = q.sort === "price" ? gt(key, k) : lt(key, k);
    where.push(sql`(${after} or (${key} = ${k} and ${host.address} > ${cur.a}))`);
  }
  const order = q.sort === "price" ? asc(key) : desc(key);

  const columns = {
    address: host.address,
    score: host.score,
    stake: host.stake,
    region: host.region,
    gpuModel: host.gpuModel,
    vramMiB: host.vramMiB,
    gpuCount: host.gpuCount,
    httpUrl: host.httpUrl,
    peerId: host.peerId,
    multiaddrs: host.multiaddrs,
    registeredAt: host.registeredAt,
    jobsCompleted: host.jobsCompleted,
    sessionsServed: host.sessionsServed,
    sessionTokensServed: host.sessionTokensServed,
    scoreAt: host.scoreAt,
    indexerScore: host.indexerScore,
    slashed: host.slashed,
    offences: sql<number>`coalesce(${hostReputation.offences}, 0)`.mapWith(Number),
    ratingCount: sql<number>`coalesce(${hostReputation.ratings}, 0)`.mapWith(Number),
    ratingWeight: hostReputation.ratingWeight,
    weightedStars: hostReputation.weightedStars,
    starsTotal: hostReputation.starsTotal,
  };
  const withRecord = eq(hostReputation.host, host.address);
  // With a model: its price in the token and the context length the host advertises for it
  // (null when it advertises none). Without one, both are null.
  const base = q.model
    ? db
        .select({
          ...columns,
          pricePerToken: hostOffer.pricePerToken,
          contextLength: hostModel.contextLength,
        })
        .from(host)
        .innerJoin(registryConfig, eligibleHost)
        .innerJoin(
          hostOffer,
          and(
            eq(hostOffer.host, host.address),
            eq(hostOffer.modelId, q.model),
            eq(hostOffer.token, q.token),
          ),
        )
        .leftJoin(
          hostModel,
          and(eq(hostModel.host, host.address), eq(hostModel.modelId, hostOffer.modelId)),
        )
        .leftJoin(hostReputation, withRecord)
    : db
        .select({
          ...columns,
          pricePerToken: sql<bigint | null>`null`,
          contextLength: sql<number | null>`null`,
        })
        .from(host)
        .innerJoin(registryConfig, eligibleHost)
        .leftJoin(hostReputation, withRecord);
  const rows = await base
    .where(and(...where))
    .orderBy(order, asc(host.address))
    .limit(q.limit + 1);

  // The rating sums stay internal: each host shows its count and weighted average stars.
  const page = rows.slice(0, q.limit).map(({ ratingWeight, weightedStars, starsTotal, ...h }) => ({
    ...h,
    ratingAverage: ratingAverage({
      ratings: h.ratingCount,
      ratingWeight: ratingWeight ?? 0n,
      weightedStars: weightedStars ?? 0n,
      starsTotal: starsTotal ?? 0,
    }),
  }));
  const last = page.at(-1);
  const nextKey = last
    ? q.sort === "price"
      ? String(last.pricePerToken)
      : q.sort === "score"
        ? String(last.score)
        : String(last.registeredAt)
    : undefined;
  const nextCursor =
    rows.length > q.limit && last && nextKey ? encodeCursor({ k: nextKey, a: last.address }) : null;
  return json(c, { hosts: page, nextCursor });
});

hosts.get("/:address", async (c) => {
  const addr = parse(address, c.req.param("address"));
  const [
    [row],
    models,
    offers,
    earnings,
    [record],
    ratings,
    offences,
    disputes,
    [proofRecord],
    challenges,
    proofs,
  ] = await Promise.all([
    db
      .select({ host, minimumStake: registryConfig.minimumStake })
      .from(host)
      .leftJoin(registryConfig, eq(registryConfig.id, REGISTRY_CONFIG_ID))
      .where(eq(host.address, addr)),
    db
      .select({ modelId: hostModel.modelId, contextLength: hostModel.contextLength })
      .from(hostModel)
      .where(eq(hostModel.host, addr))
      .orderBy(asc(hostModel.modelId)),
    db.select().from(hostOffer).where(eq(hostOffer.host, addr)),
    db.select().from(hostEarning).where(eq(hostEarning.host, addr)),
    db.select().from(hostReputation).where(eq(hostReputation.host, addr)),
    db.select().from(rating).where(eq(rating.host, addr)).orderBy(desc(rating.id)).limit(RECENT),
    db.select().from(offence).where(eq(offence.host, addr)).orderBy(desc(offence.id)).limit(RECENT),
    db
      .select()
      .from(dispute)
      .where(eq(dispute.host, addr))
      .orderBy(desc(dispute.jobId))
      .limit(RECENT),
    db.select().from(hostProofRecord).where(eq(hostProofRecord.host, addr)),
    db
      .select()
      .from(challenge)
      .where(eq(challenge.host, addr))
      .orderBy(desc(challenge.id))
      .limit(RECENT),
    db.select().from(proof).where(eq(proof.host, addr)).orderBy(desc(proof.id)).limit(RECENT),
  ]);
  if (!row) throw new NotFoundError(`host ${addr}`);
  const minimumStake = row.minimumStake ?? 0n;
  const h = row.host;
  const rep = reputation({ ...h, at: h.updatedAt });
  // Over the claims the host kept: a refused job is neither a completion nor a failure.
  const kept = h.jobsClaimed - h.jobsRefused;
  const completionRate = kept <= 0 ? null : h.jobsCompleted / kept;
  const meanCompletionSeconds =
    h.jobsCompleted === 0 ? null : Number(h.completionSecondsTotal) / h.jobsCompleted;
  // Settled sessions in which the host presented a receipt (an unused session is the renter's choice as often as the host's failure).
  const sessionServedRate = h.sessionsSettled === 0 ? null : h.sessionsServed / h.sessionsSettled;
  return json(c, {
    ...h,
    // What the registry's checkEligible requires before any price check.
    eligible: h.status === "Active" && h.stake >= minimumStake,
    minimumStake,
    models,
    offers,
    earnings,
    performance: { completionRate, meanCompletionSeconds, sessionServedRate },
    // The indexer's own score with its components (protocol/reputation.ts); `score` is the chain's.
    reputation: rep,
    // The on-chain record (ReputationSystem events: counts, slashes, ratings; ProofSystem events:
    // proofs, challenges by outcome); and the latest ratings, offences, disputes, challenges of
    // its work and proofs themselves, newest first.
    record: recordOf(record ?? emptyRecord(addr, h.score, h.scoreAt), proofRecord),
    ratings,
    offences,
    disputes,
    challenges,
    proofs,
  });
});
