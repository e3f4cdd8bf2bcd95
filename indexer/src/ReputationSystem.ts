/**
 * ReputationSystem: each host's on-chain record (work, ratings, disputes won, offences and
 * their slashes) with the score every event carries, the ratings, the offences, refused
 * slashes, the registry-stake tiers, and the contract's parameters. Nothing is read from the chain: the score is the one
 * the event emitted (the contract decays it toward neutral between events; see docs/indexer.md).
 */
import type { Context } from "ponder:registry";
import {
  challenge,
  dispute,
  job,
  offence,
  rating,
  reputationConfig,
  slashFailure,
  stakeTier,
} from "ponder:schema";
import { reputationSystemAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";
import { updateRecord } from "./lib/reputation.ts";
import { eventId, OFFENCE, workOf } from "./lib/values.ts";

const CONFIG_ID = "ReputationSystem";

async function setConfig(
  db: Context["db"],
  at: bigint,
  change: Partial<Omit<typeof reputationConfig.$inferInsert, "id" | "updatedAt">>,
): Promise<void> {
  await db
    .insert(reputationConfig)
    .values({ id: CONFIG_ID, ...change, updatedAt: at })
    .onConflictDoUpdate({ ...change, updatedAt: at });
}

indexContract("ReputationSystem", reputationSystemAbi, {
  WorkRecorded: async ({ event, context }) => {
    const { kind, id, host, tokens, duration, score } = event.args;
    const isJob = workOf(kind, id).kind === "Job";
    await updateRecord(context.db, host, event.block.timestamp, score, (r) => ({
      jobs: r.jobs + (isJob ? 1 : 0),
      sessions: r.sessions + (isJob ? 0 : 1),
      tokens: r.tokens + tokens,
      jobSecondsTotal: r.jobSecondsTotal + (isJob ? duration : 0n),
    }));
  },
  Rated: async ({ event, context }) => {
    const { kind, id, host, renter, stars, weight, score } = event.args;
    const at = event.block.timestamp;
    await context.db.insert(rating).values({
      id: eventId(event),
      ...workOf(kind, id),
      host,
      renter,
      stars,
      weight,
      score,
      at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await updateRecord(context.db, host, at, score, (r) => ({
      ratings: r.ratings + 1,
      starsTotal: r.starsTotal + stars,
      ratingWeight: r.ratingWeight + weight,
      weightedStars: r.weightedStars + weight * BigInt(stars),
    }));
  },
  DisputeWon: async ({ event, context }) => {
    const { host, score } = event.args;
    await updateRecord(context.db, host, event.block.timestamp, score, (r) => ({
      disputesWon: r.disputesWon + 1,
    }));
  },
  OffenceRecorded: async ({ event, context }) => {
    const a = event.args;
    const at = event.block.timestamp;
    const kind = OFFENCE[a.offence];
    if (kind === undefined) throw new Error(`unknown offence ${a.offence} of ${a.host}`);
    // The marketplace names the job in `ref`; the ProofSystem names its challenge (of this host).
    const ref = BigInt(a.ref);
    const isChallenge = kind === "ChallengeLost";
    const jobId = !isChallenge && (await context.db.find(job, { id: ref })) ? ref : null;
    const lost = isChallenge ? await context.db.find(challenge, { id: ref }) : null;
    const challengeId = lost && lost.host.toLowerCase() === a.host.toLowerCase() ? ref : null;
    await context.db.insert(offence).values({
      id: eventId(event),
      offence: kind,
      host: a.host,
      wronged: BigInt(a.wronged) === 0n ? null : a.wronged,
      ref: a.ref,
      jobId,
      challengeId,
      slashed: a.slashed,
      compensation: a.compensation,
      count: Number(a.count),
      score: a.score,
      at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await updateRecord(context.db, a.host, at, a.score, (r) => ({
      abandoned: r.abandoned + (kind === "AbandonedClaim" ? 1 : 0),
      disputesLost: r.disputesLost + (kind === "DisputeLost" ? 1 : 0),
      challengesLost: r.challengesLost + (kind === "ChallengeLost" ? 1 : 0),
      offences: r.offences + 1,
      slashed: r.slashed + a.slashed,
      compensation: r.compensation + a.compensation,
    }));
    if (kind === "DisputeLost" && jobId !== null && (await context.db.find(dispute, { jobId }))) {
      await context.db.update(dispute, { jobId }).set({ slashed: a.slashed });
    }
  },
  SlashFailed: async ({ event, context }) => {
    const { host, amount, reason } = event.args;
    const at = event.block.timestamp;
    await context.db.insert(slashFailure).values({
      id: eventId(event),
      host,
      amount,
      reason,
      at,
      txHash: event.transaction.hash,
    });
    await updateRecord(context.db, host, at, null, (r) => ({
      slashFailures: r.slashFailures + 1,
    }));
  },
  HalfLifeUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { halfLife: event.args.current });
  },
  SlashingUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { ...event.args });
  },
  FeeDiscountUpdated: async ({ event, context }) => {
    const { minScore, discountBps } = event.args;
    await setConfig(context.db, event.block.timestamp, {
      discountMinScore: minScore,
      discountBps,
    });
  },
  TreasuryUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { treasury: event.args.current });
  },
  StakeTiersUpdated: async ({ event, context }) => {
    const { minStakes, discountsBps } = event.args;
    const at = event.block.timestamp;
    // The list replaces the previous one: rows past its end go.
    const previous = (await context.db.find(reputationConfig, { id: CONFIG_ID }))?.stakeTierCount;
    for (let tier = minStakes.length; tier < (previous ?? 0); tier++) {
      await context.db.delete(stakeTier, { tier });
    }
    for (const [tier, minStake] of minStakes.entries()) {
      const discountBps = discountsBps[tier] ?? 0;
      await context.db
        .insert(stakeTier)
        .values({ tier, minStake, discountBps, updatedAt: at })
        .onConflictDoUpdate({ minStake, discountBps, updatedAt: at });
    }
    await setConfig(context.db, at, { stakeTierCount: minStakes.length });
  },
});
