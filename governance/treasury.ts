/**
 * The keepers' side of the tokenomics: the FabstirTreasury's reserves and settings, and
 * buybacks. A buyback syncs the token (so fees that arrived count), quotes the swap with the
 * Uniswap V2 router the treasury uses, sets its minimum FAB out from that quote less the
 * slippage (the treasury's own bound by default; a looser one is refused before anything is
 * sent, as the treasury would refuse it), and reports the FAB bought and where it went.
 */
import { type Address, erc20Abi, isAddressEqual, parseAbi, parseEventLogs } from "viem";
import { fabstirTreasuryAbi } from "../abis/index.ts";
import type { Governance } from "./client.ts";
import {
  GovernanceError,
  GovernanceUsageError,
  InsufficientReserveError,
  NotKeeperError,
  SlippageTooLooseError,
} from "./errors.ts";
import { ETH, formatToken, rewardTokens, type TokenInfo, tokenInfo } from "./pool.ts";
import { chainNow } from "./proposals.ts";

/** The one Uniswap V2 Router02 function a buyback needs. */
export const routerQuoteAbi = parseAbi([
  "function getAmountsOut(uint256 amountIn, address[] path) view returns (uint256[] amounts)",
]);

/** IFabstirTreasury.BuybackDestination, in order. */
export const BUYBACK_DESTINATIONS = ["Burn", "StakersPool"] as const;
export type BuybackDestination = (typeof BUYBACK_DESTINATIONS)[number];

const BPS = 10_000n;
/** How long a buyback's swap may wait to be mined (the router's deadline). */
export const BUYBACK_DEADLINE_S = 600n;

const treasury = (gov: Governance) => ({
  address: gov.addresses.FabstirTreasury,
  abi: fabstirTreasuryAbi,
});

const destination = (d: number): BuybackDestination => BUYBACK_DESTINATIONS[d] ?? "Burn";

/** ETH, FAB and the stakers pool's reward tokens: the tokens fees arrive in. */
export async function knownTokens(gov: Governance): Promise<Address[]> {
  const tokens: Address[] = [ETH, gov.addresses.FABToken];
  for (const t of await rewardTokens(gov))
    if (!tokens.some((k) => isAddressEqual(k, t))) tokens.push(t);
  return tokens;
}

/** `token`'s balance held by `holder` (ETH: the native balance). */
async function balanceOf(gov: Governance, token: Address, holder: Address): Promise<bigint> {
  if (token === ETH) return gov.chain.query("balance", (c) => c.getBalance({ address: holder }));
  return gov.chain.read("balanceOf", {
    address: token,
    abi: erc20Abi,
    functionName: "balanceOf",
    args: [holder],
  });
}

export interface TreasuryToken {
  token: TokenInfo;
  /** The buyback reserve, as of the last sync. */
  reserve: bigint;
  /** The free funds (released only by proposals), as of the last sync. */
  free: bigint;
  /** Arrived since the last sync (the balance above reserve + free): split at the next sync. */
  unsynced: bigint;
  /** The route a buyback swaps along; empty: none set (FAB needs none). */
  swapPath: readonly Address[];
}

/** The treasury's reserves and free funds per known token, and its buyback settings. */
export async function treasuryStatus(gov: Governance, extraTokens: readonly Address[] = []) {
  const t = treasury(gov);
  const tokens = await knownTokens(gov);
  for (const x of extraTokens) if (!tokens.some((k) => isAddressEqual(k, x))) tokens.push(x);
  const [buybackShareBps, maxSlippageBps, dest, router, stakersPool, paused] = await Promise.all([
    gov.chain.read("buybackShare", { ...t, functionName: "buybackShare" }),
    gov.chain.read("maxSlippageBps", { ...t, functionName: "maxSlippageBps" }),
    gov.chain.read("buybackDestination", { ...t, functionName: "buybackDestination" }),
    gov.chain.read("router", { ...t, functionName: "router" }),
    gov.chain.read("stakersPool", { ...t, functionName: "stakersPool" }),
    gov.chain.read("paused", { ...t, functionName: "paused" }),
  ]);
  const perToken: TreasuryToken[] = await Promise.all(
    tokens.map(async (token) => {
      const [info, reserve, free, balance, swapPath] = await Promise.all([
        tokenInfo(gov, token),
        gov.chain.read("buybackReserve", { ...t, functionName: "buybackReserve", args: [token] }),
        gov.chain.read("freeBalance", { ...t, functionName: "freeBalance", args: [token] }),
        balanceOf(gov, token, t.address),
        gov.chain.read("swapPath", { ...t, functionName: "swapPath", args: [token] }),
      ]);
      const unsynced = balance > reserve + free ? balance - reserve - free : 0n;
      return { token: info, reserve, free, unsynced, swapPath };
    }),
  );
  return {
    address: t.address,
    buybackShareBps,
    maxSlippageBps,
    destination: destination(dest),
    router,
    stakersPool,
    paused,
    tokens: perToken,
  };
}

export interface BuybackOptions {
  /** The reserve to spend (default ETH). */
  token?: Address;
  /** How much of it (default: the whole reserve after the sync). */
  amount?: bigint;
  /** How far below the router's quote the minimum FAB out may be (default: the treasury's max). */
  slippageBps?: number;
}

/**
 * Runs a buyback as a keeper (or the treasury's admin): refuses first, sending nothing, an
 * account without the role, a slippage looser than the treasury's, a token without a swap
 * path and a paused treasury; then syncs the token, quotes the swap, and buys.
 */
export async function buyback(gov: Governance, options: BuybackOptions = {}) {
  const t = treasury(gov);
  const token = options.token ?? ETH;
  const account = gov.chain.account.address;
  const isFab = isAddressEqual(token, gov.addresses.FABToken);
  const [keeperRole, adminRole, maxSlippageBps, path, paused] = await Promise.all([
    gov.chain.read("KEEPER_ROLE", { ...t, functionName: "KEEPER_ROLE" }),
    gov.chain.read("DEFAULT_ADMIN_ROLE", { ...t, functionName: "DEFAULT_ADMIN_ROLE" }),
    gov.chain.read("maxSlippageBps", { ...t, functionName: "maxSlippageBps" }),
    gov.chain.read("swapPath", { ...t, functionName: "swapPath", args: [token] }),
    gov.chain.read("paused", { ...t, functionName: "paused" }),
  ]);
  const [keeper, admin] = await Promise.all([
    gov.chain.read("hasRole", { ...t, functionName: "hasRole", args: [keeperRole, account] }),
    gov.chain.read("hasRole", { ...t, functionName: "hasRole", args: [adminRole, account] }),
  ]);
  if (!keeper && !admin) throw new NotKeeperError(account);
  const slippageBps = options.slippageBps ?? maxSlippageBps;
  if (!Number.isInteger(slippageBps) || slippageBps < 0 || slippageBps >= Number(BPS))
    throw new GovernanceUsageError(`--slippage-bps ${slippageBps}: a whole number from 0 to 9999`);
  if (slippageBps > maxSlippageBps) throw new SlippageTooLooseError(slippageBps, maxSlippageBps);
  const info = await tokenInfo(gov, token);
  if (!isFab && path.length === 0)
    throw new GovernanceUsageError(
      `the treasury has no swap path for ${info.symbol}: governance sets one with FabstirTreasury.setSwapPath`,
    );
  if (paused) throw new GovernanceError("treasury_paused", "the treasury is paused: no buybacks");

  const synced = await gov.chain.send("sync", { ...t, functionName: "sync", args: [token] });
  const reserve = await gov.chain.read("buybackReserve", {
    ...t,
    functionName: "buybackReserve",
    args: [token],
  });
  const amountIn = options.amount ?? reserve;
  if (amountIn === 0n || amountIn > reserve)
    throw new InsufficientReserveError(
      amountIn === 0n
        ? `the treasury's ${info.symbol} buyback reserve is empty: nothing to buy back with`
        : `the treasury's ${info.symbol} buyback reserve is ${formatToken(reserve, info)}, less than ${formatToken(amountIn, info)}`,
      reserve,
      amountIn,
    );
  let quote = amountIn;
  if (!isFab) {
    const router = await gov.chain.read("router", { ...t, functionName: "router" });
    const amounts = await gov.chain.read("getAmountsOut", {
      address: router,
      abi: routerQuoteAbi,
      functionName: "getAmountsOut",
      args: [amountIn, path],
    });
    quote = amounts[amounts.length - 1] ?? 0n;
  }
  const minFabOut = (quote * (BPS - BigInt(slippageBps))) / BPS;
  const deadline = (await chainNow(gov)) + BUYBACK_DEADLINE_S;
  const receipt = await gov.chain.send("buyback", {
    ...t,
    functionName: "buyback",
    args: [token, amountIn, minFabOut, deadline],
  });
  const [executed] = parseEventLogs({
    abi: fabstirTreasuryAbi,
    eventName: "BuybackExecuted",
    logs: receipt.logs.filter((l) => isAddressEqual(l.address, t.address)),
  });
  const dest = destination(executed?.args.destination ?? 0);
  const stakersPool =
    dest === "StakersPool"
      ? await gov.chain.read("stakersPool", { ...t, functionName: "stakersPool" })
      : null;
  return {
    keeper: account,
    token: info,
    amountIn,
    quote,
    slippageBps,
    minFabOut,
    fabOut: executed?.args.fabOut ?? 0n,
    destination: dest,
    stakersPool,
    syncTx: synced.transactionHash,
    tx: receipt.transactionHash,
    block: receipt.blockNumber,
  };
}
