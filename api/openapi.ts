/** The OpenAPI 3.1 document of the REST API; query parameters come from the same zod schemas that validate them. */
import { z } from "zod";
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
const ok = (description: string) => ({
  description,
  content: { "application/json": { schema: { type: "object" } } },
});

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
        responses: { "200": ok("A page of hosts and nextCursor"), "400": error },
      },
    },
    "/hosts/{address}": {
      get: {
        summary: "One host: profile, offers, earnings, performance and reputation components",
        parameters: [{ name: "address", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": ok("The host"), "400": error, "404": error },
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
        responses: { "200": ok("The job"), "400": error, "404": error },
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
