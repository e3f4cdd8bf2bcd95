/** The wire's error table, the error base class and the job status labels. */
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { ChainError, FabstirError, publicMessage } from "./errors.ts";
import { hostStatus, UnknownHostStatusError } from "./hosts.ts";
import { jobStatus, MAX_JOB_TOKENS, UnknownJobStatusError } from "./jobs.ts";
import { chainModelId, ModelIdError } from "./model-id.ts";
import { SAMPLING, samplingParamsSchema } from "./wire.ts";
import { errorObject, errorObjectOf, errorStatus, errorType, JOB_REFUSALS } from "./wire-errors.ts";

class Oops extends FabstirError {}
class BadInput extends FabstirError {
  override readonly code = "invalid_request";
  override readonly userError = true;
}

describe("wire errors", () => {
  it("maps each code to its HTTP status and OpenAI error type", () => {
    const cases: [string, number, string][] = [
      ["invalid_request", 400, "invalid_request_error"],
      ["invalid_usage", 400, "invalid_request_error"],
      ["context_length_exceeded", 400, "invalid_request_error"],
      ["invalid_signature", 401, "authentication_error"],
      ["wrong_renter", 403, "permission_error"],
      ["model_not_found", 404, "not_found_error"],
      ["insufficient_funds", 402, "insufficient_quota"],
      ["busy", 503, "server_overloaded"],
      ["host_unresponsive", 504, "timeout"],
      ["transaction_refused", 502, "server_error"],
      ["something_new", 500, "server_error"],
    ];
    for (const [code, status, type] of cases) {
      assert.equal(errorStatus(code), status, code);
      assert.equal(errorType(code), type, code);
    }
    // Every refusal a host can give a paid request is a client error, never a 500.
    for (const code of Object.keys(JOB_REFUSALS)) assert.ok(errorStatus(code) < 500, code);
  });

  it("builds OpenAI error objects and keeps internal details off the wire", () => {
    assert.deepEqual(errorObject("invalid_request", "max_tokens: too big", "max_tokens"), {
      error: {
        message: "max_tokens: too big",
        type: "invalid_request_error",
        param: "max_tokens",
        code: "invalid_request",
      },
    });
    const internal = new Oops("database password is hunter2");
    assert.equal(errorObjectOf(internal).error.message, "internal error");
    assert.equal(publicMessage(new Error("stack details")), "internal error");
    assert.equal(
      errorObjectOf(new BadInput("temperature: too hot")).error.message,
      "temperature: too hot",
    );
    assert.equal(publicMessage(new ChainError("the RPC failed 8 times")), "the RPC failed 8 times");
    assert.equal(new ChainError("x").name, "ChainError");
  });
});

describe("shared rules", () => {
  it("labels job statuses from the generated enum and refuses an unknown one", () => {
    assert.equal(jobStatus(0), "None");
    assert.equal(jobStatus(2), "Claimed");
    assert.throws(() => jobStatus(200), UnknownJobStatusError);
    assert.equal(hostStatus(1), "Active");
    assert.throws(() => hostStatus(9), UnknownHostStatusError);
    assert.equal(MAX_JOB_TOKENS, 16_777_215);
  });

  it("refuses a model name that cannot be a bytes32 id with a user error", () => {
    assert.throws(() => chainModelId("x".repeat(33)), ModelIdError);
    assert.equal(new ModelIdError("x").userError, true);
  });

  it("holds sampling parameters to one set of bounds", () => {
    assert.equal(
      samplingParamsSchema.safeParse({ temperature: 2, topP: 1, topK: 0 }).success,
      true,
    );
    for (const bad of [
      { temperature: 2.1 },
      { topP: 0 },
      { topK: -1 },
      { topK: 1.5 },
      { maxTokens: 0 },
      { stop: ["a", "b", "c", "d", "e"] },
      { stop: ["x".repeat(257)] },
      { seed: 2 ** 60 },
    ])
      assert.equal(samplingParamsSchema.safeParse(bad).success, false, JSON.stringify(bad));
    assert.equal(SAMPLING.stopSequence.safeParse("x".repeat(256)).success, true);
  });
});
