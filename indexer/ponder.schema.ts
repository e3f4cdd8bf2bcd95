/**
 * The indexed marketplace: an append-only event log for analysts plus derived state
 * (hosts, offers, models, jobs with their status history, payments, per-host
 * performance, daily stats). Every table is written only by the handlers in src/;
 * the API reads it and never writes.
 *
 * Amounts are token base units (bigint); `token` is the payment token address,
 * 0x000…000 for ETH. Times are unix seconds (bigint) of the block that caused them.
 */
import { index, onchainTable, primaryKey, relations } from "ponder";

/** One row per contract event, in chain order. */
export const eventLog = onchainTable(
  "event_log",
  (t) => ({
    id: t.text().primaryKey(), // `${blockNumber}-${logIndex}`
    contract: t.text().notNull(),
    name: t.text().notNull(),
    args: t.json().notNull(), // decoded arguments; bigints as decimal strings
    blockNumber: t.bigint().notNull(),
    blockTime: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    logIndex: t.integer().notNull(),
  }),
  (t) => ({
    byName: index().on(t.contract, t.name),
    byBlock: index().on(t.blockNumber),
  }),
);

export const host = onchainTable(
  "host",
  (t) => ({
    address: t.hex().primaryKey(),
    status: t.text().notNull(), // Active | Paused | Unregistered
    stake: t.bigint().notNull(),
    unbonding: t.bigint().notNull(),
    unbondingReleaseAt: t.bigint(),
    slashed: t.bigint().notNull(),
    gpuModel: t.text().notNull(),
    vramMiB: t.integer().notNull(),
    gpuCount: t.integer().notNull(),
    region: t.text().notNull(),
    metadataDigest: t.hex().notNull(),
    peerId: t.hex(),
    multiaddrs: t.json().$type<string[]>(),
    httpUrl: t.text(),
    registeredAt: t.bigint().notNull(),
    firstRegisteredAt: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
    // performance (derived from marketplace events)
    jobsClaimed: t.integer().notNull(),
    jobsCompleted: t.integer().notNull(),
    jobsSettled: t.integer().notNull(),
    jobsExpired: t.integer().notNull(),
    jobsDisputed: t.integer().notNull(),
    disputesLost: t.integer().notNull(),
    tokensServed: t.bigint().notNull(),
    completionSecondsTotal: t.bigint().notNull(),
    // reputation (see indexer/src/lib/reputation.ts), recomputed on every host event
    score: t.integer().notNull(),
  }),
  (t) => ({
    byStatus: index().on(t.status),
    byScore: index().on(t.score),
    byRegion: index().on(t.region),
    byGpu: index().on(t.gpuModel),
    byRegistered: index().on(t.registeredAt),
  }),
);

/** The registry's parameters (one row, id "NodeRegistry"): discovery hides hosts staked below the minimum. */
export const registryConfig = onchainTable("registry_config", (t) => ({
  id: t.text().primaryKey(),
  minimumStake: t.bigint().notNull(),
  unbondingPeriod: t.bigint().notNull(), // seconds
  jobMarketplace: t.hex(),
  updatedAt: t.bigint().notNull(),
}));

/** A host's price for one model in one payment token (rows are kept at price 0 when withdrawn). */
export const hostOffer = onchainTable(
  "host_offer",
  (t) => ({
    host: t.hex().notNull(),
    modelId: t.hex().notNull(),
    token: t.hex().notNull(),
    pricePerToken: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.host, t.modelId, t.token] }),
    byModelPrice: index().on(t.modelId, t.token, t.pricePerToken),
  }),
);

export const model = onchainTable("model", (t) => ({
  id: t.hex().primaryKey(),
  name: t.text().notNull(), // the id decoded as UTF-8 (ids are right-padded names)
  hostCount: t.integer().notNull(),
  jobsPosted: t.integer().notNull(),
  tokensServed: t.bigint().notNull(),
}));

/** The marketplace's (model, token) catalog. */
export const offer = onchainTable("offer", (t) => ({
  id: t.integer().primaryKey(),
  modelId: t.hex().notNull(),
  token: t.hex().notNull(),
}));

export const job = onchainTable(
  "job",
  (t) => ({
    id: t.bigint().primaryKey(),
    renter: t.hex().notNull(),
    chosenHost: t.hex(),
    host: t.hex(),
    modelId: t.hex().notNull(),
    token: t.hex().notNull(),
    promptHash: t.hex().notNull(),
    outputHash: t.hex(),
    maxTokens: t.integer().notNull(),
    maxPricePerToken: t.bigint().notNull(),
    deposit: t.bigint().notNull(),
    pricePerToken: t.bigint(),
    tokensUsed: t.integer(),
    status: t.text().notNull(),
    deadline: t.bigint().notNull(),
    disputeEndsAt: t.bigint(),
    settlement: t.text(),
    hostBps: t.integer(),
    hostPayment: t.bigint(),
    refund: t.bigint(),
    postedAt: t.bigint().notNull(),
    claimedAt: t.bigint(),
    completedAt: t.bigint(),
    finishedAt: t.bigint(),
  }),
  (t) => ({
    byRenter: index().on(t.renter),
    byHost: index().on(t.host),
    byStatus: index().on(t.status),
  }),
);

export const jobStatusChange = onchainTable(
  "job_status_change",
  (t) => ({
    id: t.text().primaryKey(), // event id
    jobId: t.bigint().notNull(),
    status: t.text().notNull(),
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ byJob: index().on(t.jobId) }),
);

/** Escrow movements: a release (split) or a refund. */
export const payment = onchainTable(
  "payment",
  (t) => ({
    id: t.text().primaryKey(), // event id
    jobId: t.bigint().notNull(),
    kind: t.text().notNull(), // release | refund
    token: t.hex().notNull(),
    host: t.hex(),
    renter: t.hex().notNull(),
    hostAmount: t.bigint().notNull(),
    treasuryAmount: t.bigint().notNull(),
    stakersAmount: t.bigint().notNull(),
    refund: t.bigint().notNull(),
    at: t.bigint().notNull(),
  }),
  (t) => ({ byJob: index().on(t.jobId), byToken: index().on(t.token) }),
);

export const hostEarning = onchainTable(
  "host_earning",
  (t) => ({
    host: t.hex().notNull(),
    token: t.hex().notNull(),
    amount: t.bigint().notNull(),
    jobs: t.integer().notNull(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.host, t.token] }) }),
);

export const dailyStats = onchainTable("daily_stats", (t) => ({
  day: t.text().primaryKey(), // YYYY-MM-DD (UTC)
  jobsPosted: t.integer().notNull(),
  jobsSettled: t.integer().notNull(),
  jobsCancelled: t.integer().notNull(),
  jobsExpired: t.integer().notNull(),
  newHosts: t.integer().notNull(),
  activeHosts: t.integer().notNull(), // distinct hosts that claimed or completed a job that day
}));

export const dailyVolume = onchainTable(
  "daily_volume",
  (t) => ({
    day: t.text().notNull(),
    token: t.hex().notNull(),
    volume: t.bigint().notNull(), // paid for inference (host + fees)
    fees: t.bigint().notNull(), // treasury + stakers
    deposits: t.bigint().notNull(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.day, t.token] }) }),
);

/** Marks a host active on a day (dedups dailyStats.activeHosts). */
export const dailyHostActivity = onchainTable(
  "daily_host_activity",
  (t) => ({ day: t.text().notNull(), host: t.hex().notNull() }),
  (t) => ({ pk: primaryKey({ columns: [t.day, t.host] }) }),
);

export const hostRelations = relations(host, ({ many }) => ({
  offers: many(hostOffer),
  earnings: many(hostEarning),
}));
export const hostOfferRelations = relations(hostOffer, ({ one }) => ({
  hostRow: one(host, { fields: [hostOffer.host], references: [host.address] }),
}));
export const hostEarningRelations = relations(hostEarning, ({ one }) => ({
  hostRow: one(host, { fields: [hostEarning.host], references: [host.address] }),
}));
export const jobRelations = relations(job, ({ many }) => ({
  history: many(jobStatusChange),
  payments: many(payment),
}));
export const jobStatusChangeRelations = relations(jobStatusChange, ({ one }) => ({
  jobRow: one(job, { fields: [jobStatusChange.jobId], references: [job.id] }),
}));
export const paymentRelations = relations(payment, ({ one }) => ({
  jobRow: one(job, { fields: [payment.jobId], references: [job.id] }),
}));
