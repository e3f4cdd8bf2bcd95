/**
 * StakersPool: each account's lock positions and the registry stake the pool counts for hosts,
 * the pool's totals, its lock tiers and reward tokens, every reward sync and claim. The events
 * carry the shares they leave behind (account and pool totals), so nothing is recomputed here
 * but the sums of FAB.
 */
import type { Context } from "ponder:registry";
import {
  poolClaim,
  poolLockTier,
  poolPosition,
  poolRewardSync,
  poolRewardToken,
  poolStaker,
  poolState,
} from "ponder:schema";
import { stakersPoolAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";
import { eventId } from "./lib/values.ts";

const POOL_ID = "StakersPool";

type Staker = typeof poolStaker.$inferSelect;
type PoolChange = Partial<Omit<typeof poolState.$inferInsert, "id" | "updatedAt">>;

async function setPool(
  db: Context["db"],
  at: bigint,
  change: PoolChange | ((p: typeof poolState.$inferSelect) => PoolChange),
): Promise<void> {
  const current = (await db.find(poolState, { id: POOL_ID })) ?? {
    id: POOL_ID,
    totalShares: 0n,
    totalStaked: 0n,
    hostStake: 0n,
    stakers: 0,
    hostMultiplierBps: null,
    registry: null,
    escrow: null,
    updatedAt: at,
  };
  const values = typeof change === "function" ? change(current) : change;
  await db
    .insert(poolState)
    .values({ ...current, ...values, updatedAt: at })
    .onConflictDoUpdate({ ...values, updatedAt: at });
}

/**
 * Sets `account`'s shares (as the event reports them) after `change` to its FAB, and the pool's
 * totals: shares from the event, FAB and staker count from the change.
 */
async function updateStaker(
  db: Context["db"],
  account: `0x${string}`,
  at: bigint,
  shares: bigint,
  totalShares: bigint,
  change: (s: Staker) => Partial<Omit<Staker, "account" | "shares" | "hostShares" | "updatedAt">>,
): Promise<void> {
  const before = (await db.find(poolStaker, { account })) ?? {
    account,
    shares: 0n,
    staked: 0n,
    lockShares: 0n,
    hostStake: 0n,
    hostShares: 0n,
    updatedAt: at,
  };
  const after = { ...before, ...change(before), shares, updatedAt: at };
  after.hostShares = shares - after.lockShares;
  await db.insert(poolStaker).values(after).onConflictDoUpdate(after);
  const joined = (before.shares === 0n ? 0 : -1) + (shares === 0n ? 0 : 1);
  await setPool(db, at, (p) => ({
    totalShares,
    totalStaked: p.totalStaked + after.staked - before.staked,
    hostStake: p.hostStake + after.hostStake - before.hostStake,
    stakers: p.stakers + joined,
  }));
}

indexContract("StakersPool", stakersPoolAbi, {
  Staked: async ({ event, context }) => {
    const { account, tier, amount, shares, lockEnd, positionShares, totalShares } = event.args;
    const at = event.block.timestamp;
    const before = await context.db.find(poolPosition, { account, tier });
    await context.db
      .insert(poolPosition)
      .values({
        account,
        tier,
        amount,
        shares: positionShares,
        lockEnd,
        stakedAt: at,
        updatedAt: at,
      })
      .onConflictDoUpdate((p) => ({
        amount: p.amount + amount,
        shares: positionShares,
        lockEnd,
        stakedAt: at,
        updatedAt: at,
      }));
    const addedShares = positionShares - (before?.shares ?? 0n);
    await updateStaker(context.db, account, at, shares, totalShares, (s) => ({
      staked: s.staked + amount,
      lockShares: s.lockShares + addedShares,
    }));
  },
  Withdrawn: async ({ event, context }) => {
    const { account, tier, amount, shares, positionShares, totalShares } = event.args;
    const at = event.block.timestamp;
    const before = await context.db.find(poolPosition, { account, tier });
    if (!before) throw new Error(`Withdrawn from unknown position ${account} tier ${tier}`);
    await context.db
      .update(poolPosition, { account, tier })
      .set({ amount: before.amount - amount, shares: positionShares, updatedAt: at });
    await updateStaker(context.db, account, at, shares, totalShares, (s) => ({
      staked: s.staked - amount,
      lockShares: s.lockShares - (before.shares - positionShares),
    }));
  },
  HostStakeUpdated: async ({ event, context }) => {
    const { host, stake, shares, totalShares } = event.args;
    await updateStaker(context.db, host, event.block.timestamp, shares, totalShares, () => ({
      hostStake: stake,
    }));
  },
  RewardTokenAdded: async ({ event, context }) => {
    await context.db.insert(poolRewardToken).values({
      token: event.args.token,
      distributed: 0n,
      claimed: 0n,
      syncs: 0,
      accRewardPerShare: 0n,
      addedAt: event.block.timestamp,
    });
  },
  RewardsSynced: async ({ event, context }) => {
    const { token, received, accRewardPerShare } = event.args;
    const at = event.block.timestamp;
    const pool = await context.db.find(poolState, { id: POOL_ID });
    await context.db.insert(poolRewardSync).values({
      id: eventId(event),
      token,
      amount: received,
      accRewardPerShare,
      totalShares: pool?.totalShares ?? 0n,
      at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await context.db.update(poolRewardToken, { token }).set((r) => ({
      distributed: r.distributed + received,
      syncs: r.syncs + 1,
      accRewardPerShare,
      lastSyncAt: at,
    }));
  },
  RewardsClaimed: async ({ event, context }) => {
    const { account, token, to, amount } = event.args;
    await context.db.insert(poolClaim).values({
      id: eventId(event),
      account,
      token,
      to,
      amount,
      at: event.block.timestamp,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await context.db
      .update(poolRewardToken, { token })
      .set((r) => ({ claimed: r.claimed + amount }));
  },
  LockTierUpdated: async ({ event, context }) => {
    const { tier, duration, multiplierBps } = event.args;
    const at = event.block.timestamp;
    await context.db
      .insert(poolLockTier)
      .values({ tier, duration, multiplierBps, updatedAt: at })
      .onConflictDoUpdate({ duration, multiplierBps, updatedAt: at });
  },
  HostMultiplierUpdated: async ({ event, context }) => {
    await setPool(context.db, event.block.timestamp, { hostMultiplierBps: event.args.current });
  },
  RegistryUpdated: async ({ event, context }) => {
    await setPool(context.db, event.block.timestamp, { registry: event.args.current });
  },
  EscrowUpdated: async ({ event, context }) => {
    await setPool(context.db, event.block.timestamp, { escrow: event.args.current });
  },
});
