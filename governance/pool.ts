/**
 * The stakers' side of the tokenomics: an account's position in the StakersPool (its FAB per
 * lock tier, its host stake as the registry reported it, its shares and pending rewards in
 * every reward token), staking (approving FAB first when the allowance is short), withdrawing
 * (refused before the lock ends, with the time it ends) and claiming (after a sync of each
 * token, so fees that arrived since the last one are paid too). ETH is address(0), as in the
 * contracts.
 */
import {
  type Address,
  erc20Abi,
  formatUnits,
  isAddress,
  isAddressEqual,
  parseEventLogs,
  parseUnits,
  zeroAddress,
} from "viem";
import { fabTokenAbi, stakersPoolAbi } from "../abis/index.ts";
import type { Governance } from "./client.ts";
import {
  GovernanceUsageError,
  InsufficientFabError,
  InsufficientStakeError,
  PositionLockedError,
} from "./errors.ts";
import { chainNow } from "./proposals.ts";
import { formatTime } from "./time.ts";

/** The native coin, as the pool and the treasury name it. */
export const ETH: Address = zeroAddress;
export const FAB_DECIMALS = 18;

/** A token as people read it. */
export interface TokenInfo {
  address: Address;
  symbol: string;
  decimals: number;
}

/** `ETH` (any case) or an address; anything else is a usage error naming `flag`. */
export function parseToken(raw: string, flag = "--token"): Address {
  if (raw.toUpperCase() === "ETH") return ETH;
  if (!isAddress(raw)) throw new GovernanceUsageError(`${flag} ${raw}: not ETH nor an address`);
  return raw;
}

/** "1000" or "12.5" whole tokens as base units; refuses more decimals than the token has. */
export function parseAmount(raw: string, decimals = FAB_DECIMALS, what = "amount"): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(raw.trim());
  if (!match || (match[2]?.length ?? 0) > decimals)
    throw new GovernanceUsageError(
      `${what} ${raw}: write whole tokens with at most ${decimals} decimals, e.g. 1000 or 12.5`,
    );
  const amount = parseUnits(raw.trim(), decimals);
  if (amount === 0n) throw new GovernanceUsageError(`${what} must be more than 0`);
  return amount;
}

/** `12.5 FAB`, `0.2 ETH`, `100 tUSD`. */
export function formatToken(amount: bigint, token: TokenInfo): string {
  return `${formatUnits(amount, token.decimals)} ${token.symbol}`;
}

/** Symbol and decimals of `token` (ETH: 18); an unreadable ERC-20 shows its address. */
export async function tokenInfo(gov: Governance, token: Address): Promise<TokenInfo> {
  if (token === ETH) return { address: ETH, symbol: "ETH", decimals: 18 };
  if (isAddressEqual(token, gov.addresses.FABToken))
    return { address: token, symbol: "FAB", decimals: FAB_DECIMALS };
  const erc20 = { address: token, abi: erc20Abi } as const;
  const [symbol, decimals] = await Promise.all([
    gov.chain.read("symbol", { ...erc20, functionName: "symbol" }).catch(() => token),
    gov.chain.read("decimals", { ...erc20, functionName: "decimals" }).catch(() => 18),
  ]);
  return { address: token, symbol, decimals };
}

const pool = (gov: Governance) => ({ address: gov.addresses.StakersPool, abi: stakersPoolAbi });

/** The pool's reward tokens, in the order they were added. */
export async function rewardTokens(gov: Governance): Promise<readonly Address[]> {
  return gov.chain.read("rewardTokens", { ...pool(gov), functionName: "rewardTokens" });
}

export interface LockTierInfo {
  tier: number;
  duration: bigint;
  multiplierBps: number;
}

/** Every lock tier: its lock duration (seconds) and multiplier (basis points). */
export async function lockTiers(gov: Governance): Promise<LockTierInfo[]> {
  const count = await gov.chain.read("lockTierCount", {
    ...pool(gov),
    functionName: "lockTierCount",
  });
  return Promise.all(
    Array.from({ length: count }, async (_, tier) => {
      const [duration, multiplierBps] = await gov.chain.read("lockTier", {
        ...pool(gov),
        functionName: "lockTier",
        args: [tier],
      });
      return { tier, duration, multiplierBps };
    }),
  );
}

/** Refuses a tier the pool does not have, listing those it has. */
async function requireTier(gov: Governance, tier: number): Promise<LockTierInfo[]> {
  const tiers = await lockTiers(gov);
  if (!Number.isInteger(tier) || tier < 0 || tier >= tiers.length)
    throw new GovernanceUsageError(
      `the pool has no lock tier ${tier}: tiers 0 to ${tiers.length - 1} (see \`pool\`)`,
    );
  return tiers;
}

export interface PoolPosition {
  tier: number;
  amount: bigint;
  /** When the position can be withdrawn (seconds, the chain's clock); 0: never staked. */
  lockEnd: bigint;
  multiplierBps: number;
}

export interface PoolStatus {
  account: Address;
  /** The chain's clock (seconds). */
  now: bigint;
  shares: bigint;
  /** The account's registry stake as the registry last reported it to the pool. */
  hostStake: bigint;
  /** Its positions, one per lock tier (empty ones included). */
  positions: PoolPosition[];
  /** What `claim` would pay now per reward token (as of the last sync). */
  rewards: { token: TokenInfo; pending: bigint }[];
  pool: {
    address: Address;
    totalShares: bigint;
    /** FAB staked in the pool (registry stake is only counted). */
    totalStaked: bigint;
    hostMultiplierBps: number;
    paused: boolean;
    tiers: LockTierInfo[];
  };
}

/** `account`'s position in the pool (default: the signing account) and the pool's totals. */
export async function poolStatus(gov: Governance, account?: Address): Promise<PoolStatus> {
  const who = account ?? gov.chain.account.address;
  const p = pool(gov);
  const [tiers, tokens, shares, hostStake, totalShares, totalStaked, hostMultiplierBps, paused] =
    await Promise.all([
      lockTiers(gov),
      rewardTokens(gov),
      gov.chain.read("sharesOf", { ...p, functionName: "sharesOf", args: [who] }),
      gov.chain.read("hostStakeOf", { ...p, functionName: "hostStakeOf", args: [who] }),
      gov.chain.read("totalShares", { ...p, functionName: "totalShares" }),
      gov.chain.read("totalStaked", { ...p, functionName: "totalStaked" }),
      gov.chain.read("hostMultiplierBps", { ...p, functionName: "hostMultiplierBps" }),
      gov.chain.read("paused", { ...p, functionName: "paused" }),
    ]);
  const [positions, rewards, now] = await Promise.all([
    Promise.all(
      tiers.map(async ({ tier }) => {
        const [amount, lockEnd, multiplierBps] = await gov.chain.read("positionOf", {
          ...p,
          functionName: "positionOf",
          args: [who, tier],
        });
        return { tier, amount, lockEnd: BigInt(lockEnd), multiplierBps };
      }),
    ),
    Promise.all(
      tokens.map(async (token) => ({
        token: await tokenInfo(gov, token),
        pending: await gov.chain.read("pendingRewards", {
          ...p,
          functionName: "pendingRewards",
          args: [who, token],
        }),
      })),
    ),
    chainNow(gov),
  ]);
  return {
    account: who,
    now,
    shares,
    hostStake,
    positions,
    rewards,
    pool: { address: p.address, totalShares, totalStaked, hostMultiplierBps, paused, tiers },
  };
}

/** Stakes `amount` FAB in lock `tier`, approving the pool first if the allowance is short. */
export async function stakeFab(gov: Governance, amount: bigint, tier = 0) {
  if (amount <= 0n) throw new GovernanceUsageError("the amount to stake must be more than 0");
  const tiers = await requireTier(gov, tier);
  const account = gov.chain.account.address;
  const fab = { address: gov.addresses.FABToken, abi: fabTokenAbi } as const;
  const [balance, allowance] = await Promise.all([
    gov.chain.read("balanceOf", { ...fab, functionName: "balanceOf", args: [account] }),
    gov.chain.read("allowance", {
      ...fab,
      functionName: "allowance",
      args: [account, gov.addresses.StakersPool],
    }),
  ]);
  if (balance < amount)
    throw new InsufficientFabError(
      `${account} has ${formatUnits(balance, FAB_DECIMALS)} FAB to stake, not ${formatUnits(amount, FAB_DECIMALS)}`,
      balance,
      amount,
    );
  let approveTx: `0x${string}` | null = null;
  if (allowance < amount) {
    const approved = await gov.chain.send("approve", {
      ...fab,
      functionName: "approve",
      args: [gov.addresses.StakersPool, amount],
    });
    approveTx = approved.transactionHash;
  }
  const receipt = await gov.chain.send("stake", {
    ...pool(gov),
    functionName: "stake",
    args: [amount, tier],
  });
  const [staked] = parseEventLogs({
    abi: stakersPoolAbi,
    eventName: "Staked",
    logs: receipt.logs.filter((l) => isAddressEqual(l.address, gov.addresses.StakersPool)),
  });
  return {
    account,
    tier,
    amount,
    multiplierBps: tiers[tier]?.multiplierBps ?? 0,
    lockEnd: BigInt(staked?.args.lockEnd ?? 0),
    shares: staked?.args.shares ?? 0n,
    totalShares: staked?.args.totalShares ?? 0n,
    approveTx,
    tx: receipt.transactionHash,
  };
}

/** Withdraws `amount` FAB of the position in `tier`; refuses before its lock ends. */
export async function withdrawFab(gov: Governance, amount: bigint, tier: number) {
  if (amount <= 0n) throw new GovernanceUsageError("the amount to withdraw must be more than 0");
  await requireTier(gov, tier);
  const account = gov.chain.account.address;
  const [[staked, lockEnd], now] = await Promise.all([
    gov.chain.read("positionOf", {
      ...pool(gov),
      functionName: "positionOf",
      args: [account, tier],
    }),
    chainNow(gov),
  ]);
  if (amount > staked)
    throw new InsufficientStakeError(
      `${account} has ${formatUnits(staked, FAB_DECIMALS)} FAB staked in tier ${tier}, not ${formatUnits(amount, FAB_DECIMALS)}`,
      tier,
      staked,
      amount,
    );
  const end = BigInt(lockEnd);
  if (now < end)
    throw new PositionLockedError(
      `${account}'s position in tier ${tier} is locked: it can be withdrawn from ${formatTime(end, now)}`,
      tier,
      end,
    );
  const receipt = await gov.chain.send("withdraw", {
    ...pool(gov),
    functionName: "withdraw",
    args: [tier, amount],
  });
  return { account, tier, amount, remaining: staked - amount, tx: receipt.transactionHash };
}

export interface ClaimOptions {
  /** Where the rewards go (default: the claiming account). */
  to?: Address;
  /** The reward tokens to claim (default: all of them). */
  tokens?: readonly Address[];
  /** Whether to `sync` each token first, distributing fees that arrived since the last sync. */
  sync?: boolean;
}

/**
 * Claims the account's rewards: syncs each token first (unless `sync: false`, or the pool is
 * paused, when syncs are stopped and only what was distributed before is paid), then claims
 * them all in one transaction, skipped when nothing is pending. `claimed` has every token, with
 * what its RewardsClaimed log paid (0 where nothing was).
 */
export async function claimRewards(gov: Governance, options: ClaimOptions = {}) {
  const account = gov.chain.account.address;
  const to = options.to ?? account;
  if (to === zeroAddress) throw new GovernanceUsageError("rewards cannot be claimed to 0x0");
  const p = pool(gov);
  const listed = await rewardTokens(gov);
  const tokens = [...new Set(options.tokens ?? listed)];
  for (const token of tokens)
    if (!listed.some((t) => isAddressEqual(t, token)))
      throw new GovernanceUsageError(
        `${token === ETH ? "ETH" : token} is not a reward token of the pool: ${listed.map((t) => (t === ETH ? "ETH" : t)).join(", ")}`,
      );
  const paused = await gov.chain.read("paused", { ...p, functionName: "paused" });
  const syncTxs: `0x${string}`[] = [];
  if (options.sync !== false && !paused)
    for (const token of tokens) {
      const synced = await gov.chain.send("sync", { ...p, functionName: "sync", args: [token] });
      syncTxs.push(synced.transactionHash);
    }
  const pending = await Promise.all(
    tokens.map((token) =>
      gov.chain.read("pendingRewards", {
        ...p,
        functionName: "pendingRewards",
        args: [account, token],
      }),
    ),
  );
  const paid = new Map<Address, bigint>();
  let tx: `0x${string}` | null = null;
  if (pending.some((v) => v > 0n)) {
    const receipt = await gov.chain.send("claim", {
      ...p,
      functionName: "claim",
      args: [tokens, to],
    });
    tx = receipt.transactionHash;
    const logs = parseEventLogs({
      abi: stakersPoolAbi,
      eventName: "RewardsClaimed",
      logs: receipt.logs.filter((l) => isAddressEqual(l.address, p.address)),
    });
    for (const log of logs)
      paid.set(log.args.token, (paid.get(log.args.token) ?? 0n) + log.args.amount);
  }
  const claimed = await Promise.all(
    tokens.map(async (token) => ({
      token: await tokenInfo(gov, token),
      amount: [...paid].find(([t]) => isAddressEqual(t, token))?.[1] ?? 0n,
    })),
  );
  return { account, to, synced: syncTxs.length > 0, syncTxs, claimed, tx };
}
