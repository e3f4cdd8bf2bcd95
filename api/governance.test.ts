/** Proposal states as the governor computes them, and the pool's reward rates. */
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { proposalState, quorumOf, type Tally } from "./governance.ts";
import { ratePerYear, WHOLE } from "./tokenomics.ts";

const base: Tally = {
  voteStart: 100n,
  voteEnd: 200n,
  forVotes: 0n,
  againstVotes: 0n,
  abstainVotes: 0n,
  eta: null,
  executedAt: null,
  canceledAt: null,
};

describe("proposalState", () => {
  it("is Pending up to the snapshot and Active up to the deadline, both inclusive", () => {
    assert.equal(proposalState(base, 100n, null), "Pending");
    assert.equal(proposalState(base, 101n, 10n), "Active");
    assert.equal(proposalState(base, 200n, 10n), "Active");
  });
  it("after the deadline: Defeated without quorum or majority, else Succeeded, then Queued", () => {
    const passed = { ...base, forVotes: 6n, againstVotes: 5n };
    assert.equal(proposalState(passed, 201n, 7n), "Defeated"); // for + abstain below quorum
    assert.equal(proposalState({ ...passed, abstainVotes: 1n }, 201n, 7n), "Succeeded");
    assert.equal(proposalState({ ...passed, againstVotes: 6n }, 201n, 1n), "Defeated"); // a tie fails
    assert.equal(proposalState({ ...passed, eta: 300n }, 201n, 1n), "Queued");
  });
  it("puts Executed and Canceled before any time rule", () => {
    assert.equal(proposalState({ ...base, executedAt: 5n }, 1n, null), "Executed");
    assert.equal(proposalState({ ...base, canceledAt: 5n }, 1n, null), "Canceled");
  });
  it("takes the quorum as a percentage of the supply, rounded down", () => {
    assert.equal(quorumOf(999n, 4n), 39n);
  });
});

describe("ratePerYear", () => {
  it("annualises 30 days per whole unit of the base, and is null without one", () => {
    // 30 units over 30 days on 1 whole FAB: 365 units a year.
    assert.equal(ratePerYear(30n, WHOLE), 365n);
    assert.equal(ratePerYear(30n, 2n * WHOLE), 182n);
    assert.equal(ratePerYear(30n, 0n), null);
  });
});
