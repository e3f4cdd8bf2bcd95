import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { network } from "hardhat";
import { type Address, encodeFunctionData, getAddress, parseEther, zeroAddress } from "viem";
import {
  deploySystem,
  depositOf,
  ETH,
  jobRequest,
  MODEL,
  OUTPUT,
  registration,
  type System,
} from "../../fixtures/system.ts";

const connection = await network.create();
const { viem, networkHelpers } = connection;
const HOST_PRICE = parseEther("0.000001");
/** IPaymentEscrow.FeeKind */
const FeeKind = { Treasury: 0, Stakers: 1 } as const;

async function withHost() {
  const sys = await deploySystem(connection);
  const offers = [
    { modelId: MODEL, token: ETH, pricePerToken: HOST_PRICE },
    { modelId: MODEL, token: sys.usd.address, pricePerToken: 1n },
  ];
  await sys.registry.write.register([registration({ offers })], { account: sys.host.account });
  return sys;
}

let sys: System;
beforeEach(async () => {
  sys = await networkHelpers.loadFixture(withHost);
});

/** Runs one ETH job to settlement and returns the amounts credited. */
async function settledEthJob(used = 600) {
  const r = await jobRequest(sys);
  const id = await sys.marketplace.read.nextJobId();
  await sys.marketplace.write.postJob([r], { account: sys.renter.account, value: depositOf(r) });
  await sys.marketplace.write.claimJob([id], { account: sys.host.account });
  await sys.marketplace.write.completeJob([id, OUTPUT, used], { account: sys.host.account });
  await sys.marketplace.write.acceptJob([id], { account: sys.renter.account });
  const payment = BigInt(used) * HOST_PRICE;
  const host = (payment * 8_500n) / 10_000n;
  const treasury = (payment * 1_000n) / 10_000n;
  return {
    id,
    payment,
    host,
    treasury,
    stakers: payment - host - treasury,
    refund: depositOf(r) - payment,
  };
}

/**
 * A separate escrow behind its own proxy whose lockers are two EOAs (the admin and `second`), to
 * drive lock, topUp, pay, release and refund directly.
 */
async function directEscrow() {
  const [admin, treasury, stakers, , , second] = await viem.getWalletClients();
  if (!admin || !treasury || !stakers || !second) throw new Error("accounts");
  const impl = await viem.deployContract("PaymentEscrow");
  const data = encodeFunctionData({
    abi: impl.abi,
    functionName: "initialize",
    args: [admin.account.address, treasury.account.address, stakers.account.address],
  });
  const proxy = await viem.deployContract("FabstirProxy", [impl.address, data]);
  const escrow = await viem.getContractAt("PaymentEscrow", proxy.address);
  await escrow.write.setLocker([admin.account.address, true]);
  await escrow.write.setLocker([second.account.address, true]);
  await escrow.write.setTokenAllowed([sys.usd.address, true]);
  return {
    escrow,
    admin,
    second,
    locker: getAddress(admin.account.address),
    secondLocker: getAddress(second.account.address),
    treasury: getAddress(treasury.account.address),
    stakers: getAddress(stakers.account.address),
  };
}

/**
 * The 85/10/5 split of `payment` as the escrow computes it (dust to the stakers), with the
 * host's `discountBps` (at most 5000) of the treasury's share waived to the host.
 */
function split(payment: bigint, discountBps = 0n) {
  const treasuryShare = (payment * 1_000n) / 10_000n;
  const waived = (treasuryShare * discountBps) / 10_000n;
  const host = (payment * 8_500n) / 10_000n + waived;
  const treasury = treasuryShare - waived;
  return { host, treasury, stakers: payment - host - treasury };
}

describe("PaymentEscrow", () => {
  describe("locker entry points", () => {
    it("lock and topUp refuse any caller that is not an allowed locker", async () => {
      const who = getAddress(sys.other.account.address);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.lock([1n, who, ETH, 1n], { account: sys.other.account, value: 1n }),
        sys.escrow,
        "PaymentEscrowUnauthorized",
        [who],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.topUp([1n, who, ETH, 1n], { account: sys.other.account, value: 1n }),
        sys.escrow,
        "PaymentEscrowUnauthorized",
        [who],
      );
    });

    it("pay, release and refund only reach the caller's own locks", async () => {
      // A job of the marketplace is locked under id 1; another caller's id 1 is a different key.
      const job = await jobRequest(sys);
      await sys.marketplace.write.postJob([job], {
        account: sys.renter.account,
        value: depositOf(job),
      });
      const who = getAddress(sys.other.account.address);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.pay([1n, who, 1n, 0], { account: sys.other.account }),
        sys.escrow,
        "PaymentEscrowNotLocked",
        [who, 1n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.release([1n, who, who, 0n], { account: sys.other.account }),
        sys.escrow,
        "PaymentEscrowNotLocked",
        [who, 1n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.releaseAt([1n, who, who, 0n, 0], { account: sys.other.account }),
        sys.escrow,
        "PaymentEscrowNotLocked",
        [who, 1n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.refund([1n, who], { account: sys.other.account }),
        sys.escrow,
        "PaymentEscrowNotLocked",
        [who, 1n],
      );
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, 1n]), [
        ETH,
        depositOf(job),
      ]);
      assert.deepEqual(await sys.escrow.read.lockOf([who, 1n]), [zeroAddress, 0n]);
    });

    it("validate amounts and lock state", async () => {
      const { escrow, admin, locker } = await directEscrow();
      const payer = admin.account.address;
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, payer, ETH, 0n]),
        escrow,
        "PaymentEscrowInvalidAmount",
        [0n],
      );
      const tooBig = 2n ** 96n;
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, payer, ETH, tooBig]),
        escrow,
        "PaymentEscrowInvalidAmount",
        [tooBig],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, payer, ETH, 100n], { value: 99n }),
        escrow,
        "PaymentEscrowValueMismatch",
        [100n, 99n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, payer, sys.usd.address, 100n], { value: 1n }),
        escrow,
        "PaymentEscrowValueMismatch",
        [0n, 1n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, payer, sys.fab.address, 100n]),
        escrow,
        "PaymentEscrowTokenNotAllowed",
        [getAddress(sys.fab.address)],
      );
      const lock = escrow.write.lock([1n, payer, ETH, 100n], { value: 100n });
      await viem.assertions.emitWithArgs(lock, escrow, "FundsLocked", [
        1n,
        getAddress(payer),
        ETH,
        locker,
        100n,
      ]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, payer, ETH, 100n], { value: 100n }),
        escrow,
        "PaymentEscrowAlreadyLocked",
        [locker, 1n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.release([1n, payer, payer, 101n]),
        escrow,
        "PaymentEscrowPaymentExceedsDeposit",
        [locker, 1n, 101n, 100n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.release([2n, payer, payer, 0n]),
        escrow,
        "PaymentEscrowNotLocked",
        [locker, 2n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.refund([2n, payer]),
        escrow,
        "PaymentEscrowNotLocked",
        [locker, 2n],
      );
      // A release of zero refunds everything and moves nothing to fees.
      await viem.assertions.emitWithArgs(
        escrow.write.release([1n, payer, payer, 0n]),
        escrow,
        "PaymentReleased",
        [1n, getAddress(payer), ETH, locker, getAddress(payer), 0n, 0n, 0n, 100n],
      );
      assert.equal(await escrow.read.balanceOf([payer, ETH]), 100n);
      assert.deepEqual(await escrow.read.feesOf([ETH]), [0n, 0n]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.release([1n, payer, payer, 0n]),
        escrow,
        "PaymentEscrowNotLocked",
        [locker, 1n],
      );
    });

    it("refuses an ERC-20 deposit that arrives short (fee-on-transfer)", async () => {
      const { escrow, admin } = await directEscrow();
      const fee = await viem.deployContract("FeeOnTransferToken");
      await fee.write.mint([admin.account.address, 1_000n]);
      await fee.write.approve([escrow.address, 1_000n]);
      await escrow.write.setTokenAllowed([fee.address, true]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, admin.account.address, fee.address, 1_000n]),
        escrow,
        "PaymentEscrowTransferMismatch",
        [getAddress(fee.address), 1_000n, 990n],
      );
    });
  });

  describe("topUp", () => {
    it("adds to an existing lock of the same token and emits FundsLocked", async () => {
      const { escrow, admin, locker } = await directEscrow();
      const payer = getAddress(admin.account.address);
      await escrow.write.lock([7n, payer, ETH, 100n], { value: 100n });
      await viem.assertions.emitWithArgs(
        escrow.write.topUp([7n, payer, ETH, 50n], { value: 50n }),
        escrow,
        "FundsLocked",
        [7n, payer, ETH, locker, 50n],
      );
      assert.deepEqual(await escrow.read.lockOf([locker, 7n]), [ETH, 150n]);
      assert.equal(await sys.publicClient.getBalance({ address: escrow.address }), 150n);
      // ERC-20: taken from the payer, as lock takes it.
      await sys.usd.write.mint([payer, 1_000n]);
      await sys.usd.write.approve([escrow.address, 1_000n]);
      await escrow.write.lock([8n, payer, sys.usd.address, 400n]);
      await escrow.write.topUp([8n, payer, sys.usd.address, 600n]);
      assert.deepEqual(await escrow.read.lockOf([locker, 8n]), [
        getAddress(sys.usd.address),
        1_000n,
      ]);
      assert.equal(await sys.usd.read.balanceOf([escrow.address]), 1_000n);
    });

    it("refuses a missing lock, another token, a wrong value and a total above uint96", async () => {
      const { escrow, admin, locker } = await directEscrow();
      const payer = admin.account.address;
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.topUp([7n, payer, ETH, 1n], { value: 1n }),
        escrow,
        "PaymentEscrowNotLocked",
        [locker, 7n],
      );
      await escrow.write.lock([7n, payer, ETH, 100n], { value: 100n });
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.topUp([7n, payer, sys.usd.address, 1n]),
        escrow,
        "PaymentEscrowTokenMismatch",
        [7n, ETH, getAddress(sys.usd.address)],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.topUp([7n, payer, ETH, 10n], { value: 9n }),
        escrow,
        "PaymentEscrowValueMismatch",
        [10n, 9n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.topUp([7n, payer, ETH, 0n]),
        escrow,
        "PaymentEscrowInvalidAmount",
        [0n],
      );
      const overflow = 2n ** 96n - 100n;
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.topUp([7n, payer, ETH, overflow]),
        escrow,
        "PaymentEscrowInvalidAmount",
        [overflow],
      );
      assert.deepEqual(await escrow.read.lockOf([locker, 7n]), [ETH, 100n]);
    });
  });

  describe("pay", () => {
    it("pays part of a lock with the fee split and keeps the rest locked", async () => {
      const { escrow, admin, locker } = await directEscrow();
      const payer = admin.account.address;
      const host = getAddress(sys.host.account.address);
      await escrow.write.lock([3n, payer, ETH, 1_000_000n], { value: 1_000_000n });
      const payment = 123_457n;
      const s = split(payment);
      await viem.assertions.emitWithArgs(
        escrow.write.pay([3n, host, payment, 0]),
        escrow,
        "PaymentReleased",
        [3n, host, ETH, locker, zeroAddress, s.host, s.treasury, s.stakers, 0n],
      );
      assert.deepEqual(await escrow.read.lockOf([locker, 3n]), [ETH, 1_000_000n - payment]);
      assert.equal(await escrow.read.balanceOf([host, ETH]), s.host);
      assert.deepEqual(await escrow.read.feesOf([ETH]), [s.treasury, s.stakers]);
      assert.equal(s.host + s.treasury + s.stakers, payment);
      // A second payment comes out of what is left.
      await escrow.write.pay([3n, host, 1_000n, 0]);
      assert.deepEqual(await escrow.read.lockOf([locker, 3n]), [
        ETH,
        1_000_000n - payment - 1_000n,
      ]);
    });

    it("refuses zero and more than the lock; paid down to zero the lock is closed", async () => {
      const { escrow, admin, locker } = await directEscrow();
      const payer = admin.account.address;
      const host = sys.host.account.address;
      await escrow.write.lock([3n, payer, ETH, 100n], { value: 100n });
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.pay([3n, host, 0n, 0]),
        escrow,
        "PaymentEscrowPaymentExceedsDeposit",
        [locker, 3n, 0n, 100n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.pay([3n, host, 101n, 0]),
        escrow,
        "PaymentEscrowPaymentExceedsDeposit",
        [locker, 3n, 101n, 100n],
      );
      await escrow.write.pay([3n, host, 60n, 0]);
      await escrow.write.pay([3n, host, 40n, 0]);
      assert.deepEqual(await escrow.read.lockOf([locker, 3n]), [ETH, 0n]);
      for (const write of [
        () => escrow.write.pay([3n, host, 1n, 0]),
        () => escrow.write.release([3n, host, payer, 0n]),
        () => escrow.write.releaseAt([3n, host, payer, 0n, 0]),
        () => escrow.write.refund([3n, payer]),
        () => escrow.write.topUp([3n, payer, ETH, 1n], { value: 1n }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          write(),
          escrow,
          "PaymentEscrowNotLocked",
          [locker, 3n],
        );
      }
      // A closed id can be locked again.
      await escrow.write.lock([3n, payer, ETH, 5n], { value: 5n });
      assert.deepEqual(await escrow.read.lockOf([locker, 3n]), [ETH, 5n]);
      // Everything paid is accounted for: host + fees + the new lock.
      const [tf, sf] = await escrow.read.feesOf([ETH]);
      assert.equal((await escrow.read.balanceOf([host, ETH])) + tf + sf + 5n, 105n);
      assert.equal(await sys.publicClient.getBalance({ address: escrow.address }), 105n);
    });
    it("pays at the locker's fee discount, bounded to MAX_FEE_DISCOUNT_BPS, not the source's", async () => {
      const { escrow, admin, locker } = await directEscrow();
      const payer = admin.account.address;
      const host = getAddress(sys.host.account.address);
      assert.equal(await escrow.read.MAX_FEE_DISCOUNT_BPS(), 5_000);
      await escrow.write.lock([3n, payer, ETH, 10_000_000n], { value: 10_000_000n });
      const payment = 1_000_000n;
      // [discount given, host, treasury]: the stakers' 5% never changes.
      const cases = [
        [0, 850_000n, 100_000n],
        [1, 850_010n, 99_990n],
        [2_000, 870_000n, 80_000n],
        [5_000, 900_000n, 50_000n],
        [5_001, 900_000n, 50_000n],
        [10_000, 900_000n, 50_000n],
        [65_535, 900_000n, 50_000n],
      ] as const;
      let hostTotal = 0n;
      let treasuryTotal = 0n;
      for (const [discount, hostAmount, treasuryAmount] of cases) {
        assert.deepEqual(split(payment, BigInt(Math.min(discount, 5_000))), {
          host: hostAmount,
          treasury: treasuryAmount,
          stakers: 50_000n,
        });
        await viem.assertions.emitWithArgs(
          escrow.write.pay([3n, host, payment, discount]),
          escrow,
          "PaymentReleased",
          [3n, host, ETH, locker, zeroAddress, hostAmount, treasuryAmount, 50_000n, 0n],
        );
        hostTotal += hostAmount;
        treasuryTotal += treasuryAmount;
      }
      // Rounding: 20% of a 12_345 treasury share waived is 2_469; dust still goes to the stakers.
      assert.deepEqual(split(123_457n, 2_000n), {
        host: 107_407n,
        treasury: 9_876n,
        stakers: 6_174n,
      });
      await viem.assertions.emitWithArgs(
        escrow.write.pay([3n, host, 123_457n, 2_000]),
        escrow,
        "PaymentReleased",
        [3n, host, ETH, locker, zeroAddress, 107_407n, 9_876n, 6_174n, 0n],
      );
      hostTotal += 107_407n;
      treasuryTotal += 9_876n;
      // A fee-discount source that says 20% does not change what the locker gives.
      await escrow.write.setFeeDiscounts([sys.reputation.address]);
      await sys.reputation.write.setFeeDiscount([0, 2_000]);
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 2_000);
      const none = split(payment);
      await viem.assertions.emitWithArgs(
        escrow.write.pay([3n, host, payment, 0]),
        escrow,
        "PaymentReleased",
        [3n, host, ETH, locker, zeroAddress, none.host, none.treasury, none.stakers, 0n],
      );
      hostTotal += none.host;
      treasuryTotal += none.treasury;
      assert.equal(await escrow.read.balanceOf([host, ETH]), hostTotal);
      const paid = BigInt(cases.length + 1) * payment + 123_457n;
      assert.deepEqual(await escrow.read.feesOf([ETH]), [
        treasuryTotal,
        paid - hostTotal - treasuryTotal,
      ]);
      assert.deepEqual(await escrow.read.lockOf([locker, 3n]), [ETH, 10_000_000n - paid]);
    });

    it("releaseAt releases at the locker's discount (bounded); release asks the fee-discount source", async () => {
      const { escrow, admin, locker } = await directEscrow();
      const payer = admin.account.address;
      const host = getAddress(sys.host.account.address);
      const renter = getAddress(sys.renter.account.address);
      for (const id of [1n, 2n, 3n, 4n, 5n, 6n, 7n]) {
        await escrow.write.lock([id, payer, ETH, 1_000_000n], { value: 1_000_000n });
      }
      const payment = 600_000n;
      const refund = 400_000n;
      const released = (
        id: bigint,
        shares: ReturnType<typeof split>,
        back = refund,
      ): [bigint, Address, Address, Address, Address, bigint, bigint, bigint, bigint] => [
        id,
        host,
        ETH,
        locker,
        renter,
        shares.host,
        shares.treasury,
        shares.stakers,
        back,
      ];
      // No source: release gives no discount, releaseAt the locker's.
      assert.equal(await escrow.read.feeDiscounts(), zeroAddress);
      await viem.assertions.emitWithArgs(
        escrow.write.release([1n, host, renter, payment]),
        escrow,
        "PaymentReleased",
        released(1n, split(payment)),
      );
      assert.deepEqual(split(payment, 3_000n), {
        host: 528_000n,
        treasury: 42_000n,
        stakers: 30_000n,
      });
      await viem.assertions.emitWithArgs(
        escrow.write.releaseAt([2n, host, renter, payment, 3_000]),
        escrow,
        "PaymentReleased",
        released(2n, split(payment, 3_000n)),
      );
      // The source says 20%: release applies it; releaseAt applies only what the locker gives.
      await escrow.write.setFeeDiscounts([sys.reputation.address]);
      await sys.reputation.write.setFeeDiscount([0, 2_000]);
      assert.deepEqual(split(payment, 2_000n), {
        host: 522_000n,
        treasury: 48_000n,
        stakers: 30_000n,
      });
      await viem.assertions.emitWithArgs(
        escrow.write.release([3n, host, renter, payment]),
        escrow,
        "PaymentReleased",
        released(3n, split(payment, 2_000n)),
      );
      // A discount of 0 splits as without a discount.
      assert.deepEqual(split(payment), { host: 510_000n, treasury: 60_000n, stakers: 30_000n });
      await viem.assertions.emitWithArgs(
        escrow.write.releaseAt([4n, host, renter, payment, 0]),
        escrow,
        "PaymentReleased",
        released(4n, split(payment)),
      );
      // Above MAX_FEE_DISCOUNT_BPS: bounded to half the treasury's share.
      assert.deepEqual(split(payment, 5_000n), {
        host: 540_000n,
        treasury: 30_000n,
        stakers: 30_000n,
      });
      await viem.assertions.emitWithArgs(
        escrow.write.releaseAt([5n, host, renter, payment, 9_999]),
        escrow,
        "PaymentReleased",
        released(5n, split(payment, 5_000n)),
      );
      // Nothing paid: everything refunded, nothing to fees, whatever the discount.
      await viem.assertions.emitWithArgs(
        escrow.write.releaseAt([6n, host, renter, 0n, 5_000]),
        escrow,
        "PaymentReleased",
        [6n, host, ETH, locker, renter, 0n, 0n, 0n, 1_000_000n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.releaseAt([7n, host, renter, 1_000_001n, 0]),
        escrow,
        "PaymentEscrowPaymentExceedsDeposit",
        [locker, 7n, 1_000_001n, 1_000_000n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.releaseAt([6n, host, renter, 0n, 0]),
        escrow,
        "PaymentEscrowNotLocked",
        [locker, 6n],
      );
      assert.equal(
        await escrow.read.balanceOf([host, ETH]),
        510_000n + 528_000n + 522_000n + 510_000n + 540_000n,
      );
      assert.equal(await escrow.read.balanceOf([renter, ETH]), 5n * refund + 1_000_000n);
      assert.deepEqual(await escrow.read.feesOf([ETH]), [
        60_000n + 42_000n + 48_000n + 60_000n + 30_000n,
        5n * 30_000n,
      ]);
    });

    it("a job's settlement (release) pays at the host's discount when it settles", async () => {
      await sys.reputation.write.setFeeDiscount([0, 2_000]);
      assert.equal(await sys.reputation.read.feeDiscountBps([sys.host.account.address]), 2_000);
      const job = await settledEthJob();
      const shares = split(job.payment, 2_000n);
      assert.equal(await sys.escrow.read.balanceOf([sys.host.account.address, ETH]), shares.host);
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [shares.treasury, shares.stakers]);
      assert.equal(shares.host, job.host + (job.treasury * 2_000n) / 10_000n);
      // Withdrawn, the next job settles without it.
      await sys.reputation.write.setFeeDiscount([0, 0]);
      await settledEthJob();
      assert.equal(
        await sys.escrow.read.balanceOf([sys.host.account.address, ETH]),
        shares.host + job.host,
      );
    });
  });

  describe("lockers", () => {
    it("keeps each locker's ids apart: job 1 of the marketplace and id 1 of another locker coexist", async () => {
      const job = await jobRequest(sys);
      await sys.marketplace.write.postJob([job], {
        account: sys.renter.account,
        value: depositOf(job),
      });
      const other = getAddress(sys.other.account.address);
      await viem.assertions.emitWithArgs(
        sys.escrow.write.setLocker([other, true]),
        sys.escrow,
        "LockerUpdated",
        [other, true],
      );
      assert.equal(await sys.escrow.read.isLocker([other]), true);
      assert.equal(await sys.escrow.read.isLocker([sys.marketplace.address]), true);
      await sys.escrow.write.lock([1n, other, ETH, 42n], {
        account: sys.other.account,
        value: 42n,
      });
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, 1n]), [
        ETH,
        depositOf(job),
      ]);
      assert.deepEqual(await sys.escrow.read.lockOf([other, 1n]), [ETH, 42n]);
      // Refunding the other locker's id 1 leaves the marketplace's job 1 locked, and back.
      await viem.assertions.emitWithArgs(
        sys.escrow.write.refund([1n, other], { account: sys.other.account }),
        sys.escrow,
        "FundsRefunded",
        [1n, other, ETH, other, 42n],
      );
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, 1n]), [
        ETH,
        depositOf(job),
      ]);
      await sys.escrow.write.lock([1n, other, ETH, 7n], { account: sys.other.account, value: 7n });
      await sys.marketplace.write.cancelJob([1n], { account: sys.renter.account });
      assert.deepEqual(await sys.escrow.read.lockOf([sys.marketplace.address, 1n]), [
        zeroAddress,
        0n,
      ]);
      assert.deepEqual(await sys.escrow.read.lockOf([other, 1n]), [ETH, 7n]);
      assert.equal(
        await sys.publicClient.getBalance({ address: sys.escrow.address }),
        depositOf(job) + 42n + 7n,
      );
    });

    it("a retired locker settles, pays and refunds its locks but cannot lock or top up", async () => {
      const { escrow, admin, second, locker, secondLocker } = await directEscrow();
      const payer = admin.account.address;
      const host = getAddress(sys.host.account.address);
      const renter = getAddress(sys.renter.account.address);
      for (const id of [1n, 2n, 3n]) {
        await escrow.write.lock([id, payer, ETH, 100n], { value: 100n });
      }
      await escrow.write.lock([1n, payer, ETH, 100n], { value: 100n, account: second.account });
      await viem.assertions.emitWithArgs(
        escrow.write.setLocker([locker, false]),
        escrow,
        "LockerUpdated",
        [locker, false],
      );
      assert.equal(await escrow.read.isLocker([locker]), false);
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([4n, payer, ETH, 1n], { value: 1n }),
        escrow,
        "PaymentEscrowUnauthorized",
        [locker],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.topUp([1n, payer, ETH, 1n], { value: 1n }),
        escrow,
        "PaymentEscrowUnauthorized",
        [locker],
      );
      await escrow.write.pay([1n, host, 10n, 0]);
      assert.deepEqual(split(30n), { host: 25n, treasury: 3n, stakers: 2n });
      await viem.assertions.emitWithArgs(
        escrow.write.release([1n, host, renter, 30n]),
        escrow,
        "PaymentReleased",
        [1n, host, ETH, locker, renter, 25n, 3n, 2n, 60n],
      );
      await viem.assertions.emitWithArgs(
        escrow.write.refund([2n, renter]),
        escrow,
        "FundsRefunded",
        [2n, renter, ETH, locker, 100n],
      );
      await escrow.write.pay([3n, host, 100n, 0]);
      for (const id of [1n, 2n, 3n]) {
        assert.equal((await escrow.read.lockOf([locker, id]))[1], 0n);
      }
      assert.equal(await escrow.read.balanceOf([renter, ETH]), 160n);
      // The other locker is untouched and still active.
      assert.deepEqual(await escrow.read.lockOf([secondLocker, 1n]), [ETH, 100n]);
      await escrow.write.topUp([1n, payer, ETH, 1n], { value: 1n, account: second.account });
      assert.deepEqual(await escrow.read.lockOf([secondLocker, 1n]), [ETH, 101n]);
      // Allowed again, it locks again.
      await escrow.write.setLocker([locker, true]);
      await escrow.write.lock([4n, payer, ETH, 1n], { value: 1n });
    });

    it("only the admin sets lockers, never the zero address", async () => {
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.setLocker([zeroAddress, true]),
        sys.escrow,
        "PaymentEscrowZeroAddress",
      );
      const role = await sys.escrow.read.DEFAULT_ADMIN_ROLE();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.setLocker([sys.other.account.address, true], {
          account: sys.other.account,
        }),
        sys.escrow,
        "AccessControlUnauthorizedAccount",
        [getAddress(sys.other.account.address), role],
      );
    });
  });

  describe("withdraw", () => {
    it("sends the host's ETH earnings and keeps the rest withdrawable", async () => {
      const job = await settledEthJob();
      const to = sys.other.account.address;
      const before = await sys.publicClient.getBalance({ address: to });
      const half = job.host / 2n;
      await viem.assertions.emitWithArgs(
        sys.escrow.write.withdraw([ETH, half, to], { account: sys.host.account }),
        sys.escrow,
        "Withdrawn",
        [getAddress(sys.host.account.address), ETH, getAddress(to), half],
      );
      assert.equal(await sys.publicClient.getBalance({ address: to }), before + half);
      assert.equal(
        await sys.escrow.read.balanceOf([sys.host.account.address, ETH]),
        job.host - half,
      );
    });

    it("lets the renter withdraw its refund", async () => {
      const job = await settledEthJob();
      await viem.assertions.balancesHaveChanged(
        sys.escrow.write.withdraw([ETH, job.refund, sys.renter.account.address], {
          account: sys.renter.account,
        }),
        [{ address: sys.escrow.address, amount: -job.refund }],
      );
      assert.equal(await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]), 0n);
    });

    it("refuses more than the balance, zero, the zero address, and withdrawals while paused", async () => {
      const job = await settledEthJob();
      const host = getAddress(sys.host.account.address);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.withdraw([ETH, job.host + 1n, host], { account: sys.host.account }),
        sys.escrow,
        "PaymentEscrowInsufficientBalance",
        [host, ETH, job.host, job.host + 1n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.withdraw([ETH, 0n, host], { account: sys.host.account }),
        sys.escrow,
        "PaymentEscrowInvalidAmount",
        [0n],
      );
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.withdraw([ETH, 1n, zeroAddress], { account: sys.host.account }),
        sys.escrow,
        "PaymentEscrowZeroAddress",
      );
      await sys.escrow.write.pause();
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.withdraw([ETH, 1n, host], { account: sys.host.account }),
        sys.escrow,
        "EnforcedPause",
      );
      await sys.escrow.write.unpause();
      await sys.escrow.write.withdraw([ETH, 1n, host], { account: sys.host.account });
    });

    it("fails the whole withdrawal when the recipient re-enters", async () => {
      const attacker = await viem.deployContract("ReentrantWithdrawer", [sys.escrow.address]);
      const r = await jobRequest(sys);
      await attacker.write.post([sys.marketplace.address, r], { value: depositOf(r) });
      await attacker.write.cancel([sys.marketplace.address, 1n]);
      assert.equal(await sys.escrow.read.balanceOf([attacker.address, ETH]), depositOf(r));
      await viem.assertions.revertWithCustomErrorWithArgs(
        attacker.write.withdraw([depositOf(r)]),
        sys.escrow,
        "PaymentEscrowNativeTransferFailed",
        [getAddress(attacker.address), depositOf(r)],
      );
      assert.equal(await sys.escrow.read.balanceOf([attacker.address, ETH]), depositOf(r));
    });
  });

  describe("fees", () => {
    it("collects treasury and stakers fees each on its own, to their addresses, callable by anyone", async () => {
      const job = await settledEthJob();
      const stakersPool = getAddress(sys.other.account.address);
      await sys.escrow.write.setStakersPool([stakersPool]);
      const treasury = getAddress(await sys.escrow.read.treasury());
      const treasuryBefore = await sys.publicClient.getBalance({ address: treasury });
      await viem.assertions.emitWithArgs(
        sys.escrow.write.collectFees([ETH, FeeKind.Treasury], { account: sys.host2.account }),
        sys.escrow,
        "FeesCollected",
        [ETH, FeeKind.Treasury, treasury, job.treasury],
      );
      assert.equal(
        await sys.publicClient.getBalance({ address: treasury }),
        treasuryBefore + job.treasury,
      );
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [0n, job.stakers]);
      await viem.assertions.balancesHaveChanged(
        sys.escrow.write.collectFees([ETH, FeeKind.Stakers], { account: sys.host2.account }),
        [
          { address: stakersPool, amount: job.stakers },
          { address: sys.escrow.address, amount: -job.stakers },
        ],
      );
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [0n, 0n]);
      assert.equal(
        await sys.publicClient.getBalance({ address: sys.escrow.address }),
        job.host + job.refund,
      );
      // Nothing left: collecting again sends nothing and says so.
      await viem.assertions.emitWithArgs(
        sys.escrow.write.collectFees([ETH, FeeKind.Stakers]),
        sys.escrow,
        "FeesCollected",
        [ETH, FeeKind.Stakers, stakersPool, 0n],
      );
    });

    it("a treasury that refuses ETH does not block the stakers' share", async () => {
      const job = await settledEthJob();
      const rejecting = await viem.deployContract("RejectingReceiver");
      await sys.escrow.write.setTreasury([rejecting.address]);
      const stakersPool = getAddress(sys.other.account.address);
      await sys.escrow.write.setStakersPool([stakersPool]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.collectFees([ETH, FeeKind.Treasury]),
        sys.escrow,
        "PaymentEscrowNativeTransferFailed",
        [getAddress(rejecting.address), job.treasury],
      );
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [job.treasury, job.stakers]);
      await viem.assertions.balancesHaveChanged(
        sys.escrow.write.collectFees([ETH, FeeKind.Stakers]),
        [{ address: stakersPool, amount: job.stakers }],
      );
      // The treasury's share waits for a treasury that can take it.
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [job.treasury, 0n]);
      await sys.escrow.write.setTreasury([sys.host2.account.address]);
      await viem.assertions.balancesHaveChanged(
        sys.escrow.write.collectFees([ETH, FeeKind.Treasury]),
        [{ address: sys.host2.account.address, amount: job.treasury }],
      );
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [0n, 0n]);
    });

    it("refuses to collect while paused", async () => {
      await settledEthJob();
      await sys.escrow.write.pause();
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.collectFees([ETH, FeeKind.Treasury]),
        sys.escrow,
        "EnforcedPause",
      );
    });

    it("collects ERC-20 fees", async () => {
      const r = await jobRequest(sys, { token: sys.usd.address, maxPricePerToken: 1n });
      await sys.marketplace.write.postJob([r], { account: sys.renter.account });
      await sys.marketplace.write.claimJob([1n], { account: sys.host.account });
      await sys.marketplace.write.completeJob([1n, OUTPUT, 1_000], { account: sys.host.account });
      await sys.marketplace.write.acceptJob([1n], { account: sys.renter.account });
      const [treasuryFees, stakersFees] = await sys.escrow.read.feesOf([sys.usd.address]);
      assert.equal(treasuryFees, 100n);
      assert.equal(stakersFees, 50n);
      await sys.escrow.write.setTreasury([sys.host2.account.address]);
      await sys.escrow.write.setStakersPool([sys.other.account.address]);
      await sys.escrow.write.collectFees([sys.usd.address, FeeKind.Treasury]);
      await sys.escrow.write.collectFees([sys.usd.address, FeeKind.Stakers]);
      assert.equal(await sys.usd.read.balanceOf([sys.host2.account.address]), 100n);
      assert.equal(await sys.usd.read.balanceOf([sys.other.account.address]), 50n);
    });

    it("uses a new fee split for later settlements and rejects splits out of bounds", async () => {
      assert.deepEqual(await sys.escrow.read.feeSplit(), [8_500, 1_000, 500]);
      await viem.assertions.emitWithArgs(
        sys.escrow.write.setFeeSplit([9_000, 500, 500]),
        sys.escrow,
        "FeeSplitUpdated",
        [9_000, 500, 500],
      );
      const r = await jobRequest(sys);
      await sys.marketplace.write.postJob([r], {
        account: sys.renter.account,
        value: depositOf(r),
      });
      await sys.marketplace.write.claimJob([1n], { account: sys.host.account });
      await sys.marketplace.write.completeJob([1n, OUTPUT, 1_000], { account: sys.host.account });
      await sys.marketplace.write.acceptJob([1n], { account: sys.renter.account });
      const payment = 1_000n * HOST_PRICE;
      assert.equal(
        await sys.escrow.read.balanceOf([sys.host.account.address, ETH]),
        (payment * 9_000n) / 10_000n,
      );
      for (const bad of [
        [8_000, 1_000, 500],
        [6_900, 2_000, 1_100],
        [7_500, 2_100, 400],
        [7_500, 400, 2_100],
      ] as const) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          sys.escrow.write.setFeeSplit([...bad]),
          sys.escrow,
          "PaymentEscrowInvalidFeeSplit",
          [...bad],
        );
      }
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.setFeeSplit([8_500, 1_000, 500], { account: sys.other.account }),
        sys.escrow,
        "AccessControlUnauthorizedAccount",
      );
    });
  });

  describe("administration", () => {
    it("allows and disallows tokens", async () => {
      assert.equal(await sys.escrow.read.isTokenAllowed([ETH]), true);
      assert.equal(await sys.escrow.read.isTokenAllowed([sys.usd.address]), true);
      await viem.assertions.emitWithArgs(
        sys.escrow.write.setTokenAllowed([sys.usd.address, false]),
        sys.escrow,
        "TokenAllowanceUpdated",
        [getAddress(sys.usd.address), false],
      );
      assert.equal(await sys.escrow.read.isTokenAllowed([sys.usd.address]), false);
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.setTokenAllowed([zeroAddress, true]),
        sys.escrow,
        "PaymentEscrowZeroAddress",
      );
    });

    it("sets and clears the fee-discount source with FeeDiscountsUpdated (admin only)", async () => {
      const current = getAddress(await sys.escrow.read.feeDiscounts());
      assert.equal(current, getAddress(sys.reputation.address));
      await viem.assertions.emitWithArgs(
        sys.escrow.write.setFeeDiscounts([zeroAddress]),
        sys.escrow,
        "FeeDiscountsUpdated",
        [current, zeroAddress],
      );
      assert.equal(await sys.escrow.read.feeDiscounts(), zeroAddress);
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.setFeeDiscounts([current], { account: sys.other.account }),
        sys.escrow,
        "AccessControlUnauthorizedAccount",
      );
    });

    it("updates treasury and stakers pool with events, refusing the zero address", async () => {
      const next = getAddress(sys.other.account.address);
      const treasury = await sys.escrow.read.treasury();
      await viem.assertions.emitWithArgs(
        sys.escrow.write.setTreasury([next]),
        sys.escrow,
        "TreasuryUpdated",
        [getAddress(treasury), next],
      );
      const pool = await sys.escrow.read.stakersPool();
      await viem.assertions.emitWithArgs(
        sys.escrow.write.setStakersPool([next]),
        sys.escrow,
        "StakersPoolUpdated",
        [getAddress(pool), next],
      );
      assert.equal(getAddress(await sys.escrow.read.treasury()), next);
      assert.equal(getAddress(await sys.escrow.read.stakersPool()), next);
      for (const write of [sys.escrow.write.setTreasury, sys.escrow.write.setStakersPool]) {
        await viem.assertions.revertWithCustomError(
          write([zeroAddress]),
          sys.escrow,
          "PaymentEscrowZeroAddress",
        );
      }
    });

    it("refuses zero addresses at initialization and a second initialization", async () => {
      const impl = await viem.deployContract("PaymentEscrow");
      const data = encodeFunctionData({
        abi: impl.abi,
        functionName: "initialize",
        args: [zeroAddress, sys.admin.account.address, sys.admin.account.address],
      });
      await assert.rejects(viem.deployContract("FabstirProxy", [impl.address, data]));
      await viem.assertions.revertWithCustomError(
        sys.escrow.write.initialize([
          sys.admin.account.address,
          sys.admin.account.address,
          sys.admin.account.address,
        ]),
        sys.escrow,
        "InvalidInitialization",
      );
      const role = await sys.escrow.read.PAUSER_ROLE();
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.pause({ account: sys.other.account }),
        sys.escrow,
        "AccessControlUnauthorizedAccount",
        [getAddress(sys.other.account.address), role],
      );
    });
  });
});
