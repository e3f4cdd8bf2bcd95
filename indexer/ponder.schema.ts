/**
 * The indexed marketplace: an append-only event log for analysts plus derived state
 * (hosts, offers, models, jobs with their status history and disputes, sessions with their
 * checkpoints, payments, per-host performance, the on-chain reputation record with its
 * ratings and offences, the ProofSystem's proofs and challenges, daily stats), and governance
 * and tokenomics (schema/governance.ts, schema/tokenomics.ts, re-exported at the end). Every
 * table is written only by the handlers in src/; the API reads it and never writes.
 *
 * Amounts are token base units (bigint); `token` is the payment token address,
 * 0x000…000 for ETH. Times are unix seconds (bigint) of the block that caused them.
 */
import { index, onchainEnum, onchainTable, primaryKey, relations } from "ponder";
import {
  CHALLENGE_KIND,
  CHALLENGE_STATUS,
  CLOSE_REASON,
  HOST_STATUS,
  JOB_STATUS,
  OFFENCE,
  SESSION_STATUS,
  SETTLEMENT,
  WORK,
} from "../abis/enums.ts";

/**
 * States and outcomes are Postgres enums whose labels are the contracts' own (generated into
 * abis/enums.ts from the Solidity enums), so a handler cannot write a status the contracts
 * do not have, and GraphQL exposes them as enum types.
 */
export const jobStatus = onchainEnum("job_status", JOB_STATUS);
export const hostStatus = onchainEnum("host_status", HOST_STATUS);
export const settlement = onchainEnum("settlement", SETTLEMENT);
export const sessionStatus = onchainEnum("session_status", SESSION_STATUS);
export const closeReason = onchainEnum("close_reason", CLOSE_REASON);
/** IReputationSystem.Offence (the type is not named "offence": the table of that name has its row type). */
export const offenceKind = onchainEnum("offence_kind", OFFENCE);
/** IReputationSystem.Work: what a renter paid for and may rate. */
export const workKind = onchainEnum("work_kind", WORK);
/** IProofSystem.ChallengeKind: Count (prove the billed count) or Output (an arbiter decides). */
export const challengeKind = onchainEnum("challenge_kind", CHALLENGE_KIND);
/**
 * IProofSystem.ChallengeStatus: Open, then how it ended. The host won when Answered or
 * Rejected, lost (slashed) when Unanswered or Upheld; Unarbitrated and Voided are neither side's
 * loss (the bond returned, nobody slashed). `None` (no such challenge) is never stored.
 */
export const challengeStatus = onchainEnum("challenge_status", CHALLENGE_STATUS);
/**
 * How a dispute ended, from JobSettled (not a contract enum): Open until settled; HostWon when
 * the arbiter paid the host at least half (the ReputationSystem records DisputeWon), HostLost
 * below half (an offence, slashed), Unarbitrated when no arbiter acted by the deadline and the
 * documented default applied (settleDispute: the host paid in full, the renter's bond returned,
 * neither side recorded as losing).
 */
export const disputeOutcome = onchainEnum("dispute_outcome", [
  "Open",
  "HostWon",
  "HostLost",
  "Unarbitrated",
]);
/**
 * What an escrow movement was, after the escrow function that made it: a release (the lock
 * closed, split between host, fees and the renter's refund), a whole refund, or a pay (part of
 * a lock paid out to the host and fees, no refund: a session checkpoint).
 */
export const paymentKind = onchainEnum("payment_kind", ["release", "refund", "pay"]);
/**
 * Whose lock an escrow movement was: the JobMarketplace's for a job, the JobMarketplace's for a
 * dispute bond (escrow id = job id | 2^255; the row's `jobId` is the disputed job's), or the
 * SessionManager's (a session).
 */
export const paymentSource = onchainEnum("payment_source", ["job", "session", "bond"]);

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
    // sessions (derived from SessionManager events)
    sessionsOpened: t.integer().notNull(),
    sessionsSettled: t.integer().notNull(),
    sessionsServed: t.integer().notNull(), // settled sessions in which the host was paid
    sessionTokensServed: t.bigint().notNull(), // tokens of the receipts the host was paid for
    // The ReputationSystem's score (0-1000) as last emitted for the host (500, neutral, from
    // registration until its first reputation event); it decays toward 500 on chain between
    // events, so `scoreAt` says when it was exact. The record behind it is host_reputation.
    score: t.integer().notNull(),
    scoreAt: t.bigint().notNull(),
    // The indexer's own score from the counters above (protocol/reputation.ts), recomputed on
    // every host event: kept beside the on-chain one, which is what contracts and discovery use.
    indexerScore: t.integer().notNull(),
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
  claimsPerMinimumStake: t.integer(), // null until governed: the registry's default (8) applies
  modelCatalog: t.hex(), // offers must name a model listed there; null or zero: not checked
  updatedAt: t.bigint().notNull(),
}));

/** The JobMarketplace's parameters (one row, id "JobMarketplace"), all seconds but the bond. */
export const marketplaceConfig = onchainTable("marketplace_config", (t) => ({
  id: t.text().primaryKey(),
  disputeWindow: t.integer(),
  claimTimeout: t.integer(), // a claim older than this can be taken back (expired) by anyone
  arbitrationWindow: t.integer(), // time an arbiter has before the default outcome applies
  disputeBondBps: t.integer(), // the renter's bond as a share of the disputed payment
  reputation: t.hex(), // the ReputationSystem it records into
  updatedAt: t.bigint().notNull(),
}));

/** The ReputationSystem's parameters (one row, id "ReputationSystem"). */
export const reputationConfig = onchainTable("reputation_config", (t) => ({
  id: t.text().primaryKey(),
  halfLife: t.integer(), // seconds
  abandonedBps: t.integer(), // stake slashed per offence before escalation
  disputeLostBps: t.integer(),
  challengeLostBps: t.integer(),
  maxSlashBps: t.integer(), // cap per incident
  compensationBps: t.integer(), // the wronged party's share of a slash
  discountMinScore: t.integer(), // hosts scoring at least this...
  discountBps: t.integer(), // ...do not pay this share of the treasury's fee
  treasury: t.hex(),
  stakeTierCount: t.integer(), // rows of stake_tier (StakeTiersUpdated)
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
  sessionsOpened: t.integer().notNull(),
  sessionTokensServed: t.bigint().notNull(),
}));

/** The marketplace's (model, token, minimum score) catalog. */
export const offer = onchainTable("offer", (t) => ({
  id: t.integer().primaryKey(),
  modelId: t.hex().notNull(),
  token: t.hex().notNull(),
  minScore: t.integer().notNull(),
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
    minScore: t.integer().notNull(), // the least on-chain score a claiming host needed (0: none)
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

/**
 * A session: one deposit for one host, model and token at the host's price, paid by
 * renter-signed receipts (cumulative tokens and amount) that the host presents in checkpoints
 * or when closing. Everything here comes from the SessionManager's events.
 */
export const session = onchainTable(
  "session",
  (t) => ({
    id: t.bigint().primaryKey(),
    renter: t.hex().notNull(),
    host: t.hex().notNull(),
    modelId: t.hex().notNull(),
    token: t.hex().notNull(),
    signer: t.hex(), // the key the renter authorized to sign receipts besides itself; null for none
    pricePerToken: t.bigint().notNull(),
    expiry: t.bigint().notNull(),
    feeDiscountBps: t.integer().notNull(), // the host's fee discount, fixed at opening
    salt: t.bigint().notNull(), // the renter's salt (the id is the hash of the terms)
    deposit: t.bigint().notNull(), // opening deposit plus top-ups
    topUps: t.integer().notNull(),
    paid: t.bigint().notNull(), // cumulative amount of the latest receipt paid (spent)
    tokens: t.bigint().notNull(), // cumulative tokens of that receipt
    remaining: t.bigint().notNull(), // still locked: deposit - paid until settled, then 0
    hostPayment: t.bigint().notNull(), // the host's share of `paid` (after fees), from the escrow
    checkpointCount: t.integer().notNull(),
    lastDigest: t.hex(), // running digest of the answers of the latest paid receipt
    status: sessionStatus("status").notNull(),
    closeRequestedAt: t.bigint(),
    closeAt: t.bigint(), // end of the host's window after the renter's close request
    closedBy: t.hex(),
    closeReason: closeReason("close_reason"),
    refund: t.bigint(), // credited to the renter at settlement
    openedAt: t.bigint().notNull(),
    openedBlock: t.bigint().notNull(),
    openedTx: t.hex().notNull(),
    // The opening log's chain-ordered id (eventId): the order of GET /sessions (ids are hashes).
    openedEvent: t.text().notNull(),
    settledAt: t.bigint(),
    settledBlock: t.bigint(),
    settledTx: t.hex(),
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({
    byRenter: index().on(t.renter),
    byHost: index().on(t.host),
    byModel: index().on(t.modelId),
    byStatus: index().on(t.status),
    byOpened: index().on(t.openedEvent),
  }),
);

/** One row per SessionCheckpointed: the host was paid up to a receipt (also the last receipt of a host's close). */
export const sessionCheckpoint = onchainTable(
  "session_checkpoint",
  (t) => ({
    id: t.text().primaryKey(), // event id
    sessionId: t.bigint().notNull(),
    host: t.hex().notNull(),
    tokens: t.bigint().notNull(), // cumulative
    amount: t.bigint().notNull(), // cumulative
    increment: t.bigint().notNull(), // paid now: amount - the previous receipt's amount
    tokensIncrement: t.bigint().notNull(), // tokens - the previous receipt's tokens
    digest: t.hex().notNull(),
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ bySession: index().on(t.sessionId) }),
);

/**
 * Escrow movements: a release (split), a refund, or a pay (a session checkpoint's split), of a
 * job's or a session's lock (`source`; exactly one of `jobId` and `sessionId` is set).
 */
export const payment = onchainTable(
  "payment",
  (t) => ({
    id: t.text().primaryKey(), // event id
    source: paymentSource("source").notNull(),
    jobId: t.bigint(),
    sessionId: t.bigint(),
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
  (t) => ({
    byJob: index().on(t.jobId),
    bySession: index().on(t.sessionId),
    byToken: index().on(t.token),
  }),
);

/** What a host earned in one token (its share after fees), from jobs and sessions together. */
export const hostEarning = onchainTable(
  "host_earning",
  (t) => ({
    host: t.hex().notNull(),
    token: t.hex().notNull(),
    amount: t.bigint().notNull(), // everything earned: jobs and sessions
    jobs: t.integer().notNull(), // jobs paid
    sessionAmount: t.bigint().notNull(), // the part of `amount` earned in sessions
    sessions: t.integer().notNull(), // sessions that paid the host (counted at their first payment)
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
  sessionsOpened: t.integer().notNull(),
  sessionsSettled: t.integer().notNull(),
  sessionTokens: t.bigint().notNull(), // tokens of the session receipts paid that day
  newHosts: t.integer().notNull(),
  // distinct hosts that claimed or completed a job, or were paid in a session, that day
  activeHosts: t.integer().notNull(),
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

/**
 * A job's dispute (one at most): the renter's bond (in the job's token, locked in the escrow
 * under its own id), the arbiter's deadline, and how it ended (see disputeOutcome).
 */
export const dispute = onchainTable(
  "dispute",
  (t) => ({
    jobId: t.bigint().primaryKey(),
    renter: t.hex().notNull(),
    host: t.hex().notNull(),
    token: t.hex().notNull(),
    reason: t.hex().notNull(), // bytes32 as sent
    reasonText: t.text().notNull(), // decoded when it is text, else the hex
    bond: t.bigint().notNull(), // 0 when the bond was set to 0
    arbitrationDeadline: t.bigint().notNull(),
    outcome: disputeOutcome("outcome").notNull(),
    hostBps: t.integer(), // the host's share of the payment (and of the bond) once settled
    bondToHost: t.bigint(), // the host's part of the bond, after fees
    bondRefund: t.bigint(), // what of the bond went back to the renter
    slashed: t.bigint(), // FAB slashed from the host for losing it (HostLost)
    openedAt: t.bigint().notNull(),
    settledAt: t.bigint(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({
    byHost: index().on(t.host),
    byRenter: index().on(t.renter),
    byOutcome: index().on(t.outcome),
  }),
);

/**
 * A host's on-chain reputation record, from the ReputationSystem's events: the score as last
 * emitted and lifetime counts (the contract also keeps decayed figures, which its
 * `reputationOf` view returns; these counts are not decayed).
 */
export const hostReputation = onchainTable("host_reputation", (t) => ({
  host: t.hex().primaryKey(),
  score: t.integer().notNull(), // as last emitted (also host.score)
  scoreAt: t.bigint().notNull(),
  jobs: t.integer().notNull(), // jobs completed (WorkRecorded Job)
  sessions: t.integer().notNull(), // sessions settled with a payment (WorkRecorded Session)
  tokens: t.bigint().notNull(), // output tokens of that work
  jobSecondsTotal: t.bigint().notNull(), // claim to completion, summed over the jobs
  disputesWon: t.integer().notNull(),
  abandoned: t.integer().notNull(), // offences by kind
  disputesLost: t.integer().notNull(),
  challengesLost: t.integer().notNull(),
  offences: t.integer().notNull(), // all kinds
  slashed: t.bigint().notNull(), // FAB taken for offences (compensation included)
  compensation: t.bigint().notNull(), // the part of it paid to the wronged parties
  slashFailures: t.integer().notNull(), // slashes the registry refused (the offence still counted)
  ratings: t.integer().notNull(),
  starsTotal: t.integer().notNull(), // sum of stars (1-5) over the ratings
  ratingWeight: t.bigint().notNull(), // sum of the ratings' weights (what their renters paid, in rating units)
  weightedStars: t.bigint().notNull(), // sum of weight x stars
  updatedAt: t.bigint().notNull(),
}));

/** A renter's rating of a settled job or session (one each), weighted by what it paid. */
export const rating = onchainTable(
  "rating",
  (t) => ({
    id: t.text().primaryKey(), // event id
    kind: workKind("kind").notNull(),
    jobId: t.bigint(), // exactly one of jobId and sessionId is set, by kind
    sessionId: t.bigint(),
    host: t.hex().notNull(),
    renter: t.hex().notNull(),
    stars: t.integer().notNull(),
    weight: t.bigint().notNull(),
    score: t.integer().notNull(), // the host's score after it
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({
    byHost: index().on(t.host),
    byJob: index().on(t.jobId),
    bySession: index().on(t.sessionId),
  }),
);

/**
 * An offence recorded against a host (OffenceRecorded) and its slash: `slashed` FAB taken from
 * its stake, `compensation` of it paid to `wronged` (the renter, or a challenger), the rest to
 * the treasury. `ref` names the job (abandoned claim, lost dispute; then `jobId` is set) or
 * the challenge (a lost challenge; then `challengeId` is set).
 */
export const offence = onchainTable(
  "offence",
  (t) => ({
    id: t.text().primaryKey(), // event id
    offence: offenceKind("offence").notNull(),
    host: t.hex().notNull(),
    wronged: t.hex(), // null when nobody is compensated
    ref: t.hex().notNull(),
    jobId: t.bigint(),
    challengeId: t.bigint(), // the ProofSystem's challenge a ChallengeLost offence names
    slashed: t.bigint().notNull(),
    compensation: t.bigint().notNull(),
    count: t.integer().notNull(), // the host's lifetime offences, this one included (escalation)
    score: t.integer().notNull(), // the host's score after it
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({
    byHost: index().on(t.host),
    byJob: index().on(t.jobId),
    byChallenge: index().on(t.challengeId),
  }),
);

/** A slash the registry refused (SlashFailed): the offence still counts, the stake was not taken. */
export const slashFailure = onchainTable(
  "slash_failure",
  (t) => ({
    id: t.text().primaryKey(), // event id
    host: t.hex().notNull(),
    amount: t.bigint().notNull(),
    reason: t.hex().notNull(), // the registry's revert data
    at: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ byHost: index().on(t.host) }),
);

/**
 * An accepted proof submission (OutputProven): the work's proven output now ends on
 * `commitment` and covers `tokens`. A job is proven once; a session's submissions extend its
 * chain (`fromCommitment`, `fromTokens`). What it proves is exactly the billed count against
 * the committed output (docs/proofs.md), not which model produced it.
 */
export const proof = onchainTable(
  "proof",
  (t) => ({
    id: t.text().primaryKey(), // event id
    work: workKind("work").notNull(),
    jobId: t.bigint(), // exactly one of jobId and sessionId is set, by work
    sessionId: t.bigint(),
    host: t.hex().notNull(),
    modelId: t.hex().notNull(),
    requestHash: t.hex().notNull(), // a job's request hash as the host gave it; a session's terms hash
    // A job's requestHash is the prompt hash of its JobPosted (the contract cannot check it; the
    // indexer does); always true for a session (the contract checks its terms).
    requestMatches: t.boolean().notNull(),
    binding: t.bigint().notNull(), // the field element every chunk was proven against
    fromCommitment: t.bigint().notNull(), // the binding, or a session's previous commitment
    commitment: t.bigint().notNull(), // Poseidon output commitment after this submission
    fromTokens: t.bigint().notNull(), // tokens proven before it
    tokens: t.bigint().notNull(), // tokens proven in all after it
    chunks: t.integer().notNull(), // chunks (one Groth16 proof each) in this submission
    verifier: t.hex().notNull(),
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({
    byHost: index().on(t.host),
    byJob: index().on(t.jobId),
    bySession: index().on(t.sessionId),
  }),
);

/**
 * A bonded challenge of a job's or session's work (CountChallengeOpened,
 * OutputChallengeOpened) and how it ended (ChallengeResolved). Economic, not a proof: a count
 * challenge ends Answered when the host proves the count in time, else Unanswered; an output
 * challenge is Upheld or Rejected by an arbiter, else Unarbitrated after its deadline.
 */
export const challenge = onchainTable(
  "challenge",
  (t) => ({
    id: t.bigint().primaryKey(), // the ProofSystem's challenge id
    kind: challengeKind("kind").notNull(),
    work: workKind("work").notNull(),
    jobId: t.bigint(), // exactly one of jobId and sessionId is set, by work
    sessionId: t.bigint(),
    challenger: t.hex().notNull(),
    host: t.hex().notNull(),
    modelId: t.hex().notNull(),
    token: t.hex().notNull(), // the bond's token: the work's payment token
    bond: t.bigint().notNull(),
    tokens: t.bigint().notNull(), // the billed tokens challenged
    evidenceHash: t.hex(), // Output: digest of the evidence revealed to the resolvers; null for Count
    deadline: t.bigint().notNull(), // response (Count) or arbitration (Output) deadline
    status: challengeStatus("status").notNull(),
    bondTo: t.hex(), // who was credited the bond once it ended (pull payment in the escrow)
    slashed: t.bigint(), // FAB slashed from the host when it ended (0 when not slashed)
    offenceNotRecorded: t.hex(), // the reputation system's revert data when it refused the offence
    openedAt: t.bigint().notNull(),
    openedBlock: t.bigint().notNull(),
    openedTx: t.hex().notNull(),
    resolvedAt: t.bigint(),
    resolvedTx: t.hex(),
  }),
  (t) => ({
    byHost: index().on(t.host),
    byChallenger: index().on(t.challenger),
    byJob: index().on(t.jobId),
    bySession: index().on(t.sessionId),
    byStatus: index().on(t.status),
  }),
);

/** A host's ProofSystem record: proofs it submitted and challenges of its work, by outcome. */
export const hostProofRecord = onchainTable("host_proof_record", (t) => ({
  host: t.hex().primaryKey(),
  proofs: t.integer().notNull(), // accepted submissions
  jobsProven: t.integer().notNull(),
  sessionsProven: t.integer().notNull(), // sessions with at least one accepted submission
  provenTokens: t.bigint().notNull(),
  provenChunks: t.integer().notNull(),
  challenges: t.integer().notNull(), // opened against its work
  challengesOpen: t.integer().notNull(),
  challengesAnswered: t.integer().notNull(), // won: proven in time
  challengesRejected: t.integer().notNull(), // won: the arbiter found for the host
  challengesUnanswered: t.integer().notNull(), // lost: no proof by the deadline
  challengesUpheld: t.integer().notNull(), // lost: the arbiter found for the challenger
  challengesUnarbitrated: t.integer().notNull(), // neither: no arbiter by the deadline
  challengesVoided: t.integer().notNull(), // neither: the model lost every verifier
  challengeSlashed: t.bigint().notNull(), // FAB slashed for lost challenges
  updatedAt: t.bigint().notNull(),
}));

/** The ProofSystem's parameters (one row, id "ProofSystem"); windows in seconds. */
export const proofConfig = onchainTable("proof_config", (t) => ({
  id: t.text().primaryKey(),
  defaultVerifier: t.hex(), // for models without their own; null: none
  reputation: t.hex(), // the ReputationSystem lost challenges are recorded in; null: none
  jobChallengeWindow: t.integer(), // after a job's dispute window (or arbitration deadline)
  sessionChallengeWindow: t.integer(), // after a session's expiry
  responseWindow: t.integer(), // a count challenge's deadline after it opens
  arbitrationWindow: t.integer(), // an output challenge's deadline after it opens
  bondBps: t.integer(), // the bond as a share of the challenged payment
  updatedAt: t.bigint().notNull(),
}));

/** A model's own verifier (VerifierSet); the row goes when it is removed (the default applies again). */
export const modelVerifier = onchainTable("model_verifier", (t) => ({
  modelId: t.hex().primaryKey(),
  verifier: t.hex().notNull(),
  updatedAt: t.bigint().notNull(),
}));

/** The least challenge bond in a payment token (MinBondUpdated; rows are kept at 0 when cleared). */
export const challengeMinBond = onchainTable("challenge_min_bond", (t) => ({
  token: t.hex().primaryKey(),
  amount: t.bigint().notNull(),
  updatedAt: t.bigint().notNull(),
}));

export const hostRelations = relations(host, ({ one, many }) => ({
  offers: many(hostOffer),
  models: many(hostModel),
  earnings: many(hostEarning),
  sessions: many(session),
  record: one(hostReputation, { fields: [host.address], references: [hostReputation.host] }),
  ratings: many(rating),
  offences: many(offence),
  disputes: many(dispute),
  proofRecord: one(hostProofRecord, { fields: [host.address], references: [hostProofRecord.host] }),
  proofs: many(proof),
  challenges: many(challenge),
}));
export const hostProofRecordRelations = relations(hostProofRecord, ({ one }) => ({
  hostRow: one(host, { fields: [hostProofRecord.host], references: [host.address] }),
}));
export const proofRelations = relations(proof, ({ one }) => ({
  hostRow: one(host, { fields: [proof.host], references: [host.address] }),
  jobRow: one(job, { fields: [proof.jobId], references: [job.id] }),
  sessionRow: one(session, { fields: [proof.sessionId], references: [session.id] }),
}));
export const challengeRelations = relations(challenge, ({ one }) => ({
  hostRow: one(host, { fields: [challenge.host], references: [host.address] }),
  jobRow: one(job, { fields: [challenge.jobId], references: [job.id] }),
  sessionRow: one(session, { fields: [challenge.sessionId], references: [session.id] }),
  offence: one(offence, { fields: [challenge.id], references: [offence.challengeId] }),
}));
export const hostReputationRelations = relations(hostReputation, ({ one }) => ({
  hostRow: one(host, { fields: [hostReputation.host], references: [host.address] }),
}));
export const ratingRelations = relations(rating, ({ one }) => ({
  hostRow: one(host, { fields: [rating.host], references: [host.address] }),
  jobRow: one(job, { fields: [rating.jobId], references: [job.id] }),
  sessionRow: one(session, { fields: [rating.sessionId], references: [session.id] }),
}));
export const offenceRelations = relations(offence, ({ one }) => ({
  hostRow: one(host, { fields: [offence.host], references: [host.address] }),
  jobRow: one(job, { fields: [offence.jobId], references: [job.id] }),
  challengeRow: one(challenge, { fields: [offence.challengeId], references: [challenge.id] }),
}));
export const disputeRelations = relations(dispute, ({ one }) => ({
  hostRow: one(host, { fields: [dispute.host], references: [host.address] }),
  jobRow: one(job, { fields: [dispute.jobId], references: [job.id] }),
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
export const jobRelations = relations(job, ({ one, many }) => ({
  history: many(jobStatusChange),
  payments: many(payment),
  dispute: one(dispute, { fields: [job.id], references: [dispute.jobId] }),
  ratings: many(rating),
  offences: many(offence),
  proofs: many(proof),
  challenges: many(challenge),
}));
export const jobStatusChangeRelations = relations(jobStatusChange, ({ one }) => ({
  jobRow: one(job, { fields: [jobStatusChange.jobId], references: [job.id] }),
}));
export const paymentRelations = relations(payment, ({ one }) => ({
  jobRow: one(job, { fields: [payment.jobId], references: [job.id] }),
  sessionRow: one(session, { fields: [payment.sessionId], references: [session.id] }),
}));
export const sessionRelations = relations(session, ({ one, many }) => ({
  hostRow: one(host, { fields: [session.host], references: [host.address] }),
  checkpoints: many(sessionCheckpoint),
  payments: many(payment),
  ratings: many(rating),
  proofs: many(proof),
  challenges: many(challenge),
}));
export const sessionCheckpointRelations = relations(sessionCheckpoint, ({ one }) => ({
  sessionRow: one(session, { fields: [sessionCheckpoint.sessionId], references: [session.id] }),
}));

export * from "./schema/governance.ts";
export * from "./schema/tokenomics.ts";
