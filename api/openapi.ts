/** The OpenAPI 3.1 document of the REST API; query parameters come from the same zod schemas that validate them. */
import { z } from "zod";
import { HOST_STATUS, JOB_STATUS, SETTLEMENT } from "../abis/enums.ts";
import { dailyQuery, hostsQuery } from "./params.ts";

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
const contextLength = {
  type: ["integer", "null"],
  description:
    "tokens per request (prompt and output) the host advertises for the model; null when it advertises none",
};
const hostSummary = {
  type: "object",
  properties: {
    address: { type: "string" },
    score: { type: "integer", minimum: 0, maximum: 1000 },
    stake: amount,
    pricePerToken: {
      ...nullableAmount,
      description: "the host's price for the model; null without model",
    },
    contextLength,
  },
};
const hostDetail = {
  type: "object",
  properties: {
    address: { type: "string" },
    status: { enum: HOST_STATUS },
    eligible: { type: "boolean" },
    jobsClaimed: { type: "integer" },
    jobsCompleted: { type: "integer" },
    jobsExpired: { type: "integer" },
    jobsRefused: { type: "integer", description: "claimed jobs the host handed back (refunded)" },
    models: {
      type: "array",
      items: { type: "object", properties: { modelId: { type: "string" }, contextLength } },
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
    payments: {
      type: "array",
      items: {
        type: "object",
        properties: { kind: { enum: ["release", "refund"] }, refund: amount, hostAmount: amount },
      },
    },
  },
};

export const openapi = {
  openapi: "3.1.0",
  info: {
    title: "Fabstir marketplace API",
    version: "0.1.0",
    description:
      "Discovery and statistics over the indexed Fabstir contracts. Amounts are decimal strings in token base units; token 0x000…000 is ETH. GraphQL at /graphql, SQL over HTTP at /sql.",
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
          "One host: profile, models with context lengths, offers, earnings, performance and reputation components",
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
        summary: "A job with its status history and payments",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": ok("The job", job), "400": error, "404": error },
      },
    },
    "/stats/daily": {
      get: {
        summary: "Daily marketplace statistics, newest first",
        parameters: queryParameters(dailyQuery),
        responses: { "200": ok("Days"), "400": error },
      },
    },
  },
} as const;
