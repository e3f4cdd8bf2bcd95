/**
 * The hooks governance and tokenomics added to the core and their guards: FAB's custody (a
 * custodian holds FAB for its owner, who keeps the votes), the registry's stake observer, the
 * reputation system's stake tiers, the pool's and the treasury's settings and failed ETH payouts,
 * and the timelock that only upgrades itself.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { keccak256, parseEther, stringToHex, zeroAddress } from "viem";
import { deployGoverned } from "../../fixtures/governance.ts";
import {
  deploySystem,
  FAB,
  MIN_STAKE,
  MODEL,
  offerKey,
  registerHost,
} from "../../fixtures/system.ts";

const CUSTODIAN_ROLE = keccak256(stringToHex("CUSTODIAN_ROLE"));

describe("Governance hooks", async () => {
  const connection = await network.connect();
  const { viem, networkHelpers } = connection;
  const { loadFixture } = networkHelpers;
  const a = viem.assertions;

  /** The core with `other` as a second FAB custodian (the deployer stays admin). */
  async function custodyFixture(c: NetworkConnection) {
    const sys = await deploySystem(c);
    await sys.fab.write.grantRole([CUSTODIAN_ROLE, sys.other.account.address]);
    await sys.fab.write.approve([sys.other.account.address, 100n * FAB], {
      account: sys.host.account,
    });
    return sys;
  }

  /** The governed local chain, with the timelock impersonated (what a passed proposal does). */
  async function governedFixture(c: NetworkConnection) {
    const sys = await deployGoverned(c);
    const timelock = sys.timelock.address;
    await c.networkHelpers.impersonateAccount(timelock);
    await c.networkHelpers.setBalance(timelock, parseEther("10"));
    const rejecting = await c.viem.deployContract("RejectingReceiver");
    return { ...sys, asTimelock: { account: timelock }, rejecting };
  }

  describe("FABToken custody", () => {
    it("custodyIn takes the owner's FAB and leaves the votes; custodyOut returns them or moves them", async () => {
      const sys = await loadFixture(custodyFixture);
      const [host, other, host2] = [
        sys.host.account.address,
        sys.other.account.address,
        sys.host2.account.address,
      ];
      await sys.fab.write.delegate([host], { account: sys.host.account });
      await sys.fab.write.delegate([host2], { account: sys.host2.account });
      const votes = await sys.fab.read.getVotes([host]);
      await a.emitWithArgs(
        sys.fab.write.custodyIn([host, 10n * FAB], { account: sys.other.account }),
        sys.fab,
        "CustodyIn",
        [other, host, 10n * FAB],
      );
      assert.equal(await sys.fab.read.getVotes([host]), votes);
      assert.equal(await sys.fab.read.custodyOf([other, host]), 10n * FAB);
      // Back to the owner: votes unchanged. To someone else (a slash): the votes go too.
      await a.emitWithArgs(
        sys.fab.write.custodyOut([host, host, 4n * FAB], { account: sys.other.account }),
        sys.fab,
        "CustodyOut",
        [other, host, host, 4n * FAB],
      );
      assert.equal(await sys.fab.read.getVotes([host]), votes);
      const votes2 = await sys.fab.read.getVotes([host2]);
      await sys.fab.write.custodyOut([host, host2, 6n * FAB], { account: sys.other.account });
      assert.equal(await sys.fab.read.getVotes([host]), votes - 6n * FAB);
      assert.equal(await sys.fab.read.getVotes([host2]), votes2 + 6n * FAB);
      assert.equal(await sys.fab.read.heldBy([other]), 0n);
    });

    it("a custodian cannot pay out more than it holds for an owner, nor spend held FAB as its own", async () => {
      const sys = await loadFixture(custodyFixture);
      const [host, other] = [sys.host.account.address, sys.other.account.address];
      await sys.fab.write.custodyIn([host, 10n * FAB], { account: sys.other.account });
      await a.revertWithCustomErrorWithArgs(
        sys.fab.write.custodyOut([host, other, 10n * FAB + 1n], { account: sys.other.account }),
        sys.fab,
        "FABTokenCustodyExceeded",
        [other, host, 10n * FAB, 10n * FAB + 1n],
      );
      // Spending one wei more than its own FAB would take the host's.
      const own = (await sys.fab.read.balanceOf([other])) - 10n * FAB;
      await a.revertWithCustomErrorWithArgs(
        sys.fab.write.transfer([host, own + 1n], { account: sys.other.account }),
        sys.fab,
        "FABTokenHeldForOthers",
        [other, 10n * FAB - 1n, 10n * FAB],
      );
      if (own > 0n) await sys.fab.write.transfer([host, own], { account: sys.other.account });
      assert.equal(await sys.fab.read.balanceOf([other]), 10n * FAB);
      await a.revertWithCustomErrorWithArgs(
        sys.fab.write.custodyIn([host, 1n], { account: sys.renter.account }),
        sys.fab,
        "AccessControlUnauthorizedAccount",
        [sys.renter.account.address, CUSTODIAN_ROLE],
      );
    });
  });

  describe("NodeRegistry stake observer", () => {
    it("only the admin sets it (StakeObserverUpdated), and it hears every stake change", async () => {
      const sys = await loadFixture(deploySystem);
      const observer = await viem.deployContract("TestStakeObserver");
      await a.revertWithCustomError(
        sys.registry.write.setStakeObserver([observer.address], { account: sys.other.account }),
        sys.registry,
        "AccessControlUnauthorizedAccount",
      );
      await a.emitWithArgs(
        sys.registry.write.setStakeObserver([observer.address]),
        sys.registry,
        "StakeObserverUpdated",
        [zeroAddress, observer.address],
      );
      await registerHost(sys, sys.host, { stake: 2n * MIN_STAKE });
      assert.equal(await observer.read.stakeOf([sys.host.account.address]), 2n * MIN_STAKE);
      await sys.registry.write.requestUnstake([MIN_STAKE], { account: sys.host.account });
      assert.equal(await observer.read.stakeOf([sys.host.account.address]), MIN_STAKE);
    });
  });

  describe("ReputationSystem stake tiers", () => {
    it("sets bounded, ordered tiers (StakeTiersUpdated) that add to a host's fee discount", async () => {
      const sys = await loadFixture(deploySystem);
      const bad: [bigint[], number[], string][] = [
        [[1n], [1, 2], "tiers"],
        [[1n, 2n, 3n, 4n, 5n], [1, 2, 3, 4, 5], "tiers"],
        [[0n], [100], "tier"],
        [[FAB], [2_501], "tier"],
        [[2n * FAB, FAB], [100, 200], "tier order"],
        [[FAB, 2n * FAB], [200, 100], "tier order"],
      ];
      for (const [mins, bps, what] of bad) {
        await a.revertWithCustomErrorWithArgs(
          sys.reputation.write.setStakeTiers([mins, bps]),
          sys.reputation,
          "ReputationInvalidParameter",
          [what],
        );
      }
      await a.revertWithCustomError(
        sys.reputation.write.setStakeTiers([[FAB], [100]], { account: sys.other.account }),
        sys.reputation,
        "AccessControlUnauthorizedAccount",
      );
      await a.emitWithArgs(
        sys.reputation.write.setStakeTiers([
          [2n * MIN_STAKE, 5n * MIN_STAKE],
          [1_000, 2_000],
        ]),
        sys.reputation,
        "StakeTiersUpdated",
        [
          [2n * MIN_STAKE, 5n * MIN_STAKE],
          [1_000, 2_000],
        ],
      );
      await registerHost(sys, sys.host, { stake: MIN_STAKE });
      await registerHost(sys, sys.host2, { stake: 2n * MIN_STAKE });
      const [host, host2] = [sys.host.account.address, sys.host2.account.address];
      // A new host's score (500) earns no reputation discount: only the tier counts.
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 0);
      assert.equal(await sys.reputation.read.feeDiscountBps([host2]), 1_000);
      await sys.registry.write.addStake([3n * MIN_STAKE], { account: sys.host2.account });
      assert.equal(await sys.reputation.read.feeDiscountBps([host2]), 2_000);
      // feeDiscountAt takes the stake from its caller (the SessionManager passes the one the
      // registry's checkEligible just returned) and agrees with feeDiscountBps at the real stake.
      const [, stake2] = await sys.registry.read.checkEligible([
        host2,
        offerKey(MODEL, zeroAddress),
      ]);
      assert.equal(stake2, 5n * MIN_STAKE);
      assert.equal(await sys.reputation.read.feeDiscountAt([host2, stake2]), 2_000);
      assert.equal(await sys.reputation.read.feeDiscountAt([host2, 2n * MIN_STAKE]), 1_000);
      assert.equal(await sys.reputation.read.feeDiscountAt([host2, MIN_STAKE]), 0);
      assert.equal(await sys.reputation.read.feeDiscountAt([host, 5n * MIN_STAKE]), 2_000);
    });
  });

  describe("StakersPool and FabstirTreasury settings", () => {
    it("the pool's registry and escrow change only by governance, with events", async () => {
      const sys = await loadFixture(governedFixture);
      const other = sys.other.account.address;
      await a.revertWithCustomError(
        sys.pool.write.setRegistry([other], { account: sys.deployer.account }),
        sys.pool,
        "AccessControlUnauthorizedAccount",
      );
      await a.emitWithArgs(
        sys.pool.write.setRegistry([other], sys.asTimelock),
        sys.pool,
        "RegistryUpdated",
        [sys.registry.address, other],
      );
      await a.emitWithArgs(
        sys.pool.write.setEscrow([other], sys.asTimelock),
        sys.pool,
        "EscrowUpdated",
        [sys.escrow.address, other],
      );
    });

    it("an ETH claim to an address that refuses it reverts and the reward stays claimable", async () => {
      const sys = await loadFixture(governedFixture);
      const me = sys.deployer.account.address;
      await sys.fab.write.approve([sys.pool.address, 1_000n * FAB]);
      await sys.pool.write.stake([1_000n * FAB, 0]);
      await sys.deployer.sendTransaction({ to: sys.pool.address, value: parseEther("1") });
      await sys.pool.write.sync([zeroAddress]);
      const owed = await sys.pool.read.pendingRewards([me, zeroAddress]);
      assert.ok(owed > 0n);
      await a.revertWithCustomErrorWithArgs(
        sys.pool.write.claim([[zeroAddress], sys.rejecting.address]),
        sys.pool,
        "StakersPoolNativeTransferFailed",
        [sys.rejecting.address, owed],
      );
      assert.equal(await sys.pool.read.pendingRewards([me, zeroAddress]), owed);
    });

    it("the treasury was initialized once (TreasuryInitialized); an ETH release refused by its recipient reverts", async () => {
      const sys = await loadFixture(governedFixture);
      const logs = await sys.publicClient.getContractEvents({
        address: sys.treasury.address,
        abi: sys.treasury.abi,
        eventName: "TreasuryInitialized",
        fromBlock: 0n,
      });
      assert.equal(logs.length, 1);
      assert.equal(logs[0]?.args.fab?.toLowerCase(), sys.fab.address.toLowerCase());
      await sys.deployer.sendTransaction({ to: sys.treasury.address, value: parseEther("1") });
      await sys.treasury.write.sync([zeroAddress]);
      await a.revertWithCustomErrorWithArgs(
        sys.treasury.write.release([zeroAddress, sys.rejecting.address, 1n], sys.asTimelock),
        sys.treasury,
        "FabstirTreasuryNativeTransferFailed",
        [sys.rejecting.address, 1n],
      );
    });
  });

  describe("FabstirTimelock", () => {
    it("upgrades only through its own operations (FabstirTimelockUnauthorizedUpgrade)", async () => {
      const sys = await loadFixture(governedFixture);
      const impl = await viem.deployContract("FabstirTimelock");
      // Even an account holding every timelock role could not call it directly; here the governor's
      // own address, impersonated, is refused as well.
      await networkHelpers.impersonateAccount(sys.governor.address);
      await networkHelpers.setBalance(sys.governor.address, parseEther("1"));
      await a.revertWithCustomErrorWithArgs(
        sys.timelock.write.upgradeToAndCall([impl.address, "0x"], {
          account: sys.governor.address,
        }),
        sys.timelock,
        "FabstirTimelockUnauthorizedUpgrade",
        [sys.governor.address],
      );
      // Through itself (an executed operation) it works.
      await sys.timelock.write.upgradeToAndCall([impl.address, "0x"], sys.asTimelock);
      assert.equal(await sys.timelock.read.getMinDelay(), 120n);
    });
  });
});
