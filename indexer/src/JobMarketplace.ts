/**
 * JobMarketplace: jobs, their status history and disputes, the offer catalog, the
 * marketplace's parameters, host performance.
 */
import type { Context } from "ponder:registry";
import { dispute, job, jobStatusChange, marketplaceConfig, model, offer } from "ponder:schema";
import { jobMarketplaceAbi } from "../../abis/index.ts";
import { bumpDaily, bumpModel, markActive, updateHost } from "./lib/host-stats.ts";
import { indexContract } from "./lib/index-contract.ts";
import { bytes32ToText, eventId, JOB_STATUS, SETTLEMENT } from "./lib/values.ts";

type JobRow = typeof job.$inferSelect;
type JobStatus = JobRow["status"];
interface EventMeta {
  block: { number: bigint; timestamp: bigint };
  log: { logIndex: number };
  transaction: { hash: `0x${string}` };
}

/** Moves a job to `status`, records the change in its history, and returns the row before the change. */
async function transition(
  db: Context["db"],
  event: EventMeta,
  id: bigint,
  status: JobStatus,
  change: (row: JobRow) => Partial<JobRow> = () => ({}),
): Promise<JobRow | null> {
  const row = await db.find(job, { id });
  if (!row) return null;
  await db.update(job, { id }).set({ ...change(row), status });
  await db.insert(jobStatusChange).values({
    id: eventId(event),
    jobId: id,
    status,
    at: event.block.timestamp,
    blockNumber: event.block.number,
    txHash: event.transaction.hash,
  });
  return row;
}

const CONFIG_ID = "JobMarketplace";

/** Upserts parameters of the marketplace (initialize emits each one first). */
async function setConfig(
  db: Context["db"],
  at: bigint,
  change: Partial<Omit<typeof marketplaceConfig.$inferInsert, "id" | "updatedAt">>,
): Promise<void> {
  await db
    .insert(marketplaceConfig)
    .values({ id: CONFIG_ID, ...change, updatedAt: at })
    .onConflictDoUpdate({ ...change, updatedAt: at });
}

/**
 * A dispute settled by the arbiter is lost by the host below half of the payment, as the
 * ReputationSystem records it (JobMarketplace.resolveDispute); the default is neither side's loss.
 */
function outcomeOf(settlement: (typeof SETTLEMENT)[number], hostBps: number) {
  if (settlement === "Unarbitrated") return "Unarbitrated" as const;
  return hostBps < 5_000 ? ("HostLost" as const) : ("HostWon" as const);
}

indexContract("JobMarketplace", jobMarketplaceAbi, {
  OfferRegistered: async ({ event, context }) => {
    const { offerId, modelId, token, minScore } = event.args;
    await context.db.insert(offer).values({ id: offerId, modelId, token, minScore });
  },
  DisputeWindowUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { disputeWindow: event.args.current });
  },
  ClaimTimeoutUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { claimTimeout: event.args.current });
  },
  ArbitrationWindowUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { arbitrationWindow: event.args.current });
  },
  DisputeBondUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { disputeBondBps: event.args.currentBps });
  },
  ReputationUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { reputation: event.args.current });
  },
  JobPosted: async ({ event, context }) => {
    const a = event.args;
    const at = event.block.timestamp;
    const deposit = a.maxTokens * a.maxPricePerToken;
    const chosen = BigInt(a.host) === 0n ? null : a.host;
    await context.db.insert(job).values({
      id: a.jobId,
      renter: a.renter,
      chosenHost: chosen,
      modelId: a.modelId,
      token: a.token,
      promptHash: a.promptHash,
      maxTokens: Number(a.maxTokens),
      maxPricePerToken: a.maxPricePerToken,
      deposit,
      status: "Posted",
      deadline: a.deadline,
      minScore: a.minScore,
      postedAt: at,
    });
    await context.db.insert(jobStatusChange).values({
      id: eventId(event),
      jobId: a.jobId,
      status: "Posted",
      at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await bumpModel(context.db, a.modelId, (m) => ({ jobsPosted: m.jobsPosted + 1 }));
    await bumpDaily(context.db, at, (d) => ({ jobsPosted: d.jobsPosted + 1 }));
  },
  JobClaimed: async ({ event, context }) => {
    const { jobId, host, pricePerToken } = event.args;
    const at = event.block.timestamp;
    await transition(context.db, event, jobId, "Claimed", () => ({
      host,
      pricePerToken,
      claimedAt: at,
    }));
    await updateHost(context.db, host, at, (h) => ({ jobsClaimed: h.jobsClaimed + 1 }));
    await markActive(context.db, host, at);
  },
  JobCompleted: async ({ event, context }) => {
    const { jobId, host, outputHash, tokensUsed, disputeDeadline } = event.args;
    const at = event.block.timestamp;
    const before = await transition(context.db, event, jobId, "Completed", () => ({
      outputHash,
      tokensUsed: Number(tokensUsed),
      disputeEndsAt: disputeDeadline,
      completedAt: at,
    }));
    const took = before?.claimedAt != null ? at - before.claimedAt : 0n;
    await updateHost(context.db, host, at, (h) => ({
      jobsCompleted: h.jobsCompleted + 1,
      tokensServed: h.tokensServed + tokensUsed,
      completionSecondsTotal: h.completionSecondsTotal + took,
    }));
    if (before) {
      await context.db
        .update(model, { id: before.modelId })
        .set((m) => ({ tokensServed: m.tokensServed + tokensUsed }));
    }
    await markActive(context.db, host, at);
  },
  JobDisputed: async ({ event, context }) => {
    const { jobId, renter, reason, bond, arbitrationDeadline } = event.args;
    const at = event.block.timestamp;
    const before = await transition(context.db, event, jobId, "Disputed");
    if (!before?.host) return;
    await context.db.insert(dispute).values({
      jobId,
      renter,
      host: before.host,
      token: before.token,
      reason,
      reasonText: bytes32ToText(reason),
      bond,
      arbitrationDeadline,
      outcome: "Open",
      openedAt: at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await updateHost(context.db, before.host, at, (h) => ({ jobsDisputed: h.jobsDisputed + 1 }));
  },
  JobSettled: async ({ event, context }) => {
    const { jobId, settlement, hostBps } = event.args;
    const at = event.block.timestamp;
    const kind = SETTLEMENT[settlement];
    if (kind === undefined) throw new Error(`unknown settlement ${settlement} of job ${jobId}`);
    const before = await transition(context.db, event, jobId, "Settled", () => ({
      settlement: kind,
      hostBps,
      finishedAt: at,
    }));
    const disputed = kind === "Resolved" || kind === "Unarbitrated";
    if (disputed && (await context.db.find(dispute, { jobId }))) {
      await context.db
        .update(dispute, { jobId })
        .set({ outcome: outcomeOf(kind, hostBps), hostBps, settledAt: at });
    }
    if (before?.host) {
      const lost = disputed && outcomeOf(kind, hostBps) === "HostLost" ? 1 : 0;
      await updateHost(context.db, before.host, at, (h) => ({
        jobsSettled: h.jobsSettled + 1,
        disputesLost: h.disputesLost + lost,
      }));
    }
    await bumpDaily(context.db, at, (d) => ({ jobsSettled: d.jobsSettled + 1 }));
  },
  JobCancelled: async ({ event, context }) => {
    const at = event.block.timestamp;
    await transition(context.db, event, event.args.jobId, "Cancelled", () => ({ finishedAt: at }));
    await bumpDaily(context.db, at, (d) => ({ jobsCancelled: d.jobsCancelled + 1 }));
  },
  JobRefused: async ({ event, context }) => {
    const { jobId, host, reason } = event.args;
    const at = event.block.timestamp;
    await transition(context.db, event, jobId, "Refused", () => ({
      refusalReason: bytes32ToText(reason),
      finishedAt: at,
    }));
    // Neither a completion nor a failure (see protocol/reputation.ts); counted on its own.
    await updateHost(context.db, host, at, (h) => ({ jobsRefused: h.jobsRefused + 1 }));
    await bumpDaily(context.db, at, (d) => ({ jobsRefused: d.jobsRefused + 1 }));
  },
  JobExpired: async ({ event, context }) => {
    const { jobId, previous } = event.args;
    const at = event.block.timestamp;
    const before = await transition(context.db, event, jobId, "Expired", () => ({
      finishedAt: at,
    }));
    if (before?.host && JOB_STATUS[previous] === "Claimed") {
      await updateHost(context.db, before.host, at, (h) => ({ jobsExpired: h.jobsExpired + 1 }));
    }
    await bumpDaily(context.db, at, (d) => ({ jobsExpired: d.jobsExpired + 1 }));
  },
});
