// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPaymentEscrow} from "../escrow/IPaymentEscrow.sol";
import {IStakeObserver} from "../token/IFABCustody.sol";

/// @notice The part of the PaymentEscrow the stakers pool calls: pushing the accrued stakers'
/// fees of a token to the escrow's stakers pool.
interface IStakersPoolFeeSource {
    /// @notice Sends the accrued fees of `token` of one kind to its recipient.
    function collectFees(address token, IPaymentEscrow.FeeKind kind) external;
}

/// @title IStakersPool
/// @notice Events, errors and the external API of the StakersPool: FAB stakers (plain stakers
/// with optional lockups, and hosts with their NodeRegistry stake) share the stakers' fee of
/// every payment, in every reward token, pro rata to their shares.
/// @dev The native coin (ETH) is `address(0)` everywhere, as in the escrow. An account's shares
/// are its registry stake times the host multiplier plus, per lock tier, its staked FAB times
/// the multiplier it was staked at. Rewards use reward-per-share accounting: no function loops
/// over stakers. Every event carries the state it leaves behind, so an indexer never reads the
/// chain.
interface IStakersPool is IStakeObserver {
    /// @notice `account` staked `amount` FAB in lock tier `tier`. `shares` is the account's total
    /// shares afterwards, `lockEnd` the position's lock end (unix seconds), `positionShares` the
    /// shares the position now carries and `totalShares` the pool's total afterwards.
    event Staked(
        address indexed account,
        uint8 indexed tier,
        uint256 amount,
        uint256 shares,
        uint64 lockEnd,
        uint256 positionShares,
        uint256 totalShares
    );
    /// @notice `account` withdrew `amount` FAB from its position in `tier`; the fields after it
    /// are as in `Staked`.
    event Withdrawn(
        address indexed account,
        uint8 indexed tier,
        uint256 amount,
        uint256 shares,
        uint256 positionShares,
        uint256 totalShares
    );
    /// @notice The registry reported `host`'s active stake as `stake`; `shares` is the host's
    /// total shares afterwards and `totalShares` the pool's.
    event HostStakeUpdated(address indexed host, uint256 stake, uint256 shares, uint256 totalShares);
    /// @notice `received` of `token` (what arrived since the last sync and is attributable to the
    /// current shares) was distributed; `accRewardPerShare` is the accumulator afterwards
    /// (scaled by PRECISION). Only emitted when something was distributed (not with no shares).
    event RewardsSynced(address indexed token, uint256 received, uint256 accRewardPerShare);
    /// @notice `account` was paid `amount` of its rewards in `token`, sent to `to`.
    event RewardsClaimed(address indexed account, address indexed token, address indexed to, uint256 amount);
    /// @notice `token` (address(0): ETH) is now a reward token.
    event RewardTokenAdded(address indexed token);
    /// @notice Lock tier `tier` now locks for `duration` seconds at `multiplierBps`; positions
    /// staked before keep the multiplier they were staked at.
    event LockTierUpdated(uint8 indexed tier, uint64 duration, uint16 multiplierBps);
    /// @notice The multiplier of hosts' registry stake; applies from each host's next stake change.
    event HostMultiplierUpdated(uint16 previous, uint16 current);
    event RegistryUpdated(address indexed previous, address indexed current);
    event EscrowUpdated(address indexed previous, address indexed current);
    /// @notice `escrow.collectFees(token, Stakers)` reverted during a sync (a paused escrow, say);
    /// whatever had already arrived was still distributed.
    event FeeCollectionFailed(address indexed token, bytes reason);

    error StakersPoolZeroAddress();
    error StakersPoolInvalidAmount(uint256 amount);
    /// @notice No lock tier `tier` exists.
    error StakersPoolUnknownTier(uint8 tier);
    /// @notice Out of bounds: a tier index past the next free one or MAX_LOCK_TIERS, a duration
    /// above MAX_LOCK_DURATION, a multiplier outside [BPS, MAX_LOCK_MULTIPLIER_BPS], tier 0 other
    /// than (0, BPS), or another tier without a lock.
    error StakersPoolInvalidLockTier(uint8 tier, uint64 duration, uint16 multiplierBps);
    /// @notice The host multiplier is outside [BPS, MAX_HOST_MULTIPLIER_BPS].
    error StakersPoolInvalidHostMultiplier(uint16 multiplierBps);
    /// @notice `account`'s position in `tier` is locked until `lockEnd`.
    error StakersPoolLocked(address account, uint8 tier, uint64 lockEnd);
    /// @notice A withdrawal above the position's `staked` amount.
    error StakersPoolInsufficientStake(address account, uint8 tier, uint256 staked, uint256 requested);
    /// @notice Only the registry reports host stakes.
    error StakersPoolNotRegistry(address caller);
    /// @notice `token` is not a reward token.
    error StakersPoolNotRewardToken(address token);
    /// @notice `token` is already a reward token.
    error StakersPoolRewardTokenListed(address token);
    /// @notice The reward-token list is full (MAX_REWARD_TOKENS).
    error StakersPoolTooManyRewardTokens();
    error StakersPoolNativeTransferFailed(address to, uint256 amount);

    /// @notice Collects the escrow's stakers' fees of `token` (a failure is reported by
    /// FeeCollectionFailed, not reverted) and distributes whatever of `token` arrived since the
    /// last sync over the current shares. With no shares, the amount waits for a later sync.
    /// Anyone may call.
    function sync(address token) external;

    /// @notice Stakes `amount` FAB (approved to this pool) in lock tier `tier`: the FAB is held in
    /// custody, so the caller keeps its votes. The position's lock ends at the later of its
    /// current end and now plus the tier's duration. Every reward token is synced first, so the
    /// new stake only shares in rewards that arrive after it.
    function stake(uint256 amount, uint8 tier) external;

    /// @notice Returns `amount` FAB of the caller's position in `tier` once its lock has ended.
    function withdraw(uint8 tier, uint256 amount) external;

    /// @notice Pays the caller's rewards in each of `tokens` to `to`: what was distributed up to
    /// the last sync (call `sync` first to include newer arrivals).
    function claim(address[] calldata tokens, address to) external;

    /// @notice `account`'s rewards in `token` that `claim` would pay now (as of the last sync).
    function pendingRewards(address account, address token) external view returns (uint256);

    /// @notice `account`'s shares.
    function sharesOf(address account) external view returns (uint256);

    /// @notice The sum of all accounts' shares.
    function totalShares() external view returns (uint256);

    /// @notice `account`'s position in `tier`: its FAB, lock end and effective multiplier
    /// (shares × BPS / amount, rounded up: the multiplier it was staked at, or the amount-weighted
    /// mean when topped up after a governance change; 0 for an empty position).
    function positionOf(address account, uint8 tier)
        external
        view
        returns (uint256 amount, uint64 lockEnd, uint16 multiplierBps);

    /// @notice `host`'s registry stake as last reported by the registry.
    function hostStakeOf(address host) external view returns (uint256);

    /// @notice The reward tokens, in the order they were added (address(0): ETH).
    function rewardTokens() external view returns (address[] memory);

    /// @notice Lock tier `tier`'s duration (seconds) and multiplier (basis points).
    function lockTier(uint8 tier) external view returns (uint64 duration, uint16 multiplierBps);

    /// @notice The FAB token.
    function fab() external view returns (address);

    /// @notice The PaymentEscrow whose stakers' fees this pool collects (address(0): none).
    function escrow() external view returns (address);

    /// @notice The NodeRegistry that reports hosts' stakes (address(0): none).
    function registry() external view returns (address);

    /// @notice The reward per share of `token` accumulated so far, scaled by PRECISION.
    function accRewardPerShare(address token) external view returns (uint256);
}
