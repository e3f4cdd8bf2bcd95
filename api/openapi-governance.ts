/**
 * The OpenAPI parts of governance and tokenomics: the /governance/proposals and /tokenomics/*
 * paths (query parameters from the zod schemas that validate them).
 */
import { PROPOSAL_STATES } from "./governance.ts";
import { BUYBACK_DESTINATIONS, buybacksQuery, proposalsQuery } from "./params.ts";

type Query = typeof proposalsQuery | typeof buybacksQuery;

const amount = { type: "string", description: "decimal integer, token base units" };
const nullableAmount = { type: ["string", "null"], description: amount.description };
const time = { type: "string", description: "unix seconds" };
const nullableTime = { type: ["string", "null"], description: time.description };
const asOf = {
  type: "string",
  description:
    "unix seconds of the latest indexed block: the time states and windows are computed at",
};
const bps = { type: "integer", description: "basis points (10 000 = 100% or 1x)" };

const proposalItem = {
  type: "object",
  properties: {
    id: { type: "string", description: "the governor's proposal id (decimal)" },
    proposer: { type: "string" },
    actions: {
      type: "array",
      items: {
        type: "object",
        properties: {
          target: { type: "string" },
          value: amount,
          signature: { type: "string" },
          calldata: { type: "string" },
        },
      },
    },
    description: { type: "string" },
    descriptionHash: { type: "string" },
    voteStart: { ...time, description: "the snapshot: votes and quorum are as of this time" },
    voteEnd: { ...time, description: "the deadline, moved by a late-quorum extension" },
    extended: { type: "boolean" },
    forVotes: amount,
    againstVotes: amount,
    abstainVotes: amount,
    voters: { type: "integer" },
    quorum: {
      ...nullableAmount,
      description:
        "FAB's total supply at the snapshot times the quorum numerator then, / 100; null while the snapshot is ahead",
    },
    quorumReached: { type: ["boolean", "null"], description: "for + abstain >= quorum" },
    state: {
      enum: PROPOSAL_STATES,
      description:
        "as the governor's state() at asOf: Executed and Canceled first (also when its timelock operation was executed or cancelled directly), Pending until voteStart, Active until voteEnd, then Defeated (no quorum, or for <= against), Succeeded, or Queued (with eta)",
    },
    timelockId: { type: ["string", "null"] },
    eta: { ...nullableTime, description: "when the timelock lets it execute" },
    createdAt: time,
    queuedAt: nullableTime,
    executedAt: nullableTime,
    canceledAt: nullableTime,
  },
};
const voteItem = {
  type: "object",
  properties: {
    voter: { type: "string" },
    support: { enum: ["Against", "For", "Abstain"] },
    weight: { ...amount, description: "the voter's FAB votes at the snapshot" },
    reason: { type: "string" },
    params: { type: ["string", "null"] },
    at: time,
  },
};
const rate = (per: string) => ({
  ...nullableAmount,
  description: `reward-token base units per ${per} per year, at the last 30 days' rate (not a percentage: rewards are other tokens than FAB); null with nothing staked`,
});
const pool = {
  type: "object",
  properties: {
    asOf,
    totalStaked: { ...amount, description: "FAB staked in the pool" },
    hostStake: { ...amount, description: "hosts' registry stake the pool counts" },
    countedStake: { ...amount, description: "totalStaked + hostStake" },
    totalShares: amount,
    stakers: { type: "integer" },
    hostMultiplierBps: bps,
    rewardTokens: {
      type: "array",
      items: {
        type: "object",
        properties: {
          token: { type: "string", description: "0x000…000 is ETH" },
          distributed: amount,
          claimed: amount,
          unclaimed: amount,
          syncs: { type: "integer" },
          lastSyncAt: nullableTime,
          distributedLast30Days: amount,
          rewardPerFabPerYear: rate("whole FAB counted (countedStake)"),
          rewardPerSharePerYear: rate(
            "1e18 shares: what one FAB staked at 1x earns (a lock tier's multiplier scales it)",
          ),
        },
      },
    },
  },
};
const buybackItem = {
  type: "object",
  properties: {
    id: { type: "string", description: "the event id (block-logIndex)" },
    token: { type: "string", description: "what was sold from the reserve; 0x000…000 is ETH" },
    amountIn: amount,
    fabOut: { ...amount, description: "FAB bought" },
    destination: { enum: BUYBACK_DESTINATIONS, description: "burned, or sent to the stakers pool" },
    at: time,
  },
};
const treasuryItem = {
  type: "object",
  properties: {
    token: { type: "string" },
    reserve: { ...amount, description: "the buyback reserve" },
    free: { ...amount, description: "releasable by governance" },
    arrived: amount,
    boughtBack: { ...amount, description: "spent on buybacks" },
    fabBought: amount,
    fabBurned: amount,
    released: amount,
  },
};
const tiers = {
  type: "object",
  properties: {
    stakeTiers: {
      type: "array",
      description: "the ReputationSystem's registry-stake tiers, lowest first",
      items: {
        type: "object",
        properties: {
          tier: { type: "integer" },
          minStake: amount,
          discountBps: { ...bps, description: "off the protocol fee" },
        },
      },
    },
    lockTiers: {
      type: "array",
      description: "the stakers pool's lock tiers",
      items: {
        type: "object",
        properties: {
          tier: { type: "integer" },
          duration: { type: "string", description: "seconds" },
          multiplierBps: bps,
        },
      },
    },
    hostMultiplierBps: { ...bps, type: ["integer", "null"] },
    feeSplit: {
      type: ["object", "null"],
      description: "the escrow's current fee split",
      properties: { hostBps: bps, treasuryBps: bps, stakersBps: bps, at: time },
    },
  },
};

/** The /governance and /tokenomics paths; `queryParameters` and the error response are openapi.ts's. */
export function governancePaths(queryParameters: (schema: Query) => object[], error: object) {
  const ok = (description: string, schema: object) => ({
    description,
    content: { "application/json": { schema } },
  });
  return {
    "/governance/proposals": {
      get: {
        summary:
          "Governor proposals, newest first, with tallies, quorum and state at the latest indexed block",
        parameters: queryParameters(proposalsQuery),
        responses: {
          "200": ok("A page of proposals and nextCursor", {
            type: "object",
            properties: {
              asOf,
              proposals: { type: "array", items: proposalItem },
              nextCursor: { type: ["string", "null"] },
            },
          }),
          "400": error,
        },
      },
    },
    "/governance/proposals/{id}": {
      get: {
        summary: "A proposal with its votes",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": ok("The proposal", {
            ...proposalItem,
            properties: {
              asOf,
              ...proposalItem.properties,
              votes: { type: "array", items: voteItem },
            },
          }),
          "400": error,
          "404": error,
        },
      },
    },
    "/tokenomics/pool": {
      get: {
        summary: "The stakers pool: totals and, per reward token, distributions and rates",
        responses: { "200": ok("The pool", pool) },
      },
    },
    "/tokenomics/buybacks": {
      get: {
        summary:
          "Treasury buybacks, newest first, filtered by token and destination, with the treasury's funds per token",
        parameters: queryParameters(buybacksQuery),
        responses: {
          "200": ok("A page of buybacks, nextCursor and the treasury's funds", {
            type: "object",
            properties: {
              buybacks: { type: "array", items: buybackItem },
              nextCursor: { type: ["string", "null"] },
              treasury: { type: "array", items: treasuryItem },
            },
          }),
          "400": error,
        },
      },
    },
    "/tokenomics/tiers": {
      get: {
        summary: "Registry-stake tiers, the pool's lock tiers and host multiplier, the fee split",
        responses: { "200": ok("The tiers", tiers) },
      },
    },
  };
}
