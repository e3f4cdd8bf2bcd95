/**
 * GET /tokenomics/pool, /tokenomics/buybacks and /tokenomics/tiers: the stakers pool's totals
 * and reward rates per token (api/tokenomics.ts), the treasury's buybacks with its funds per
 * token, and the tiers (the ReputationSystem's registry-stake tiers, the pool's lock tiers) with
 * the escrow's current fee split.
 */

import { db } from "ponder:api";
import {
  buyback,
  feeSplitChange,
  poolLockTier,
  poolRewardSync,
  poolRewardToken,
  poolState,
  stakeTier,
  treasuryBalance,
} from "ponder:schema";
import { Hono } from "hono";
import { and, asc, desc, eq, gt, lt, sql } from "ponder";
import { indexedTime } from "../chain-time.ts";
import { buybacksQuery, parse } from "../params.ts";
import { json } from "../serialize.ts";
import { DAY, RATE_WINDOW_DAYS, ratePerYear } from "../tokenomics.ts";

export const tokenomics = new Hono();

tokenomics.get("/pool", async (c) => {
  const now = await indexedTime();
  const since = now - RATE_WINDOW_DAYS * DAY;
  const [[pool], tokens, recent] = await Promise.all([
    db.select().from(poolState),
    db.select().from(poolRewardToken).orderBy(asc(poolRewardToken.addedAt)),
    db
      .select({
        token: poolRewardSync.token,
        amount: sql<string>`sum(${poolRewardSync.amount})::text`,
      })
      .from(poolRewardSync)
      .where(gt(poolRewardSync.at, since))
      .groupBy(poolRewardSync.token),
  ]);
  const totalStaked = pool?.totalStaked ?? 0n;
  const hostStake = pool?.hostStake ?? 0n;
  const countedStake = totalStaked + hostStake;
  const totalShares = pool?.totalShares ?? 0n;
  return json(c, {
    asOf: now,
    totalStaked,
    hostStake,
    countedStake,
    totalShares,
    stakers: pool?.stakers ?? 0,
    hostMultiplierBps: pool?.hostMultiplierBps ?? null,
    rewardTokens: tokens.map((t) => {
      const last30Days = BigInt(recent.find((r) => r.token === t.token)?.amount ?? 0);
      return {
        token: t.token,
        distributed: t.distributed,
        claimed: t.claimed,
        unclaimed: t.distributed - t.claimed,
        syncs: t.syncs,
        lastSyncAt: t.lastSyncAt,
        distributedLast30Days: last30Days,
        rewardPerFabPerYear: ratePerYear(last30Days, countedStake),
        rewardPerSharePerYear: ratePerYear(last30Days, totalShares),
      };
    }),
  });
});

tokenomics.get("/buybacks", async (c) => {
  const q = parse(buybacksQuery, c.req.query());
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(buyback)
      .where(
        and(
          q.token ? eq(buyback.token, q.token) : undefined,
          q.destination ? eq(buyback.destination, q.destination) : undefined,
          q.cursor !== undefined ? lt(buyback.id, q.cursor) : undefined,
        ),
      )
      .orderBy(desc(buyback.id))
      .limit(q.limit + 1),
    db.select().from(treasuryBalance).orderBy(asc(treasuryBalance.token)),
  ]);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? last.id : null;
  return json(c, { buybacks: page, nextCursor, treasury: totals });
});

tokenomics.get("/tiers", async (c) => {
  const [stakeTiers, lockTiers, [pool], [feeSplit]] = await Promise.all([
    db.select().from(stakeTier).orderBy(asc(stakeTier.tier)),
    db.select().from(poolLockTier).orderBy(asc(poolLockTier.tier)),
    db.select().from(poolState),
    db.select().from(feeSplitChange).orderBy(desc(feeSplitChange.id)).limit(1),
  ]);
  return json(c, {
    stakeTiers,
    lockTiers,
    hostMultiplierBps: pool?.hostMultiplierBps ?? null,
    feeSplit: feeSplit ?? null,
  });
});
