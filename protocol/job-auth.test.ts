/** Job authorization: the request hash's canonical form, and signatures bound to job, host, chain and contract. */
import assert from "node:assert/strict";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, it } from "vitest";
import { requestHash } from "./hashing.ts";
import { recoverJobAuthorizer, signJobAuthorization } from "./job-auth.ts";

const renter = privateKeyToAccount(generatePrivateKey());
const host = privateKeyToAccount(generatePrivateKey()).address;
const domain = {
  chainId: 31337,
  marketplace: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
} as const;
const request = {
  messages: [{ role: "user" as const, content: "hi" }],
  params: { temperature: 0, maxTokens: 8 },
};

describe("job authorization", () => {
  it("hashes requests canonically: key order and unset parameters do not matter, content does", () => {
    const h = requestHash(request);
    assert.equal(
      requestHash({ params: { maxTokens: 8, temperature: 0 }, messages: request.messages }),
      h,
    );
    assert.equal(requestHash({ ...request, params: { ...request.params, seed: undefined } }), h);
    assert.notEqual(requestHash({ ...request, params: { temperature: 0, maxTokens: 9 } }), h);
    assert.notEqual(requestHash({ ...request, messages: [{ role: "system", content: "hi" }] }), h);
    assert.notEqual(requestHash({ prompt: "hi", params: request.params }), h);
  });

  it("recovers the renter only for the same job, host, request, chain and marketplace", async () => {
    const message = { jobId: 7n, host, requestHash: requestHash(request) };
    const signature = await signJobAuthorization(renter, domain, message);
    assert.equal(await recoverJobAuthorizer(domain, message, signature), renter.address);
    const others = [
      [domain, { ...message, jobId: 8n }],
      [domain, { ...message, host: renter.address }],
      [domain, { ...message, requestHash: requestHash({ ...request, params: {} }) }],
      [{ ...domain, chainId: 8453 }, message],
      [{ ...domain, marketplace: host }, message],
    ] as const;
    for (const [d, m] of others)
      assert.notEqual(await recoverJobAuthorizer(d, m, signature), renter.address);
    assert.equal(await recoverJobAuthorizer(domain, message, `0x${"00".repeat(65)}`), undefined);
  });
});
