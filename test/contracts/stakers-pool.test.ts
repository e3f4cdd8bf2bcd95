import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { getAddress, keccak256, parseEther, stringToHex, zeroAddress } from "viem";
import { deployProxied, implementationOf } from "../../fixtures/system.ts";

const FAB = 10n ** 18n;
const USD = 10n ** 6n;
const DAY = 86_400n;
const ETH = zeroAddress;
const SUPPLY = 1_000_000_000n * FAB;
const STAKER_FAB = 100_000n * FAB;
const PRECISION = 10n ** 36n;
const PAUSER_ROLE = keccak256(stringToHex("PAUSER_ROLE"));
const UPGRADER_ROLE = keccak256(stringToHex("UPGRADER_ROLE"));
const CUSTODIAN_ROLE = keccak256(stringToHex("CUSTODIAN_ROLE"));
const DEFAULT_ADMIN_ROLE = `0x${"00".repeat(32)}` as const;
/** IPaymentEscrow.FeeKind */
const FeeKind = { Treasury: 0, Stakers: 1 } as const;

describe("StakersPool", async () => {
  const connection = await network.create();
  const { viem, networkHelpers } = connection;
  const { loadFixture, time } = networkHelpers;
  const publicClient = await viem.getPublicClient();
  const a = viem.assertions;

  /**
   * FAB, the pool and an escrow paying it, each behind a FabstirProxy; the pool holds
   * CUSTODIAN_ROLE on FAB, `guardian` holds the pool's PAUSER_ROLE and `registry` (an EOA here)
   * reports host stakes. The admin is the escrow's locker, to create fees directly.
   */
  async function poolFixture() {
    const [admin, alice, bob, guardian, registry, other, treasury, carol] =
      await viem.getWalletClients();
    if (!admin || !alice || !bob || !guardian || !registry || !other || !treasury || !carol) {
      throw new Error("need 8 accounts");
    }
    const fab = await deployProxied(connection, "FABToken", [
      admin.account.address,
      admin.account.address,
      SUPPLY,
    ]);
    const pool = await deployProxied(connection, "StakersPool", [
      admin.account.address,
      fab.address,
      zeroAddress,
    ]);
    const escrow = await deployProxied(connection, "PaymentEscrow", [
      admin.account.address,
      treasury.account.address,
      pool.address,
    ]);
    const usd = await viem.deployContract("TestStablecoin");

    await fab.write.grantRole([CUSTODIAN_ROLE, pool.address]);
    await pool.write.setEscrow([escrow.address]);
    await pool.write.setRegistry([registry.account.address]);
    await pool.write.addRewardToken([usd.address]);
    await pool.write.grantRole([PAUSER_ROLE, guardian.account.address]);
    await escrow.write.setTokenAllowed([usd.address, true]);
    await escrow.write.setLocker([admin.account.address, true]);
    await usd.write.mint([admin.account.address, 1_000_000n * USD]);
    await usd.write.approve([escrow.address, 2n ** 256n - 1n]);
    for (const w of [alice, bob, carol]) {
      await fab.write.transfer([w.account.address, STAKER_FAB]);
      await fab.write.approve([pool.address, 2n ** 256n - 1n], { account: w.account });
    }
    const publicClient = await viem.getPublicClient();
    const poolImpl = await viem.getContractAt(
      "StakersPool",
      await implementationOf({ publicClient }, pool.address),
    );
    return {
      fab,
      pool,
      poolImpl,
      escrow,
      usd,
      admin,
      alice,
      bob,
      carol,
      guardian,
      registry,
      other,
      treasury,
    };
  }

  type Fixture = Awaited<ReturnType<typeof poolFixture>>;

  /** A payment of `payment` through the escrow; returns the stakers' fee it accrued. */
  async function payThroughEscrow(f: Fixture, token: `0x${string}`, payment: bigint, id: bigint) {
    await f.escrow.write.lock([id, f.admin.account.address, token, payment], {
      value: token === ETH ? payment : 0n,
    });
    await f.escrow.write.release([id, f.other.account.address, f.admin.account.address, payment]);
    const host = (payment * 8_500n) / 10_000n;
    const treasury = (payment * 1_000n) / 10_000n;
    return payment - host - treasury;
  }

  async function ethBalance(address: `0x${string}`) {
    return publicClient.getBalance({ address });
  }

  // ---------------------------------------------------------------- initialize

  describe("initialize", () => {
    it("sets the default tiers, a 1x host multiplier, ETH as a reward token and the admin's roles", async () => {
      const { pool, fab, escrow, usd, admin, registry } = await loadFixture(poolFixture);
      assert.equal(await pool.read.lockTierCount(), 4);
      const tiers = [
        [0n, 10_000],
        [30n * DAY, 12_500],
        [90n * DAY, 15_000],
        [180n * DAY, 20_000],
      ];
      for (const [i, [duration, multiplier]] of tiers.entries()) {
        assert.deepEqual(await pool.read.lockTier([i]), [duration, multiplier]);
      }
      assert.equal(await pool.read.hostMultiplierBps(), 10_000);
      assert.deepEqual(await pool.read.rewardTokens(), [ETH, getAddress(usd.address)]);
      assert.equal(await pool.read.fab(), getAddress(fab.address));
      assert.equal(await pool.read.escrow(), getAddress(escrow.address));
      assert.equal(await pool.read.registry(), getAddress(registry.account.address));
      for (const role of [DEFAULT_ADMIN_ROLE, PAUSER_ROLE, UPGRADER_ROLE]) {
        assert.equal(await pool.read.hasRole([role, admin.account.address]), true);
      }
      await a.revertWithCustomErrorWithArgs(
        pool.read.lockTier([4]),
        pool,
        "StakersPoolUnknownTier",
        [4],
      );
    });

    it("cannot be initialized twice", async () => {
      const { pool, fab, admin } = await loadFixture(poolFixture);
      await a.revertWithCustomError(
        pool.write.initialize([admin.account.address, fab.address, zeroAddress]),
        pool,
        "InvalidInitialization",
      );
    });
  });

  // ---------------------------------------------------------------- staking

  describe("staking", () => {
    it("keeps the staker's votes: the FAB is held in custody", async () => {
      const { pool, fab, alice } = await loadFixture(poolFixture);
      const me = alice.account.address;
      await fab.write.delegate([me], { account: alice.account });
      assert.equal(await fab.read.getVotes([me]), STAKER_FAB);
      const hash = await pool.write.stake([40_000n * FAB, 2], { account: alice.account });
      const lockEnd = BigInt(await time.latest()) + 90n * DAY;
      await a.emitWithArgs(hash, pool, "Staked", [
        getAddress(me),
        2,
        40_000n * FAB,
        60_000n * FAB,
        lockEnd,
        60_000n * FAB,
        60_000n * FAB,
      ]);
      assert.equal(await fab.read.getVotes([me]), STAKER_FAB);
      assert.equal(await fab.read.balanceOf([me]), STAKER_FAB - 40_000n * FAB);
      assert.equal(await fab.read.custodiedOf([me]), 40_000n * FAB);
      assert.equal(await fab.read.heldBy([pool.address]), 40_000n * FAB);
      assert.equal(await pool.read.totalStaked(), 40_000n * FAB);
      assert.deepEqual(await pool.read.positionOf([me, 2]), [40_000n * FAB, lockEnd, 15_000]);
      // Withdrawing gives the FAB back, and the votes stay put.
      await time.increase(90n * DAY);
      await pool.write.withdraw([2, 40_000n * FAB], { account: alice.account });
      assert.equal(await fab.read.getVotes([me]), STAKER_FAB);
      assert.equal(await fab.read.balanceOf([me]), STAKER_FAB);
    });

    it("lockup multipliers: each tier counts the FAB at its multiplier", async () => {
      const { pool, alice, bob, carol } = await loadFixture(poolFixture);
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      await pool.write.stake([1_000n * FAB, 1], { account: bob.account });
      await pool.write.stake([1_000n * FAB, 3], { account: carol.account });
      assert.equal(await pool.read.sharesOf([alice.account.address]), 1_000n * FAB);
      assert.equal(await pool.read.sharesOf([bob.account.address]), 1_250n * FAB);
      assert.equal(await pool.read.sharesOf([carol.account.address]), 2_000n * FAB);
      assert.equal(await pool.read.totalShares(), 4_250n * FAB);
    });

    it("a position's lock end only moves later, and a new multiplier only applies to new stake", async () => {
      const { pool, alice } = await loadFixture(poolFixture);
      const me = alice.account.address;
      await pool.write.stake([1_000n * FAB, 1], { account: alice.account });
      const [, firstEnd] = await pool.read.positionOf([me, 1]);
      await pool.write.setLockTier([1, 7n * DAY, 20_000]);
      assert.equal(await pool.read.sharesOf([me]), 1_250n * FAB);
      await pool.write.stake([1_000n * FAB, 1], { account: alice.account });
      const [amount, lockEnd, multiplier] = await pool.read.positionOf([me, 1]);
      assert.equal(amount, 2_000n * FAB);
      assert.equal(lockEnd, firstEnd, "the lock end never moves earlier");
      assert.equal(multiplier, 16_250, "the amount-weighted mean of 1.25x and 2x");
      assert.equal(await pool.read.sharesOf([me]), 3_250n * FAB);
    });

    it("withdraw before the lock end reverts StakersPoolLocked; after it, it returns the FAB", async () => {
      const { pool, fab, alice } = await loadFixture(poolFixture);
      const me = alice.account.address;
      await pool.write.stake([500n * FAB, 3], { account: alice.account });
      const [, lockEnd] = await pool.read.positionOf([me, 3]);
      await time.increaseTo(lockEnd - 10n);
      await a.revertWithCustomErrorWithArgs(
        pool.write.withdraw([3, 500n * FAB], { account: alice.account }),
        pool,
        "StakersPoolLocked",
        [getAddress(me), 3, lockEnd],
      );
      await time.increaseTo(lockEnd);
      await a.revertWithCustomErrorWithArgs(
        pool.write.withdraw([3, 501n * FAB], { account: alice.account }),
        pool,
        "StakersPoolInsufficientStake",
        [getAddress(me), 3, 500n * FAB, 501n * FAB],
      );
      await a.emitWithArgs(
        pool.write.withdraw([3, 200n * FAB], { account: alice.account }),
        pool,
        "Withdrawn",
        [getAddress(me), 3, 200n * FAB, 600n * FAB, 600n * FAB, 600n * FAB],
      );
      await pool.write.withdraw([3, 300n * FAB], { account: alice.account });
      assert.equal(await fab.read.balanceOf([me]), STAKER_FAB);
      assert.equal(await pool.read.sharesOf([me]), 0n);
      assert.deepEqual(await pool.read.positionOf([me, 3]), [0n, 0n, 0]);
    });

    it("rejects a zero amount and an unknown tier", async () => {
      const { pool, alice } = await loadFixture(poolFixture);
      await a.revertWithCustomErrorWithArgs(
        pool.write.stake([0n, 0], { account: alice.account }),
        pool,
        "StakersPoolInvalidAmount",
        [0n],
      );
      await a.revertWithCustomErrorWithArgs(
        pool.write.stake([1n, 4], { account: alice.account }),
        pool,
        "StakersPoolUnknownTier",
        [4],
      );
    });
  });

  // ---------------------------------------------------------------- host stake

  describe("host stake", () => {
    it("only the registry can call onHostStakeChanged", async () => {
      const { pool, alice, other } = await loadFixture(poolFixture);
      await a.revertWithCustomErrorWithArgs(
        pool.write.onHostStakeChanged([alice.account.address, 1_000n * FAB], {
          account: other.account,
        }),
        pool,
        "StakersPoolNotRegistry",
        [getAddress(other.account.address)],
      );
      await a.revertWithCustomError(
        pool.write.onHostStakeChanged([alice.account.address, 1_000n * FAB], {
          account: alice.account,
        }),
        pool,
        "StakersPoolNotRegistry",
      );
    });

    it("counts the reported stake at the host multiplier, next to the host's own positions", async () => {
      const { pool, alice, registry } = await loadFixture(poolFixture);
      const host = alice.account.address;
      await pool.write.stake([1_000n * FAB, 3], { account: alice.account });
      await pool.write.setHostMultiplier([15_000]);
      await a.emitWithArgs(
        pool.write.onHostStakeChanged([host, 2_000n * FAB], { account: registry.account }),
        pool,
        "HostStakeUpdated",
        [getAddress(host), 2_000n * FAB, 5_000n * FAB, 5_000n * FAB],
      );
      assert.equal(await pool.read.hostStakeOf([host]), 2_000n * FAB);
      // A slash or unstake lowers it; deregistering reports 0.
      await pool.write.onHostStakeChanged([host, 500n * FAB], { account: registry.account });
      assert.equal(await pool.read.sharesOf([host]), 2_750n * FAB);
      await pool.write.onHostStakeChanged([host, 0n], { account: registry.account });
      assert.equal(await pool.read.sharesOf([host]), 2_000n * FAB);
      assert.equal(await pool.read.totalShares(), 2_000n * FAB);
    });
    it("syncs before a host's stake changes: new stake never shares in what arrived before it", async () => {
      const { pool, admin, alice, bob, registry } = await loadFixture(poolFixture);
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      // Fees arrive but nobody has synced yet; then bob's registry stake is reported.
      await admin.sendTransaction({ to: pool.address, value: 1_000n });
      await pool.write.onHostStakeChanged([bob.account.address, 1_000n * FAB], {
        account: registry.account,
      });
      assert.equal(await pool.read.pendingRewards([alice.account.address, zeroAddress]), 1_000n);
      assert.equal(await pool.read.pendingRewards([bob.account.address, zeroAddress]), 0n);
    });

    it("refuses a host that lowers its stake from inside a claim's payment (no second payout at old shares)", async () => {
      const { pool, admin, usd } = await loadFixture(poolFixture);
      const host = await viem.deployContract("ReentrantPoolHost", [pool.address]);
      await pool.write.setRegistry([host.address]);
      await host.write.report([1_000n * FAB]);
      await admin.sendTransaction({ to: pool.address, value: 1_000n });
      await usd.write.transfer([pool.address, 1_000n]);
      await pool.write.sync([zeroAddress]);
      await pool.write.sync([usd.address]);
      const eth = await pool.read.pendingRewards([host.address, zeroAddress]);
      assert.equal(eth, 1_000n);
      await a.revertWithCustomErrorWithArgs(
        host.write.claim([[zeroAddress, usd.address]]),
        pool,
        "StakersPoolNativeTransferFailed",
        [getAddress(host.address), eth],
      );
      assert.equal(await pool.read.sharesOf([host.address]), 1_000n * FAB);
    });
  });

  // ---------------------------------------------------------------- rewards

  describe("rewards", () => {
    it("distributes ETH and the stablecoin pro rata, from the escrow's fees and direct transfers", async () => {
      const f = await loadFixture(poolFixture);
      const { pool, escrow, usd, alice, bob, admin, treasury, other } = f;
      await pool.write.stake([3_000n * FAB, 0], { account: alice.account });
      await pool.write.onHostStakeChanged([bob.account.address, 1_000n * FAB], {
        account: f.registry.account,
      });
      // ETH: a direct contribution plus the stakers' fee of an escrow payment.
      await admin.sendTransaction({ to: pool.address, value: parseEther("1") });
      const ethFee = await payThroughEscrow(f, ETH, parseEther("2"), 1n);
      const usdFee = await payThroughEscrow(f, usd.address, 10_001n * USD, 2n);
      assert.equal((await escrow.read.feesOf([usd.address]))[1], usdFee);

      const ethIn = parseEther("1") + ethFee;
      const syncEth = await pool.write.sync([ETH]);
      const acc = (ethIn * PRECISION) / (4_000n * FAB);
      await a.emitWithArgs(syncEth, pool, "RewardsSynced", [ETH, ethIn, acc]);
      await a.emitWithArgs(syncEth, escrow, "FeesCollected", [
        ETH,
        FeeKind.Stakers,
        getAddress(pool.address),
        ethFee,
      ]);
      await pool.write.sync([usd.address]);
      assert.equal(await usd.read.balanceOf([pool.address]), usdFee);

      assert.equal(await pool.read.pendingRewards([alice.account.address, ETH]), (ethIn * 3n) / 4n);
      assert.equal(await pool.read.pendingRewards([bob.account.address, ETH]), ethIn / 4n);
      const aliceUsd = await pool.read.pendingRewards([alice.account.address, usd.address]);
      const bobUsd = await pool.read.pendingRewards([bob.account.address, usd.address]);
      assert.ok(aliceUsd + bobUsd <= usdFee && aliceUsd + bobUsd >= usdFee - 2n);
      assert.ok(aliceUsd - 3n * bobUsd <= 3n);

      // Claims: alice pays hers to the treasury wallet, bob to another address.
      const before = await ethBalance(treasury.account.address);
      const hash = await pool.write.claim([[ETH, usd.address], treasury.account.address], {
        account: alice.account,
      });
      await a.emitWithArgs(hash, pool, "RewardsClaimed", [
        getAddress(alice.account.address),
        ETH,
        getAddress(treasury.account.address),
        (ethIn * 3n) / 4n,
      ]);
      assert.equal(await ethBalance(treasury.account.address), before + (ethIn * 3n) / 4n);
      assert.equal(await usd.read.balanceOf([treasury.account.address]), aliceUsd);
      await pool.write.claim([[usd.address], other.account.address], { account: bob.account });
      assert.equal(await usd.read.balanceOf([other.account.address]), bobUsd);
      assert.equal(await pool.read.pendingRewards([alice.account.address, ETH]), 0n);
      assert.equal(await pool.read.pendingRewards([bob.account.address, usd.address]), 0n);
      assert.equal(await pool.read.pendingRewards([bob.account.address, ETH]), ethIn / 4n);
    });

    it("lockup multipliers weigh the rewards: 2x earns twice 1x", async () => {
      const { pool, admin, alice, bob } = await loadFixture(poolFixture);
      await pool.write.stake([1_000n * FAB, 3], { account: alice.account });
      await pool.write.stake([1_000n * FAB, 0], { account: bob.account });
      await admin.sendTransaction({ to: pool.address, value: 3_000n });
      await pool.write.sync([ETH]);
      assert.equal(await pool.read.pendingRewards([alice.account.address, ETH]), 2_000n);
      assert.equal(await pool.read.pendingRewards([bob.account.address, ETH]), 1_000n);
    });

    it("rewards settle when shares change: a late staker earns nothing of earlier syncs", async () => {
      const { pool, admin, alice, bob } = await loadFixture(poolFixture);
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      await admin.sendTransaction({ to: pool.address, value: 1_000n });
      await pool.write.sync([ETH]);
      await pool.write.stake([1_000n * FAB, 0], { account: bob.account });
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      await admin.sendTransaction({ to: pool.address, value: 3_000n });
      await pool.write.sync([ETH]);
      assert.equal(await pool.read.pendingRewards([alice.account.address, ETH]), 3_000n);
      assert.equal(await pool.read.pendingRewards([bob.account.address, ETH]), 1_000n);
    });

    it("a stake syncs first: a stake just before a sync earns nothing of earlier rewards", async () => {
      const f = await loadFixture(poolFixture);
      const { pool, fab, admin, alice, bob } = f;
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      const fee = await payThroughEscrow(f, ETH, parseEther("1"), 1n);
      await admin.sendTransaction({ to: pool.address, value: 1_000n });
      // Bob stakes 90 times alice's FAB in the unlocked tier, syncs, and leaves at once.
      const hash = await pool.write.stake([90_000n * FAB, 0], { account: bob.account });
      await a.emitWithArgs(hash, pool, "RewardsSynced", [
        ETH,
        fee + 1_000n,
        ((fee + 1_000n) * PRECISION) / (1_000n * FAB),
      ]);
      await pool.write.sync([ETH]);
      await pool.write.withdraw([0, 90_000n * FAB], { account: bob.account });
      assert.equal(await pool.read.pendingRewards([bob.account.address, ETH]), 0n);
      assert.equal(await fab.read.balanceOf([bob.account.address]), STAKER_FAB);
      assert.equal(await pool.read.pendingRewards([alice.account.address, ETH]), fee + 1_000n);
    });

    it("claims to another address, and a second claim pays nothing", async () => {
      const { pool, usd, alice, other } = await loadFixture(poolFixture);
      await pool.write.stake([1_000n * FAB, 1], { account: alice.account });
      await usd.write.mint([pool.address, 77n * USD]);
      await pool.write.sync([usd.address]);
      await pool.write.claim([[usd.address], other.account.address], { account: alice.account });
      assert.equal(await usd.read.balanceOf([other.account.address]), 77n * USD);
      assert.equal(await usd.read.balanceOf([alice.account.address]), 0n);
      await pool.write.claim([[usd.address], other.account.address], { account: alice.account });
      assert.equal(await usd.read.balanceOf([other.account.address]), 77n * USD);
      await a.revertWithCustomError(
        pool.write.claim([[usd.address], zeroAddress], { account: alice.account }),
        pool,
        "StakersPoolZeroAddress",
      );
    });

    it("a sync with zero shares carries the rewards to later stakers", async () => {
      const { pool, admin, alice } = await loadFixture(poolFixture);
      await admin.sendTransaction({ to: pool.address, value: parseEther("0.5") });
      await pool.write.sync([ETH]);
      assert.equal(await pool.read.accRewardPerShare([ETH]), 0n);
      assert.equal(await pool.read.unclaimedRewards([ETH]), 0n);
      await pool.write.stake([10n * FAB, 0], { account: alice.account });
      await admin.sendTransaction({ to: pool.address, value: parseEther("0.25") });
      await pool.write.sync([ETH]);
      assert.equal(
        await pool.read.pendingRewards([alice.account.address, ETH]),
        parseEther("0.75"),
      );
    });

    it("FAB is a reward token next to staked FAB: only what arrived above the stakes is shared", async () => {
      const { pool, fab, admin, alice, bob, other } = await loadFixture(poolFixture);
      await pool.write.addRewardToken([fab.address]);
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      await pool.write.stake([3_000n * FAB, 0], { account: bob.account });
      await pool.write.sync([fab.address]);
      assert.equal(await pool.read.accRewardPerShare([fab.address]), 0n);
      // The treasury's buyback sends FAB.
      await fab.write.transfer([pool.address, 40n * FAB], { account: admin.account });
      await pool.write.sync([fab.address]);
      assert.equal(await pool.read.pendingRewards([alice.account.address, fab.address]), 10n * FAB);
      await pool.write.claim([[fab.address], other.account.address], { account: alice.account });
      assert.equal(await fab.read.balanceOf([other.account.address]), 10n * FAB);
      assert.equal(await fab.read.balanceOf([pool.address]), 4_030n * FAB);
      await pool.write.withdraw([0, 3_000n * FAB], { account: bob.account });
      assert.equal(await pool.read.pendingRewards([bob.account.address, fab.address]), 30n * FAB);
    });

    it("a paused escrow does not block a sync of what already arrived (FeeCollectionFailed)", async () => {
      const f = await loadFixture(poolFixture);
      const { pool, escrow, admin, alice } = f;
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      const fee = await payThroughEscrow(f, ETH, parseEther("1"), 1n);
      await escrow.write.pause();
      await admin.sendTransaction({ to: pool.address, value: 1_000n });
      const hash = await pool.write.sync([ETH]);
      await a.emit(hash, pool, "FeeCollectionFailed");
      assert.equal(await pool.read.pendingRewards([alice.account.address, ETH]), 1_000n);
      await escrow.write.unpause();
      await pool.write.sync([ETH]);
      assert.equal(await pool.read.pendingRewards([alice.account.address, ETH]), 1_000n + fee);
    });

    it("rejects syncs and claims of a token that is not a reward token", async () => {
      const { pool, fab, alice } = await loadFixture(poolFixture);
      await a.revertWithCustomErrorWithArgs(
        pool.write.sync([fab.address]),
        pool,
        "StakersPoolNotRewardToken",
        [getAddress(fab.address)],
      );
      await a.revertWithCustomErrorWithArgs(
        pool.write.claim([[fab.address], alice.account.address], { account: alice.account }),
        pool,
        "StakersPoolNotRewardToken",
        [getAddress(fab.address)],
      );
    });
  });

  // ---------------------------------------------------------------- pause

  describe("pause", () => {
    it("the guardian can pause but not unpause; staking and syncs stop, withdrawals and claims go on", async () => {
      const { pool, admin, alice, guardian, registry, other } = await loadFixture(poolFixture);
      await pool.write.stake([1_000n * FAB, 0], { account: alice.account });
      await admin.sendTransaction({ to: pool.address, value: 1_000n });
      await pool.write.sync([ETH]);
      await a.emitWithArgs(pool.write.pause({ account: guardian.account }), pool, "Paused", [
        getAddress(guardian.account.address),
      ]);
      await a.revertWithCustomErrorWithArgs(
        pool.write.unpause({ account: guardian.account }),
        pool,
        "AccessControlUnauthorizedAccount",
        [getAddress(guardian.account.address), DEFAULT_ADMIN_ROLE],
      );
      await a.revertWithCustomError(
        pool.write.stake([1n, 0], { account: alice.account }),
        pool,
        "EnforcedPause",
      );
      await a.revertWithCustomError(pool.write.sync([ETH]), pool, "EnforcedPause");
      // The registry's reports, claims and withdrawals still work.
      await pool.write.onHostStakeChanged([other.account.address, 5n], {
        account: registry.account,
      });
      await pool.write.claim([[ETH], other.account.address], { account: alice.account });
      await pool.write.withdraw([0, 1_000n * FAB], { account: alice.account });
      // The guardian has no other power.
      await a.revertWithCustomError(
        pool.write.setHostMultiplier([12_000], { account: guardian.account }),
        pool,
        "AccessControlUnauthorizedAccount",
      );
      await pool.write.unpause();
      assert.equal(await pool.read.paused(), false);
    });
  });

  // ---------------------------------------------------------------- governance

  describe("governance", () => {
    it("setLockTier enforces its bounds", async () => {
      const { pool } = await loadFixture(poolFixture);
      const bad: [number, bigint, number][] = [
        [0, 1n, 10_000], // tier 0 stays unlocked
        [0, 0n, 12_000], // ... at 1x
        [1, 0n, 12_000], // other tiers must lock
        [1, 4n * 365n * DAY + 1n, 12_000], // at most 4 years
        [1, DAY, 9_999], // at least 1x
        [1, DAY, 30_001], // at most 3x
        [5, DAY, 12_000], // no gaps (tiers 0..3 exist)
      ];
      for (const [tier, duration, multiplier] of bad) {
        await a.revertWithCustomErrorWithArgs(
          pool.write.setLockTier([tier, duration, multiplier]),
          pool,
          "StakersPoolInvalidLockTier",
          [tier, duration, multiplier],
        );
      }
      await a.emitWithArgs(
        pool.write.setLockTier([4, 365n * DAY, 25_000]),
        pool,
        "LockTierUpdated",
        [4, 365n * DAY, 25_000],
      );
      await pool.write.setLockTier([5, 4n * 365n * DAY, 30_000]);
      await a.revertWithCustomError(
        pool.write.setLockTier([6, DAY, 12_000]),
        pool,
        "StakersPoolInvalidLockTier",
      );
      assert.equal(await pool.read.lockTierCount(), 6);
    });

    it("setHostMultiplier enforces 1x to 2x", async () => {
      const { pool } = await loadFixture(poolFixture);
      for (const bps of [9_999, 20_001]) {
        await a.revertWithCustomErrorWithArgs(
          pool.write.setHostMultiplier([bps]),
          pool,
          "StakersPoolInvalidHostMultiplier",
          [bps],
        );
      }
      await a.emitWithArgs(
        pool.write.setHostMultiplier([20_000]),
        pool,
        "HostMultiplierUpdated",
        [10_000, 20_000],
      );
    });

    it("addRewardToken refuses a listed token and a ninth token", async () => {
      const { pool, usd } = await loadFixture(poolFixture);
      await a.revertWithCustomErrorWithArgs(
        pool.write.addRewardToken([usd.address]),
        pool,
        "StakersPoolRewardTokenListed",
        [getAddress(usd.address)],
      );
      for (let i = 0; i < 6; i++) {
        const token = await viem.deployContract("TestStablecoin");
        await a.emitWithArgs(pool.write.addRewardToken([token.address]), pool, "RewardTokenAdded", [
          getAddress(token.address),
        ]);
      }
      const ninth = await viem.deployContract("TestStablecoin");
      await a.revertWithCustomError(
        pool.write.addRewardToken([ninth.address]),
        pool,
        "StakersPoolTooManyRewardTokens",
      );
      assert.equal((await pool.read.rewardTokens()).length, 8);
    });

    it("only the admin configures, and only UPGRADER_ROLE upgrades", async () => {
      const { pool, poolImpl, other } = await loadFixture(poolFixture);
      const calls = [
        () => pool.write.setLockTier([1, DAY, 12_000], { account: other.account }),
        () => pool.write.setHostMultiplier([12_000], { account: other.account }),
        () => pool.write.addRewardToken([other.account.address], { account: other.account }),
        () => pool.write.setRegistry([other.account.address], { account: other.account }),
        () => pool.write.setEscrow([other.account.address], { account: other.account }),
      ];
      for (const call of calls) {
        await a.revertWithCustomErrorWithArgs(call(), pool, "AccessControlUnauthorizedAccount", [
          getAddress(other.account.address),
          DEFAULT_ADMIN_ROLE,
        ]);
      }
      await a.revertWithCustomErrorWithArgs(
        pool.write.upgradeToAndCall([poolImpl.address, "0x"], { account: other.account }),
        pool,
        "AccessControlUnauthorizedAccount",
        [getAddress(other.account.address), UPGRADER_ROLE],
      );
    });
  });
});
