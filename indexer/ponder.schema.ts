/**
 * The indexed marketplace: an append-only event log for analysts plus derived state
 * (hosts, offers, models, jobs with their status history, payments, per-host
 * performance, daily stats). Every table is written only by the handlers in src/;
 * the API reads it and never writes.
 *
 * Amounts are token base units (bigint); `token` is the payment token address,
 * 0x000…000 for ETH. Times are unix seconds (bigint) of the block that caused them.
 */
import { index, onchainEnum, onchainTable, primaryKey, relations } from "ponder";
import { HOST_STATUS, JOB_STATUS, SETTLEMENT } from "../abis/enums.ts";

/**
 * States and outcomes are Postgres enums whose labels are the contracts' own (generated into
 * abis/enums.ts from the Solidity enums), so a handler cannot write a status the contracts
 * do not have, and GraphQL exposes them as enum types.
 */
export const jobStatus = onchainEnum("job_status", JOB_STATUS);
export const hostStatus = onchainEnum("host_status", HOST_STATUS);
export const settlement = onchainEnum("settlement", SETTLEMENT);
/** What an escrow movement was: a release (split between host, fees and renter) or a whole refund. */
export const paymentKind = onchainEnum("payment_kind", ["release", "refund"]);

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
    status: hostStatus("status").notNull(),
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
    jobsRefused: t.integer().notNull(), // handed back by the host before the deadline
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

/**
 * A model a host offers (in at least one token), from ModelAdded to ModelRemoved, with the
 * context length it advertises (null until it does; cleared when the model is withdrawn).
 */
export const hostModel = onchainTable(
  "host_model",
  (t) => ({
    host: t.hex().notNull(),
    modelId: t.hex().notNull(),
    // Tokens per request (prompt and output). The contract takes a uint32; values above
    // 2^31 - 1 (no model comes near) are stored as 2^31 - 1 to fit a Postgres integer.
    contextLength: t.integer(),
    addedAt: t.bigint().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.host, t.modelId] }),
    byModel: index().on(t.modelId),
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
    status: jobStatus("status").notNull(),
    deadline: t.bigint().notNull(),
    disputeEndsAt: t.bigint(),
    settlement: settlement("settlement"),
    refusalReason: t.text(), // the host's reason code (e.g. prompt_too_long) when Refused
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
    status: jobStatus("status").notNull(),
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
    kind: paymentKind("kind").notNull(),
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
  jobsRefused: t.integer().notNull(),
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
  models: many(hostModel),
  earnings: many(hostEarning),
}));
export const hostModelRelations = relations(hostModel, ({ one }) => ({
  hostRow: one(host, { fields: [hostModel.host], references: [host.address] }),
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
