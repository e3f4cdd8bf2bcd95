/**
 * The gateway's error mapping, through Hono's app.request(): each renter error comes back
 * with its HTTP status and OpenAI error type, and anything unexpected is a 500 that says
 * "internal error" and nothing more, in both modes. The renter here is a stand-in whose session
 * chat and job `run` fail at once (the paid paths themselves are tested end to end in
 * test/e2e/sessions.test.ts and test/e2e/marketplace.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import type { Renter } from "./client.ts";
import {
  DiscoveryError,
  InsufficientFundsError,
  InvalidRequestError,
  NoHostError,
  RenterUsageError,
  TransactionRefusedError,
} from "./errors.ts";
import { createGatewayApp } from "./gateway.ts";

function failingRenter(error: Error): Renter {
  // biome-ignore lint/correctness/useYield: it fails before its first event, as a real run can
  const fail = async function* (): AsyncGenerator<never, never> {
    throw error;
  };
  const stand = {
    address: "0x0000000000000000000000000000000000000001",
    run: fail,
    sessions: { chat: fail },
  };
  return stand as unknown as Renter;
}

async function ask(error: Error, mode: "session" | "job" = "session") {
  const app = createGatewayApp({ renter: failingRenter(error), mode });
  const res = await app.request("/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
  });
  return {
    status: res.status,
    error: ((await res.json()) as { error: Record<string, unknown> }).error,
  };
}

describe("renter gateway errors", () => {
  it("answers each renter error with its status and OpenAI type", async () => {
    const cases: [Error, number, string, string | null][] = [
      [
        new InvalidRequestError("max_tokens is too big", "max_tokens"),
        400,
        "invalid_request_error",
        "max_tokens",
      ],
      [new RenterUsageError("bad flag"), 400, "invalid_request_error", null],
      [new InsufficientFundsError("the wallet is empty"), 402, "insufficient_quota", null],
      [new NoHostError("no host serves m"), 503, "server_overloaded", null],
      [new DiscoveryError("the API is down"), 503, "server_error", null],
      [
        new TransactionRefusedError("postJob", undefined, "JobMarketplacePaused"),
        502,
        "server_error",
        null,
      ],
    ];
    for (const mode of ["session", "job"] as const)
      for (const [e, status, type, param] of cases) {
        const r = await ask(e, mode);
        assert.equal(r.status, status, `${mode}: ${e.name}`);
        assert.equal(r.error.type, type, `${mode}: ${e.name}`);
        assert.equal(r.error.param, param, `${mode}: ${e.name}`);
        assert.equal(r.error.message, e.message, `${mode}: ${e.name}`);
      }
  });

  it("never leaks an internal message on a 500", async () => {
    for (const mode of ["session", "job"] as const) {
      const r = await ask(new Error("connect ECONNREFUSED postgres://admin:hunter2@db"), mode);
      assert.equal(r.status, 500);
      assert.equal(r.error.message, "internal error");
      assert.equal(r.error.type, "server_error");
      assert.doesNotMatch(JSON.stringify(r.error), /hunter2/);
    }
  });

  it("validates a rating before it reaches the chain, and maps the contract's refusal", async () => {
    const calls: unknown[][] = [];
    const renter = {
      address: "0x0000000000000000000000000000000000000001",
      async rate(...args: unknown[]) {
        calls.push(args);
        throw new TransactionRefusedError("rateSession", undefined, "ReputationAlreadyRated");
      },
    } as unknown as Renter;
    const app = createGatewayApp({ renter });
    const rate = (body: unknown) =>
      app.request("/v1/fabstir/ratings", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    for (const bad of [
      "{",
      { kind: "session", id: "1", stars: 6 },
      { kind: "session", id: "1", stars: 0 },
      { kind: "session", id: "-1", stars: 3 },
      { kind: "host", id: "1", stars: 3 },
      { kind: "job", id: "1", stars: 2.5 },
    ])
      assert.equal((await rate(bad)).status, 400, JSON.stringify(bad));
    assert.equal(calls.length, 0, "nothing invalid reaches the chain");
    const refused = await rate({ kind: "session", id: "7", stars: 4 });
    assert.equal(refused.status, 502);
    assert.deepEqual(calls, [["session", 7n, 4]]);
  });
});
