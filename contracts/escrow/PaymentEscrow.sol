// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPaymentEscrow} from "./IPaymentEscrow.sol";

/// @title PaymentEscrow
/// @notice Holds renters' deposits per job and pays hosts, the protocol treasury
/// and the stakers when the JobMarketplace settles a job. Every payout is a
/// withdrawable balance (pull payment), so no recipient can block a settlement.
/// @dev Solvency: for every token, this contract's balance equals the sum of the
/// locked deposits, the withdrawable balances and the uncollected fees (ETH forced
/// in by selfdestruct can only make it larger). Only the marketplace locks and releases.
contract PaymentEscrow is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransient,
    IPaymentEscrow
{
    using SafeERC20 for IERC20;

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");

    /// @notice Basis-point denominator of the fee split.
    uint16 public constant BPS = 10_000;
    /// @notice The host's share can never be set below this.
    uint16 public constant MIN_HOST_BPS = 7_000;
    /// @notice The treasury's and the stakers' shares can each never be set above this.
    uint16 public constant MAX_FEE_BPS = 2_000;

    /// @dev One slot, read once per lock and release: the only caller allowed to move
    /// deposits, and the fee split.
    struct Config {
        address marketplace;
        uint16 hostBps;
        uint16 treasuryBps;
        uint16 stakersBps;
    }

    /// @dev A job's deposit. uint96 holds 7.9e28 wei: far above any deposit.
    struct Lock {
        address token;
        uint96 amount;
    }

    /// @dev Uncollected fees of one token, packed so a release writes one slot.
    struct Fees {
        uint128 treasury;
        uint128 stakers;
    }

    /// @custom:storage-location erc7201:fabstir.storage.PaymentEscrow
    struct PaymentEscrowStorage {
        Config config;
        address treasury;
        address stakersPool;
        mapping(address token => bool) allowedTokens;
        mapping(uint256 jobId => Lock) locks;
        mapping(address account => mapping(address token => uint256)) balances;
        mapping(address token => Fees) fees;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.PaymentEscrow")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0xa69f861d9f8b0d887c0bced1b78600ea650ddbc02812b60b2ec1d49d430ac200;

    function _s() private pure returns (PaymentEscrowStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy with the default 85/10/5 split.
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE and UPGRADER_ROLE.
    /// @param treasury receives protocol fees.
    /// @param stakersPool receives the stakers' share of fees.
    function initialize(address admin, address treasury, address stakersPool) external initializer {
        if (admin == address(0) || treasury == address(0) || stakersPool == address(0)) {
            revert PaymentEscrowZeroAddress();
        }
        __AccessControl_init();
        __Pausable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        PaymentEscrowStorage storage $ = _s();
        $.treasury = treasury;
        $.stakersPool = stakersPool;
        emit TreasuryUpdated(address(0), treasury);
        emit StakersPoolUpdated(address(0), stakersPool);
        _setFeeSplit($, 8_500, 1_000, 500);
    }

    // ---------------------------------------------------------------- marketplace

    /// @inheritdoc IPaymentEscrow
    function lock(uint256 jobId, address payer, address token, uint256 amount) external payable nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        if (msg.sender != $.config.marketplace) revert PaymentEscrowUnauthorized(msg.sender);
        if (amount == 0 || amount > type(uint96).max) revert PaymentEscrowInvalidAmount(amount);
        if ($.locks[jobId].amount != 0) revert PaymentEscrowJobAlreadyLocked(jobId);
        if (token == address(0)) {
            if (msg.value != amount) revert PaymentEscrowValueMismatch(amount, msg.value);
        } else {
            if (msg.value != 0) revert PaymentEscrowValueMismatch(0, msg.value);
            if (!$.allowedTokens[token]) revert PaymentEscrowTokenNotAllowed(token);
            // Measure what arrived so fee-on-transfer tokens cannot break solvency.
            uint256 before = IERC20(token).balanceOf(address(this));
            IERC20(token).safeTransferFrom(payer, address(this), amount);
            uint256 received = IERC20(token).balanceOf(address(this)) - before;
            if (received != amount) revert PaymentEscrowTransferMismatch(token, amount, received);
        }
        $.locks[jobId] = Lock({token: token, amount: uint96(amount)});
        emit FundsLocked(jobId, payer, token, amount);
    }

    /// @inheritdoc IPaymentEscrow
    function release(uint256 jobId, address host, address renter, uint256 payment) external nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        Config memory c = $.config;
        if (msg.sender != c.marketplace) revert PaymentEscrowUnauthorized(msg.sender);
        (address token, uint256 deposit) = _unlock($, jobId);
        if (payment > deposit) revert PaymentEscrowPaymentExceedsDeposit(jobId, payment, deposit);

        uint256 hostAmount;
        uint256 treasuryAmount;
        uint256 stakersAmount;
        if (payment != 0) {
            hostAmount = payment * c.hostBps / BPS;
            treasuryAmount = payment * c.treasuryBps / BPS;
            // Rounding dust goes to the stakers so the three shares always sum to `payment`.
            stakersAmount = payment - hostAmount - treasuryAmount;
            $.balances[host][token] += hostAmount;
            Fees storage f = $.fees[token];
            // Cannot overflow: each share is below the deposit (< 2^96) and the sums
            // are bounded by the token's total supply held by this contract.
            f.treasury += uint128(treasuryAmount);
            f.stakers += uint128(stakersAmount);
        }
        uint256 refundAmount = deposit - payment;
        if (refundAmount != 0) $.balances[renter][token] += refundAmount;
        emit PaymentReleased(jobId, host, token, renter, hostAmount, treasuryAmount, stakersAmount, refundAmount);
    }

    /// @inheritdoc IPaymentEscrow
    function refund(uint256 jobId, address renter) external nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        if (msg.sender != $.config.marketplace) revert PaymentEscrowUnauthorized(msg.sender);
        (address token, uint256 deposit) = _unlock($, jobId);
        $.balances[renter][token] += deposit;
        emit FundsRefunded(jobId, renter, token, deposit);
    }

    // ---------------------------------------------------------------- payouts

    /// @notice Sends `amount` of the caller's `token` balance to `to`.
    /// @param token the ERC-20, or address(0) for ETH.
    /// @param amount how much to withdraw; must not exceed the balance.
    /// @param to the recipient.
    function withdraw(address token, uint256 amount, address to) external nonReentrant whenNotPaused {
        if (to == address(0)) revert PaymentEscrowZeroAddress();
        if (amount == 0) revert PaymentEscrowInvalidAmount(0);
        PaymentEscrowStorage storage $ = _s();
        uint256 balance = $.balances[msg.sender][token];
        if (amount > balance) revert PaymentEscrowInsufficientBalance(msg.sender, token, balance, amount);
        // Cannot underflow: checked just above.
        unchecked {
            $.balances[msg.sender][token] = balance - amount;
        }
        emit Withdrawn(msg.sender, token, to, amount);
        _send(token, to, amount);
    }

    /// @notice Sends the accrued fees of `token` to the treasury and the stakers pool. Anyone may call.
    function collectFees(address token) external nonReentrant whenNotPaused {
        PaymentEscrowStorage storage $ = _s();
        Fees memory f = $.fees[token];
        delete $.fees[token];
        address treasury = $.treasury;
        address stakersPool = $.stakersPool;
        emit FeesCollected(token, treasury, f.treasury, stakersPool, f.stakers);
        if (f.treasury != 0) _send(token, treasury, f.treasury);
        if (f.stakers != 0) _send(token, stakersPool, f.stakers);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the only contract allowed to lock and release deposits.
    function setMarketplace(address marketplace) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (marketplace == address(0)) revert PaymentEscrowZeroAddress();
        Config storage c = _s().config;
        emit MarketplaceUpdated(c.marketplace, marketplace);
        c.marketplace = marketplace;
    }

    /// @notice Sets the fee split in basis points; the three shares must sum to 10000,
    /// the host keeps at least MIN_HOST_BPS and each fee is at most MAX_FEE_BPS.
    function setFeeSplit(uint16 hostBps, uint16 treasuryBps, uint16 stakersBps)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setFeeSplit(_s(), hostBps, treasuryBps, stakersBps);
    }

    /// @notice Allows or disallows an ERC-20 for new deposits (existing locks are unaffected).
    function setTokenAllowed(address token, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token == address(0)) revert PaymentEscrowZeroAddress();
        _s().allowedTokens[token] = allowed;
        emit TokenAllowanceUpdated(token, allowed);
    }

    /// @notice Sets the protocol treasury that receives treasury fees.
    function setTreasury(address treasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury == address(0)) revert PaymentEscrowZeroAddress();
        PaymentEscrowStorage storage $ = _s();
        emit TreasuryUpdated($.treasury, treasury);
        $.treasury = treasury;
    }

    /// @notice Sets the stakers pool that receives the stakers' share of fees.
    function setStakersPool(address stakersPool) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (stakersPool == address(0)) revert PaymentEscrowZeroAddress();
        PaymentEscrowStorage storage $ = _s();
        emit StakersPoolUpdated($.stakersPool, stakersPool);
        $.stakersPool = stakersPool;
    }

    /// @notice Stops withdrawals and fee collection (locks and releases go on: they move no value out).
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes withdrawals.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPaymentEscrow
    function lockOf(uint256 jobId) external view returns (address token, uint256 amount) {
        Lock memory l = _s().locks[jobId];
        return (l.token, l.amount);
    }

    /// @notice The withdrawable balance of `account` in `token`.
    function balanceOf(address account, address token) external view returns (uint256) {
        return _s().balances[account][token];
    }

    /// @notice Uncollected treasury and stakers fees of `token`.
    function feesOf(address token) external view returns (uint256 treasuryFees, uint256 stakersFees) {
        Fees memory f = _s().fees[token];
        return (f.treasury, f.stakers);
    }

    /// @notice The current split in basis points.
    function feeSplit() external view returns (uint16 hostBps, uint16 treasuryBps, uint16 stakersBps) {
        Config memory c = _s().config;
        return (c.hostBps, c.treasuryBps, c.stakersBps);
    }

    /// @inheritdoc IPaymentEscrow
    function isTokenAllowed(address token) external view returns (bool) {
        return token == address(0) || _s().allowedTokens[token];
    }

    /// @notice The marketplace allowed to lock and release.
    function marketplace() external view returns (address) {
        return _s().config.marketplace;
    }

    /// @notice The protocol treasury.
    function treasury() external view returns (address) {
        return _s().treasury;
    }

    /// @notice The stakers pool.
    function stakersPool() external view returns (address) {
        return _s().stakersPool;
    }

    // ---------------------------------------------------------------- internals

    function _unlock(PaymentEscrowStorage storage $, uint256 jobId) private returns (address token, uint256 amount) {
        Lock memory l = $.locks[jobId];
        if (l.amount == 0) revert PaymentEscrowJobNotLocked(jobId);
        delete $.locks[jobId];
        return (l.token, l.amount);
    }

    function _setFeeSplit(PaymentEscrowStorage storage $, uint16 hostBps, uint16 treasuryBps, uint16 stakersBps)
        private
    {
        if (
            uint256(hostBps) + treasuryBps + stakersBps != BPS || hostBps < MIN_HOST_BPS || treasuryBps > MAX_FEE_BPS
                || stakersBps > MAX_FEE_BPS
        ) revert PaymentEscrowInvalidFeeSplit(hostBps, treasuryBps, stakersBps);
        Config storage c = $.config;
        c.hostBps = hostBps;
        c.treasuryBps = treasuryBps;
        c.stakersBps = stakersBps;
        emit FeeSplitUpdated(hostBps, treasuryBps, stakersBps);
    }

    function _send(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert PaymentEscrowNativeTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
