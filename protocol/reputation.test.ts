/** The reputation score: refused jobs are neither completions nor failures. */
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { type ReputationInput, reputation, STAKE_SATURATION, WEIGHTS } from "./reputation.ts";

const base: ReputationInput = {
  jobsClaimed: 0,
  jobsCompleted: 0,
  jobsExpired: 0,
  jobsRefused: 0,
  disputesLost: 0,
  stake: STAKE_SATURATION,
  firstRegisteredAt: 0n,
  at: 0n,
};

describe("reputation", () => {
  it("gives a host without jobs half the reliability weight and full expiry and dispute weights", () => {
    const r = reputation(base);
    assert.deepEqual(r.components, {
      reliability: 0.5,
      disputes: 1,
      expiries: 1,
      stake: 1,
      tenure: 0,
    });
    assert.equal(
      r.score,
      WEIGHTS.reliability / 2 + WEIGHTS.disputes + WEIGHTS.expiries + WEIGHTS.stake,
    );
  });

  it("takes reliability and expiries over the claims the host kept, not the refused ones", () => {
    const served = reputation({ ...base, jobsClaimed: 4, jobsCompleted: 3, jobsExpired: 1 });
    const withRefusals = reputation({
      ...base,
      jobsClaimed: 10,
      jobsCompleted: 3,
      jobsExpired: 1,
      jobsRefused: 6,
    });
    assert.deepEqual(withRefusals, served);
    assert.equal(served.components.reliability, 0.75);
    assert.equal(served.components.expiries, 0.75);
  });

  it("treats a host that refused every claim like a host without jobs", () => {
    const r = reputation({ ...base, jobsClaimed: 3, jobsRefused: 3 });
    assert.deepEqual(r, reputation(base));
  });

  it("counts a served session like a completed job, and an unused one not at all", () => {
    const jobs = reputation({ ...base, jobsClaimed: 4, jobsCompleted: 2, jobsExpired: 2 });
    const withSessions = reputation({
      ...base,
      jobsClaimed: 4,
      jobsCompleted: 2,
      jobsExpired: 2,
      sessionsServed: 4,
    });
    assert.equal(jobs.components.reliability, 0.5);
    assert.equal(withSessions.components.reliability, 0.75);
    // Expiries stay over the jobs the host claimed.
    assert.equal(withSessions.components.expiries, jobs.components.expiries);
    const onlySessions = reputation({ ...base, sessionsServed: 1 });
    assert.equal(onlySessions.components.reliability, 1);
    assert.deepEqual(reputation({ ...base, sessionsServed: 0 }), reputation(base));
  });

  it("still counts expiries against the host", () => {
    const r = reputation({ ...base, jobsClaimed: 2, jobsExpired: 1, jobsRefused: 1 });
    assert.equal(r.components.reliability, 0);
    assert.equal(r.components.expiries, 0);
  });
});
