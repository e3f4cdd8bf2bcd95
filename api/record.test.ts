/** The on-chain record as the API shows it: rating averages weighted by what renters paid. */
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { emptyRecord, proofRecordOf, ratingAverage, recordOf } from "./record.ts";

const HOST = `0x${"ab".repeat(20)}` as const;

describe("ratingAverage", () => {
  it("weighs each rating by what its renter paid", () => {
    // 5 stars for 300 units, 1 star for 100: (1500 + 100) / 400.
    const r = { ratings: 2, ratingWeight: 400n, weightedStars: 1_600n, starsTotal: 6 };
    assert.equal(ratingAverage(r), 4);
  });
  it("falls back to the plain average when no rating carries weight, and is null without ratings", () => {
    assert.equal(
      ratingAverage({ ratings: 3, ratingWeight: 0n, weightedStars: 0n, starsTotal: 7 }),
      2.333,
    );
    assert.equal(
      ratingAverage({ ratings: 0, ratingWeight: 0n, weightedStars: 0n, starsTotal: 0 }),
      null,
    );
  });
});

describe("recordOf", () => {
  it("shows a host without reputation events with its score, nothing counted", () => {
    const r = recordOf(emptyRecord(HOST, 500, 123n));
    assert.equal(r.score, 500);
    assert.equal(r.scoreAt, 123n);
    assert.equal(r.meanJobSeconds, null);
    assert.deepEqual(r.ratings, { count: 0, average: null, plainAverage: null, weight: 0n });
  });
  it("averages the jobs' claim-to-completion time", () => {
    const r = recordOf({ ...emptyRecord(HOST, 700, 1n), jobs: 4, jobSecondsTotal: 10n });
    assert.equal(r.meanJobSeconds, 2.5);
  });
});

describe("proofRecordOf", () => {
  it("counts nothing for a host without proofs or challenges", () => {
    const r = recordOf(emptyRecord(HOST, 500, 1n));
    assert.deepEqual(r.proofs, { submissions: 0, jobs: 0, sessions: 0, tokens: 0n, chunks: 0 });
    assert.equal(r.challenges.total, 0);
    assert.equal(r.challenges.slashed, 0n);
  });
  it("counts Answered and Rejected as won, Unanswered and Upheld as lost, the rest as neither", () => {
    const c = proofRecordOf({
      host: HOST,
      proofs: 3,
      jobsProven: 2,
      sessionsProven: 1,
      provenTokens: 300n,
      provenChunks: 6,
      challenges: 9,
      challengesOpen: 1,
      challengesAnswered: 1,
      challengesRejected: 2,
      challengesUnanswered: 1,
      challengesUpheld: 1,
      challengesUnarbitrated: 2,
      challengesVoided: 1,
      challengeSlashed: 7n,
      updatedAt: 1n,
    }).challenges;
    assert.deepEqual([c.total, c.open, c.won, c.lost], [9, 1, 3, 2]);
    assert.deepEqual([c.unarbitrated, c.voided, c.slashed], [2, 1, 7n]);
  });
});
