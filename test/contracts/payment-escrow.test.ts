import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { network } from "hardhat";
import { encodeFunctionData, getAddress, parseEther, zeroAddress } from "viem";
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

/** A separate escrow behind its own proxy whose "marketplace" is the admin EOA, to drive lock/release directly. */
async function directEscrow() {
  const [admin, treasury, stakers] = await viem.getWalletClients();
  if (!admin || !treasury || !stakers) throw new Error("accounts");
  const impl = await viem.deployContract("PaymentEscrow");
  const data = encodeFunctionData({
    abi: impl.abi,
    functionName: "initialize",
    args: [admin.account.address, treasury.account.address, stakers.account.address],
  });
  const proxy = await viem.deployContract("FabstirProxy", [impl.address, data]);
  const escrow = await viem.getContractAt("PaymentEscrow", proxy.address);
  await escrow.write.setMarketplace([admin.account.address]);
  return { escrow, admin };
}

describe("PaymentEscrow", () => {
  describe("marketplace-only entry points", () => {
    it("refuse any caller but the marketplace", async () => {
      const who = getAddress(sys.other.account.address);
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.lock([1n, who, ETH, 1n], { account: sys.other.account, value: 1n }),
        sys.escrow,
        "PaymentEscrowUnauthorized",
        [who],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.release([1n, who, who, 0n], { account: sys.other.account }),
        sys.escrow,
        "PaymentEscrowUnauthorized",
        [who],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        sys.escrow.write.refund([1n, who], { account: sys.other.account }),
        sys.escrow,
        "PaymentEscrowUnauthorized",
        [who],
      );
    });

    it("validate amounts and lock state", async () => {
      const { escrow, admin } = await directEscrow();
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
      await escrow.write.lock([1n, payer, ETH, 100n], { value: 100n });
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.lock([1n, payer, ETH, 100n], { value: 100n }),
        escrow,
        "PaymentEscrowJobAlreadyLocked",
        [1n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.release([1n, payer, payer, 101n]),
        escrow,
        "PaymentEscrowPaymentExceedsDeposit",
        [1n, 101n, 100n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.release([2n, payer, payer, 0n]),
        escrow,
        "PaymentEscrowJobNotLocked",
        [2n],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.refund([2n, payer]),
        escrow,
        "PaymentEscrowJobNotLocked",
        [2n],
      );
      // A release of zero refunds everything and moves nothing to fees.
      await escrow.write.release([1n, payer, payer, 0n]);
      assert.equal(await escrow.read.balanceOf([payer, ETH]), 100n);
      assert.deepEqual(await escrow.read.feesOf([ETH]), [0n, 0n]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        escrow.write.release([1n, payer, payer, 0n]),
        escrow,
        "PaymentEscrowJobNotLocked",
        [1n],
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
    it("collects treasury and stakers fees to their addresses, callable by anyone", async () => {
      const job = await settledEthJob();
      const stakersPool = sys.other.account.address;
      await sys.escrow.write.setStakersPool([stakersPool]);
      const treasury = await sys.escrow.read.treasury();
      await viem.assertions.emitWithArgs(
        sys.escrow.write.collectFees([ETH], { account: sys.host2.account }),
        sys.escrow,
        "FeesCollected",
        [ETH, getAddress(treasury), job.treasury, getAddress(stakersPool), job.stakers],
      );
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [0n, 0n]);
      assert.equal(
        await sys.publicClient.getBalance({ address: sys.escrow.address }),
        job.host + job.refund,
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
      await sys.escrow.write.collectFees([sys.usd.address]);
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

    it("updates treasury, stakers pool and marketplace with events, refusing the zero address", async () => {
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
      await viem.assertions.emitWithArgs(
        sys.escrow.write.setMarketplace([next]),
        sys.escrow,
        "MarketplaceUpdated",
        [getAddress(sys.marketplace.address), next],
      );
      assert.equal(getAddress(await sys.escrow.read.marketplace()), next);
      for (const write of [
        sys.escrow.write.setTreasury,
        sys.escrow.write.setStakersPool,
        sys.escrow.write.setMarketplace,
      ]) {
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
