/** Session receipts: the digest chain, signatures bound to session, chain and contract, and the wire form. */
import assert from "node:assert/strict";
import { keccak256, stringToHex, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, it } from "vitest";
import { outputHash, requestHash } from "./hashing.ts";
import {
  EMPTY_DIGEST,
  emptyReceipt,
  nextDigest,
  nextReceipt,
  randomSalt,
  receiptFromWire,
  receiptToWire,
  SESSION_HEADERS,
  type SessionTerms,
  sessionFromHeaders,
  sessionHeaders,
  sessionIdOf,
  signedByRenter,
  signReceipt,
  termsFromWire,
  termsHash,
  termsToWire,
} from "./sessions.ts";

const renter = privateKeyToAccount(generatePrivateKey());
const signer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const domain = { chainId: 31337, sessions: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } as const;
const terms: SessionTerms = {
  renter: renter.address,
  host: privateKeyToAccount(generatePrivateKey()).address,
  token: zeroAddress,
  signer: signer.address,
  modelId: keccak256("0x01"),
  pricePerToken: 1_000n,
  expiry: 2_000_000_000n,
  feeDiscountBps: 0,
  salt: 42n,
};

/** A request hash for receipts whose request does not matter to the test. */
const Q = keccak256(stringToHex("a request"));

describe("session receipts", () => {
  it("chains the requests and answers: order, every request and every text matter", () => {
    const q1 = requestHash({ messages: [{ role: "user", content: "one?" }] });
    const q2 = requestHash({ messages: [{ role: "user", content: "two?" }] });
    const a = nextDigest(nextDigest(EMPTY_DIGEST, q1, "one"), q2, "two");
    assert.equal(a, nextDigest(nextDigest(EMPTY_DIGEST, q1, "one"), q2, "two"));
    assert.notEqual(a, nextDigest(nextDigest(EMPTY_DIGEST, q2, "two"), q1, "one"));
    assert.notEqual(a, nextDigest(nextDigest(EMPTY_DIGEST, q1, "one"), q2, "two!"));
    // The same answer to another request is another digest: an answer is pinned to its prompt.
    assert.notEqual(a, nextDigest(nextDigest(EMPTY_DIGEST, q1, "one"), q1, "two"));
    assert.notEqual(nextDigest(EMPTY_DIGEST, q1, "one"), outputHash("one"));
  });

  it("accumulates tokens and amount at the session's price", () => {
    const r1 = nextReceipt(
      emptyReceipt(7n),
      { tokens: 3, text: "abc", request: Q },
      terms.pricePerToken,
    );
    const r2 = nextReceipt(r1, { tokens: 5, text: "defgh", request: Q }, terms.pricePerToken);
    assert.deepEqual([r2.sessionId, r2.tokens, r2.amount], [7n, 8, 8_000n]);
    assert.equal(r2.digest, nextDigest(nextDigest(EMPTY_DIGEST, Q, "abc"), Q, "defgh"));
  });

  it("accepts the renter's and the named signer's signatures, nobody else's", async () => {
    const r = nextReceipt(emptyReceipt(1n), { tokens: 2, text: "hi", request: Q }, 10n);
    assert.ok(await signedByRenter(domain, terms, await signReceipt(renter, domain, r)));
    assert.ok(await signedByRenter(domain, terms, await signReceipt(signer, domain, r)));
    assert.ok(!(await signedByRenter(domain, terms, await signReceipt(stranger, domain, r))));
    // Without a named signer, the session key is nobody.
    const alone = { ...terms, signer: zeroAddress };
    assert.ok(!(await signedByRenter(domain, alone, await signReceipt(signer, domain, r))));
  });

  it("binds a signature to its session, amount, chain and contract", async () => {
    const r = nextReceipt(emptyReceipt(1n), { tokens: 2, text: "hi", request: Q }, 10n);
    const s = await signReceipt(renter, domain, r);
    for (const [d, receipt] of [
      [domain, { ...s, sessionId: 2n }],
      [domain, { ...s, amount: s.amount + 1n }],
      [domain, { ...s, tokens: s.tokens + 1 }],
      [domain, { ...s, digest: EMPTY_DIGEST }],
      [{ ...domain, chainId: 8453 }, s],
      [{ ...domain, sessions: stranger.address }, s],
    ] as const)
      assert.ok(!(await signedByRenter(d, terms, receipt)));
    assert.ok(!(await signedByRenter(domain, terms, { ...s, signature: "0x1234" })));
  });

  it("hashes terms over every field", () => {
    const h = termsHash(terms);
    assert.equal(h, termsHash(termsFromWire(termsToWire(terms))));
    assert.notEqual(h, termsHash({ ...terms, pricePerToken: 1_001n }));
    assert.notEqual(h, termsHash({ ...terms, signer: zeroAddress }));
    assert.notEqual(h, termsHash({ ...terms, feeDiscountBps: 1 }));
    assert.notEqual(h, termsHash({ ...terms, salt: terms.salt + 1n }));
    assert.equal(sessionIdOf(terms), BigInt(h), "the id is the hash as a number");
    assert.notEqual(randomSalt(), randomSalt());
  });

  it("round-trips through headers and refuses malformed ones", async () => {
    const receipt = await signReceipt(
      renter,
      domain,
      nextReceipt(emptyReceipt(9n), { tokens: 1, text: "x", request: Q }, 5n),
    );
    const auth = { sessionId: "9", terms: termsToWire(terms), receipt: receiptToWire(receipt) };
    const headers = sessionHeaders(auth);
    const parsed = sessionFromHeaders((n) => headers[n]);
    assert.deepEqual(parsed, auth);
    assert.deepEqual(receiptFromWire(parsed?.receipt as never), receipt);
    assert.equal(
      sessionFromHeaders(() => undefined),
      undefined,
    );
    const bad = (patch: Record<string, string>) => () =>
      sessionFromHeaders((n) => ({ ...headers, ...patch })[n]);
    assert.throws(bad({ [SESSION_HEADERS.id]: "-1" }));
    assert.throws(bad({ [SESSION_HEADERS.terms]: "{not json" }));
    assert.throws(
      bad({ [SESSION_HEADERS.receipt]: JSON.stringify({ ...auth.receipt, tokens: -1 }) }),
    );
    assert.throws(
      bad({ [SESSION_HEADERS.receipt]: JSON.stringify({ ...auth.receipt, amount: "1e9" }) }),
    );
    // Fields the contract holds in 64 bits are refused beyond them, before any hashing.
    for (const field of ["salt", "expiry", "pricePerToken"] as const) {
      assert.throws(
        bad({
          [SESSION_HEADERS.terms]: JSON.stringify({ ...auth.terms, [field]: String(2n ** 64n) }),
        }),
        field,
      );
      const max = { ...auth.terms, [field]: String(2n ** 64n - 1n) };
      assert.deepEqual(
        sessionFromHeaders((n) => ({ ...headers, [SESSION_HEADERS.terms]: JSON.stringify(max) })[n])
          ?.terms,
        max,
      );
    }
  });
});
