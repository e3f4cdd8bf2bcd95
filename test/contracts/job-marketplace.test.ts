import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { network } from "hardhat";
import {
  encodeFunctionData,
  getAddress,
  keccak256,
  parseEther,
  stringToHex,
  toHex,
  zeroAddress,
} from "viem";
import {
  DAY,
  DISPUTE_WINDOW,
  deploySystem,
  depositOf,
  ETH,
  type JobRequest,
  jobRequest,
  MIN_STAKE,
  MODEL,
  OTHER_MODEL,
  OUTPUT,
  offerKey,
  PROMPT,
  registration,
  type System,
  signPermit,
} from "../../fixtures/system.ts";

const Status = {
  None: 0,
  Posted: 1,
  Claimed: 2,
  Completed: 3,
  Disputed: 4,
  Settled: 5,
  Cancelled: 6,
  Expired: 7,
  Refused: 8,
};
const Settlement = { Accepted: 0, AutoReleased: 1, Resolved: 2, Unarbitrated: 3 };
/** Dispute bonds are escrowed under the job id with the top bit set. */
const BOND_ID = 1n << 255n;
const HOST_PRICE = parseEther("0.000001");
const USD_PRICE = 2n;
const USED = 700;

const connection = await network.create();
const { viem, networkHelpers } = connection;

/** The system with two registered hosts selling MODEL for ETH and tUSD. */
async function withHosts() {
  const sys = await deploySystem(connection);
  const offers = [
    { modelId: MODEL, token: ETH, pricePerToken: HOST_PRICE },
    { modelId: MODEL, token: sys.usd.address, pricePerToken: USD_PRICE },
  ];
  for (const h of [sys.host, sys.host2]) {
    await sys.registry.write.register([registration({ offers })], { account: h.account });
  }
  return sys;
}

let sys: System;
beforeEach(async () => {
  sys = await networkHelpers.loadFixture(withHosts);
});

async function post(overrides: Partial<JobRequest> = {}) {
  const r = await jobRequest(sys, overrides);
  const id = await sys.marketplace.read.nextJobId();
  const value = r.token === ETH ? depositOf(r) : 0n;
  await sys.marketplace.write.postJob([r], { account: sys.renter.account, value });
  return { id, r };
}

async function claimed(overrides: Partial<JobRequest> = {}) {
  const job = await post(overrides);
  await sys.marketplace.write.claimJob([job.id], { account: sys.host.account });
  return job;
}

async function completed(overrides: Partial<JobRequest> = {}) {
  const job = await claimed(overrides);
  await sys.marketplace.write.completeJob([job.id, OUTPUT, USED], { account: sys.host.account });
  return job;
}

/** The renter disputes `id`, paying its bond (10% of the job's price by default) as value. */
async function dispute(id: bigint, reason = keccak256(stringToHex("bad output"))) {
  const bond = await sys.marketplace.read.disputeBondOf([id]);
  const hash = await sys.marketplace.write.disputeJob([id, reason], {
    account: sys.renter.account,
    value: bond,
  });
  return { bond, hash };
}

async function status(id: bigint): Promise<number> {
  const [job] = await sys.marketplace.read.getJob([id]);
  return job.status;
}

describe("JobMarketplace", () => {
  describe("postJob", () => {
    it("stores the job, registers the offer once and locks the ETH deposit in the escrow", async () => {
      const r = await jobRequest(sys);
      const deposit = depositOf(r);
      const tx = sys.marketplace.write.postJob([r], {
        account: sys.renter.account,
        value: deposit,
      });
      await viem.assertions.emitWithArgs(tx, sys.marketplace, "JobPosted", [
        1n,
        getAddress(sys.renter.account.address),
        MODEL,
        PROMPT,
        ETH,
        BigInt(r.maxTokens),
        r.maxPricePerToken,
        r.deadline,
        zeroAddress,
        0,
      ]);
      const [job, modelId, token] = await sys.marketplace.read.getJob([1n]);
      assert.equal(job.status, Status.Posted);
      assert.equal(getAddress(job.renter), getAddress(sys.renter.account.address));
      assert.equal(job.maxTokens, r.maxTokens);
      assert.equal(job.pricePerToken, r.maxPricePerToken);
      assert.equal(BigInt(job.timeout), r.deadline);
      assert.equal(job.offerId, 1);
      assert.equal(modelId, MODEL);
      assert.equal(token, ETH);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, 1n]), [ETH, deposit]);
      assert.equal(await sys.publicClient.getBalance({ address: sys.escrow.address }), deposit);
      assert.equal(await sys.marketplace.read.nextJobId(), 2n);
      const offer = await sys.marketplace.read.offerOf([1]);
      assert.equal(offer.key, offerKey(MODEL, ETH));
      assert.equal(await sys.marketplace.read.offerIdOf([MODEL, ETH]), 1);
    });

    it("emits OfferRegistered only for the first job of a (model, token) pair", async () => {
      const r = await jobRequest(sys);
      const first = sys.marketplace.write.postJob([r], {
        account: sys.renter.account,
        value: depositOf(r),
      });
      await viem.assertions.emitWithArgs(first, sys.marketplace, "OfferRegistered", [
        1,
        MODEL,
        ETH,
        0,
      ]);
      const second = await sys.marketplace.write.postJob([r], {
        account: sys.renter.account,
        value: depositOf(r),
      });
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash: second });
      const own = receipt.logs.filter(
        (l) => getAddress(l.address) === getAddress(sys.marketplace.address),
      );
      assert.equal(own.length, 1, "only JobPosted");
      const r2 = await jobRequest(sys, { token: sys.usd.address, maxPricePerToken: USD_PRICE });
      const third = sys.marketplace.write.postJob([r2], { account: sys.renter.account });
      await viem.assertions.emitWithArgs(third, sys.marketplace, "OfferRegistered", [
        2,
        MODEL,
        getAddress(sys.usd.address),
        0,
      ]);
    });

    it("locks an ERC-20 deposit taken from the renter", async () => {
      const r = await jobRequest(sys, { token: sys.usd.address, maxPricePerToken: USD_PRICE });
      const before = await sys.usd.read.balanceOf([sys.renter.account.address]);
      const tx = sys.marketplace.write.postJob([r], { account: sys.renter.account });
      await viem.assertions.emitWithArgs(tx, sys.escrow, "FundsLocked", [
        1n,
        getAddress(sys.renter.account.address),
        getAddress(sys.usd.address),
        getAddress(sys.marketplace.address),
        depositOf(r),
      ]);
      assert.equal(
        await sys.usd.read.balanceOf([sys.renter.account.address]),
        before - depositOf(r),
      );
      assert.equal(await sys.usd.read.balanceOf([sys.escrow.address]), depositOf(r));
    });

    it("takes an EIP-2612 permit instead of an approval", async () => {
      const { other } = sys;
      await sys.usd.write.mint([other.account.address, 10_000n]);
      const r = await jobRequest(sys, { token: sys.usd.address, maxPricePerToken: USD_PRICE });
      const deposit = depositOf(r);
      const deadline = r.deadline;
      const {
        v,
        r: rs,
        s,
      } = await signPermit(sys.usd, other, sys.escrow.address, deposit, deadline);
      await sys.marketplace.write.postJobWithPermit([r, deadline, v, rs, s], {
        account: other.account,
      });
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, 1n]), [
        getAddress(sys.usd.address),
        deposit,
      ]);
      // ETH needs no permit.
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.postJobWithPermit([{ ...r, token: ETH }, deadline, v, rs, s], {
          account: other.account,
        }),
        sys.marketplace,
        "JobMarketplaceInvalidRequest",
        ["token"],
      );
      // A permit that was already used (e.g. front-run) is ignored; without allowance the lock fails.
      await viem.assertions.revertWithCustomError(
        sys.marketplace.write.postJobWithPermit([r, deadline, v, rs, s], {
          account: other.account,
        }),
        sys.usd,
        "ERC20InsufficientAllowance",
      );
    });

    const invalid: [string, (r: JobRequest, s: System) => Partial<JobRequest>][] = [
      ["modelId", () => ({ modelId: `0x${"00".repeat(32)}` })],
      ["maxTokens", () => ({ maxTokens: 0 })],
      ["maxTokens", () => ({ maxTokens: 2 ** 24 })],
      ["maxPricePerToken", () => ({ maxPricePerToken: 0n })],
      ["deadline", (r) => ({ deadline: r.deadline - 3_600n })],
      ["deadline", (r) => ({ deadline: r.deadline + 31n * 86_400n })],
      ["host", (_r, s) => ({ host: s.renter.account.address })],
    ];
    for (const [field, change] of invalid) {
      it(`rejects an invalid ${field}`, async () => {
        const base = await jobRequest(sys);
        const r = { ...base, ...change(base, sys) };
        await viem.assertions.revertWithCustomErrorWithArgs(
          sys.marketplace.write.postJob([r], { account: sys.renter.account, value: 1n }),
          sys.marketplace,
          "JobMarketplaceInvalidRequest",
          [field],
        );
      });
    }

    it("rejects a wrong ETH amount, ETH sent with an ERC-20 job and a token the escrow does not allow", async () => {
      const r = await jobRequest(sys);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.postJob([r], {
          account: sys.renter.account,
          value: depositOf(r) - 1n,
        }),
        sys.escrow,
        "PaymentEscrowValueMismatch",
        [depositOf(r), depositOf(r) - 1n],
      );
      const usdJob = await jobRequest(sys, { token: sys.usd.address });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.postJob([usdJob], { account: sys.renter.account, value: 5n }),
        sys.escrow,
        "PaymentEscrowValueMismatch",
        [0n, 5n],
      );
      const fab = await jobRequest(sys, { token: sys.fab.address });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.postJob([fab], { account: sys.renter.account }),
        sys.escrow,
        "PaymentEscrowTokenNotAllowed",
        [getAddress(sys.fab.address)],
      );
    });

    it("refuses a fee-on-transfer token whose deposit arrives short", async () => {
      const fee = await viem.deployContract("FeeOnTransferToken");
      await sys.escrow.write.setTokenAllowed([fee.address, true]);
      await fee.write.mint([sys.renter.account.address, 10n ** 18n]);
      await fee.write.approve([sys.escrow.address, 10n ** 18n], { account: sys.renter.account });
      const r = await jobRequest(sys, {
        token: fee.address,
        maxTokens: 100,
        maxPricePerToken: 100n,
      });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.postJob([r], { account: sys.renter.account }),
        sys.escrow,
        "PaymentEscrowTransferMismatch",
        [getAddress(fee.address), 10_000n, 9_900n],
      );
    });

    it("is refused while the marketplace is paused", async () => {
      await sys.marketplace.write.pause();
      const r = await jobRequest(sys);
      await viem.assertions.revertWithCustomError(
        sys.marketplace.write.postJob([r], { account: sys.renter.account, value: depositOf(r) }),
        sys.marketplace,
        "JobMarketplacePaused",
      );
    });
  });

  describe("claimJob", () => {
    it("lets an eligible host claim at its own price", async () => {
      const { id } = await post();
      await viem.assertions.emitWithArgs(
        sys.marketplace.write.claimJob([id], { account: sys.host.account }),
        sys.marketplace,
        "JobClaimed",
        [id, getAddress(sys.host.account.address), HOST_PRICE],
      );
      const [job] = await sys.marketplace.read.getJob([id]);
      assert.equal(job.status, Status.Claimed);
      assert.equal(getAddress(job.host), getAddress(sys.host.account.address));
      assert.equal(job.pricePerToken, HOST_PRICE);
      assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 1n);
    });

    it("counts several active jobs per host", async () => {
      await claimed();
      await claimed();
      assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 2n);
      assert.equal(await sys.marketplace.read.activeJobCount([sys.host2.account.address]), 0n);
    });

    it("only lets the chosen host claim", async () => {
      const { id } = await post({ host: sys.host2.account.address });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([id], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceNotHost",
        [id, getAddress(sys.host.account.address)],
      );
      await sys.marketplace.write.claimJob([id], { account: sys.host2.account });
      assert.equal(await status(id), Status.Claimed);
    });

    it("refuses a job that is not posted, past its deadline, or the renter's own", async () => {
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([99n], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [99n, Status.None],
      );
      const { id } = await claimed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([id], { account: sys.host2.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Claimed],
      );
      const late = await post();
      await networkHelpers.time.increaseTo(late.r.deadline + 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([late.id], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceDeadlinePassed",
        [late.id, late.r.deadline],
      );
      const own = await post();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([own.id], { account: sys.renter.account }),
        sys.marketplace,
        "JobMarketplaceSelfDealing",
        [own.id],
      );
    });

    it("refuses an ineligible host: unregistered, model not offered, price above the maximum", async () => {
      const { id } = await post();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([id], { account: sys.other.account }),
        sys.registry,
        "NodeRegistryHostNotActive",
        [getAddress(sys.other.account.address), 0],
      );
      const other = await post({ modelId: OTHER_MODEL });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([other.id], { account: sys.host.account }),
        sys.registry,
        "NodeRegistryModelNotOffered",
        [getAddress(sys.host.account.address), offerKey(OTHER_MODEL, ETH)],
      );
      const cheap = await post({ maxPricePerToken: HOST_PRICE - 1n });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.claimJob([cheap.id], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplacePriceTooHigh",
        [cheap.id, HOST_PRICE, HOST_PRICE - 1n],
      );
    });

    it("is refused while paused", async () => {
      const { id } = await post();
      await sys.marketplace.write.pause();
      await viem.assertions.revertWithCustomError(
        sys.marketplace.write.claimJob([id], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplacePaused",
      );
    });
  });

  describe("completeJob", () => {
    it("records the output and tokens used and opens the dispute window", async () => {
      const { id } = await claimed();
      const tx = sys.marketplace.write.completeJob([id, OUTPUT, USED], {
        account: sys.host.account,
      });
      const hash = await tx;
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      const block = await sys.publicClient.getBlock({ blockNumber: receipt.blockNumber });
      const endsAt = block.timestamp + DISPUTE_WINDOW;
      await viem.assertions.emitWithArgs(Promise.resolve(hash), sys.marketplace, "JobCompleted", [
        id,
        getAddress(sys.host.account.address),
        OUTPUT,
        BigInt(USED),
        BigInt(USED) * HOST_PRICE,
        endsAt,
      ]);
      const [job] = await sys.marketplace.read.getJob([id]);
      assert.equal(job.status, Status.Completed);
      assert.equal(job.tokensUsed, USED);
      assert.equal(BigInt(job.timeout), endsAt);
    });

    it("refuses another host, a job not claimed, a late completion and too many tokens", async () => {
      const { id, r } = await claimed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.completeJob([id, OUTPUT, 1], { account: sys.host2.account }),
        sys.marketplace,
        "JobMarketplaceNotHost",
        [id, getAddress(sys.host2.account.address)],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.completeJob([id, OUTPUT, r.maxTokens + 1], {
          account: sys.host.account,
        }),
        sys.marketplace,
        "JobMarketplaceTooManyTokens",
        [id, BigInt(r.maxTokens + 1), BigInt(r.maxTokens)],
      );
      await sys.marketplace.write.completeJob([id, OUTPUT, 1], { account: sys.host.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.completeJob([id, OUTPUT, 1], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Completed],
      );
      const late = await claimed();
      await networkHelpers.time.increaseTo(late.r.deadline + 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.completeJob([late.id, OUTPUT, 1], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceDeadlinePassed",
        [late.id, late.r.deadline],
      );
    });

    it("still works while paused so hosts can finish claimed work", async () => {
      const { id } = await claimed();
      await sys.marketplace.write.pause();
      await sys.marketplace.write.completeJob([id, OUTPUT, USED], { account: sys.host.account });
      assert.equal(await status(id), Status.Completed);
    });
  });

  describe("acceptJob", () => {
    it("pays the host, the treasury and the stakers exactly and refunds the rest (ETH)", async () => {
      const { id, r } = await completed();
      const payment = BigInt(USED) * HOST_PRICE;
      const hostShare = (payment * 8_500n) / 10_000n;
      const treasuryShare = (payment * 1_000n) / 10_000n;
      const stakersShare = payment - hostShare - treasuryShare;
      const refund = depositOf(r) - payment;
      const tx = sys.marketplace.write.acceptJob([id], { account: sys.renter.account });
      await viem.assertions.emitWithArgs(tx, sys.escrow, "PaymentReleased", [
        id,
        getAddress(sys.host.account.address),
        ETH,
        getAddress(sys.marketplace.address),
        getAddress(sys.renter.account.address),
        hostShare,
        treasuryShare,
        stakersShare,
        refund,
      ]);
      assert.equal(await status(id), Status.Settled);
      assert.equal(await sys.escrow.read.balanceOf([sys.host.account.address, ETH]), hostShare);
      assert.equal(await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]), refund);
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [treasuryShare, stakersShare]);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, id]), [
        zeroAddress,
        0n,
      ]);
      assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 0n);
      assert.equal(
        await sys.publicClient.getBalance({ address: sys.escrow.address }),
        hostShare + treasuryShare + stakersShare + refund,
      );
    });

    it("emits JobSettled as Accepted with the full share", async () => {
      const { id } = await completed();
      await viem.assertions.emitWithArgs(
        sys.marketplace.write.acceptJob([id], { account: sys.renter.account }),
        sys.marketplace,
        "JobSettled",
        [id, Settlement.Accepted, 10_000],
      );
    });

    it("runs the whole lifecycle with an ERC-20 and the host withdraws its earnings", async () => {
      const { id, r } = await completed({ token: sys.usd.address, maxPricePerToken: USD_PRICE });
      await sys.marketplace.write.acceptJob([id], { account: sys.renter.account });
      const payment = BigInt(USED) * USD_PRICE;
      const hostShare = (payment * 8_500n) / 10_000n;
      assert.equal(
        await sys.escrow.read.balanceOf([sys.host.account.address, sys.usd.address]),
        hostShare,
      );
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, sys.usd.address]),
        depositOf(r) - payment,
      );
      await sys.escrow.write.withdraw([sys.usd.address, hostShare, sys.host.account.address], {
        account: sys.host.account,
      });
      assert.equal(await sys.usd.read.balanceOf([sys.host.account.address]), hostShare);
    });

    it("refuses anyone but the renter and a job that is not completed", async () => {
      const { id } = await claimed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.acceptJob([id], { account: sys.renter.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Claimed],
      );
      await sys.marketplace.write.completeJob([id, OUTPUT, USED], { account: sys.host.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.acceptJob([id], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceNotRenter",
        [id, getAddress(sys.host.account.address)],
      );
      await sys.marketplace.write.acceptJob([id], { account: sys.renter.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.acceptJob([id], { account: sys.renter.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Settled],
      );
    });
  });

  describe("releasePayment", () => {
    it("pays the host after the dispute window, called by anyone", async () => {
      const { id } = await completed();
      const [job] = await sys.marketplace.read.getJob([id]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.releasePayment([id], { account: sys.other.account }),
        sys.marketplace,
        "JobMarketplaceDisputeWindowOpen",
        [id, BigInt(job.timeout)],
      );
      await networkHelpers.time.increaseTo(BigInt(job.timeout) + 1n);
      await viem.assertions.emitWithArgs(
        sys.marketplace.write.releasePayment([id], { account: sys.other.account }),
        sys.marketplace,
        "JobSettled",
        [id, Settlement.AutoReleased, 10_000],
      );
      const hostShare = (BigInt(USED) * HOST_PRICE * 8_500n) / 10_000n;
      assert.equal(await sys.escrow.read.balanceOf([sys.host.account.address, ETH]), hostShare);
      assert.equal(await status(id), Status.Settled);
    });

    it("refuses a job that is not completed", async () => {
      const { id } = await claimed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.releasePayment([id]),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Claimed],
      );
    });
  });

  describe("disputes", () => {
    const reason = keccak256(stringToHex("the answer was gibberish"));

    it("lets the renter dispute inside the window, locking a bond of 10% of the price until the arbitration deadline", async () => {
      const { id } = await completed();
      const bond = (BigInt(USED) * HOST_PRICE * 1_000n) / 10_000n;
      assert.equal(await sys.marketplace.read.disputeBondOf([id]), bond);
      const { hash } = await dispute(id, reason);
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      const block = await sys.publicClient.getBlock({ blockNumber: receipt.blockNumber });
      const deadline = block.timestamp + 7n * DAY;
      await viem.assertions.emitWithArgs(Promise.resolve(hash), sys.marketplace, "JobDisputed", [
        id,
        getAddress(sys.renter.account.address),
        reason,
        bond,
        deadline,
      ]);
      await viem.assertions.emitWithArgs(Promise.resolve(hash), sys.escrow, "FundsLocked", [
        id | BOND_ID,
        getAddress(sys.renter.account.address),
        ETH,
        getAddress(sys.marketplace.address),
        bond,
      ]);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, id | BOND_ID]), [
        ETH,
        bond,
      ]);
      const [job] = await sys.marketplace.read.getJob([id]);
      assert.equal(BigInt(job.timeout), deadline, "timeout holds the arbitration deadline");
      assert.equal(await sys.marketplace.read.disputeBondOf([id]), 0n, "no longer disputable");
      assert.equal(await status(id), Status.Disputed);
      // A disputed job can be neither accepted nor auto-released.
      await networkHelpers.time.increase(Number(DISPUTE_WINDOW) + 1);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.releasePayment([id]),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Disputed],
      );
    });

    it("refuses a dispute after the window, by someone else, or of a job not completed", async () => {
      const { id } = await completed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.disputeJob([id, reason], { account: sys.other.account }),
        sys.marketplace,
        "JobMarketplaceNotRenter",
        [id, getAddress(sys.other.account.address)],
      );
      const [job] = await sys.marketplace.read.getJob([id]);
      await networkHelpers.time.increaseTo(BigInt(job.timeout) + 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.disputeJob([id, reason], { account: sys.renter.account }),
        sys.marketplace,
        "JobMarketplaceDisputeWindowClosed",
        [id, BigInt(job.timeout)],
      );
      const open = await claimed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.disputeJob([open.id, reason], { account: sys.renter.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [open.id, Status.Claimed],
      );
    });

    for (const hostBps of [10_000, 5_000, 0]) {
      it(`resolves with the host receiving ${hostBps / 100}% of the job's price and of the bond`, async () => {
        const { id, r } = await completed();
        const { bond } = await dispute(id, reason);
        const price = BigInt(USED) * HOST_PRICE;
        const payment = (price * BigInt(hostBps)) / 10_000n;
        const bondToHost = (bond * BigInt(hostBps)) / 10_000n;
        const hostShare = (payment * 8_500n) / 10_000n + (bondToHost * 8_500n) / 10_000n;
        const tx = sys.marketplace.write.resolveDispute([id, hostBps]);
        await viem.assertions.emitWithArgs(tx, sys.marketplace, "JobSettled", [
          id,
          Settlement.Resolved,
          hostBps,
        ]);
        assert.equal(await sys.escrow.read.balanceOf([sys.host.account.address, ETH]), hostShare);
        assert.equal(
          await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
          depositOf(r) - payment + bond - bondToHost,
        );
        assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, id | BOND_ID]), [
          zeroAddress,
          0n,
        ]);
        assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 0n);
      });
    }

    it("only an arbiter resolves, with at most 10000 bps, and only a disputed job", async () => {
      const { id } = await completed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.resolveDispute([id, 10_000]),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Completed],
      );
      await dispute(id, reason);
      const role = await sys.marketplace.read.ARBITER_ROLE();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.resolveDispute([id, 10_000], { account: sys.renter.account }),
        sys.marketplace,
        "AccessControlUnauthorizedAccount",
        [getAddress(sys.renter.account.address), role],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.resolveDispute([id, 10_001]),
        sys.marketplace,
        "JobMarketplaceInvalidBps",
        [10_001],
      );
    });
  });

  describe("cancelJob", () => {
    it("refunds an unclaimed job to the renter's escrow balance", async () => {
      const { id, r } = await post();
      const tx = sys.marketplace.write.cancelJob([id], { account: sys.renter.account });
      await viem.assertions.emitWithArgs(tx, sys.marketplace, "JobCancelled", [
        id,
        getAddress(sys.renter.account.address),
      ]);
      await viem.assertions.emitWithArgs(tx, sys.escrow, "FundsRefunded", [
        id,
        getAddress(sys.renter.account.address),
        ETH,
        getAddress(sys.marketplace.address),
        depositOf(r),
      ]);
      assert.equal(await status(id), Status.Cancelled);
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
        depositOf(r),
      );
    });

    it("refuses anyone but the renter and a claimed job", async () => {
      const { id } = await post();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.cancelJob([id], { account: sys.other.account }),
        sys.marketplace,
        "JobMarketplaceNotRenter",
        [id, getAddress(sys.other.account.address)],
      );
      await sys.marketplace.write.claimJob([id], { account: sys.host.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.cancelJob([id], { account: sys.renter.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Claimed],
      );
    });
  });

  describe("expireJob", () => {
    it("refunds a posted job after its deadline, triggered by anyone", async () => {
      const { id, r } = await post();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.expireJob([id], { account: sys.other.account }),
        sys.marketplace,
        "JobMarketplaceDeadlineNotPassed",
        [id, r.deadline],
      );
      await networkHelpers.time.increaseTo(r.deadline + 1n);
      await viem.assertions.emitWithArgs(
        sys.marketplace.write.expireJob([id], { account: sys.other.account }),
        sys.marketplace,
        "JobExpired",
        [id, getAddress(sys.other.account.address), Status.Posted],
      );
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
        depositOf(r),
      );
      assert.equal(await status(id), Status.Expired);
    });

    it("refunds a claimed job the host never completed and frees the host's stake", async () => {
      const { id, r } = await claimed();
      await networkHelpers.time.increaseTo(r.deadline + 1n);
      await sys.marketplace.write.expireJob([id]);
      assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 0n);
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
        depositOf(r),
      );
    });

    it("refuses a completed job", async () => {
      const { id, r } = await completed();
      await networkHelpers.time.increaseTo(r.deadline + 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.expireJob([id]),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Completed],
      );
    });
  });

  describe("refuseJob", () => {
    const REASON = stringToHex("prompt_too_long", { size: 32 });

    it("hands a claimed ETH job back: the renter is refunded at once and the host freed", async () => {
      const { id, r } = await claimed();
      const renter = sys.renter.account.address;
      const escrowBefore = await sys.publicClient.getBalance({ address: sys.escrow.address });
      assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 1n);
      const tx = sys.marketplace.write.refuseJob([id, REASON], { account: sys.host.account });
      await viem.assertions.emitWithArgs(tx, sys.marketplace, "JobRefused", [
        id,
        getAddress(sys.host.account.address),
        REASON,
      ]);
      await viem.assertions.emitWithArgs(tx, sys.escrow, "FundsRefunded", [
        id,
        getAddress(renter),
        ETH,
        getAddress(sys.marketplace.address),
        depositOf(r),
      ]);
      assert.equal(await status(id), Status.Refused);
      assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 0n);
      // Pull payment: the deposit moves from the job's lock to the renter's escrow balance.
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, id]), [ETH, 0n]);
      assert.equal(await sys.escrow.read.balanceOf([renter, ETH]), depositOf(r));
      assert.equal(await sys.escrow.read.balanceOf([sys.host.account.address, ETH]), 0n);
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [0n, 0n]);
      assert.equal(
        await sys.publicClient.getBalance({ address: sys.escrow.address }),
        escrowBefore,
      );
      const before = await sys.publicClient.getBalance({ address: renter });
      const hash = await sys.escrow.write.withdraw([ETH, depositOf(r), renter], {
        account: sys.renter.account,
      });
      const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
      const fee = receipt.gasUsed * receipt.effectiveGasPrice;
      assert.equal(
        await sys.publicClient.getBalance({ address: renter }),
        before + depositOf(r) - fee,
      );
    });

    it("refunds an ERC-20 deposit the same way", async () => {
      const { id, r } = await claimed({ token: sys.usd.address, maxPricePerToken: USD_PRICE });
      const renter = sys.renter.account.address;
      const tokensBefore = await sys.usd.read.balanceOf([renter]);
      const tx = sys.marketplace.write.refuseJob([id, REASON], { account: sys.host.account });
      await viem.assertions.emitWithArgs(tx, sys.escrow, "FundsRefunded", [
        id,
        getAddress(renter),
        getAddress(sys.usd.address),
        getAddress(sys.marketplace.address),
        depositOf(r),
      ]);
      assert.equal(await status(id), Status.Refused);
      assert.equal(await sys.escrow.read.balanceOf([renter, sys.usd.address]), depositOf(r));
      assert.equal(await sys.usd.read.balanceOf([sys.escrow.address]), depositOf(r));
      await sys.escrow.write.withdraw([sys.usd.address, depositOf(r), renter], {
        account: sys.renter.account,
      });
      assert.equal(await sys.usd.read.balanceOf([renter]), tokensBefore + depositOf(r));
      assert.equal(await sys.usd.read.balanceOf([sys.escrow.address]), 0n);
    });

    it("refuses anyone but the claiming host", async () => {
      const { id } = await claimed();
      for (const who of [sys.renter, sys.host2, sys.other]) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          sys.marketplace.write.refuseJob([id, REASON], { account: who.account }),
          sys.marketplace,
          "JobMarketplaceNotHost",
          [id, getAddress(who.account.address)],
        );
      }
      // An open posted job has no host yet.
      const open = await post();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.refuseJob([open.id, REASON], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceNotHost",
        [open.id, getAddress(sys.host.account.address)],
      );
    });

    it("refuses a job that is not claimed: posted for this host, completed, refused already", async () => {
      const chosen = await post({ host: sys.host.account.address });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.refuseJob([chosen.id, REASON], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [chosen.id, Status.Posted],
      );
      const done = await completed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.refuseJob([done.id, REASON], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [done.id, Status.Completed],
      );
      const { id } = await claimed();
      await sys.marketplace.write.refuseJob([id, REASON], { account: sys.host.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.refuseJob([id, REASON], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Refused],
      );
      // Nothing else moves a refused job either.
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.completeJob([id, OUTPUT, USED], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Refused],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.expireJob([id]),
        sys.marketplace,
        "JobMarketplaceInvalidState",
        [id, Status.Refused],
      );
    });

    it("is refused past the deadline, where the job expires instead", async () => {
      const { id, r } = await claimed();
      await networkHelpers.time.increaseTo(r.deadline + 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.refuseJob([id, REASON], { account: sys.host.account }),
        sys.marketplace,
        "JobMarketplaceDeadlinePassed",
        [id, r.deadline],
      );
      await sys.marketplace.write.expireJob([id]);
      assert.equal(await status(id), Status.Expired);
    });

    it("works while the marketplace is paused, like the other refunds", async () => {
      const { id, r } = await claimed();
      await sys.marketplace.write.pause();
      await sys.marketplace.write.refuseJob([id, REASON], { account: sys.host.account });
      assert.equal(await status(id), Status.Refused);
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
        depositOf(r),
      );
    });

    it("lets the host deregister once its only claimed job is refused", async () => {
      const { id } = await claimed();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.registry.write.deregister({ account: sys.host.account }),
        sys.registry,
        "NodeRegistryUnfinishedJobs",
        [getAddress(sys.host.account.address), 1n],
      );
      await sys.marketplace.write.refuseJob([id, REASON], { account: sys.host.account });
      await viem.assertions.emit(
        sys.registry.write.deregister({ account: sys.host.account }),
        sys.registry,
        "HostDeregistered",
      );
    });
  });

  describe("administration", () => {
    it("pauses and unpauses (pauser only) and settlement stays open while paused", async () => {
      const { id } = await completed();
      const role = await sys.marketplace.read.PAUSER_ROLE();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.marketplace.write.pause({ account: sys.other.account }),
        sys.marketplace,
        "AccessControlUnauthorizedAccount",
        [getAddress(sys.other.account.address), role],
      );
      await viem.assertions.emitWithArgs(
        sys.marketplace.write.pause(),
        sys.marketplace,
        "MarketplacePaused",
        [getAddress(sys.admin.account.address)],
      );
      assert.equal(await sys.marketplace.read.paused(), true);
      await sys.marketplace.write.acceptJob([id], { account: sys.renter.account });
      assert.equal(await status(id), Status.Settled);
      await viem.assertions.emitWithArgs(
        sys.marketplace.write.unpause(),
        sys.marketplace,
        "MarketplaceUnpaused",
        [getAddress(sys.admin.account.address)],
      );
      assert.equal(await sys.marketplace.read.paused(), false);
      await post();
    });

    it("sets the dispute window within bounds; it applies to jobs completed afterwards", async () => {
      await viem.assertions.emitWithArgs(
        sys.marketplace.write.setDisputeWindow([3_600]),
        sys.marketplace,
        "DisputeWindowUpdated",
        [Number(DISPUTE_WINDOW), 3_600],
      );
      assert.equal(await sys.marketplace.read.disputeWindow(), 3_600);
      for (const bad of [0, 30 * 86_400 + 1]) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          sys.marketplace.write.setDisputeWindow([bad]),
          sys.marketplace,
          "JobMarketplaceInvalidDisputeWindow",
          [bad],
        );
      }
      await viem.assertions.revertWithCustomError(
        sys.marketplace.write.setDisputeWindow([60], { account: sys.other.account }),
        sys.marketplace,
        "AccessControlUnauthorizedAccount",
      );
      const { id } = await completed();
      const [job] = await sys.marketplace.read.getJob([id]);
      const block = await sys.publicClient.getBlock();
      assert.equal(BigInt(job.timeout), block.timestamp + 3_600n);
    });

    it("reports an unknown job and offer as empty", async () => {
      const [job, modelId, token] = await sys.marketplace.read.getJob([123n]);
      assert.equal(job.status, Status.None);
      assert.equal(modelId, `0x${"00".repeat(32)}`);
      assert.equal(token, zeroAddress);
      assert.equal(await sys.marketplace.read.offerIdOf([OTHER_MODEL, ETH]), 0);
    });

    it("refuses zero addresses at construction and initialization", async () => {
      await assert.rejects(
        viem.deployContract("JobMarketplace", [zeroAddress, sys.escrow.address]),
        /JobMarketplaceZeroAddress/,
      );
      const impl = await viem.deployContract("JobMarketplace", [
        sys.registry.address,
        sys.escrow.address,
      ]);
      const init = encodeFunctionData({
        abi: impl.abi,
        functionName: "initialize",
        args: [zeroAddress, 60],
      });
      await assert.rejects(
        viem.deployContract("FabstirProxy", [impl.address, init]),
        /JobMarketplaceZeroAddress/,
      );
      await viem.assertions.revertWithCustomError(
        impl.write.initialize([sys.admin.account.address, 60]),
        impl,
        "InvalidInitialization",
      );
      await viem.assertions.revertWithCustomError(
        sys.marketplace.write.initialize([sys.admin.account.address, 60]),
        sys.marketplace,
        "InvalidInitialization",
      );
    });
  });
});

describe("JobMarketplace: reputation, claim limits, claim timeouts and dispute bonds", () => {
  const reason = keccak256(stringToHex("the answer was gibberish"));
  const Offence = { AbandonedClaim: 0, DisputeLost: 1 };

  async function blockTime(hash: `0x${string}`): Promise<bigint> {
    const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
    return (await sys.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
  }

  async function stakeOf(host: System["host"]): Promise<bigint> {
    const [, stake] = await sys.registry.read.hostState([host.account.address]);
    return stake;
  }

  it("enforces the job's minimum score at claim (a new host scores 500)", async () => {
    const strict = await post({ minScore: 501 });
    const [job] = await sys.marketplace.read.getJob([strict.id]);
    assert.deepEqual(await sys.marketplace.read.offerOf([job.offerId]), {
      key: offerKey(MODEL, ETH),
      modelId: MODEL,
      token: ETH,
      minScore: 501,
    });
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.claimJob([strict.id], { account: sys.host.account }),
      sys.marketplace,
      "JobMarketplaceScoreTooLow",
      [strict.id, 500, 501],
    );
    const fair = await post({ minScore: 500 });
    await sys.marketplace.write.claimJob([fair.id], { account: sys.host.account });
    assert.equal(await status(fair.id), Status.Claimed);
    const r = await jobRequest(sys, { minScore: 1_001 });
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.postJob([r], { account: sys.renter.account, value: depositOf(r) }),
      sys.marketplace,
      "JobMarketplaceInvalidRequest",
      ["minScore"],
    );
    // Without a reputation system no minimum score can be met; jobs without one still run.
    await viem.assertions.emitWithArgs(
      sys.marketplace.write.setReputation([zeroAddress]),
      sys.marketplace,
      "ReputationUpdated",
      [getAddress(sys.reputation.address), zeroAddress],
    );
    const any = await post({ minScore: 1 });
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.claimJob([any.id], { account: sys.host.account }),
      sys.marketplace,
      "JobMarketplaceScoreTooLow",
      [any.id, 0, 1],
    );
    await claimed();
  });

  it("bounds a host's open claims by its stake: 8 per minimum stake, more with more stake", async () => {
    for (let i = 0; i < 8; i++) await claimed();
    const { id } = await post();
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.claimJob([id], { account: sys.host.account }),
      sys.marketplace,
      "JobMarketplaceClaimLimit",
      [getAddress(sys.host.account.address), 8n, 8n],
    );
    await sys.registry.write.addStake([MIN_STAKE], { account: sys.host.account });
    await sys.marketplace.write.claimJob([id], { account: sys.host.account });
    assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 9n);
  });

  it("takes a claim back after the claim timeout: refunded, recorded as abandoned, slashed, and the host can leave", async () => {
    const { id, r } = await post({ deadline: BigInt(await networkHelpers.time.latest()) + DAY });
    const claimedAt = await blockTime(
      await sys.marketplace.write.claimJob([id], { account: sys.host.account }),
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.expireJob([id], { account: sys.other.account }),
      sys.marketplace,
      "JobMarketplaceDeadlineNotPassed",
      [id, claimedAt + 3_600n],
    );
    await networkHelpers.time.increaseTo(claimedAt + 3_601n);
    const hash = await sys.marketplace.write.expireJob([id], { account: sys.other.account });
    await viem.assertions.emitWithArgs(Promise.resolve(hash), sys.marketplace, "JobExpired", [
      id,
      getAddress(sys.other.account.address),
      Status.Claimed,
    ]);
    const slashed = MIN_STAKE / 100n;
    await viem.assertions.emitWithArgs(Promise.resolve(hash), sys.reputation, "OffenceRecorded", [
      Offence.AbandonedClaim,
      getAddress(sys.host.account.address),
      getAddress(sys.renter.account.address),
      toHex(id, { size: 32 }),
      slashed,
      slashed / 2n,
      1n,
      375,
    ]);
    assert.equal(await status(id), Status.Expired);
    assert.equal(await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]), depositOf(r));
    assert.equal(await sys.fab.read.balanceOf([sys.renter.account.address]), slashed / 2n);
    assert.equal(await stakeOf(sys.host), MIN_STAKE - slashed);
    assert.equal(await sys.marketplace.read.activeJobCount([sys.host.account.address]), 0n);
    await sys.registry.write.requestUnstake([MIN_STAKE - slashed], { account: sys.host.account });
    await sys.registry.write.deregister({ account: sys.host.account });
  });

  it("applies a new claim timeout to open claims at once", async () => {
    const { id } = await post({ deadline: BigInt(await networkHelpers.time.latest()) + DAY });
    const claimedAt = await blockTime(
      await sys.marketplace.write.claimJob([id], { account: sys.host.account }),
    );
    await sys.marketplace.write.setClaimTimeout([600]);
    await networkHelpers.time.increaseTo(claimedAt + 601n);
    await sys.marketplace.write.expireJob([id]);
    assert.equal(await status(id), Status.Expired);
  });

  it("lets a late host still complete before the deadline while nobody took the job back", async () => {
    const { id } = await post({ deadline: BigInt(await networkHelpers.time.latest()) + DAY });
    await sys.marketplace.write.claimJob([id], { account: sys.host.account });
    await networkHelpers.time.increase(2 * 3_600);
    await sys.marketplace.write.completeJob([id, OUTPUT, USED], { account: sys.host.account });
    assert.equal(await status(id), Status.Completed);
    assert.equal(await stakeOf(sys.host), MIN_STAKE);
  });

  it("takes an ERC-20 dispute bond through the allowance and refuses a wrong ETH bond", async () => {
    const usdJob = await completed({ token: sys.usd.address, maxPricePerToken: USD_PRICE });
    const bond = await sys.marketplace.read.disputeBondOf([usdJob.id]);
    assert.equal(bond, (BigInt(USED) * USD_PRICE * 1_000n) / 10_000n);
    const before = await sys.usd.read.balanceOf([sys.renter.account.address]);
    await sys.marketplace.write.disputeJob([usdJob.id, reason], { account: sys.renter.account });
    assert.equal(await sys.usd.read.balanceOf([sys.renter.account.address]), before - bond);
    assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, usdJob.id | BOND_ID]), [
      getAddress(sys.usd.address),
      bond,
    ]);
    const ethJob = await completed();
    const ethBond = await sys.marketplace.read.disputeBondOf([ethJob.id]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.disputeJob([ethJob.id, reason], {
        account: sys.renter.account,
        value: ethBond - 1n,
      }),
      sys.escrow,
      "PaymentEscrowValueMismatch",
      [ethBond, ethBond - 1n],
    );
    // A job that billed nothing has no bond, and takes no value.
    const { id } = await claimed();
    await sys.marketplace.write.completeJob([id, OUTPUT, 0], { account: sys.host.account });
    assert.equal(await sys.marketplace.read.disputeBondOf([id]), 0n);
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.disputeJob([id, reason], { account: sys.renter.account, value: 1n }),
      sys.marketplace,
      "JobMarketplaceInvalidRequest",
      ["value"],
    );
    await sys.marketplace.write.disputeJob([id, reason], { account: sys.renter.account });
    assert.equal(await status(id), Status.Disputed);
  });

  it("a lost dispute slashes the host and compensates the renter; the renter's bond comes back", async () => {
    const { id, r } = await completed();
    const { bond } = await dispute(id, reason);
    const hash = await sys.marketplace.write.resolveDispute([id, 2_000]);
    const slashed = (MIN_STAKE * 500n) / 10_000n;
    await viem.assertions.emitWithArgs(Promise.resolve(hash), sys.reputation, "OffenceRecorded", [
      Offence.DisputeLost,
      getAddress(sys.host.account.address),
      getAddress(sys.renter.account.address),
      toHex(id, { size: 32 }),
      slashed,
      slashed / 2n,
      1n,
      await sys.reputation.read.scoreOf([sys.host.account.address]),
    ]);
    const payment = (BigInt(USED) * HOST_PRICE * 2_000n) / 10_000n;
    const bondToHost = (bond * 2_000n) / 10_000n;
    assert.equal(
      await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
      depositOf(r) - payment + bond - bondToHost,
    );
    assert.equal(await stakeOf(sys.host), MIN_STAKE - slashed);
    assert.equal(await sys.fab.read.balanceOf([sys.renter.account.address]), slashed / 2n);
  });

  it("a bad-faith dispute (resolved fully for the host) loses the bond to the host", async () => {
    const { id, r } = await completed();
    const { bond } = await dispute(id, reason);
    const hash = await sys.marketplace.write.resolveDispute([id, 10_000]);
    await viem.assertions.emitWithArgs(Promise.resolve(hash), sys.reputation, "DisputeWon", [
      id,
      getAddress(sys.host.account.address),
      await sys.reputation.read.scoreOf([sys.host.account.address]),
    ]);
    const payment = BigInt(USED) * HOST_PRICE;
    assert.equal(
      await sys.escrow.read.balanceOf([sys.host.account.address, ETH]),
      (payment * 8_500n) / 10_000n + (bond * 8_500n) / 10_000n,
    );
    assert.equal(
      await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
      depositOf(r) - payment,
    );
    assert.equal(await stakeOf(sys.host), MIN_STAKE, "a won dispute is not slashed");
  });

  it("after the arbitration deadline anyone applies the default: host paid in full, bond returned, nobody slashed", async () => {
    const { id, r } = await completed();
    const { bond, hash } = await dispute(id, reason);
    const deadline = (await blockTime(hash)) + 7n * DAY;
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.settleDispute([id], { account: sys.other.account }),
      sys.marketplace,
      "JobMarketplaceArbitrationOpen",
      [id, deadline],
    );
    await networkHelpers.time.increaseTo(deadline + 1n);
    const tx = sys.marketplace.write.settleDispute([id], { account: sys.other.account });
    await viem.assertions.emitWithArgs(tx, sys.marketplace, "JobSettled", [
      id,
      Settlement.Unarbitrated,
      10_000,
    ]);
    const payment = BigInt(USED) * HOST_PRICE;
    assert.equal(
      await sys.escrow.read.balanceOf([sys.host.account.address, ETH]),
      (payment * 8_500n) / 10_000n,
    );
    assert.equal(
      await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
      depositOf(r) - payment + bond,
    );
    assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, id | BOND_ID]), [
      zeroAddress,
      0n,
    ]);
    assert.equal(await stakeOf(sys.host), MIN_STAKE);
    const rep = await sys.reputation.read.reputationOf([sys.host.account.address]);
    assert.deepEqual([rep.disputesLost, rep.disputesWon], [0, 0]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.marketplace.write.settleDispute([id]),
      sys.marketplace,
      "JobMarketplaceInvalidState",
      [id, Status.Settled],
    );
  });

  it("the arbiter may still resolve after the deadline until someone applies the default", async () => {
    const { id } = await completed();
    await dispute(id, reason);
    await networkHelpers.time.increase(8 * 86_400);
    await sys.marketplace.write.resolveDispute([id, 5_000]);
    assert.equal(await status(id), Status.Settled);
  });

  it("a dispute always ends: a year on, it settles and the host deregisters and withdraws everything", async () => {
    const { id } = await completed();
    await dispute(id, reason);
    await networkHelpers.time.increase(365 * 86_400);
    await viem.assertions.revertWithCustomErrorWithArgs(
      sys.registry.write.deregister({ account: sys.host.account }),
      sys.registry,
      "NodeRegistryUnfinishedJobs",
      [getAddress(sys.host.account.address), 1n],
    );
    await sys.marketplace.write.settleDispute([id], { account: sys.other.account });
    await sys.registry.write.deregister({ account: sys.host.account });
    await networkHelpers.time.increase(7 * 86_400 + 1);
    const fabBefore = await sys.fab.read.balanceOf([sys.host.account.address]);
    await sys.registry.write.withdrawUnstaked({ account: sys.host.account });
    assert.equal(await sys.fab.read.balanceOf([sys.host.account.address]), fabBefore + MIN_STAKE);
    const earned = await sys.escrow.read.balanceOf([sys.host.account.address, ETH]);
    assert.ok(earned > 0n);
    await sys.escrow.write.withdraw([ETH, earned, sys.host.account.address], {
      account: sys.host.account,
    });
    assert.equal(await sys.escrow.read.balanceOf([sys.host.account.address, ETH]), 0n);
  });

  it("governs the claim timeout, arbitration window and dispute bond within bounds (admin only)", async () => {
    const m = sys.marketplace;
    assert.deepEqual(
      [
        await m.read.claimTimeout(),
        await m.read.arbitrationWindow(),
        await m.read.disputeBondBps(),
      ],
      [3_600, 7 * 86_400, 1_000],
    );
    assert.equal(getAddress(await m.read.reputation()), getAddress(sys.reputation.address));
    await viem.assertions.emitWithArgs(
      m.write.setClaimTimeout([60]),
      m,
      "ClaimTimeoutUpdated",
      [3_600, 60],
    );
    await viem.assertions.emitWithArgs(
      m.write.setArbitrationWindow([3_600]),
      m,
      "ArbitrationWindowUpdated",
      [7 * 86_400, 3_600],
    );
    await viem.assertions.emitWithArgs(
      m.write.setDisputeBondBps([0]),
      m,
      "DisputeBondUpdated",
      [1_000, 0],
    );
    const bad: [() => Promise<unknown>, string][] = [
      [() => m.write.setClaimTimeout([59]), "claimTimeout"],
      [() => m.write.setClaimTimeout([7 * 86_400 + 1]), "claimTimeout"],
      [() => m.write.setArbitrationWindow([3_599]), "arbitrationWindow"],
      [() => m.write.setArbitrationWindow([30 * 86_400 + 1]), "arbitrationWindow"],
      [() => m.write.setDisputeBondBps([5_001]), "disputeBondBps"],
    ];
    for (const [call, name] of bad) {
      await viem.assertions.revertWithCustomErrorWithArgs(
        call() as Promise<`0x${string}`>,
        m,
        "JobMarketplaceInvalidParameter",
        [name],
      );
    }
    const who = { account: sys.other.account };
    for (const call of [
      () => m.write.setClaimTimeout([600], who),
      () => m.write.setArbitrationWindow([3_600], who),
      () => m.write.setDisputeBondBps([0], who),
      () => m.write.setReputation([zeroAddress], who),
    ]) {
      await viem.assertions.revertWithCustomError(call(), m, "AccessControlUnauthorizedAccount");
    }
    // A zero bond: disputes lock nothing; the window applies to disputes opened from now on.
    const { id } = await completed();
    const { bond, hash } = await dispute(id, reason);
    assert.equal(bond, 0n);
    const [job] = await m.read.getJob([id]);
    assert.equal(BigInt(job.timeout), (await blockTime(hash)) + 3_600n);
  });
});
