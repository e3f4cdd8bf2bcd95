import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import {
  encodeErrorResult,
  encodeFunctionData,
  getAddress,
  keccak256,
  pad,
  parseEther,
  stringToHex,
  toHex,
  zeroAddress,
} from "viem";
import { openSession, receiptFor, sessionRequest, signReceipt } from "../../fixtures/sessions.ts";
import {
  DAY,
  deploySystem,
  ETH,
  MIN_STAKE,
  MODEL,
  OUTPUT,
  postJob,
  registerHost,
  type System,
} from "../../fixtures/system.ts";

const HOST_PRICE = parseEther("0.000001");
const USED = 700;
const GWEI = 10n ** 9n;
const Work = { Job: 0, Session: 1 } as const;
const Offence = { AbandonedClaim: 0, DisputeLost: 1, ChallengeLost: 2 } as const;
const SLASHER_ROLE = keccak256(stringToHex("SLASHER_ROLE"));
const RECORDER_ROLE = keccak256(stringToHex("RECORDER_ROLE"));

/** The system with both hosts staked 10 minimum stakes, selling MODEL for ETH and tUSD. */
async function withHosts(connection: NetworkConnection) {
  const sys = await deploySystem(connection);
  const offers = [
    { modelId: MODEL, token: ETH, pricePerToken: HOST_PRICE },
    { modelId: MODEL, token: sys.usd.address, pricePerToken: 2n },
  ];
  for (const h of [sys.host, sys.host2]) {
    await registerHost(sys, h, { stake: 10n * MIN_STAKE, offers });
  }
  return sys;
}

describe("ReputationSystem", async () => {
  const connection = await network.create();
  const { viem, networkHelpers } = connection;
  const { loadFixture, time } = networkHelpers;
  const a = viem.assertions;

  type Host = System["host"];

  async function claimed(sys: System, host: Host = sys.host, overrides = {}) {
    const { jobId, request } = await postJob(sys, {
      deadline: BigInt(await time.latest()) + DAY,
      ...overrides,
    });
    await sys.marketplace.write.claimJob([jobId], { account: host.account });
    return { jobId, request };
  }

  async function completed(sys: System, host: Host = sys.host, used = USED, overrides = {}) {
    const job = await claimed(sys, host, overrides);
    const hash = await sys.marketplace.write.completeJob([job.jobId, OUTPUT, used], {
      account: host.account,
    });
    return { ...job, hash };
  }

  async function settled(sys: System, host: Host = sys.host, used = USED, overrides = {}) {
    const job = await completed(sys, host, used, overrides);
    await sys.marketplace.write.acceptJob([job.jobId], { account: sys.renter.account });
    return job;
  }

  /** A claimed job its host abandons: taken back after the claim timeout (by anyone). */
  async function abandoned(sys: System, host: Host = sys.host) {
    const job = await claimed(sys, host);
    await time.increase(3_601);
    const hash = await sys.marketplace.write.expireJob([job.jobId], { account: sys.other.account });
    return { ...job, hash };
  }

  async function held(sys: System, host: Host) {
    const [, stake, , unbonding] = await sys.registry.read.hostState([host.account.address]);
    return stake + unbonding;
  }

  async function blockTime(sys: System, hash: `0x${string}`) {
    const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
    return (await sys.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
  }

  // ---------------------------------------------------------------- score

  describe("score", () => {
    it("starts every host at the neutral 500 with an empty record and no discount", async () => {
      const sys = await loadFixture(withHosts);
      for (const who of [sys.host.account.address, sys.other.account.address]) {
        assert.equal(await sys.reputation.read.scoreOf([who]), 500);
        assert.equal(await sys.reputation.read.feeDiscountBps([who]), 0);
      }
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.deepEqual(
        [rep.completed, rep.offences, rep.ratingWeight, rep.ratingAverage, rep.jobs, rep.tokens],
        [0n, 0n, 0n, 0n, 0n, 0n],
      );
      assert.equal(rep.score, 500);
    });

    it("records completed work with its duration and raises the score", async () => {
      const sys = await loadFixture(withHosts);
      const { jobId } = await claimed(sys);
      const claimedAt = (await sys.publicClient.getBlock()).timestamp;
      await time.increase(99);
      const hash = await sys.marketplace.write.completeJob([jobId, OUTPUT, USED], {
        account: sys.host.account,
      });
      const duration = (await blockTime(sys, hash)) - claimedAt;
      // perf = (1000 * 1 + 500 * 5) / (1 + 5) = 583; rating = 500 (none); score = (583 + 500) / 2.
      await a.emitWithArgs(Promise.resolve(hash), sys.reputation, "WorkRecorded", [
        Work.Job,
        jobId,
        getAddress(sys.host.account.address),
        getAddress(sys.renter.account.address),
        BigInt(USED) * HOST_PRICE,
        BigInt(USED),
        duration,
        541,
      ]);
      assert.equal(await sys.reputation.read.scoreOf([sys.host.account.address]), 541);
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.equal(rep.jobs, 1n);
      assert.equal(rep.tokens, BigInt(USED));
      assert.equal(rep.completed, 1_000n);
      assert.equal(BigInt(rep.avgCompletionSeconds), duration);
      await completed(sys);
      assert.ok((await sys.reputation.read.scoreOf([sys.host.account.address])) > 541);
      // The other host is untouched.
      assert.equal(await sys.reputation.read.scoreOf([sys.host2.account.address]), 500);
    });

    it("decays with time back toward neutral, from above and from below", async () => {
      const sys = await loadFixture(withHosts);
      await sys.reputation.write.setHalfLife([86_400]);
      await completed(sys, sys.host);
      await abandoned(sys, sys.host2);
      const host = sys.host.account.address;
      const host2 = sys.host2.account.address;
      // An abandoned claim weighs five jobs: perf = 2500 / 10 = 250, score (250 + 500) / 2.
      assert.equal(await sys.reputation.read.scoreOf([host2]), 375);
      const up = await sys.reputation.read.scoreOf([host]);
      const down = await sys.reputation.read.scoreOf([host2]);
      await time.increase(3 * 86_400);
      const up3 = await sys.reputation.read.scoreOf([host]);
      const down3 = await sys.reputation.read.scoreOf([host2]);
      assert.ok(up3 < up && up3 > 500, `${up3} moved toward 500 from ${up}`);
      assert.ok(down3 > down && down3 < 500, `${down3} moved toward 500 from ${down}`);
      const rep = await sys.reputation.read.reputationOf([host2]);
      assert.ok(rep.offences < 5_000n / 7n, "three half-lives and more: below an eighth");
      await time.increase(200 * 86_400);
      assert.equal(await sys.reputation.read.scoreOf([host]), 500);
      assert.equal(await sys.reputation.read.scoreOf([host2]), 500);
      // Lifetime totals never decay.
      const old = await sys.reputation.read.reputationOf([host2]);
      assert.equal(old.abandoned, 1);
      assert.equal(old.offences, 0n);
    });

    it("halves a decayed figure over exactly one half-life", async () => {
      const sys = await loadFixture(withHosts);
      await completed(sys);
      await time.increase(30 * 86_400);
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.ok(rep.completed <= 500n && rep.completed >= 499n, `${rep.completed}`);
    });
  });

  // ---------------------------------------------------------------- offences and slashing

  describe("offences", () => {
    it("slash escalating shares (doubling per earlier offence, 4 times at most), half to the renter, the rest to the treasury", async () => {
      const sys = await loadFixture(withHosts);
      const treasury = sys.admin.account.address;
      const renter = sys.renter.account.address;
      let lastScore = await sys.reputation.read.scoreOf([sys.host.account.address]);
      for (const [k, bps] of [100n, 200n, 400n, 800n, 1_600n, 1_600n].entries()) {
        const before = await held(sys, sys.host);
        const renterFab = await sys.fab.read.balanceOf([renter]);
        const treasuryFab = await sys.fab.read.balanceOf([treasury]);
        const { jobId, hash } = await abandoned(sys);
        const slashed = (before * bps) / 10_000n;
        const compensation = slashed / 2n;
        const score = await sys.reputation.read.scoreOf([sys.host.account.address]);
        await a.emitWithArgs(Promise.resolve(hash), sys.reputation, "OffenceRecorded", [
          Offence.AbandonedClaim,
          getAddress(sys.host.account.address),
          getAddress(renter),
          pad(toHex(jobId), { size: 32 }),
          slashed,
          compensation,
          BigInt(k + 1),
          score,
        ]);
        assert.equal(await held(sys, sys.host), before - slashed, `offence ${k + 1}`);
        assert.equal(await sys.fab.read.balanceOf([renter]), renterFab + compensation);
        assert.equal(
          await sys.fab.read.balanceOf([treasury]),
          treasuryFab + slashed - compensation,
        );
        assert.ok(score < lastScore, "each offence lowers the score");
        lastScore = score;
      }
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.equal(rep.abandoned, 6);
    });

    it("caps a slash per incident (maxSlashBps) and pays the governed compensation share", async () => {
      const sys = await loadFixture(withHosts);
      await a.emitWithArgs(
        sys.reputation.write.setSlashing([100, 500, 1_000, 1_000, 2_500]),
        sys.reputation,
        "SlashingUpdated",
        [100, 500, 1_000, 1_000, 2_500],
      );
      for (let i = 0; i < 3; i++) await abandoned(sys);
      const { jobId } = await completed(sys);
      await sys.marketplace.write.disputeJob([jobId, keccak256("0x01")], {
        account: sys.renter.account,
        value: await sys.marketplace.read.disputeBondOf([jobId]),
      });
      const before = await held(sys, sys.host);
      const renterFab = await sys.fab.read.balanceOf([sys.renter.account.address]);
      const hash = await sys.marketplace.write.resolveDispute([jobId, 0]);
      // 500 bps doubled three times is 4000: capped at 1000.
      const slashed = (before * 1_000n) / 10_000n;
      await a.emit(Promise.resolve(hash), sys.reputation, "OffenceRecorded");
      assert.equal(await held(sys, sys.host), before - slashed);
      assert.equal(
        await sys.fab.read.balanceOf([sys.renter.account.address]),
        renterFab + (slashed * 2_500n) / 10_000n,
      );
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.equal(rep.disputesLost, 1);
    });

    it("takes unbonding stake too, never more than the host holds", async () => {
      const sys = await loadFixture(withHosts);
      await sys.reputation.write.setSlashing([5_000, 5_000, 5_000, 5_000, 10_000]);
      const { jobId } = await claimed(sys);
      await sys.registry.write.requestUnstake([9n * MIN_STAKE], { account: sys.host.account });
      await time.increase(3_601);
      await sys.marketplace.write.expireJob([jobId]);
      const [, stake, , unbonding] = await sys.registry.read.hostState([sys.host.account.address]);
      // Half of 10 minimum stakes: 5 taken, the whole stake (1) first, then 4 of the unbonding 9.
      assert.equal(stake, 0n);
      assert.equal(unbonding, 5n * MIN_STAKE);
      assert.equal(await sys.fab.read.balanceOf([sys.renter.account.address]), 5n * MIN_STAKE);
    });

    it("records a host without stake without slashing it, and reports a refused slash; nothing reverts", async () => {
      const sys = await loadFixture(withHosts);
      // host: its whole stake taken by another slasher while it holds a claim.
      const job = await claimed(sys);
      await sys.registry.write.grantRole([SLASHER_ROLE, sys.admin.account.address]);
      await sys.registry.write.slash([
        sys.host.account.address,
        10n * MIN_STAKE,
        sys.other.account.address,
        keccak256("0x02"),
      ]);
      await time.increase(3_601);
      const hash = await sys.marketplace.write.expireJob([job.jobId]);
      await a.emitWithArgs(Promise.resolve(hash), sys.reputation, "OffenceRecorded", [
        Offence.AbandonedClaim,
        getAddress(sys.host.account.address),
        getAddress(sys.renter.account.address),
        pad(toHex(job.jobId), { size: 32 }),
        0n,
        0n,
        1n,
        375,
      ]);
      assert.equal((await sys.marketplace.read.getJob([job.jobId]))[0].status, 7);

      // host2: the reputation system lost its slasher role; the registry refuses the slash.
      await sys.registry.write.revokeRole([SLASHER_ROLE, sys.reputation.address]);
      const job2 = await claimed(sys, sys.host2);
      await time.increase(3_601);
      const before = await held(sys, sys.host2);
      const hash2 = await sys.marketplace.write.expireJob([job2.jobId]);
      const reason = encodeErrorResult({
        abi: sys.registry.abi,
        errorName: "AccessControlUnauthorizedAccount",
        args: [getAddress(sys.reputation.address), SLASHER_ROLE],
      });
      await a.emitWithArgs(Promise.resolve(hash2), sys.reputation, "SlashFailed", [
        getAddress(sys.host2.account.address),
        (before * 100n) / 10_000n / 2n,
        reason,
      ]);
      assert.equal(await held(sys, sys.host2), before);
      const rep = await sys.reputation.read.reputationOf([sys.host2.account.address]);
      assert.equal(rep.abandoned, 1);
      assert.equal((await sys.marketplace.read.getJob([job2.jobId]))[0].status, 7);
    });

    it("a host slashed below the minimum stake can no longer claim", async () => {
      const sys = await loadFixture(withHosts);
      await sys.registry.write.requestUnstake([9n * MIN_STAKE], { account: sys.host.account });
      await abandoned(sys);
      const { jobId } = await postJob(sys);
      const [, stake] = await sys.registry.read.hostState([sys.host.account.address]);
      await a.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([jobId], { account: sys.host.account }),
        sys.registry,
        "NodeRegistryStakeBelowMinimum",
        [getAddress(sys.host.account.address), stake, MIN_STAKE],
      );
    });

    it("only recorders record work, wins and offences", async () => {
      const sys = await loadFixture(withHosts);
      const who = sys.other;
      const calls = [
        () =>
          sys.reputation.write.recordWork(
            [0, 1n, sys.host.account.address, who.account.address, 1n, 1n, 0n],
            {
              account: who.account,
            },
          ),
        () =>
          sys.reputation.write.recordDisputeWon([1n, sys.host.account.address], {
            account: who.account,
          }),
        () =>
          sys.reputation.write.recordOffence(
            [0, sys.host.account.address, who.account.address, pad("0x01")],
            {
              account: who.account,
            },
          ),
      ];
      for (const call of calls) {
        await a.revertWithCustomErrorWithArgs(
          call(),
          sys.reputation,
          "AccessControlUnauthorizedAccount",
          [getAddress(who.account.address), RECORDER_ROLE],
        );
      }
    });

    it("records a won dispute with the score", async () => {
      const sys = await loadFixture(withHosts);
      const { jobId } = await completed(sys);
      await sys.marketplace.write.disputeJob([jobId, keccak256("0x03")], {
        account: sys.renter.account,
        value: await sys.marketplace.read.disputeBondOf([jobId]),
      });
      const score = await sys.reputation.read.scoreOf([sys.host.account.address]);
      await a.emitWithArgs(
        sys.marketplace.write.resolveDispute([jobId, 5_000]),
        sys.reputation,
        "DisputeWon",
        [jobId, getAddress(sys.host.account.address), score],
      );
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.equal(rep.disputesWon, 1);
      assert.equal(rep.disputesLost, 0);
    });
  });

  // ---------------------------------------------------------------- ratings

  describe("ratings", () => {
    it("lets the renter rate a settled job once, 1-5 stars, weighted by what it paid", async () => {
      const sys = await loadFixture(withHosts);
      const { jobId } = await settled(sys);
      const weight = (BigInt(USED) * HOST_PRICE) / GWEI;
      const hash = await sys.reputation.write.rateJob([jobId, 5], { account: sys.renter.account });
      const score = await sys.reputation.read.scoreOf([sys.host.account.address]);
      await a.emitWithArgs(Promise.resolve(hash), sys.reputation, "Rated", [
        Work.Job,
        jobId,
        getAddress(sys.host.account.address),
        getAddress(sys.renter.account.address),
        5,
        weight,
        score,
      ]);
      // perf 583 (one job), rating (700000 * 1000 + 500 * 100) / 700100 = 999.
      assert.equal(score, 791);
      assert.equal(await sys.reputation.read.isRated([Work.Job, jobId]), true);
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.equal(rep.ratingWeight, weight);
      assert.equal(rep.ratingAverage, 1_000n);
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateJob([jobId, 4], { account: sys.renter.account }),
        sys.reputation,
        "ReputationAlreadyRated",
        [Work.Job, jobId],
      );
    });

    it("refuses anyone but the renter, work not settled, and stars outside 1-5", async () => {
      const sys = await loadFixture(withHosts);
      const { jobId } = await completed(sys);
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateJob([jobId, 5], { account: sys.renter.account }),
        sys.reputation,
        "ReputationNotRateable",
        [Work.Job, jobId],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateJob([999n, 5], { account: sys.renter.account }),
        sys.reputation,
        "ReputationNotRateable",
        [Work.Job, 999n],
      );
      await sys.marketplace.write.acceptJob([jobId], { account: sys.renter.account });
      for (const who of [sys.host, sys.other]) {
        await a.revertWithCustomErrorWithArgs(
          sys.reputation.write.rateJob([jobId, 5], { account: who.account }),
          sys.reputation,
          "ReputationNotRenter",
          [Work.Job, jobId, getAddress(who.account.address)],
        );
      }
      for (const stars of [0, 6]) {
        await a.revertWithCustomErrorWithArgs(
          sys.reputation.write.rateJob([jobId, stars], { account: sys.renter.account }),
          sys.reputation,
          "ReputationInvalidStars",
          [stars],
        );
      }
      // A job settled by the dispute default can be rated too.
      assert.equal(await sys.reputation.read.isRated([Work.Job, jobId]), false);
    });

    it("refuses a token without a rating unit", async () => {
      const sys = await loadFixture(withHosts);
      const { jobId } = await settled(sys, sys.host, 100, {
        token: sys.usd.address,
        maxPricePerToken: 5n,
      });
      await a.emitWithArgs(
        sys.reputation.write.setRatingUnit([sys.usd.address, 0n]),
        sys.reputation,
        "RatingUnitUpdated",
        [getAddress(sys.usd.address), 0n],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateJob([jobId, 5], { account: sys.renter.account }),
        sys.reputation,
        "ReputationNoRatingUnit",
        [getAddress(sys.usd.address)],
      );
      await sys.reputation.write.setRatingUnit([sys.usd.address, 10n]);
      assert.equal(await sys.reputation.read.ratingUnit([sys.usd.address]), 10n);
      await sys.reputation.write.rateJob([jobId, 5], { account: sys.renter.account });
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.equal(rep.ratingWeight, (100n * 2n) / 10n);
    });

    it("weighs each rating by the payment: a cheap rating barely moves what an expensive one set", async () => {
      const sys = await loadFixture(withHosts);
      const cheap = 10;
      const dear = 1_000;
      // host: 5 stars on a cheap job, 1 star on an expensive one; host2 the other way round.
      const a1 = await settled(sys, sys.host, cheap);
      const a2 = await settled(sys, sys.host, dear);
      const b1 = await settled(sys, sys.host2, cheap);
      const b2 = await settled(sys, sys.host2, dear);
      for (const [job, stars] of [
        [a1, 5],
        [a2, 1],
        [b1, 1],
        [b2, 5],
      ] as const) {
        await sys.reputation.write.rateJob([job.jobId, stars], { account: sys.renter.account });
      }
      const host = await sys.reputation.read.reputationOf([sys.host.account.address]);
      const host2 = await sys.reputation.read.reputationOf([sys.host2.account.address]);
      assert.ok(host.ratingAverage < 20n, `${host.ratingAverage}`);
      assert.ok(host2.ratingAverage > 980n, `${host2.ratingAverage}`);
      assert.ok(host.score < 500 && host2.score > 750, `${host.score} ${host2.score}`);
    });

    it("rates a settled session through its terms, once, as its renter", async () => {
      const sys = await loadFixture(withHosts);
      const { sessionId, terms } = await openSession(sys, await sessionRequest(sys));
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateSession([terms, sessionId, 5], { account: sys.renter.account }),
        sys.reputation,
        "ReputationNotRateable",
        [Work.Session, sessionId],
      );
      const receipt = receiptFor(sessionId, terms, 100);
      const signature = await signReceipt(sys.renter, sys.sessions.address, receipt);
      const paid = 100n * terms.pricePerToken;
      const hash = await sys.sessions.write.closeSession([terms, sessionId, receipt, signature], {
        account: sys.host.account,
      });
      await a.emitWithArgs(Promise.resolve(hash), sys.reputation, "WorkRecorded", [
        Work.Session,
        sessionId,
        getAddress(sys.host.account.address),
        getAddress(sys.renter.account.address),
        paid,
        100n,
        0n,
        541,
      ]);
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateSession([{ ...terms, pricePerToken: 1n }, sessionId, 5], {
          account: sys.renter.account,
        }),
        sys.reputation,
        "ReputationWrongTerms",
        [sessionId],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateSession([terms, sessionId, 5], { account: sys.host.account }),
        sys.reputation,
        "ReputationNotRenter",
        [Work.Session, sessionId, getAddress(sys.host.account.address)],
      );
      const rated = sys.reputation.write.rateSession([terms, sessionId, 4], {
        account: sys.renter.account,
      });
      await a.emit(rated, sys.reputation, "Rated");
      const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
      assert.equal(rep.sessions, 1n);
      assert.equal(rep.tokens, 100n);
      assert.equal(rep.ratingWeight, paid / GWEI);
      assert.equal(rep.ratingAverage, 750n);
      await a.revertWithCustomErrorWithArgs(
        sys.reputation.write.rateSession([terms, sessionId, 4], { account: sys.renter.account }),
        sys.reputation,
        "ReputationAlreadyRated",
        [Work.Session, sessionId],
      );
    });

    it("does not record a session that paid nothing", async () => {
      const sys = await loadFixture(withHosts);
      const { sessionId, terms } = await openSession(sys, await sessionRequest(sys));
      const hash = await sys.sessions.write.closeSession(
        [terms, sessionId, receiptFor(sessionId, terms, 0), "0x"],
        { account: sys.host.account },
      );
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(
        receipt.logs.filter((l) => getAddress(l.address) === getAddress(sys.reputation.address))
          .length,
        0,
      );
      assert.equal(
        (await sys.reputation.read.reputationOf([sys.host.account.address])).sessions,
        0n,
      );
    });
  });

  // ---------------------------------------------------------------- fee discount

  describe("fee discount", () => {
    it("gives hosts at or above the governed score the governed share of the protocol fee", async () => {
      const sys = await loadFixture(withHosts);
      const host = sys.host.account.address;
      // Defaults: 20% of the fee from a score of 800. Two jobs and a 5-star rating reach it.
      assert.deepEqual(
        [
          (await sys.reputation.read.parameters()).discountMinScore,
          (await sys.reputation.read.parameters()).discountBps,
        ],
        [800, 2_000],
      );
      const first = await settled(sys);
      await settled(sys);
      await sys.reputation.write.rateJob([first.jobId, 5], { account: sys.renter.account });
      assert.ok((await sys.reputation.read.scoreOf([host])) >= 800);
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 2_000);
      assert.equal(await sys.reputation.read.feeDiscountBps([sys.host2.account.address]), 0);
      await a.emitWithArgs(
        sys.reputation.write.setFeeDiscount([1_000, 5_000]),
        sys.reputation,
        "FeeDiscountUpdated",
        [1_000, 5_000],
      );
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 0);
      await sys.reputation.write.setFeeDiscount([0, 0]);
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 0, "a zero discount is none");
    });
  });

  // ---------------------------------------------------------------- administration

  describe("administration", () => {
    it("bounds every parameter and refuses non-admins", async () => {
      const sys = await loadFixture(withHosts);
      const r = sys.reputation;
      await a.emitWithArgs(r.write.setHalfLife([86_400]), r, "HalfLifeUpdated", [
        30 * 86_400,
        86_400,
      ]);
      for (const bad of [86_399, 365 * 86_400 + 1]) {
        await a.revertWithCustomErrorWithArgs(
          r.write.setHalfLife([bad]),
          r,
          "ReputationInvalidParameter",
          ["halfLife"],
        );
      }
      const slashing: [[number, number, number, number, number], string][] = [
        [[0, 0, 0, 5_001, 0], "maxSlashBps"],
        [[1_001, 0, 0, 1_000, 0], "slashBps"],
        [[0, 1_001, 0, 1_000, 0], "slashBps"],
        [[0, 0, 1_001, 1_000, 0], "slashBps"],
        [[0, 0, 0, 1_000, 10_001], "compensationBps"],
      ];
      for (const [args, name] of slashing) {
        await a.revertWithCustomErrorWithArgs(
          r.write.setSlashing(args),
          r,
          "ReputationInvalidParameter",
          [name],
        );
      }
      await a.revertWithCustomErrorWithArgs(
        r.write.setFeeDiscount([1_001, 0]),
        r,
        "ReputationInvalidParameter",
        ["minScore"],
      );
      await a.revertWithCustomErrorWithArgs(
        r.write.setFeeDiscount([0, 5_001]),
        r,
        "ReputationInvalidParameter",
        ["discountBps"],
      );
      await a.revertWithCustomError(r.write.setTreasury([zeroAddress]), r, "ReputationZeroAddress");
      await a.emitWithArgs(r.write.setTreasury([sys.other.account.address]), r, "TreasuryUpdated", [
        getAddress(sys.admin.account.address),
        getAddress(sys.other.account.address),
      ]);
      await a.revertWithCustomError(
        r.write.setRecorder([zeroAddress, true]),
        r,
        "ReputationZeroAddress",
      );
      await a.emitWithArgs(
        r.write.setRecorder([sys.other.account.address, true]),
        r,
        "RecorderUpdated",
        [getAddress(sys.other.account.address), true],
      );
      assert.equal(await r.read.hasRole([RECORDER_ROLE, sys.other.account.address]), true);
      await r.write.setRecorder([sys.other.account.address, false]);
      assert.equal(await r.read.hasRole([RECORDER_ROLE, sys.other.account.address]), false);
      await a.revertWithCustomError(
        r.write.setSources([zeroAddress, sys.sessions.address]),
        r,
        "ReputationZeroAddress",
      );
      await a.revertWithCustomError(
        r.write.setSources([sys.marketplace.address, zeroAddress]),
        r,
        "ReputationZeroAddress",
      );
      assert.deepEqual(await r.read.sources(), [
        getAddress(sys.registry.address),
        getAddress(sys.marketplace.address),
        getAddress(sys.sessions.address),
        getAddress(sys.other.account.address),
      ]);
      const who = { account: sys.other.account };
      const adminRole = await r.read.DEFAULT_ADMIN_ROLE();
      for (const call of [
        () => r.write.setHalfLife([86_400], who),
        () => r.write.setSlashing([0, 0, 0, 0, 0], who),
        () => r.write.setFeeDiscount([0, 0], who),
        () => r.write.setTreasury([sys.other.account.address], who),
        () => r.write.setRecorder([sys.other.account.address, true], who),
        () => r.write.setRatingUnit([ETH, 1n], who),
        () => r.write.setSources([sys.marketplace.address, sys.sessions.address], who),
      ]) {
        await a.revertWithCustomErrorWithArgs(call(), r, "AccessControlUnauthorizedAccount", [
          getAddress(sys.other.account.address),
          adminRole,
        ]);
      }
    });

    it("refuses zero addresses at initialization and initializes once", async () => {
      const sys = await loadFixture(withHosts);
      const impl = await viem.deployContract("ReputationSystem");
      for (const args of [
        [zeroAddress, sys.registry.address, sys.admin.account.address],
        [sys.admin.account.address, zeroAddress, sys.admin.account.address],
        [sys.admin.account.address, sys.registry.address, zeroAddress],
      ] as const) {
        const data = encodeFunctionData({ abi: impl.abi, functionName: "initialize", args });
        await assert.rejects(
          viem.deployContract("FabstirProxy", [impl.address, data]),
          /ReputationZeroAddress/,
        );
      }
      await a.revertWithCustomError(
        sys.reputation.write.initialize([
          sys.admin.account.address,
          sys.registry.address,
          sys.admin.account.address,
        ]),
        sys.reputation,
        "InvalidInitialization",
      );
    });
  });
});
