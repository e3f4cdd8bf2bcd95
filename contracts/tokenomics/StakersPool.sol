// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPaymentEscrow} from "../escrow/IPaymentEscrow.sol";
import {IFABCustody} from "../token/IFABCustody.sol";
import {IStakersPool, IStakersPoolFeeSource} from "./IStakersPool.sol";

/// @title StakersPool
/// @notice Shares the stakers' fee of every payment (collected from the PaymentEscrow, plus
/// anything sent directly, such as the treasury's FAB buybacks) among FAB stakers: plain stakers,
/// who lock FAB here in a tier whose multiplier rewards a longer lock, and hosts, whose
/// NodeRegistry stake counts at the host multiplier while the FAB stays in the registry.
/// @dev Accounting: per reward token, `accPerShare` grows by arrived × PRECISION / totalShares
/// at each sync, and an account's rewards are shares × accPerShare / PRECISION less its debt
/// (the value at its last share change or claim), settled into `owed` whenever its shares change.
/// Rounding always favours the pool: a sync books the distributed amount rounded up, earnings
/// round down and debts round up, so what all accounts can claim never exceeds what was booked,
/// which never exceeds what arrived; the dust rolls into the next sync.
/// Solvency: per token, the balance covers the booked but unclaimed rewards (`unclaimed`) plus,
/// for FAB, the staked FAB; everything above is distributed at the next sync.
/// Pause (the guardian's power) stops staking and syncs; withdrawals, claims and the registry's
/// stake reports go on, so the guardian can never trap anyone's FAB or rewards, nor block the
/// registry. Neither the guardian nor governance can move staked FAB or rewards.
contract StakersPool is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransient,
    IStakersPool
{
    using SafeERC20 for IERC20;

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");

    /// @notice Scale of accRewardPerShare.
    uint256 public constant PRECISION = 1e36;
    /// @notice Basis-point denominator of the multipliers (10 000 = 1x).
    uint16 public constant BPS = 10_000;
    /// @notice The most lock tiers governance can define.
    uint8 public constant MAX_LOCK_TIERS = 6;
    /// @notice The longest lock a tier can impose.
    uint64 public constant MAX_LOCK_DURATION = 4 * 365 days;
    /// @notice The highest lock multiplier (3x).
    uint16 public constant MAX_LOCK_MULTIPLIER_BPS = 30_000;
    /// @notice The highest host multiplier (2x).
    uint16 public constant MAX_HOST_MULTIPLIER_BPS = 20_000;
    /// @notice The most reward tokens (each share change settles every one of them).
    uint256 public constant MAX_REWARD_TOKENS = 8;

    struct LockTier {
        uint64 duration;
        uint16 multiplierBps;
    }

    /// @dev A lock position. Its shares are stored, not derived from the tier, so a later change
    /// of the tier's multiplier never rewrites it.
    struct Position {
        uint128 amount;
        uint128 shares;
        uint64 lockEnd;
    }

    struct Account {
        uint256 shares;
        /// The registry stake last reported, and the shares it was counted at.
        uint256 hostStake;
        uint256 hostShares;
    }

    struct Reward {
        bool listed;
        uint256 accPerShare;
        /// Distributed and not yet claimed: the part of the balance the accounts are owed.
        uint256 unclaimed;
    }

    struct AccountReward {
        /// shares × accPerShare / PRECISION (rounded up) at the last share change or claim.
        uint256 debt;
        /// Settled at share changes, paid at the next claim.
        uint256 owed;
    }

    /// @custom:storage-location erc7201:fabstir.storage.StakersPool
    struct StakersPoolStorage {
        address fab;
        address escrow;
        address registry;
        uint16 hostMultiplierBps;
        uint256 totalShares;
        /// FAB staked here (the registry's stake is only counted, never held).
        uint256 totalStaked;
        LockTier[] lockTiers;
        address[] rewardTokens;
        mapping(address token => Reward) rewards;
        mapping(address account => Account) accounts;
        mapping(address account => mapping(uint8 tier => Position)) positions;
        mapping(address account => mapping(address token => AccountReward)) accountRewards;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.StakersPool")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0x593bf0dd57bfd1348d07a6220fcfd41775dd3f338f68f8c4af373a0332cb5500;

    function _s() private pure returns (StakersPoolStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy with the default tiers (none: 1x; 30 days: 1.25x; 90 days:
    /// 1.5x; 180 days: 2x), a 1x host multiplier and ETH as the first reward token.
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE and UPGRADER_ROLE.
    /// @param fab_ the FAB token (this pool needs its CUSTODIAN_ROLE to take stakes).
    /// @param escrow_ the PaymentEscrow to collect stakers' fees from, or address(0) to set later
    /// with `setEscrow` (the escrow is initialized with the pool's address, so one comes first).
    function initialize(address admin, address fab_, address escrow_) external initializer {
        if (admin == address(0) || fab_ == address(0)) revert StakersPoolZeroAddress();
        __AccessControl_init();
        __Pausable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        StakersPoolStorage storage $ = _s();
        $.fab = fab_;
        $.escrow = escrow_;
        emit EscrowUpdated(address(0), escrow_);
        _setLockTier($, 0, 0, 10_000);
        _setLockTier($, 1, 30 days, 12_500);
        _setLockTier($, 2, 90 days, 15_000);
        _setLockTier($, 3, 180 days, 20_000);
        _setHostMultiplier($, 10_000);
        _addRewardToken($, address(0));
    }

    /// @notice Accepts ETH: the escrow's stakers' fees, or anyone's contribution. It is
    /// distributed at the next `sync(address(0))`.
    receive() external payable {}

    // ---------------------------------------------------------------- rewards

    /// @inheritdoc IStakersPool
    /// @dev Stopped while paused.
    function sync(address token) external nonReentrant whenNotPaused {
        StakersPoolStorage storage $ = _s();
        Reward storage r = $.rewards[token];
        if (!r.listed) revert StakersPoolNotRewardToken(token);
        _sync($, r, token);
    }

    /// @inheritdoc IStakersPool
    /// @dev Works while paused. A token listed twice pays once. Reverts for a token that is not
    /// a reward token, and when an ETH payment to `to` fails (claim the other tokens apart, or
    /// to another address).
    function claim(address[] calldata tokens, address to) external nonReentrant {
        if (to == address(0)) revert StakersPoolZeroAddress();
        StakersPoolStorage storage $ = _s();
        uint256 shares = $.accounts[msg.sender].shares;
        for (uint256 i; i < tokens.length; ++i) {
            address token = tokens[i];
            Reward storage r = $.rewards[token];
            if (!r.listed) revert StakersPoolNotRewardToken(token);
            AccountReward storage ar = $.accountRewards[msg.sender][token];
            uint256 amount = ar.owed;
            uint256 earned = Math.mulDiv(shares, r.accPerShare, PRECISION);
            uint256 debt = ar.debt;
            if (earned > debt) {
                // Cannot underflow: checked just above.
                unchecked {
                    amount += earned - debt;
                }
                ar.debt = earned;
            }
            if (amount == 0) continue;
            ar.owed = 0;
            r.unclaimed -= amount;
            emit RewardsClaimed(msg.sender, token, to, amount);
            _send(token, to, amount);
        }
    }

    // ---------------------------------------------------------------- staking

    /// @inheritdoc IStakersPool
    /// @dev Stopped while paused. Syncs every reward token first (at most MAX_REWARD_TOKENS), so
    /// a new stake never shares in rewards that arrived before it: staking just before a sync and
    /// leaving right after it (with a flash loan, through the unlocked tier) earns nothing.
    function stake(uint256 amount, uint8 tier) external nonReentrant whenNotPaused {
        if (amount == 0) revert StakersPoolInvalidAmount(0);
        StakersPoolStorage storage $ = _s();
        if (tier >= $.lockTiers.length) revert StakersPoolUnknownTier(tier);
        _syncAll($);
        LockTier memory t = $.lockTiers[tier];
        Position storage p = $.positions[msg.sender][tier];
        Position memory current = p;
        uint256 added = Math.mulDiv(amount, t.multiplierBps, BPS);
        uint256 positionShares = current.shares + added;
        uint64 lockEnd = uint64(block.timestamp) + t.duration;
        if (current.lockEnd > lockEnd) lockEnd = current.lockEnd;
        p.amount = SafeCast.toUint128(current.amount + amount);
        p.shares = SafeCast.toUint128(positionShares);
        p.lockEnd = lockEnd;
        $.totalStaked += amount;
        Account storage a = $.accounts[msg.sender];
        uint256 shares = a.shares + added;
        _setShares($, msg.sender, a, shares);
        emit Staked(msg.sender, tier, amount, shares, lockEnd, positionShares, $.totalShares);
        IFABCustody($.fab).custodyIn(msg.sender, amount);
    }

    /// @inheritdoc IStakersPool
    /// @dev Works while paused. A partial withdrawal keeps the position's shares in proportion
    /// (rounded down); the last one removes them all. Syncs every reward token first (unless
    /// paused), so the leaving staker keeps its share of what arrived while it was staked.
    function withdraw(uint8 tier, uint256 amount) external nonReentrant {
        if (amount == 0) revert StakersPoolInvalidAmount(0);
        StakersPoolStorage storage $ = _s();
        if (!paused()) _syncAll($);
        Position storage p = $.positions[msg.sender][tier];
        Position memory current = p;
        if (amount > current.amount) revert StakersPoolInsufficientStake(msg.sender, tier, current.amount, amount);
        if (block.timestamp < current.lockEnd) revert StakersPoolLocked(msg.sender, tier, current.lockEnd);
        uint256 remaining;
        uint256 positionShares;
        // Cannot underflow: amount <= current.amount, checked above, and positionShares is at most
        // current.shares (remaining < current.amount).
        unchecked {
            remaining = current.amount - amount;
            positionShares = uint256(current.shares) * remaining / current.amount;
        }
        if (remaining == 0) {
            delete $.positions[msg.sender][tier];
        } else {
            p.amount = uint128(remaining);
            p.shares = uint128(positionShares);
        }
        $.totalStaked -= amount;
        Account storage a = $.accounts[msg.sender];
        uint256 shares = a.shares - (current.shares - positionShares);
        _setShares($, msg.sender, a, shares);
        emit Withdrawn(msg.sender, tier, amount, shares, positionShares, $.totalShares);
        IFABCustody($.fab).custodyOut(msg.sender, msg.sender, amount);
    }

    /// @notice Sets `host`'s counted registry stake to `activeStake`, at the current host
    /// multiplier. Only the registry, after every stake change; works while paused, so the
    /// registry (its slashes above all) never depends on this pool's pause. Syncs every reward
    /// token first (unless paused), as stake() does, so a host's new stake never shares in
    /// rewards that arrived before it, and stake leaving keeps what it earned. Not reentrant:
    /// a host contract that unstakes from inside a claim's payment (to be paid again at its old
    /// shares for the claim's next token) is refused.
    function onHostStakeChanged(address host, uint256 activeStake) external nonReentrant {
        StakersPoolStorage storage $ = _s();
        if (msg.sender != $.registry) revert StakersPoolNotRegistry(msg.sender);
        if (!paused()) _syncAll($);
        Account storage a = $.accounts[host];
        uint256 hostShares = Math.mulDiv(activeStake, $.hostMultiplierBps, BPS);
        uint256 shares = a.shares - a.hostShares + hostShares;
        a.hostStake = activeStake;
        a.hostShares = hostShares;
        _setShares($, host, a, shares);
        emit HostStakeUpdated(host, activeStake, shares, $.totalShares);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Adds `token` (address(0): ETH; FAB allowed) to the reward tokens, for good: at
    /// most MAX_REWARD_TOKENS. DEFAULT_ADMIN_ROLE only.
    function addRewardToken(address token) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _addRewardToken(_s(), token);
    }

    /// @notice Defines or changes lock tier `tier` (an existing one or the next free index, below
    /// MAX_LOCK_TIERS): a lock of `duration` seconds (1 to MAX_LOCK_DURATION) at `multiplierBps`
    /// (BPS to MAX_LOCK_MULTIPLIER_BPS). Tier 0 stays unlocked at 1x. Applies to stakes made
    /// afterwards; existing positions keep their shares and lock ends. DEFAULT_ADMIN_ROLE only.
    function setLockTier(uint8 tier, uint64 duration, uint16 multiplierBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setLockTier(_s(), tier, duration, multiplierBps);
    }

    /// @notice Sets the multiplier of hosts' registry stake (BPS to MAX_HOST_MULTIPLIER_BPS); a
    /// host's shares follow at its next stake change. DEFAULT_ADMIN_ROLE only.
    function setHostMultiplier(uint16 multiplierBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setHostMultiplier(_s(), multiplierBps);
    }

    /// @notice Sets the NodeRegistry allowed to report host stakes (address(0): none). Stakes
    /// reported by a previous registry stay counted until the host's next report.
    /// DEFAULT_ADMIN_ROLE only.
    function setRegistry(address registry_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        StakersPoolStorage storage $ = _s();
        emit RegistryUpdated($.registry, registry_);
        $.registry = registry_;
    }

    /// @notice Sets the PaymentEscrow a sync collects stakers' fees from (address(0): none).
    /// DEFAULT_ADMIN_ROLE only.
    function setEscrow(address escrow_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        StakersPoolStorage storage $ = _s();
        emit EscrowUpdated($.escrow, escrow_);
        $.escrow = escrow_;
    }

    /// @notice Stops staking and syncs (withdrawals, claims and stake reports go on): the
    /// guardian's emergency power.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes staking and syncs: governance only (the guardian cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IStakersPool
    function pendingRewards(address account, address token) external view returns (uint256) {
        StakersPoolStorage storage $ = _s();
        AccountReward memory ar = $.accountRewards[account][token];
        uint256 earned = Math.mulDiv($.accounts[account].shares, $.rewards[token].accPerShare, PRECISION);
        return ar.owed + (earned > ar.debt ? earned - ar.debt : 0);
    }

    /// @inheritdoc IStakersPool
    function sharesOf(address account) external view returns (uint256) {
        return _s().accounts[account].shares;
    }

    /// @inheritdoc IStakersPool
    function totalShares() external view returns (uint256) {
        return _s().totalShares;
    }

    /// @notice The FAB staked in this pool (not counting the registry's stake).
    function totalStaked() external view returns (uint256) {
        return _s().totalStaked;
    }

    /// @inheritdoc IStakersPool
    function positionOf(address account, uint8 tier)
        external
        view
        returns (uint256 amount, uint64 lockEnd, uint16 multiplierBps)
    {
        Position memory p = _s().positions[account][tier];
        amount = p.amount;
        lockEnd = p.lockEnd;
        // At most MAX_LOCK_MULTIPLIER_BPS: shares never exceed amount × the highest multiplier.
        if (amount != 0) multiplierBps = uint16(Math.mulDiv(p.shares, BPS, amount, Math.Rounding.Ceil));
    }

    /// @inheritdoc IStakersPool
    function hostStakeOf(address host) external view returns (uint256) {
        return _s().accounts[host].hostStake;
    }

    /// @inheritdoc IStakersPool
    function rewardTokens() external view returns (address[] memory) {
        return _s().rewardTokens;
    }

    /// @notice Whether `token` (address(0): ETH) is a reward token.
    function isRewardToken(address token) external view returns (bool) {
        return _s().rewards[token].listed;
    }

    /// @notice Rewards of `token` distributed and not yet claimed (what the pool owes in it).
    function unclaimedRewards(address token) external view returns (uint256) {
        return _s().rewards[token].unclaimed;
    }

    /// @inheritdoc IStakersPool
    function accRewardPerShare(address token) external view returns (uint256) {
        return _s().rewards[token].accPerShare;
    }

    /// @inheritdoc IStakersPool
    function lockTier(uint8 tier) external view returns (uint64 duration, uint16 multiplierBps) {
        StakersPoolStorage storage $ = _s();
        if (tier >= $.lockTiers.length) revert StakersPoolUnknownTier(tier);
        LockTier memory t = $.lockTiers[tier];
        return (t.duration, t.multiplierBps);
    }

    /// @notice How many lock tiers exist (tiers 0 to count - 1).
    function lockTierCount() external view returns (uint8) {
        // At most MAX_LOCK_TIERS.
        return uint8(_s().lockTiers.length);
    }

    /// @notice The multiplier of hosts' registry stake, in basis points.
    function hostMultiplierBps() external view returns (uint16) {
        return _s().hostMultiplierBps;
    }

    /// @inheritdoc IStakersPool
    function fab() external view returns (address) {
        return _s().fab;
    }

    /// @inheritdoc IStakersPool
    function escrow() external view returns (address) {
        return _s().escrow;
    }

    /// @inheritdoc IStakersPool
    function registry() external view returns (address) {
        return _s().registry;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Collects the escrow's stakers' fees of `token` (a failure is only reported) and books
    /// whatever arrived since the last sync over the current shares.
    /// @dev Syncs every reward token (at most MAX_REWARD_TOKENS).
    function _syncAll(StakersPoolStorage storage $) private {
        address[] storage tokens = $.rewardTokens;
        for (uint256 i; i < tokens.length; ++i) {
            address token = tokens[i];
            _sync($, $.rewards[token], token);
        }
    }

    function _sync(StakersPoolStorage storage $, Reward storage r, address token) private {
        address escrow_ = $.escrow;
        if (escrow_ != address(0)) {
            try IStakersPoolFeeSource(escrow_).collectFees(token, IPaymentEscrow.FeeKind.Stakers) {}
            catch (bytes memory reason) {
                emit FeeCollectionFailed(token, reason);
            }
        }
        uint256 balance = token == address(0) ? address(this).balance : IERC20(token).balanceOf(address(this));
        uint256 committed = r.unclaimed + (token == $.fab ? $.totalStaked : 0);
        if (balance <= committed) return;
        uint256 total = $.totalShares;
        // With no shares, what arrived stays unbooked and is distributed at a later sync.
        if (total == 0) return;
        // Cannot underflow: checked above.
        uint256 increment = Math.mulDiv(balance - committed, PRECISION, total);
        if (increment == 0) return;
        // At most what arrived (increment × total ≤ arrived × PRECISION); rounded up so the
        // booked amount covers every account's rounded-down share.
        uint256 distributed = Math.mulDiv(increment, total, PRECISION, Math.Rounding.Ceil);
        uint256 acc = r.accPerShare + increment;
        r.accPerShare = acc;
        r.unclaimed += distributed;
        emit RewardsSynced(token, distributed, acc);
    }

    /// @dev Settles `account`'s rewards at its current shares into `owed`, then sets its shares
    /// (and the total) to `shares`, with debts at the new shares. One pass over the reward tokens.
    function _setShares(StakersPoolStorage storage $, address account, Account storage a, uint256 shares) private {
        uint256 previous = a.shares;
        address[] storage tokens = $.rewardTokens;
        uint256 n = tokens.length;
        for (uint256 i; i < n; ++i) {
            address token = tokens[i];
            uint256 acc = $.rewards[token].accPerShare;
            // Nothing distributed yet: every debt is still 0.
            if (acc == 0) continue;
            AccountReward storage ar = $.accountRewards[account][token];
            uint256 earned = Math.mulDiv(previous, acc, PRECISION);
            uint256 debt = ar.debt;
            if (earned > debt) {
                // Cannot underflow: checked just above.
                unchecked {
                    ar.owed += earned - debt;
                }
            }
            ar.debt = Math.mulDiv(shares, acc, PRECISION, Math.Rounding.Ceil);
        }
        a.shares = shares;
        $.totalShares = $.totalShares - previous + shares;
    }

    function _addRewardToken(StakersPoolStorage storage $, address token) private {
        Reward storage r = $.rewards[token];
        if (r.listed) revert StakersPoolRewardTokenListed(token);
        if ($.rewardTokens.length >= MAX_REWARD_TOKENS) revert StakersPoolTooManyRewardTokens();
        r.listed = true;
        $.rewardTokens.push(token);
        emit RewardTokenAdded(token);
    }

    function _setLockTier(StakersPoolStorage storage $, uint8 tier, uint64 duration, uint16 multiplierBps) private {
        uint256 count = $.lockTiers.length;
        bool valid = tier <= count && tier < MAX_LOCK_TIERS && duration <= MAX_LOCK_DURATION
            && multiplierBps >= BPS && multiplierBps <= MAX_LOCK_MULTIPLIER_BPS
            && (tier == 0 ? duration == 0 && multiplierBps == BPS : duration != 0);
        if (!valid) revert StakersPoolInvalidLockTier(tier, duration, multiplierBps);
        LockTier memory t = LockTier({duration: duration, multiplierBps: multiplierBps});
        if (tier == count) $.lockTiers.push(t);
        else $.lockTiers[tier] = t;
        emit LockTierUpdated(tier, duration, multiplierBps);
    }

    function _setHostMultiplier(StakersPoolStorage storage $, uint16 multiplierBps) private {
        if (multiplierBps < BPS || multiplierBps > MAX_HOST_MULTIPLIER_BPS) {
            revert StakersPoolInvalidHostMultiplier(multiplierBps);
        }
        emit HostMultiplierUpdated($.hostMultiplierBps, multiplierBps);
        $.hostMultiplierBps = multiplierBps;
    }

    function _send(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert StakersPoolNativeTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
