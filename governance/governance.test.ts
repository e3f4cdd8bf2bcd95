import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paymentEscrowAbi } from "../abis/index.ts";
import { governanceOn } from "../fixtures/governance-cli.ts";
import { type LocalChain, startLocalChain } from "../fixtures/local-chain.ts";
import { extractLayouts, StorageLayoutError, writeSnapshot } from "../scripts/storage-layout.ts";
import {
  AlreadyVotedError,
  cancel,
  encodeAction,
  execute,
  type Governance,
  GovernanceUsageError,
  governanceStatus,
  IncompatibleLayoutError,
  InsufficientVotesError,
  implementationOf,
  listProposals,
  NotProposerError,
  ProposalStateError,
  propose,
  proposeUpgrade,
  queue,
  showProposal,
  TimelockNotReadyError,
  vote,
} from "./index.ts";

const _ROOT = path.resolve(import.meta.dirname, "..");
const FAB = 10n ** 18n;
const FIXTURES = "test/fixtures/storage-layout";

describe("governance", () => {
  let chain: LocalChain;
  let gov: Governance;
  const { connect, nonceOf, cli, errorOf } = governanceOn(() => chain);
  let tmp: string;

  beforeAll(async () => {
    chain = await startLocalChain();
    gov = connect(0);
    tmp = mkdtempSync(path.join(tmpdir(), "fabstir-governance-"));
  });
  afterAll(async () => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await chain?.stop();
  });

  /** Moves the chain's clock on by `seconds` and mines a block at the new time. */
  const wait = async (seconds: bigint | number) => {
    await chain.testClient.increaseTime({ seconds: Number(seconds) });
    await chain.mine(1);
  };
  /** Past a proposal's `deadline` (or `eta`). */
  const waitPast = async (time: bigint) => {
    const block = await chain.publicClient.getBlock();
    if (block.timestamp <= time) await wait(time - block.timestamp + 1n);
  };
  const feeSplit = () =>
    chain.publicClient.readContract({
      address: chain.addresses.PaymentEscrow,
      abi: paymentEscrowAbi,
      functionName: "feeSplit",
    });

  it("shows the local settings and the deployer's votes", async () => {
    const s = await governanceStatus(gov);
    expect(s.settings.votingDelay).toBe(60n);
    expect(s.settings.votingPeriod).toBe(600n);
    expect(s.settings.lateQuorumExtension).toBe(60n);
    expect(s.settings.timelockDelay).toBe(120n);
    expect(s.settings.quorumPercent).toBe(4);
    expect(s.settings.proposalThreshold).toBe(100_000n * FAB);
    expect(s.votes).toBeGreaterThanOrEqual(s.settings.proposalThreshold);
    expect(s.delegate).toBe(s.account);
  });

  it("takes a fee-split change through its whole life, refusing each step out of turn", async () => {
    const action = encodeAction("PaymentEscrow.setFeeSplit([8000,1500,500])", gov.addresses);
    const p = await propose(gov, [action], "Fee split 80/15/5");
    expect(p.actions[0]?.call).toBe("PaymentEscrow.setFeeSplit([8000,1500,500])");

    await expect(vote(gov, p.id, "for")).rejects.toBeInstanceOf(ProposalStateError);
    await expect(queue(gov, p.id)).rejects.toBeInstanceOf(ProposalStateError);
    await waitPast(p.snapshot);
    const voted = await vote(gov, p.id, "for", "a larger treasury share");
    expect(voted.weight).toBeGreaterThan(0n);
    await expect(vote(gov, p.id, "against")).rejects.toBeInstanceOf(AlreadyVotedError);
    await expect(queue(gov, p.id)).rejects.toBeInstanceOf(ProposalStateError);

    const shown = await showProposal(gov, p.id);
    expect(shown.state).toBe("Active");
    expect(shown.votes.for).toBe(voted.weight);
    expect(shown.votes.for).toBeGreaterThanOrEqual(shown.quorum);
    expect(shown.actions[0]?.call).toBe("PaymentEscrow.setFeeSplit([8000,1500,500])");

    await waitPast(shown.deadline);
    await expect(execute(gov, p.id)).rejects.toBeInstanceOf(ProposalStateError);
    const queued = await queue(gov, p.id);
    const early = await execute(gov, p.id).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(TimelockNotReadyError);
    expect((early as TimelockNotReadyError).eta).toBe(queued.eta);

    await waitPast(queued.eta);
    await execute(gov, p.id);
    expect(await feeSplit()).toEqual([8000, 1500, 500]);
    const listed = await listProposals(gov);
    expect(listed.find((x) => x.id === p.id)?.state).toBe("Executed");
  });

  it("runs a proposal's life through the CLI", async () => {
    const proposed = await cli([
      "propose",
      "--action",
      "PaymentEscrow.setFeeSplit([8200,1300,500])",
      "--description",
      "Fee split 82/13/5",
    ]);
    expect(proposed.code, proposed.stderr).toBe(0);
    const id = String(proposed.json.id);
    const early = await cli(["vote", id, "for"]);
    expect(early.code).toBe(1);
    expect(errorOf(early.json)?.code).toBe("proposal_state");

    await waitPast(BigInt(String(proposed.json.snapshot)));
    expect((await cli(["vote", id, "for", "--reason", "cheaper for hosts"])).code).toBe(0);
    const unfinished = await cli(["queue", id]);
    expect(errorOf(unfinished.json)?.code).toBe("proposal_state");
    await waitPast(BigInt(String(proposed.json.deadline)));
    const queued = await cli(["queue", id]);
    expect(queued.code, queued.stderr).toBe(0);
    const tooSoon = await cli(["execute", id]);
    expect(tooSoon.code).toBe(1);
    expect(errorOf(tooSoon.json)?.code).toBe("timelock_not_ready");

    await waitPast(BigInt(String(queued.json.eta)));
    const executed = await cli(["execute", id]);
    expect(executed.code, executed.stderr).toBe(0);
    expect(await feeSplit()).toEqual([8200, 1300, 500]);

    const shown = await cli(["show", id]);
    expect(shown.json.state).toBe("Executed");
    const listed = await cli(["list"]);
    expect((listed.json.proposals as { id: string }[]).map((p) => p.id)).toContain(id);
  });

  it("refuses a proposal from an account without votes, in the library and the CLI", async () => {
    const action = encodeAction("PaymentEscrow.setFeeSplit([8500,1000,500])", gov.addresses);
    const before = await nonceOf(5);
    await expect(propose(connect(5), [action], "No votes")).rejects.toBeInstanceOf(
      InsufficientVotesError,
    );
    const r = await cli(
      ["propose", "--action", "PaymentEscrow.setFeeSplit([8500,1000,500])", "--description", "x"],
      5,
    );
    expect(r.code).toBe(1);
    expect(errorOf(r.json)?.code).toBe("insufficient_votes");
    expect(await nonceOf(5)).toBe(before);
  });

  it("refuses malformed actions before any transaction", () => {
    for (const spec of [
      "PaymentEscrow.setFeeSplit(8000,1500,500)",
      "PaymentEscrow.setFeeSplit([8000,1500])",
      "PaymentEscrow.noSuchFunction([])",
      "NoSuchContract.setFeeSplit([8000,1500,500])",
      "PaymentEscrow.feeSplit([])",
      'PaymentEscrow.setFeeSplit(["80%",1500,500])',
    ])
      expect(() => encodeAction(spec, gov.addresses), spec).toThrow(GovernanceUsageError);
  });

  it("lets only the proposer cancel, while the proposal is pending", async () => {
    const action = encodeAction("PaymentEscrow.setFeeSplit([8500,1000,500])", gov.addresses);
    const p = await propose(gov, [action], "Back to 85/10/5, cancelled");
    await expect(cancel(connect(5), p.id)).rejects.toBeInstanceOf(NotProposerError);
    await cancel(gov, p.id);
    expect((await showProposal(gov, p.id)).state).toBe("Canceled");
    await expect(vote(gov, p.id, "for")).rejects.toBeInstanceOf(ProposalStateError);
  });

  it("refuses an upgrade whose storage layout is incompatible, before any transaction", async () => {
    // Version 1 of the fixture contract stands for the live proxy; Inserted.sol puts a member
    // in the middle of its namespace.
    const v1 = extractLayouts([{ name: "Vault", source: `${FIXTURES}/Vault.sol` }]).get("Vault");
    if (!v1 || v1 instanceof StorageLayoutError) throw v1 ?? new Error("no layout");
    const snapshot = writeSnapshot(v1, { snapshotDir: tmp });
    const nonce = await nonceOf(0);
    const block = await chain.publicClient.getBlockNumber();

    await expect(
      proposeUpgrade(gov, {
        contract: "PaymentEscrow",
        artifact: "PaymentEscrow",
        source: `${FIXTURES}/TypeChanged.sol:Vault`,
        snapshot,
      }),
    ).rejects.toBeInstanceOf(IncompatibleLayoutError);
    const r = await cli([
      "propose-upgrade",
      "--contract",
      "PaymentEscrow",
      "--artifact",
      "PaymentEscrow",
      "--source",
      `${FIXTURES}/Inserted.sol:Vault`,
      "--snapshot",
      snapshot,
    ]);
    expect(r.code).toBe(1);
    expect(errorOf(r.json)?.code).toBe("incompatible_storage_layout");
    expect(await nonceOf(0)).toBe(nonce);
    expect(await chain.publicClient.getBlockNumber()).toBe(block);
  });

  it("upgrades PaymentEscrow to an implementation deployed from its artifact", async () => {
    const before = await implementationOf(gov, "PaymentEscrow");
    const split = await feeSplit();
    const p = await proposeUpgrade(gov, { contract: "PaymentEscrow", artifact: "PaymentEscrow" });
    expect(p.deployTx).not.toBeNull();
    expect(p.implementation).not.toBe(before);
    expect(p.actions[0]?.call).toBe(`PaymentEscrow.upgradeToAndCall(["${p.implementation}","0x"])`);

    await waitPast(p.snapshot);
    await vote(gov, p.id, "for");
    await waitPast((await showProposal(gov, p.id)).deadline);
    const { eta } = await queue(gov, p.id);
    await waitPast(eta);
    await execute(gov, p.id);
    expect(await implementationOf(gov, "PaymentEscrow")).toBe(p.implementation);
    // The proxy's state is the same under the new implementation.
    expect(await feeSplit()).toEqual(split);
  });
});
