import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { parseEther, stringToHex, zeroAddress } from "viem";
import {
  ADMIN_ROLE,
  action,
  deployGoverned,
  type Governed,
  passProposal,
  proposalArgs,
  role,
  VOTE,
} from "../../fixtures/governance.ts";
import { FAB, MIN_STAKE, OUTPUT, PROMPT, registration } from "../../fixtures/system.ts";

const MODEL = stringToHex("llama-3.1-8b-q4_k_m", { size: 32 });

describe("Governance (LocalDev: the handover, a governor and a timelock)", async () => {
  const connection = await network.create();
  const { viem, networkHelpers } = connection;
  const { loadFixture, time } = networkHelpers;
  const a = viem.assertions;
  const fixture = () => deployGoverned(connection);

  /** Every governed contract with the roles it has, as the handover leaves them. */
  function governed(sys: Governed) {
    return [
      { name: "FABToken", c: sys.fab, roles: ["PAUSER_ROLE", "UPGRADER_ROLE"] },
      { name: "PaymentEscrow", c: sys.escrow, roles: ["PAUSER_ROLE", "UPGRADER_ROLE"] },
      { name: "NodeRegistry", c: sys.registry, roles: ["PAUSER_ROLE", "UPGRADER_ROLE"] },
      {
        name: "JobMarketplace",
        c: sys.marketplace,
        roles: ["PAUSER_ROLE", "UPGRADER_ROLE", "ARBITER_ROLE"],
      },
      { name: "SessionManager", c: sys.sessions, roles: ["PAUSER_ROLE", "UPGRADER_ROLE"] },
      { name: "ReputationSystem", c: sys.reputation, roles: ["UPGRADER_ROLE"] },
      {
        name: "ProofSystem",
        c: sys.proofs,
        roles: ["UPGRADER_ROLE", "VERIFIER_ADMIN_ROLE", "ARBITER_ROLE"],
      },
      {
        name: "ModelCatalog",
        c: sys.catalog,
        roles: ["PAUSER_ROLE", "UPGRADER_ROLE", "LISTER_ROLE"],
      },
      { name: "StakersPool", c: sys.pool, roles: ["PAUSER_ROLE", "UPGRADER_ROLE"] },
      {
        name: "FabstirTreasury",
        c: sys.treasury,
        roles: ["PAUSER_ROLE", "UPGRADER_ROLE", "KEEPER_ROLE"],
      },
    ] as const;
  }

  it("leaves the deployer no role anywhere: admin and upgrades with the timelock, pause with the guardian", async () => {
    const sys = await loadFixture(fixture);
    const deployer = sys.deployer.account.address;
    for (const { name, c, roles } of governed(sys)) {
      // biome-ignore lint/suspicious/noExplicitAny: the same AccessControl read on every contract
      const has = (r: `0x${string}`, who: `0x${string}`) => (c.read as any).hasRole([r, who]);
      assert.equal(await has(ADMIN_ROLE, deployer), false, `${name}: deployer admin`);
      assert.equal(await has(ADMIN_ROLE, sys.timelock.address), true, `${name}: timelock admin`);
      for (const r of roles) {
        assert.equal(await has(role(r), deployer), false, `${name}: deployer ${r}`);
        const holder =
          r === "PAUSER_ROLE"
            ? sys.guardian
            : r === "ARBITER_ROLE"
              ? sys.arbiter
              : r === "KEEPER_ROLE"
                ? sys.keeper
                : null;
        const expected = holder ? holder.account.address : sys.timelock.address;
        assert.equal(await has(role(r), expected), true, `${name}: ${r}`);
      }
    }
    // The timelock administers itself; the governor is its only proposer; anyone executes.
    assert.equal(await sys.timelock.read.hasRole([ADMIN_ROLE, deployer]), false);
    assert.equal(await sys.timelock.read.hasRole([ADMIN_ROLE, sys.timelock.address]), true);
    assert.equal(
      await sys.timelock.read.hasRole([role("PROPOSER_ROLE"), sys.governor.address]),
      true,
    );
    assert.equal(await sys.timelock.read.hasRole([role("PROPOSER_ROLE"), deployer]), false);
    assert.equal(await sys.timelock.read.hasRole([role("EXECUTOR_ROLE"), zeroAddress]), true);
    // Fees flow to the governed pool and treasury.
    assert.equal(
      (await sys.escrow.read.stakersPool()).toLowerCase(),
      sys.pool.address.toLowerCase(),
    );
    assert.equal(
      (await sys.escrow.read.treasury()).toLowerCase(),
      sys.treasury.address.toLowerCase(),
    );
  });

  it("refuses every admin power to the deployer, the guardian and anyone else", async () => {
    const sys = await loadFixture(fixture);
    for (const who of [sys.deployer, sys.guardian, sys.other]) {
      await a.revertWithCustomError(
        sys.escrow.write.setFeeSplit([8_000, 1_500, 500], { account: who.account }),
        sys.escrow,
        "AccessControlUnauthorizedAccount",
      );
      await a.revertWithCustomError(
        sys.registry.write.setMinimumStake([1n], { account: who.account }),
        sys.registry,
        "AccessControlUnauthorizedAccount",
      );
      const impl = await viem.deployContract("NodeRegistry");
      await a.revertWithCustomError(
        sys.registry.write.upgradeToAndCall([impl.address, "0x"], { account: who.account }),
        sys.registry,
        "AccessControlUnauthorizedAccount",
      );
      await a.revertWithCustomError(
        sys.treasury.write.release([zeroAddress, who.account.address, 1n], {
          account: who.account,
        }),
        sys.treasury,
        "AccessControlUnauthorizedAccount",
      );
      // The timelock takes operations only from the governor.
      await a.revertWithCustomError(
        sys.timelock.write.schedule(
          [
            sys.escrow.address,
            0n,
            "0x",
            `0x${"00".repeat(32)}`,
            `0x${"11".repeat(32)}`,
            1_000_000n,
          ],
          { account: who.account },
        ),
        sys.timelock,
        "AccessControlUnauthorizedAccount",
      );
      // Governance settings change only through governance.
      await a.revertWithCustomError(
        sys.governor.write.setVotingPeriod([1], { account: who.account }),
        sys.governor,
        "GovernorOnlyExecutor",
      );
    }
  });

  it("a fee change passes propose, vote, queue, timelock and execute, and the next payment uses it", async () => {
    const sys = await loadFixture(fixture);
    const actions = [action(sys.escrow, "setFeeSplit", [8_000, 1_500, 500])];
    const description = "Raise the protocol fee to 15%";
    const p = proposalArgs(actions, description);
    const id = await sys.governor.read.hashProposal([
      p.targets,
      p.values,
      p.calldatas,
      p.descriptionHash,
    ]);
    await sys.governor.write.propose([p.targets, p.values, p.calldatas, description]);
    assert.equal(await sys.governor.read.state([id]), 0, "Pending");
    // Nobody can vote before the delay, or queue before the vote ends.
    await a.revertWithCustomError(
      sys.governor.write.castVote([id, VOTE.for]),
      sys.governor,
      "GovernorUnexpectedProposalState",
    );
    await time.increase(Number(await sys.governor.read.votingDelay()) + 1);
    assert.equal(await sys.governor.read.state([id]), 1, "Active");
    await sys.governor.write.castVote([id, VOTE.for]);
    await a.revertWithCustomError(
      sys.governor.write.queue([p.targets, p.values, p.calldatas, p.descriptionHash]),
      sys.governor,
      "GovernorUnexpectedProposalState",
    );
    await time.increase(
      Number(await sys.governor.read.proposalDeadline([id])) - (await time.latest()) + 1,
    );
    assert.equal(await sys.governor.read.state([id]), 4, "Succeeded");
    await sys.governor.write.queue([p.targets, p.values, p.calldatas, p.descriptionHash]);
    assert.equal(await sys.governor.read.state([id]), 5, "Queued");
    // The timelock holds it: executing early fails.
    await a.revertWithCustomError(
      sys.governor.write.execute([p.targets, p.values, p.calldatas, p.descriptionHash]),
      sys.timelock,
      "TimelockUnexpectedOperationState",
    );
    await time.increase(Number(await sys.timelock.read.getMinDelay()) + 1);
    await sys.governor.write.execute([p.targets, p.values, p.calldatas, p.descriptionHash], {
      account: sys.other.account, // anyone executes a ready proposal
    });
    assert.equal(await sys.governor.read.state([id]), 7, "Executed");
    assert.deepEqual(await sys.escrow.read.feeSplit(), [8_000, 1_500, 500]);

    // The next job's payment is split 80/15/5 (the host's stake is below the fee-discount tiers
    // and a new host's score is neutral, so no discount applies).
    await sys.fab.write.transfer([sys.host.account.address, MIN_STAKE]);
    await sys.fab.write.approve([sys.registry.address, MIN_STAKE], { account: sys.host.account });
    await sys.registry.write.register([registration()], { account: sys.host.account });
    const block = await sys.publicClient.getBlock();
    const price = parseEther("0.000001");
    const request = {
      modelId: MODEL,
      promptHash: PROMPT,
      token: zeroAddress,
      maxTokens: 1_000,
      maxPricePerToken: price,
      deadline: block.timestamp + 3_600n,
      host: zeroAddress,
      minScore: 0,
    } as const;
    const jobId = await sys.marketplace.read.nextJobId();
    await sys.marketplace.write.postJob([request], {
      account: sys.renter.account,
      value: 1_000n * price,
    });
    await sys.marketplace.write.claimJob([jobId], { account: sys.host.account });
    await sys.marketplace.write.completeJob([jobId, OUTPUT, 1_000], { account: sys.host.account });
    await sys.marketplace.write.acceptJob([jobId], { account: sys.renter.account });
    const payment = 1_000n * price;
    assert.equal(
      await sys.escrow.read.balanceOf([sys.host.account.address, zeroAddress]),
      (payment * 8_000n) / 10_000n,
    );
    const [treasuryFees, stakersFees] = await sys.escrow.read.feesOf([zeroAddress]);
    assert.equal(treasuryFees, (payment * 1_500n) / 10_000n);
    assert.equal(
      stakersFees,
      payment - (payment * 8_000n) / 10_000n - (payment * 1_500n) / 10_000n,
    );
  });

  it("upgrades a contract through governance and keeps its state", async () => {
    const sys = await loadFixture(fixture);
    await sys.fab.write.transfer([sys.host.account.address, 2n * MIN_STAKE]);
    await sys.fab.write.approve([sys.registry.address, 2n * MIN_STAKE], {
      account: sys.host.account,
    });
    await sys.registry.write.register([registration({ stake: 2n * MIN_STAKE })], {
      account: sys.host.account,
    });
    const impl = await viem.deployContract("NodeRegistry");
    await passProposal(
      connection,
      sys,
      [action(sys.registry, "upgradeToAndCall", [impl.address, "0x"])],
      "Upgrade the NodeRegistry",
    );
    const slot = await sys.publicClient.getStorageAt({
      address: sys.registry.address,
      slot: "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc",
    });
    assert.equal(`0x${slot?.slice(26)}`.toLowerCase(), impl.address.toLowerCase());
    const [, stake] = await sys.registry.read.hostState([sys.host.account.address]);
    assert.equal(stake, 2n * MIN_STAKE);
    assert.equal(await sys.registry.read.minimumStake(), MIN_STAKE);
  });

  it("the guardian pauses without a vote but cannot unpause or move funds; governance unpauses", async () => {
    const sys = await loadFixture(fixture);
    await sys.escrow.write.pause({ account: sys.guardian.account });
    assert.equal(await sys.escrow.read.paused(), true);
    await a.revertWithCustomError(
      sys.escrow.write.unpause({ account: sys.guardian.account }),
      sys.escrow,
      "AccessControlUnauthorizedAccount",
    );
    await a.revertWithCustomError(
      sys.treasury.write.release([zeroAddress, sys.guardian.account.address, 1n], {
        account: sys.guardian.account,
      }),
      sys.treasury,
      "AccessControlUnauthorizedAccount",
    );
    // Nor can the guardian make someone else guardian.
    await a.revertWithCustomError(
      sys.escrow.write.grantRole([role("PAUSER_ROLE"), sys.other.account.address], {
        account: sys.guardian.account,
      }),
      sys.escrow,
      "AccessControlUnauthorizedAccount",
    );
    // Every pausable contract answers to the guardian.
    for (const c of [
      sys.fab,
      sys.registry,
      sys.marketplace,
      sys.sessions,
      sys.pool,
      sys.treasury,
    ]) {
      // biome-ignore lint/suspicious/noExplicitAny: the same Pausable call on every contract
      await (c.write as any).pause({ account: sys.guardian.account });
      // biome-ignore lint/suspicious/noExplicitAny: the same Pausable read on every contract
      assert.equal(await (c.read as any).paused(), true);
    }
    await passProposal(connection, sys, [action(sys.escrow, "unpause")], "Unpause the escrow");
    assert.equal(await sys.escrow.read.paused(), false);
  });

  it("staked FAB keeps voting: a host's votes count its registry stake", async () => {
    const sys = await loadFixture(fixture);
    const host = sys.host.account;
    await sys.fab.write.transfer([host.address, 5_000n * FAB]);
    await sys.fab.write.delegate([host.address], { account: host });
    assert.equal(await sys.fab.read.getVotes([host.address]), 5_000n * FAB);
    await sys.fab.write.approve([sys.registry.address, 5_000n * FAB], { account: host });
    await sys.registry.write.register([registration({ stake: 5_000n * FAB })], { account: host });
    assert.equal(await sys.fab.read.balanceOf([host.address]), 0n);
    assert.equal(await sys.fab.read.getVotes([host.address]), 5_000n * FAB);
    // The registry holds the stake for the host, and none of it counts as the registry's votes.
    assert.equal(await sys.fab.read.heldBy([sys.registry.address]), 5_000n * FAB);
    assert.equal(await sys.fab.read.custodyOf([sys.registry.address, host.address]), 5_000n * FAB);
  });
});
