/**
 * Tokenomics, indexed: the StakersPool (positions per lock tier, hosts' registry stake as the
 * pool counts it, reward syncs and claims per token), the FabstirTreasury (reserve and free
 * funds per token, buybacks), the ReputationSystem's stake tiers and the PaymentEscrow's fee
 * split history. Every value comes from the events, which carry the state they leave behind.
 * Re-exported by ../ponder.schema.ts; conventions as there (amounts in base units, 0x0 is ETH).
 */
import { index, onchainEnum, onchainTable, primaryKey, relations } from "ponder";

/** IFabstirTreasury.BuybackDestination, by its uint8 value (abis/enums.ts does not list it yet). */
export const BUYBACK_DESTINATION = ["Burn", "StakersPool"] as const;
export const buybackDestination = onchainEnum("buyback_destination", BUYBACK_DESTINATION);

/** The pool's totals and parameters (one row, id "StakersPool"). */
export const poolState = onchainTable("pool_state", (t) => ({
  id: t.text().primaryKey(),
  totalShares: t.bigint().notNull(),
  totalStaked: t.bigint().notNull(), // FAB staked in the pool (held in custody there)
  hostStake: t.bigint().notNull(), // hosts' registry stake the pool counts (held by the registry)
  stakers: t.integer().notNull(), // accounts with shares
  hostMultiplierBps: t.integer(),
  registry: t.hex(),
  escrow: t.hex(),
  updatedAt: t.bigint().notNull(),
}));

/** An account of the pool: its lock positions summed, and its registry stake if it hosts. */
export const poolStaker = onchainTable(
  "pool_staker",
  (t) => ({
    account: t.hex().primaryKey(),
    shares: t.bigint().notNull(), // all of its shares (positions and host stake)
    staked: t.bigint().notNull(), // FAB in its positions
    lockShares: t.bigint().notNull(), // shares of its positions
    hostStake: t.bigint().notNull(), // registry stake as last reported (HostStakeUpdated)
    hostShares: t.bigint().notNull(), // shares - lockShares
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({ byShares: index().on(t.shares) }),
);

/** An account's position in one lock tier (rows are kept at amount 0 once withdrawn). */
export const poolPosition = onchainTable(
  "pool_position",
  (t) => ({
    account: t.hex().notNull(),
    tier: t.integer().notNull(),
    amount: t.bigint().notNull(), // FAB
    shares: t.bigint().notNull(),
    lockEnd: t.bigint().notNull(), // unix seconds; withdrawals wait for it
    stakedAt: t.bigint().notNull(), // the last stake into it
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.account, t.tier] }),
    byTier: index().on(t.tier),
  }),
);

/** A lock tier of the pool (LockTierUpdated): positions keep the multiplier they were staked at. */
export const poolLockTier = onchainTable("pool_lock_tier", (t) => ({
  tier: t.integer().primaryKey(),
  duration: t.bigint().notNull(), // seconds
  multiplierBps: t.integer().notNull(), // 10 000 = 1x
  updatedAt: t.bigint().notNull(),
}));

/** A reward token of the pool (RewardTokenAdded) with its lifetime totals. */
export const poolRewardToken = onchainTable("pool_reward_token", (t) => ({
  token: t.hex().primaryKey(),
  distributed: t.bigint().notNull(), // booked over the shares by the syncs
  claimed: t.bigint().notNull(),
  syncs: t.integer().notNull(),
  accRewardPerShare: t.bigint().notNull(), // scaled by 1e36, as the contract's
  lastSyncAt: t.bigint(),
  addedAt: t.bigint().notNull(),
}));

/** A RewardsSynced: `amount` of `token` distributed over `totalShares`. */
export const poolRewardSync = onchainTable(
  "pool_reward_sync",
  (t) => ({
    id: t.text().primaryKey(), // event id
    token: t.hex().notNull(),
    amount: t.bigint().notNull(),
    accRewardPerShare: t.bigint().notNull(), // afterwards
    totalShares: t.bigint().notNull(), // the shares it was distributed over
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ byTokenAt: index().on(t.token, t.at) }),
);

/** A RewardsClaimed: `account`'s rewards in `token` paid to `to`. */
export const poolClaim = onchainTable(
  "pool_claim",
  (t) => ({
    id: t.text().primaryKey(), // event id
    account: t.hex().notNull(),
    token: t.hex().notNull(),
    to: t.hex().notNull(),
    amount: t.bigint().notNull(),
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ byAccount: index().on(t.account), byToken: index().on(t.token) }),
);

/** A BuybackExecuted: `amountIn` of the treasury's reserve of `token` bought `fabOut` FAB. */
export const buyback = onchainTable(
  "buyback",
  (t) => ({
    id: t.text().primaryKey(), // event id
    token: t.hex().notNull(),
    amountIn: t.bigint().notNull(),
    fabOut: t.bigint().notNull(),
    destination: buybackDestination("destination").notNull(),
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ byToken: index().on(t.token) }),
);

/** The treasury's funds in one token, as of its last event, and lifetime totals. */
export const treasuryBalance = onchainTable("treasury_balance", (t) => ({
  token: t.hex().primaryKey(),
  reserve: t.bigint().notNull(), // the buyback reserve
  free: t.bigint().notNull(), // releasable by governance
  arrived: t.bigint().notNull(), // accounted by the syncs
  boughtBack: t.bigint().notNull(), // spent on buybacks
  fabBought: t.bigint().notNull(),
  fabBurned: t.bigint().notNull(), // the part of fabBought burned
  released: t.bigint().notNull(),
  updatedAt: t.bigint().notNull(),
}));

/** The treasury's parameters (one row, id "FabstirTreasury"). */
export const treasuryConfig = onchainTable("treasury_config", (t) => ({
  id: t.text().primaryKey(),
  buybackBps: t.integer(), // share of arrivals to the reserve
  maxSlippageBps: t.integer(),
  destination: buybackDestination("destination"),
  router: t.hex(),
  stakersPool: t.hex(),
  escrow: t.hex(),
  fab: t.hex(),
  updatedAt: t.bigint().notNull(),
}));

/** The ReputationSystem's registry-stake tiers as last set (StakeTiersUpdated), lowest first. */
export const stakeTier = onchainTable("stake_tier", (t) => ({
  tier: t.integer().primaryKey(),
  minStake: t.bigint().notNull(), // FAB wei
  discountBps: t.integer().notNull(), // off the protocol fee
  updatedAt: t.bigint().notNull(),
}));

/** The PaymentEscrow's fee split, one row per FeeSplitUpdated (the latest is current). */
export const feeSplitChange = onchainTable("fee_split_change", (t) => ({
  id: t.text().primaryKey(), // event id
  hostBps: t.integer().notNull(),
  treasuryBps: t.integer().notNull(),
  stakersBps: t.integer().notNull(),
  at: t.bigint().notNull(),
  blockNumber: t.bigint().notNull(),
  txHash: t.hex().notNull(),
}));

export const poolStakerRelations = relations(poolStaker, ({ many }) => ({
  positions: many(poolPosition),
  claims: many(poolClaim),
}));
export const poolPositionRelations = relations(poolPosition, ({ one }) => ({
  staker: one(poolStaker, { fields: [poolPosition.account], references: [poolStaker.account] }),
  lockTier: one(poolLockTier, { fields: [poolPosition.tier], references: [poolLockTier.tier] }),
}));
export const poolClaimRelations = relations(poolClaim, ({ one }) => ({
  staker: one(poolStaker, { fields: [poolClaim.account], references: [poolStaker.account] }),
}));
export const poolRewardTokenRelations = relations(poolRewardToken, ({ many }) => ({
  rewardSyncs: many(poolRewardSync),
}));
export const poolRewardSyncRelations = relations(poolRewardSync, ({ one }) => ({
  rewardToken: one(poolRewardToken, {
    fields: [poolRewardSync.token],
    references: [poolRewardToken.token],
  }),
}));
