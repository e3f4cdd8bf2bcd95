/**
 * Governance and tokenomics end to end, as `npm start` runs the marketplace: renters' payments
 * feed the stakers pool, which pays a plain FAB staker and the hosts (through their registry
 * stake) pro rata to their shares; FAB holders change the fee split through the governor and
 * the timelock (the governance CLI's library), and the next payment uses it; the keeper buys
 * FAB back on the local Uniswap V2 pool and burns it; the indexer's API shows all of it.
 */
import assert from "node:assert/strict";
import type OpenAI from "openai";
import {
  createTestClient,
  createWalletClient,
  http,
  parseAbi,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  fabstirTreasuryAbi,
  fabTokenAbi,
  paymentEscrowAbi,
  stakersPoolAbi,
} from "../../abis/index.ts";
import { type E2eMarketplace, startE2eMarketplace } from "../../fixtures/e2e.ts";
import {
  connectGovernance,
  encodeAction,
  execute,
  propose,
  queue,
  showProposal,
  vote,
} from "../../governance/index.ts";
import { devPrivateKey } from "../../local/dev-accounts.ts";
import { LOCAL_DEFAULTS, type LocalMarketplace } from "../../local/marketplace.ts";

const MODEL = LOCAL_DEFAULTS.chatModel;
const FAB = 10n ** 18n;
const ETH = zeroAddress;
const routerAbi = parseAbi([
  "function getAmountsOut(uint256 amountIn, address[] path) view returns (uint256[] amounts)",
]);
// biome-ignore lint/suspicious/noExplicitAny: API JSON, checked field by field
type Json = any;

describe("governance and tokenomics end to end", () => {
  let e2e: E2eMarketplace;
  let market: LocalMarketplace;
  let client: OpenAI;
  const at = (name: string) =>
    (market.file.addresses as Record<string, string>)[name] as `0x${string}`;
  const pub = () => market.renter.chain.public;
  const wallet = (index: number) =>
    createWalletClient({
      chain: hardhat,
      transport: http(market.file.rpcUrl),
      account: privateKeyToAccount(devPrivateKey(index)),
    });
  const mined = async (hash: Promise<`0x${string}`>) => {
    const receipt = await pub().waitForTransactionReceipt({ hash: await hash });
    assert.equal(receipt.status, "success");
    return receipt;
  };
  /** Chats `n` answers on one session and closes it: the PaymentReleased of its settlement. */
  const chatAndSettle = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = (await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `Governance question ${i}` }],
        max_tokens: 12,
        temperature: 0,
      })) as Json;
      assert.ok(r.choices[0].message.content.length > 0);
    }
    const [closed] = await market.renter.sessions.closeAll();
    assert.ok(closed?.transactionHash);
    const receipt = await pub().getTransactionReceipt({ hash: closed.transactionHash });
    const [released] = parseEventLogs({
      abi: paymentEscrowAbi,
      eventName: "PaymentReleased",
      logs: receipt.logs,
    });
    assert.ok(released);
    return released.args;
  };
  const api = async (route: string): Promise<Json> => {
    const res = await fetch(`${market.file.apiUrl}${route}`);
    assert.equal(res.status, 200, route);
    return res.json();
  };
  /** Polls the indexer's API until `check` holds (it follows the chain within a second or so). */
  const indexed = async (route: string, check: (body: Json) => boolean): Promise<Json> => {
    const end = Date.now() + 60_000;
    for (;;) {
      const body = await api(route);
      if (check(body)) return body;
      if (Date.now() > end) throw new Error(`${route} never showed it: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  beforeAll(async () => {
    e2e = await startE2eMarketplace("governance");
    market = e2e.market;
    client = e2e.client;
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it("pays the stakers' 5% to a FAB staker and the hosts' registry stake pro rata to their shares", async () => {
    const pool = { address: at("StakersPool"), abi: stakersPoolAbi } as const;
    const staker = wallet(0);
    // A plain staker: 5 000 FAB without a lock (1x); the hosts' registry stake counts too.
    await mined(
      staker.writeContract({
        address: at("FABToken"),
        abi: fabTokenAbi,
        functionName: "approve",
        args: [pool.address, 5_000n * FAB],
      }),
    );
    await mined(staker.writeContract({ ...pool, functionName: "stake", args: [5_000n * FAB, 0] }));
    const fee = await chatAndSettle(3);
    assert.ok(fee.stakersAmount > 0n);
    // The stakers' share reaches the pool at its next sync (anyone may call it).
    const sync = await mined(staker.writeContract({ ...pool, functionName: "sync", args: [ETH] }));
    const [synced] = parseEventLogs({
      abi: stakersPoolAbi,
      eventName: "RewardsSynced",
      logs: sync.logs,
    });
    // Every stakers' fee since the start: this session's, and any spot-check's.
    const received = synced?.args.received ?? 0n;
    assert.ok(received >= fee.stakersAmount);
    const holders = [
      staker.account.address,
      ...market.file.hosts.map((h) => h.address as `0x${string}`),
    ];
    const shares = await Promise.all(
      holders.map((a) => pub().readContract({ ...pool, functionName: "sharesOf", args: [a] })),
    );
    const pending = await Promise.all(
      holders.map((a) =>
        pub().readContract({ ...pool, functionName: "pendingRewards", args: [a, ETH] }),
      ),
    );
    const totalShares = await pub().readContract({ ...pool, functionName: "totalShares" });
    assert.equal(
      shares.reduce((x, y) => x + y, 0n),
      totalShares,
      "the staker and the hosts are every share",
    );
    // Pro rata, to the wei the reward-per-share accounting rounds down (never above).
    const paid = pending.reduce((x, y) => x + y, 0n);
    assert.ok(paid <= received && received - paid <= BigInt(holders.length));
    shares.forEach((s, i) => {
      const exact = (received * s) / totalShares;
      assert.ok(exact - (pending[i] ?? 0n) <= 1n, `holder ${i}: ${pending[i]} vs ${exact}`);
    });
    assert.ok((pending[1] ?? 0n) > 0n, "a host earns from its registry stake");
    // A host claims its ETH.
    const host = wallet(1);
    const before = await pub().getBalance({ address: host.account.address });
    const r = await mined(
      host.writeContract({ ...pool, functionName: "claim", args: [[ETH], host.account.address] }),
    );
    const after = await pub().getBalance({ address: host.account.address });
    assert.equal(after - before + r.gasUsed * r.effectiveGasPrice, pending[1]);
    const shown = await indexed("/tokenomics/pool", (b) =>
      b.rewardTokens?.some?.((t: Json) => t.token === ETH && BigInt(t.claimed) > 0n),
    );
    const eth = shown.rewardTokens.find((t: Json) => t.token === ETH);
    assert.equal(BigInt(eth.distributed), received);
    assert.equal(BigInt(eth.claimed), pending[1]);
  });

  it("changes the fee split through the governor and the timelock; the next payment uses it", async () => {
    const test = createTestClient({
      chain: hardhat,
      mode: "hardhat",
      transport: http(market.file.rpcUrl),
    });
    const pass = async (until: bigint) => {
      const now = (await pub().getBlock()).timestamp;
      if (now <= until) await test.increaseTime({ seconds: Number(until - now + 1n) });
      await test.mine({ blocks: 1 });
    };
    const gov = connectGovernance({
      rpcUrl: market.file.rpcUrl,
      chainId: 31337,
      privateKey: devPrivateKey(0),
      deploymentDir: market.file.deploymentDir,
    });
    const p = await propose(
      gov,
      [encodeAction("PaymentEscrow.setFeeSplit([8000,1500,500])", gov.addresses)],
      "Fee split 80/15/5: more for the treasury's buybacks",
    );
    await pass(p.snapshot);
    await vote(gov, p.id, "for", "buybacks");
    await pass(p.deadline);
    const queued = await queue(gov, p.id);
    await pass(queued.eta);
    await execute(gov, p.id);
    assert.equal((await showProposal(gov, p.id)).state, "Executed");

    const fee = await chatAndSettle(2);
    const paid = fee.hostAmount + fee.treasuryAmount + fee.stakersAmount;
    assert.equal(fee.hostAmount, (paid * 8_000n) / 10_000n);
    assert.equal(fee.treasuryAmount, (paid * 1_500n) / 10_000n);
    const listed = await indexed("/governance/proposals", (b) =>
      b.proposals?.some?.((x: Json) => BigInt(x.id) === p.id && x.state === "Executed"),
    );
    const row = listed.proposals.find((x: Json) => BigInt(x.id) === p.id);
    assert.ok(BigInt(row.forVotes) > 0n);
  });

  it("buys FAB back on the Uniswap V2 pool with the treasury's share and burns it", async () => {
    const treasury = { address: at("FabstirTreasury"), abi: fabstirTreasuryAbi } as const;
    const keeper = wallet(12);
    await mined(keeper.writeContract({ ...treasury, functionName: "sync", args: [ETH] }));
    const reserve = await pub().readContract({
      ...treasury,
      functionName: "buybackReserve",
      args: [ETH],
    });
    assert.ok(reserve > 0n, "the treasury's fees fund a buyback reserve");
    const router = await pub().readContract({ ...treasury, functionName: "router" });
    const swapPath = await pub().readContract({
      ...treasury,
      functionName: "swapPath",
      args: [ETH],
    });
    const amounts = await pub().readContract({
      address: router,
      abi: routerAbi,
      functionName: "getAmountsOut",
      args: [reserve, swapPath],
    });
    const quote = amounts[amounts.length - 1] ?? 0n;
    const supply = () =>
      pub().readContract({
        address: at("FABToken"),
        abi: fabTokenAbi,
        functionName: "totalSupply",
      });
    const before = await supply();
    const deadline = (await pub().getBlock()).timestamp + 600n;
    // A floor above the pool's quote cannot be met: the swap reverts and nothing is spent.
    await assert.rejects(
      pub().simulateContract({
        ...treasury,
        account: keeper.account,
        functionName: "buyback",
        args: [ETH, reserve, quote + 1n, deadline],
      }),
    );
    const r = await mined(
      keeper.writeContract({
        ...treasury,
        functionName: "buyback",
        args: [ETH, reserve, (quote * 99n) / 100n, deadline],
      }),
    );
    const [bought] = parseEventLogs({
      abi: fabstirTreasuryAbi,
      eventName: "BuybackExecuted",
      logs: r.logs,
    });
    assert.equal(bought?.args.fabOut, quote, "the pool's own math (x*y=k with the 0.3% fee)");
    assert.equal(before - (await supply()), quote, "burned");
    const shown = await indexed("/tokenomics/buybacks", (b) => b.buybacks?.length > 0);
    assert.equal(BigInt(shown.buybacks[0].fabOut), quote);
    assert.equal(shown.buybacks[0].destination, "Burn");
  });
});
