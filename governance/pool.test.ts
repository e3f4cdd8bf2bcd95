import path from "node:path";
import { parseEther, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fabstirTreasuryAbi, fabTokenAbi, stakersPoolAbi } from "../abis/index.ts";
import { governanceOn } from "../fixtures/governance-cli.ts";
import { type LocalChain, startLocalChain } from "../fixtures/local-chain.ts";
import {
  buyback,
  ETH,
  type Governance,
  NotKeeperError,
  PositionLockedError,
  poolStatus,
  routerQuoteAbi,
  SlippageTooLooseError,
  stakeFab,
  treasuryStatus,
  withdrawFab,
} from "./index.ts";

const _ROOT = path.resolve(import.meta.dirname, "..");
const FAB = 10n ** 18n;
const KEEPER = 12;

describe("stakers and keepers", () => {
  let chain: LocalChain;
  let gov: Governance;
  const { connect, addressOf, nonceOf, cli, errorOf } = governanceOn(() => chain);

  beforeAll(async () => {
    chain = await startLocalChain();
    gov = connect(0);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  const sendEth = async (to: `0x${string}`, value: bigint) => {
    const hash = await chain.wallet(0).sendTransaction({ to, value });
    await chain.publicClient.waitForTransactionReceipt({ hash });
  };
  const fabBalance = (account: `0x${string}`) =>
    chain.publicClient.readContract({
      address: chain.addresses.FABToken,
      abi: fabTokenAbi,
      functionName: "balanceOf",
      args: [account],
    });

  it("stakes in tier 1, pays ETH rewards through the CLI, and withdraws only after the lock", async () => {
    const account = addressOf(0);
    const fabBefore = await fabBalance(account);
    const staked = await stakeFab(gov, 1000n * FAB, 1);
    expect(staked.multiplierBps).toBe(12_500);
    const status = await poolStatus(gov, account);
    expect(status.positions[1]?.amount).toBe(1000n * FAB);
    expect(status.positions[1]?.lockEnd).toBe(staked.lockEnd);
    expect(status.rewards.map((r) => r.token.symbol)).toEqual(["ETH", "FAB", "tUSD"]);
    expect(await fabBalance(account)).toBe(fabBefore - 1000n * FAB);

    // Fees that arrive are distributed by a sync; what the account is owed is then pending.
    await sendEth(chain.addresses.StakersPool, parseEther("1"));
    await gov.chain.send("sync", {
      address: chain.addresses.StakersPool,
      abi: stakersPoolAbi,
      functionName: "sync",
      args: [ETH],
    });
    const pending = await chain.publicClient.readContract({
      address: chain.addresses.StakersPool,
      abi: stakersPoolAbi,
      functionName: "pendingRewards",
      args: [account, ETH],
    });
    expect(pending).toBeGreaterThan(0n);
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const claimed = await cli(["pool", "claim", "--to", to]);
    expect(claimed.code, claimed.stderr).toBe(0);
    expect(await chain.publicClient.getBalance({ address: to })).toBe(pending);
    const claims = claimed.json.claimed as { token: { address: string }; amount: string }[];
    expect(claims.find((c) => c.token.address === zeroAddress)?.amount).toBe(String(pending));
    expect((await poolStatus(gov)).rewards[0]?.pending).toBe(0n);

    // Locked for 30 days: refused with the time it ends, in the library and the CLI.
    const early = await withdrawFab(gov, 1000n * FAB, 1).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(PositionLockedError);
    expect((early as PositionLockedError).lockEnd).toBe(staked.lockEnd);
    const nonce = await nonceOf(0);
    const refused = await cli(["pool", "withdraw", "1000", "--tier", "1"]);
    expect(refused.code).toBe(1);
    expect(errorOf(refused.json)?.code).toBe("position_locked");
    expect(errorOf(refused.json)?.message).toContain(
      new Date(Number(staked.lockEnd) * 1000).toISOString(),
    );
    expect(await nonceOf(0)).toBe(nonce);

    const now = (await chain.publicClient.getBlock()).timestamp;
    await chain.testClient.increaseTime({ seconds: Number(staked.lockEnd - now) + 1 });
    await chain.mine(1);
    const withdrawn = await cli(["pool", "withdraw", "1000", "--tier", "1"]);
    expect(withdrawn.code, withdrawn.stderr).toBe(0);
    expect(await fabBalance(account)).toBe(fabBefore);
    const shown = await cli(["pool", account]);
    expect(shown.code, shown.stderr).toBe(0);
    expect((shown.json.positions as { amount: string }[])[1]?.amount).toBe("0");
  });

  it("runs a buyback as the keeper: the quote's FAB is bought and burned", async () => {
    const treasury = { address: chain.addresses.FabstirTreasury, abi: fabstirTreasuryAbi };
    await sendEth(chain.addresses.FabstirTreasury, parseEther("1"));
    const before = await treasuryStatus(gov);
    const eth = before.tokens.find((t) => t.token.address === ETH);
    expect(eth?.unsynced).toBe(parseEther("1"));
    expect(before.destination).toBe("Burn");

    const r = await cli(["buyback", "--token", "ETH"], KEEPER);
    expect(r.code, r.stderr).toBe(0);
    const block = BigInt(String(r.json.block));
    const amountIn = BigInt(String(r.json.amountIn));
    const fabOut = BigInt(String(r.json.fabOut));
    expect(amountIn).toBe(
      (eth?.reserve ?? 0n) + (parseEther("1") * BigInt(before.buybackShareBps)) / 10_000n,
    );
    const [router, swapPath] = await Promise.all([
      chain.publicClient.readContract({ ...treasury, functionName: "router" }),
      chain.publicClient.readContract({ ...treasury, functionName: "swapPath", args: [ETH] }),
    ]);
    const amounts = await chain.publicClient.readContract({
      address: router,
      abi: routerQuoteAbi,
      functionName: "getAmountsOut",
      args: [amountIn, swapPath],
      blockNumber: block - 1n,
    });
    expect(fabOut).toBeGreaterThan(0n);
    expect(fabOut).toBe(amounts[amounts.length - 1]);
    expect(r.json.destination).toBe("Burn");
    const supply = (blockNumber: bigint) =>
      chain.publicClient.readContract({
        address: chain.addresses.FABToken,
        abi: fabTokenAbi,
        functionName: "totalSupply",
        blockNumber,
      });
    expect((await supply(block - 1n)) - (await supply(block))).toBe(fabOut);
  });

  it("refuses a looser slippage than the treasury's, and a key without the keeper role", async () => {
    await sendEth(chain.addresses.FabstirTreasury, parseEther("1"));
    const { maxSlippageBps } = await treasuryStatus(gov);
    const keeperNonce = await nonceOf(KEEPER);
    const loose = await cli(["buyback", "--slippage-bps", String(maxSlippageBps + 1)], KEEPER);
    expect(loose.code).toBe(1);
    expect(errorOf(loose.json)?.code).toBe("slippage_too_loose");
    await expect(
      buyback(connect(KEEPER), { slippageBps: maxSlippageBps * 5 }),
    ).rejects.toBeInstanceOf(SlippageTooLooseError);
    expect(await nonceOf(KEEPER)).toBe(keeperNonce);

    const otherNonce = await nonceOf(5);
    const notKeeper = await cli(["buyback"], 5);
    expect(notKeeper.code).toBe(1);
    expect(errorOf(notKeeper.json)?.code).toBe("not_keeper");
    await expect(buyback(connect(5))).rejects.toBeInstanceOf(NotKeeperError);
    expect(await nonceOf(5)).toBe(otherNonce);
  });
});
