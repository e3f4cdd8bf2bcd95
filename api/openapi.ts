/** The OpenAPI 3.1 document of the REST API; query parameters come from the same zod schemas that validate them. */
import { z } from "zod";
import {
  CLOSE_REASON,
  HOST_STATUS,
  JOB_STATUS,
  OFFENCE,
  SESSION_STATUS,
  SETTLEMENT,
  WORK,
} from "../abis/enums.ts";
import { governancePaths } from "./openapi-governance.ts";
import { challengeItem, proofItem, proofPaths, proofRecordProperties } from "./openapi-proofs.ts";
import {
  DISPUTE_OUTCOMES,
  dailyQuery,
  disputesQuery,
  hostsQuery,
  sessionsQuery,
} from "./params.ts";

function queryParameters(schema: z.ZodObject) {
  const json = z.toJSONSchema(schema, { io: "input" }) as {
    properties: Record<string, object>;
    required?: string[];
  };
  return Object.entries(json.properties).map(([name, s]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: s,
  }));
}

const error = {
  description: "Error",
  content: {
    "application/json": {
      schema: {
        type: "object",
        properties: {
          error: {
            type: "object",
            properties: {
              code: { type: "string" },
              message: { type: "string" },
              parameter: { type: "string" },
            },
            required: ["code", "message"],
          },
        },
      },
    },
  },
};
const ok = (description: string, schema: object = { type: "object" }) => ({
  description,
  content: { "application/json": { schema } },
});

// The fields whose values are states (the contracts' enum labels, as the indexer stores them)
// or that discovery clients filter on; other fields are described in docs/indexer.md.
const amount = { type: "string", description: "decimal integer, token base units" };
const nullableAmount = { type: ["string", "null"], description: amount.description };
const sessionsServed = {
  type: "integer",
  description: "settled sessions in which the host was paid",
};
const sessionTokensServed = {
  ...amount,
  description: "tokens of the session receipts the host was paid for",
};
const contextLength = {
  type: ["integer", "null"],
  description:
    "tokens per request (prompt and output) the host advertises for the model; null when it advertises none",
};
const score = {
  type: "integer",
  minimum: 0,
  maximum: 1000,
  description:
    "the ReputationSystem's score as last emitted (at scoreAt; it decays toward 500 on chain between events): what renters' minimum scores are checked against",
};
const scoreAt = { type: "string", description: "unix seconds of the event that set score" };
const indexerScore = {
  type: "integer",
  description: "the indexer's own score from its counters (protocol/reputation.ts)",
};
const ratingAverage = {
  type: ["number", "null"],
  description: "stars (1-5) averaged over the ratings, weighted by what each renter paid",
};
const hostSummary = {
  type: "object",
  properties: {
    address: { type: "string" },
    score,
    scoreAt,
    indexerScore,
    offences: { type: "integer", description: "offences recorded on chain (each slashed)" },
    slashed: { ...amount, description: "FAB slashed from the host's stake" },
    ratingCount: { type: "integer" },
    ratingAverage,
    stake: amount,
    pricePerToken: {
      ...nullableAmount,
      description: "the host's price for the model; null without model",
    },
    contextLength,
    sessionsServed,
    sessionTokensServed,
  },
};
const outcome = {
  enum: DISPUTE_OUTCOMES,
  description:
    "Open until settled; HostWon: the arbiter paid the host at least half; HostLost: less (an offence, slashed); Unarbitrated: nobody resolved it by the deadline and the default applied (host paid, bond returned)",
};
const dispute = {
  type: "object",
  properties: {
    jobId: { type: "string" },
    renter: { type: "string" },
    host: { type: "string" },
    token: { type: "string" },
    reasonText: { type: "string" },
    bond: { ...amount, description: "the renter's bond, in the job's token" },
    arbitrationDeadline: { type: "string" },
    outcome,
    hostBps: { type: ["integer", "null"] },
    bondToHost: nullableAmount,
    bondRefund: nullableAmount,
    slashed: { ...nullableAmount, description: "FAB slashed from the host for losing it" },
  },
};
const ratingItem = {
  type: "object",
  properties: {
    kind: { enum: WORK },
    jobId: { type: ["string", "null"] },
    sessionId: { type: ["string", "null"] },
    renter: { type: "string" },
    stars: { type: "integer", minimum: 1, maximum: 5 },
    weight: { ...amount, description: "what the renter paid, in the token's rating units" },
    score: { type: "integer", description: "the host's score after the rating" },
  },
};
const offenceItem = {
  type: "object",
  properties: {
    offence: { enum: OFFENCE },
    wronged: { type: ["string", "null"] },
    ref: { type: "string" },
    jobId: { type: ["string", "null"] },
    slashed: { ...amount, description: "FAB taken from the host's stake" },
    compensation: { ...amount, description: "the part of it paid to the wronged party" },
    count: { type: "integer", description: "the host's offences so far, this one included" },
    score: { type: "integer", description: "the host's score after the offence" },
  },
};
const record = {
  type: "object",
  description: "the on-chain reputation record: lifetime counts from the ReputationSystem's events",
  properties: {
    score,
    scoreAt,
    jobs: { type: "integer" },
    sessions: { type: "integer" },
    tokens: amount,
    meanJobSeconds: { type: ["number", "null"] },
    disputesWon: { type: "integer" },
    disputesLost: { type: "integer" },
    abandoned: { type: "integer", description: "claims abandoned (expired after a claim)" },
    challengesLost: { type: "integer" },
    offences: { type: "integer" },
    slashed: { ...amount, description: "FAB slashed for offences" },
    compensation: amount,
    slashFailures: { type: "integer" },
    ratings: {
      type: "object",
      properties: {
        count: { type: "integer" },
        average: ratingAverage,
        plainAverage: { type: ["number", "null"] },
        weight: amount,
      },
    },
    ...proofRecordProperties,
  },
};
const hostDetail = {
  type: "object",
  properties: {
    address: { type: "string" },
    score,
    scoreAt,
    indexerScore,
    status: { enum: HOST_STATUS },
    eligible: { type: "boolean" },
    jobsClaimed: { type: "integer" },
    jobsCompleted: { type: "integer" },
    jobsExpired: { type: "integer" },
    jobsRefused: { type: "integer", description: "claimed jobs the host handed back (refunded)" },
    sessionsOpened: { type: "integer", description: "sessions renters opened with the host" },
    sessionsSettled: { type: "integer" },
    sessionsServed,
    sessionTokensServed,
    models: {
      type: "array",
      items: { type: "object", properties: { modelId: { type: "string" }, contextLength } },
    },
    record,
    ratings: { type: "array", items: ratingItem, description: "the latest 20, newest first" },
    offences: { type: "array", items: offenceItem, description: "the latest 20, newest first" },
    disputes: { type: "array", items: dispute, description: "the latest 20, newest first" },
    challenges: {
      type: "array",
      items: challengeItem,
      description: "the latest 20 challenges of its work, newest first",
    },
    proofs: { type: "array", items: proofItem, description: "the latest 20, newest first" },
  },
};
const payments = {
  type: "array",
  items: {
    type: "object",
    properties: {
      source: {
        enum: ["job", "session", "bond"],
        description:
          "whose lock: a job's, a session's, or a dispute bond's (jobId: the disputed job)",
      },
      kind: {
        enum: ["release", "refund", "pay"],
        description:
          "release: the lock closed, split and the rest refunded; refund: all of it back to the renter; pay: part paid out, the rest stays locked (a session checkpoint)",
      },
      refund: amount,
      hostAmount: amount,
    },
  },
};
const status = { enum: JOB_STATUS };
const job = {
  type: "object",
  properties: {
    id: { type: "string" },
    status,
    settlement: { enum: [...SETTLEMENT, null] },
    minScore: { type: "integer", description: "the least on-chain score a claiming host needed" },
    refusalReason: {
      type: ["string", "null"],
      description: "the host's reason code when the job was refused, e.g. prompt_too_long",
    },
    hostPayment: nullableAmount,
    refund: nullableAmount,
    history: {
      type: "array",
      items: { type: "object", properties: { status, at: { type: "string" } } },
    },
    payments,
    dispute: {
      ...dispute,
      type: ["object", "null"],
      properties: { ...dispute.properties, bondPayments: payments },
    },
    rating: { ...ratingItem, type: ["object", "null"] },
    offences: { type: "array", items: offenceItem },
    proofs: { type: "array", items: proofItem },
    challenges: { type: "array", items: challengeItem },
  },
};
const sessionSummary = {
  type: "object",
  properties: {
    id: { type: "string" },
    renter: { type: "string" },
    host: { type: "string" },
    modelId: { type: "string" },
    token: { type: "string" },
    status: { enum: SESSION_STATUS },
    closeReason: { enum: [...CLOSE_REASON, null] },
    pricePerToken: amount,
    feeDiscountBps: {
      type: "integer",
      description: "the host's discount on the treasury's fee share, fixed at opening",
    },
    salt: { ...amount, description: "the renter's salt; the id is the hash of the terms" },
    openedEvent: {
      type: "string",
      description: "the opening log's chain-ordered id (the list's order and cursor)",
    },
    deposit: { ...amount, description: "opening deposit plus top-ups" },
    paid: { ...amount, description: "cumulative amount of the latest receipt the host was paid" },
    tokens: { ...amount, description: "cumulative tokens of that receipt" },
    remaining: { ...amount, description: "still locked in the escrow (0 once settled)" },
    refund: nullableAmount,
    checkpointCount: { type: "integer" },
  },
};
const sessionDetail = {
  ...sessionSummary,
  properties: {
    ...sessionSummary.properties,
    checkpoints: {
      type: "array",
      items: {
        type: "object",
        properties: {
          tokens: amount,
          amount,
          increment: { ...amount, description: "paid at this checkpoint" },
          digest: { type: "string" },
        },
      },
    },
    payments,
    proofs: { type: "array", items: proofItem },
    challenges: { type: "array", items: challengeItem },
  },
};

export const openapi = {
  openapi: "3.1.0",
  info: {
    title: "Fabstir marketplace API",
    version: "0.1.0",
    description:
      "Discovery, statistics, governance and tokenomics over the indexed Fabstir contracts. Amounts are decimal strings in token base units; token 0x000…000 is ETH. GraphQL at /graphql, SQL over HTTP at /sql.",
  },
  paths: {
    "/hosts": {
      get: {
        summary:
          "Eligible hosts (active, staked at least the registry minimum), filtered and sorted, with cursor pagination",
        parameters: queryParameters(hostsQuery),
        responses: {
          "200": ok("A page of hosts (with the model's price and context length) and nextCursor", {
            type: "object",
            properties: {
              hosts: { type: "array", items: hostSummary },
              nextCursor: { type: ["string", "null"] },
            },
          }),
          "400": error,
        },
      },
    },
    "/hosts/{address}": {
      get: {
        summary:
          "One host: profile, models with context lengths, offers, earnings, session counters, performance, the indexer's reputation components, and its on-chain record (reputation, proofs, challenges) with its latest ratings, offences, disputes, challenges and proofs",
        parameters: [{ name: "address", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": ok("The host", hostDetail), "400": error, "404": error },
      },
    },
    "/models": {
      get: {
        summary: "Models with host counts and price ranges per token",
        responses: { "200": ok("Models") },
      },
    },
    "/jobs/{id}": {
      get: {
        summary:
          "A job with its status history, payments, dispute (with the bond's movements), rating, offences, proofs and challenges",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": ok("The job", job), "400": error, "404": error },
      },
    },
    "/disputes": {
      get: {
        summary: "Job disputes, newest first, filtered by host, renter and outcome",
        parameters: queryParameters(disputesQuery),
        responses: {
          "200": ok("A page of disputes and nextCursor", {
            type: "object",
            properties: {
              disputes: { type: "array", items: dispute },
              nextCursor: { type: ["string", "null"] },
            },
          }),
          "400": error,
        },
      },
    },
    ...proofPaths(queryParameters, error),
    "/sessions": {
      get: {
        summary: "Sessions, newest first, filtered by renter, host, model, token and status",
        parameters: queryParameters(sessionsQuery),
        responses: {
          "200": ok("A page of sessions and nextCursor", {
            type: "object",
            properties: {
              sessions: { type: "array", items: sessionSummary },
              nextCursor: { type: ["string", "null"] },
            },
          }),
          "400": error,
        },
      },
    },
    "/sessions/{id}": {
      get: {
        summary:
          "A session with its checkpoints (paid receipts), escrow payments, proofs and challenges",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": ok("The session", sessionDetail), "400": error, "404": error },
      },
    },
    "/stats/daily": {
      get: {
        summary: "Daily marketplace statistics, newest first",
        parameters: queryParameters(dailyQuery),
        responses: { "200": ok("Days"), "400": error },
      },
    },
    ...governancePaths(queryParameters, error),
  },
} as const;
