/** Output-challenge evidence: its hash, and its checks against what the host committed to. */
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  canonicalJson,
  type DigestStep,
  digestCovers,
  evidenceHash,
  evidenceMismatch,
  foldDigest,
  type OutputEvidence,
  outputEvidenceSchema,
} from "./challenges.ts";
import { outputHash, requestHash } from "./hashing.ts";
import { EMPTY_DIGEST, nextDigest } from "./sessions.ts";

const request = {
  messages: [{ role: "user" as const, content: "hello" }],
  params: { maxTokens: 8 },
};
const other = { messages: [{ role: "user" as const, content: "bye" }], params: {} };
const step = (r: typeof request | typeof other, text: string) => ({
  request: requestHash(r),
  output: outputHash(text),
});
const steps = [step(other, "first"), step(request, "the answer"), step(other, "third")];
const [, challenged] = steps as [DigestStep, DigestStep, DigestStep];

function evidence(over: Partial<OutputEvidence> = {}): OutputEvidence {
  return {
    v: 1,
    chainId: 31337,
    proofSystem: "0x00000000000000000000000000000000000000aa",
    work: "session",
    id: "7",
    model: "fabstir-tiny-chat",
    request,
    answer: "the answer",
    steps,
    index: 1,
    salt: `0x${"11".repeat(32)}`,
    ...over,
  };
}

describe("output-challenge evidence", () => {
  it("hashes the canonical JSON: key order does not matter, every value does", () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: "x" }] }), '{"a":[{"c":"x","d":2}],"b":1}');
    const e = evidence();
    const { salt, ...rest } = e;
    const reordered = JSON.parse(JSON.stringify({ salt, ...rest })) as OutputEvidence;
    assert.equal(evidenceHash(reordered), evidenceHash(e));
    assert.notEqual(evidenceHash(evidence({ answer: "the answer." })), evidenceHash(e));
    assert.notEqual(evidenceHash(evidence({ salt: `0x${"22".repeat(32)}` })), evidenceHash(e));
  });

  it("folds the steps exactly as receipts' digests are built", () => {
    let d = EMPTY_DIGEST;
    d = nextDigest(d, requestHash(other), "first");
    d = nextDigest(d, requestHash(request), "the answer");
    assert.equal(foldDigest(steps.slice(0, 2)), d);
    assert.equal(foldDigest([]), EMPTY_DIGEST);
  });

  it("accepts session evidence whose steps fold to a checkpointed digest at or after the answer", () => {
    const atAnswer = foldDigest(steps.slice(0, 2));
    const later = foldDigest(steps);
    assert.equal(evidenceMismatch(evidence(), { work: "session", digests: [atAnswer] }), undefined);
    assert.equal(evidenceMismatch(evidence(), { work: "session", digests: [later] }), undefined);
    assert.equal(digestCovers(steps, 1, [later]), true);
    // A checkpoint before the answer does not cover it.
    const before = foldDigest(steps.slice(0, 1));
    assert.match(
      evidenceMismatch(evidence(), { work: "session", digests: [before] }) ?? "",
      /do not fold to a digest/,
    );
    assert.equal(digestCovers(steps, 1, [before]), false);
  });

  it("refuses evidence that is not what the host committed to", () => {
    const digests = [foldDigest(steps)];
    const cases: [Partial<OutputEvidence>, RegExp][] = [
      [{ answer: "another answer" }, /answer does not hash/],
      [{ request: other }, /request does not hash/],
      [{ index: 5 }, /not among the 3 steps/],
      // Steps changed after the fact no longer fold to the host's digest.
      [{ steps: [steps[0], steps[1], step(other, "edited")] as typeof steps }, /do not fold/],
    ];
    for (const [over, why] of cases)
      assert.match(evidenceMismatch(evidence(over), { work: "session", digests }) ?? "", why);
    assert.match(
      evidenceMismatch(evidence(), {
        work: "job",
        promptHash: challenged.request,
        outputHash: challenged.output,
      }) ?? "",
      /about a session/,
    );
  });

  it("checks a job's evidence against its promptHash and output hash", () => {
    const job = evidence({ work: "job", steps: undefined, index: undefined });
    const c = {
      work: "job" as const,
      promptHash: requestHash(request),
      outputHash: outputHash("the answer"),
    };
    assert.equal(evidenceMismatch(job, c), undefined);
    assert.match(evidenceMismatch(job, { ...c, outputHash: outputHash("x") }) ?? "", /output hash/);
    assert.match(evidenceMismatch(job, { ...c, promptHash: outputHash("x") }) ?? "", /promptHash/);
  });

  it("validates the evidence's shape", () => {
    assert.equal(outputEvidenceSchema.safeParse(evidence()).success, true);
    const bad: unknown[] = [
      { ...evidence(), steps: undefined },
      { ...evidence(), v: 2 },
      { ...evidence(), salt: "0x12" },
      { ...evidence(), id: "-1" },
      { ...evidence(), request: { messages: [], params: {} } },
      { ...evidence(), request: { ...request, params: { temperature: 9 } } },
    ];
    for (const b of bad)
      assert.equal(
        outputEvidenceSchema.safeParse(b).success,
        false,
        JSON.stringify(b).slice(0, 80),
      );
  });
});
