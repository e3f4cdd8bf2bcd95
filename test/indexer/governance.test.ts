/**
 * Governance and tokenomics indexed and served, against real parts: a Hardhat node with the
 * LocalDev deployment (core, Uniswap V2 with seeded pools, governance), `ponder start` on
 * PGlite, and the REST, GraphQL and SQL answers checked against what the chain emitted.
 *
 *   a host (dev 2) registers 2 000 FAB in the registry: the pool counts it
 *   a staker (dev 3) delegates to itself and stakes 1 000 FAB in lock tier 2 (90 days, 1.5x)
 *   1 ETH sent to the pool, synced, and claimed by the staker
 *   10 ETH sent to the treasury and synced; the keeper (dev 12) buys FAB back with 1 ETH (burned)
 *   proposal 1 (setFeeSplit, buybacks to the pool): for (dev 0), against (dev 3); queued, executed
 *   proposal 2: no votes, Defeated
 *   the keeper buys back again with 1 ETH: the FAB goes to the pool and is distributed there
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createClient, sql } from "@ponder/client";
import {
  encodeFunctionData,
  keccak256,
  maxUint256,
  parseEther,
  parseEventLogs,
  stringToHex,
  zeroAddress,
} from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  fabstirGovernorAbi,
  fabstirTreasuryAbi,
  fabTokenAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  reputationSystemAbi,
  stakersPoolAbi,
} from "../../abis/index.ts";
import {
  getJson,
  type Indexer,
  type LocalChain,
  startIndexer,
  startLocalChain,
  waitFor,
} from "../../fixtures/local-chain.ts";
import { uniswapV2RouterAbi } from "../../fixtures/uniswap.ts";

const ETH = zeroAddress;
const FAB = 10n ** 18n;
const HOST_STAKE = 2_000n * FAB;
const POOL_STAKE = 1_000n * FAB;
const LOCK_TIER = 2;
const STATES = [
  "Pending",
  "Active",
  "Canceled",
  "Defeated",
  "Succeeded",
  "Queued",
  "Expired",
  "Executed",
];
const DESCRIPTION = "Raise the stakers' share and send buybacks to the pool";
const SECOND = "A proposal nobody votes on";

async function runScenario(chain: LocalChain) {
  const admin = chain.wallet(0);
  const host = chain.wallet(2);
  const staker = chain.wallet(3);
  const keeper = chain.wallet(12);
  const { FABToken, NodeRegistry, StakersPool, FabstirTreasury, FabstirGovernor, PaymentEscrow } =
    chain.addresses;
  const send = async (hash: Promise<`0x${string}`>) => {
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
    assert.equal(receipt.status, "success");
    return receipt;
  };
  const passTime = async (seconds: number) => {
    await chain.testClient.increaseTime({ seconds });
    await chain.mine(1);
  };
  const fab = (
    w: typeof admin,
    functionName: "transfer" | "approve",
    to: `0x${string}`,
    amount: bigint,
  ) =>
    send(
      w.writeContract({
        address: FABToken,
        abi: fabTokenAbi,
        functionName,
        args: [to, amount],
        chain: null,
      }),
    );

  // A host: its registry stake is counted by the pool (HostStakeUpdated).
  await fab(admin, "transfer", host.account.address, HOST_STAKE);
  await fab(host, "approve", NodeRegistry, maxUint256);
  await send(
    host.writeContract({
      address: NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "register",
      chain: null,
      args: [
        {
          stake: HOST_STAKE,
          hardware: {
            gpuModel: stringToHex("RTX 4090", { size: 32 }),
            vramMiB: 24_576,
            gpuCount: 1,
          },
          region: stringToHex("eu-west", { size: 32 }),
          endpoints: {
            peerId: "0x0024",
            multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
            httpUrl: "http://127.0.0.1:8080",
          },
          metadataDigest: keccak256(stringToHex("eu-west")),
          offers: [
            { modelId: stringToHex("llama-3.1-8b", { size: 32 }), token: ETH, pricePerToken: 1n },
          ],
        },
      ],
    }),
  );

  // A plain staker: votes with its own FAB (staked FAB keeps its votes), locks it in tier 2.
  await fab(admin, "transfer", staker.account.address, POOL_STAKE);
  await send(
    staker.writeContract({
      address: FABToken,
      abi: fabTokenAbi,
      functionName: "delegate",
      args: [staker.account.address],
      chain: null,
    }),
  );
  await fab(staker, "approve", StakersPool, POOL_STAKE);
  await send(
    staker.writeContract({
      address: StakersPool,
      abi: stakersPoolAbi,
      functionName: "stake",
      args: [POOL_STAKE, LOCK_TIER],
      chain: null,
    }),
  );

  // ETH for the stakers: distributed at the sync, claimed by the staker.
  await send(admin.sendTransaction({ to: StakersPool, value: parseEther("1"), chain: null }));
  const sync = (token: `0x${string}`) =>
    send(
      admin.writeContract({
        address: StakersPool,
        abi: stakersPoolAbi,
        functionName: "sync",
        args: [token],
        chain: null,
      }),
    );
  await sync(ETH);
  await send(
    staker.writeContract({
      address: StakersPool,
      abi: stakersPoolAbi,
      functionName: "claim",
      args: [[ETH], staker.account.address],
      chain: null,
    }),
  );

  // The treasury's reserve, then a buyback (burned: the deployment's destination).
  await send(admin.sendTransaction({ to: FabstirTreasury, value: parseEther("10"), chain: null }));
  await send(
    keeper.writeContract({
      address: FabstirTreasury,
      abi: fabstirTreasuryAbi,
      functionName: "sync",
      args: [ETH],
      chain: null,
    }),
  );
  const buyback = async () => {
    const read = { address: FabstirTreasury, abi: fabstirTreasuryAbi } as const;
    const [router, path] = await Promise.all([
      chain.publicClient.readContract({ ...read, functionName: "router" }),
      chain.publicClient.readContract({ ...read, functionName: "swapPath", args: [ETH] }),
    ]);
    const amounts = await chain.publicClient.readContract({
      address: router,
      abi: uniswapV2RouterAbi,
      functionName: "getAmountsOut",
      args: [parseEther("1"), path],
    });
    const quote = amounts.at(-1) ?? 0n;
    await send(
      keeper.writeContract({
        ...read,
        functionName: "buyback",
        args: [ETH, parseEther("1"), quote, 2n ** 40n],
        chain: null,
      }),
    );
  };
  await buyback();

  // Proposal 1: two actions through the timelock; proposal 2: nobody votes.
  const actions = [
    {
      target: PaymentEscrow,
      data: encodeFunctionData({
        abi: paymentEscrowAbi,
        functionName: "setFeeSplit",
        args: [8_000, 1_000, 1_000],
      }),
    },
    {
      target: FabstirTreasury,
      data: encodeFunctionData({
        abi: fabstirTreasuryAbi,
        functionName: "setBuybackDestination",
        args: [1],
      }),
    },
  ];
  const targets = actions.map((a) => a.target);
  const values = actions.map(() => 0n);
  const calldatas = actions.map((a) => a.data);
  const gov = { address: FabstirGovernor, abi: fabstirGovernorAbi, chain: null } as const;
  await send(
    admin.writeContract({
      ...gov,
      functionName: "propose",
      args: [targets, values, calldatas, DESCRIPTION],
    }),
  );
  await send(
    admin.writeContract({
      ...gov,
      functionName: "propose",
      args: [targets, values, calldatas, SECOND],
    }),
  );
  const idOf = (description: string) =>
    chain.publicClient.readContract({
      ...gov,
      functionName: "hashProposal",
      args: [targets, values, calldatas, keccak256(stringToHex(description))],
    });
  const [first, second] = [await idOf(DESCRIPTION), await idOf(SECOND)];
  await passTime(61);
  await send(
    admin.writeContract({
      ...gov,
      functionName: "castVoteWithReason",
      args: [first, 1, "ship it"],
    }),
  );
  await send(
    staker.writeContract({
      ...gov,
      functionName: "castVoteWithReason",
      args: [first, 0, "too early"],
    }),
  );
  await passTime(601);
  const descriptionHash = keccak256(stringToHex(DESCRIPTION));
  await send(
    admin.writeContract({
      ...gov,
      functionName: "queue",
      args: [targets, values, calldatas, descriptionHash],
    }),
  );
  await passTime(121);
  await send(
    admin.writeContract({
      ...gov,
      functionName: "execute",
      args: [targets, values, calldatas, descriptionHash],
    }),
  );

  // Buybacks now go to the pool, which distributes the FAB at once.
  await buyback();
  await chain.mine(1);
  return {
    first,
    second,
    host: host.account.address.toLowerCase() as `0x${string}`,
    staker: staker.account.address.toLowerCase() as `0x${string}`,
  };
}

describe("governance and tokenomics indexed and served", { timeout: 600_000 }, () => {
  let chain: LocalChain;
  let indexer: Indexer;
  let s: Awaited<ReturnType<typeof runScenario>>;

  beforeAll(async () => {
    chain = await startLocalChain();
    s = await runScenario(chain);
    indexer = await startIndexer(chain);
    await waitFor("the second buyback indexed", async () => {
      const { body } = await getJson(indexer.url, "/tokenomics/buybacks");
      return body.buybacks?.length === 2 && (await indexer.ready()) ? true : undefined;
    }).catch((e) => {
      throw new Error(`${e}\n${indexer.output()}`);
    });
  });
  afterAll(async () => {
    await indexer?.stop();
    await chain?.stop();
  });

  const logs = async () => chain.publicClient.getLogs({ fromBlock: 0n });
  const latestTime = async () => (await chain.publicClient.getBlock()).timestamp;

  it("lists proposals with tallies, quorum and the governor's state", async () => {
    const { FabstirGovernor } = chain.addresses;
    const gov = { address: FabstirGovernor, abi: fabstirGovernorAbi } as const;
    const { status, body } = await getJson(indexer.url, "/governance/proposals");
    assert.equal(status, 200);
    assert.equal(BigInt(body.asOf), await latestTime());
    assert.deepEqual(
      body.proposals.map((p: { id: string }) => p.id),
      [String(s.second), String(s.first)],
    );
    for (const p of body.proposals) {
      const id = BigInt(p.id);
      const [state, [against, forVotes, abstain], snapshot, deadline, eta] = await Promise.all([
        chain.publicClient.readContract({ ...gov, functionName: "state", args: [id] }),
        chain.publicClient.readContract({ ...gov, functionName: "proposalVotes", args: [id] }),
        chain.publicClient.readContract({ ...gov, functionName: "proposalSnapshot", args: [id] }),
        chain.publicClient.readContract({ ...gov, functionName: "proposalDeadline", args: [id] }),
        chain.publicClient.readContract({ ...gov, functionName: "proposalEta", args: [id] }),
      ]);
      const quorum = await chain.publicClient.readContract({
        ...gov,
        functionName: "quorum",
        args: [snapshot],
      });
      assert.equal(p.state, STATES[state]);
      assert.equal(p.forVotes, String(forVotes));
      assert.equal(p.againstVotes, String(against));
      assert.equal(p.abstainVotes, String(abstain));
      assert.equal(p.voteStart, String(snapshot));
      assert.equal(p.voteEnd, String(deadline));
      assert.equal(p.eta, eta === 0n ? null : String(eta));
      assert.equal(p.quorum, String(quorum));
    }
    const [second, first] = body.proposals;
    assert.equal(first.state, "Executed");
    assert.equal(first.quorumReached, true);
    assert.equal(first.voters, 2);
    assert.equal(first.description, DESCRIPTION);
    assert.equal(first.actions.length, 2);
    assert.equal(first.actions[0].target, chain.addresses.PaymentEscrow.toLowerCase());
    assert.equal(second.state, "Defeated");
    assert.equal(second.voters, 0);
    assert.equal(second.quorumReached, false);
  });

  it("shows one proposal with its votes as cast", async () => {
    const cast = parseEventLogs({
      abi: fabstirGovernorAbi,
      eventName: "VoteCast",
      logs: await logs(),
    });
    const { body } = await getJson(indexer.url, `/governance/proposals/${s.first}`);
    assert.equal(body.state, "Executed");
    assert.deepEqual(
      body.votes.map((v: { voter: string; support: string; weight: string; reason: string }) => [
        v.voter,
        v.support,
        v.weight,
        v.reason,
      ]),
      cast.map((l) => [
        l.args.voter.toLowerCase(),
        ["Against", "For", "Abstain"][l.args.support],
        String(l.args.weight),
        l.args.reason,
      ]),
    );
    assert.equal(body.votes[1].weight, String(POOL_STAKE));
    assert.equal((await getJson(indexer.url, "/governance/proposals/1")).status, 404);
    assert.equal((await getJson(indexer.url, "/governance/proposals/x")).status, 400);
  });

  it("reports the pool's totals and each reward token's rate per FAB and per share", async () => {
    const { StakersPool } = chain.addresses;
    const read = { address: StakersPool, abi: stakersPoolAbi } as const;
    const all = await logs();
    const synced = parseEventLogs({ abi: stakersPoolAbi, eventName: "RewardsSynced", logs: all });
    const claimed = parseEventLogs({ abi: stakersPoolAbi, eventName: "RewardsClaimed", logs: all });
    const [totalShares, totalStaked, hostStake, tokens] = await Promise.all([
      chain.publicClient.readContract({ ...read, functionName: "totalShares" }),
      chain.publicClient.readContract({ ...read, functionName: "totalStaked" }),
      chain.publicClient.readContract({ ...read, functionName: "hostStakeOf", args: [s.host] }),
      chain.publicClient.readContract({ ...read, functionName: "rewardTokens" }),
    ]);
    const { body } = await getJson(indexer.url, "/tokenomics/pool");
    assert.equal(body.totalStaked, String(totalStaked));
    assert.equal(body.totalStaked, String(POOL_STAKE));
    assert.equal(body.hostStake, String(hostStake));
    assert.equal(body.hostStake, String(HOST_STAKE));
    assert.equal(body.totalShares, String(totalShares));
    assert.equal(body.totalShares, String(HOST_STAKE + (POOL_STAKE * 15_000n) / 10_000n));
    assert.equal(body.stakers, 2);
    const counted = totalStaked + hostStake;
    assert.deepEqual(
      body.rewardTokens.map((t: { token: string }) => t.token),
      tokens.map((t) => t.toLowerCase()),
    );
    for (const t of body.rewardTokens) {
      const distributed = synced
        .filter((l) => l.args.token.toLowerCase() === t.token)
        .reduce((sum, l) => sum + l.args.received, 0n);
      const paid = claimed
        .filter((l) => l.args.token.toLowerCase() === t.token)
        .reduce((sum, l) => sum + l.args.amount, 0n);
      assert.equal(t.distributed, String(distributed));
      assert.equal(t.distributedLast30Days, String(distributed));
      assert.equal(t.claimed, String(paid));
      const perYear = (base: bigint) => String((distributed * 365n * FAB) / (30n * base));
      assert.equal(t.rewardPerFabPerYear, perYear(counted));
      assert.equal(t.rewardPerSharePerYear, perYear(totalShares));
    }
    const eth = body.rewardTokens.find((t: { token: string }) => t.token === ETH);
    const fab = body.rewardTokens.find(
      (t: { token: string }) => t.token === chain.addresses.FABToken.toLowerCase(),
    );
    assert.ok(BigInt(eth.distributed) > 0n && BigInt(eth.claimed) > 0n);
    assert.ok(BigInt(fab.distributed) > 0n, "the second buyback's FAB was distributed");
  });

  it("lists buybacks, burned or sent to the pool, with the treasury's funds", async () => {
    const { FabstirTreasury } = chain.addresses;
    const read = { address: FabstirTreasury, abi: fabstirTreasuryAbi } as const;
    const executed = parseEventLogs({
      abi: fabstirTreasuryAbi,
      eventName: "BuybackExecuted",
      logs: await logs(),
    });
    const { body } = await getJson(indexer.url, "/tokenomics/buybacks");
    assert.deepEqual(
      body.buybacks.map(
        (b: { token: string; amountIn: string; fabOut: string; destination: string }) => [
          b.token,
          b.amountIn,
          b.fabOut,
          b.destination,
        ],
      ),
      executed
        .map((l) => [
          l.args.token,
          String(l.args.amountIn),
          String(l.args.fabOut),
          ["Burn", "StakersPool"][l.args.destination],
        ])
        .reverse(),
    );
    assert.deepEqual(
      body.buybacks.map((b: { destination: string }) => b.destination),
      ["StakersPool", "Burn"],
    );
    const [reserve, free] = await Promise.all([
      chain.publicClient.readContract({ ...read, functionName: "buybackReserve", args: [ETH] }),
      chain.publicClient.readContract({ ...read, functionName: "freeBalance", args: [ETH] }),
    ]);
    const eth = body.treasury.find((t: { token: string }) => t.token === ETH);
    assert.equal(eth.reserve, String(reserve));
    assert.equal(eth.free, String(free));
    assert.equal(eth.boughtBack, String(parseEther("2")));
    assert.equal(eth.fabBurned, String(executed[0]?.args.fabOut));
    const pool = (await getJson(indexer.url, "/tokenomics/buybacks?destination=StakersPool")).body;
    assert.equal(pool.buybacks.length, 1);
    assert.equal((await getJson(indexer.url, "/tokenomics/buybacks?destination=Pool")).status, 400);
  });

  it("serves the stake tiers, the lock tiers and the fee split the proposal set", async () => {
    const all = await logs();
    const [tiers] = parseEventLogs({
      abi: reputationSystemAbi,
      eventName: "StakeTiersUpdated",
      logs: all,
    }).slice(-1);
    const { body } = await getJson(indexer.url, "/tokenomics/tiers");
    assert.deepEqual(
      body.stakeTiers.map((t: { tier: number; minStake: string; discountBps: number }) => [
        t.tier,
        t.minStake,
        t.discountBps,
      ]),
      (tiers?.args.minStakes ?? []).map((m, i) => [i, String(m), tiers?.args.discountsBps[i]]),
    );
    assert.deepEqual(
      body.lockTiers.map((t: { tier: number; duration: string; multiplierBps: number }) => [
        t.tier,
        t.duration,
        t.multiplierBps,
      ]),
      [
        [0, "0", 10_000],
        [1, String(30 * 86_400), 12_500],
        [2, String(90 * 86_400), 15_000],
        [3, String(180 * 86_400), 20_000],
      ],
    );
    assert.equal(body.hostMultiplierBps, 10_000);
    assert.equal(body.feeSplit.hostBps, 8_000);
    assert.equal(body.feeSplit.treasuryBps, 1_000);
    assert.equal(body.feeSplit.stakersBps, 1_000);
  });

  it("serves proposals, votes, positions and delegates through GraphQL and SQL", async () => {
    const res = await fetch(`${indexer.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        query: `{
          proposal(id: "${s.first}") { forVotes againstVotes timelockId votes(orderBy: "support") { items { voter support weight } } operations { items { calls executedAt } } }
          poolPositions { items { account tier amount shares lockEnd } }
          delegate(address: "${s.staker}") { votes delegators }
          fabCustodys(where: { owner: "${s.staker}" }) { items { amount } }
        }`,
      }),
    });
    const { data, errors } = (await res.json()) as {
      // biome-ignore lint/suspicious/noExplicitAny: the test checks the shape itself
      data: any;
      errors?: unknown;
    };
    assert.equal(errors, undefined, JSON.stringify(errors));
    const staked = parseEventLogs({ abi: stakersPoolAbi, eventName: "Staked", logs: await logs() });
    assert.deepEqual(data.poolPositions.items, [
      {
        account: s.staker,
        tier: LOCK_TIER,
        amount: String(POOL_STAKE),
        shares: String((POOL_STAKE * 15_000n) / 10_000n),
        lockEnd: String(staked[0]?.args.lockEnd),
      },
    ]);
    assert.deepEqual(data.proposal.votes.items, [
      { voter: s.staker, support: "Against", weight: String(POOL_STAKE) },
      { voter: data.proposal.votes.items[1].voter, support: "For", weight: data.proposal.forVotes },
    ]);
    assert.deepEqual(
      data.proposal.operations.items.map((o: { calls: number }) => o.calls),
      [2],
    );
    assert.ok(data.proposal.operations.items[0].executedAt);
    assert.deepEqual(data.delegate, { votes: String(POOL_STAKE), delegators: 1 });
    assert.deepEqual(data.fabCustodys.items, [{ amount: String(POOL_STAKE) }]);

    const result = (await createClient(`${indexer.url}/sql`).db.execute(
      sql`select count(*)::int as n, sum(amount)::text as total from pool_claim`,
    )) as unknown as { rows?: Record<string, unknown>[] } | Record<string, unknown>[];
    const [row] = Array.isArray(result) ? result : (result.rows ?? []);
    const claimed = parseEventLogs({
      abi: stakersPoolAbi,
      eventName: "RewardsClaimed",
      logs: await logs(),
    });
    assert.equal(row?.n, claimed.length);
    assert.equal(row?.total, String(claimed.reduce((sum, l) => sum + l.args.amount, 0n)));
  });

  it("runs the analyst guide's governance and tokenomics queries", async () => {
    const guide = await readFile(
      path.resolve(import.meta.dirname, "../../docs/analyst-guide.md"),
      "utf8",
    );
    const section = guide.slice(guide.indexOf("## Governance and tokenomics"));
    const blocks = [...section.matchAll(/^```(sql|graphql)\n([\s\S]*?)^```$/gm)];
    assert.ok(blocks.length >= 6);
    const client = createClient(`${indexer.url}/sql`);
    for (const [, lang, code = ""] of blocks) {
      if (lang === "sql") {
        for (const statement of code.split(";").filter((q) => q.trim()))
          await client.db.execute(sql.raw(statement));
        continue;
      }
      const res = await fetch(`${indexer.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: code }),
      });
      const body = (await res.json()) as { errors?: unknown };
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    }
  });
});
