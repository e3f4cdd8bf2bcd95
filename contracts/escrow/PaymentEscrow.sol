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

/// @dev What the escrow asks about a host's fee discount (the ReputationSystem answers).
interface IFeeDiscounts {
    function feeDiscountBps(address host) external view returns (uint16);
}

/// @title PaymentEscrow
/// @notice Holds renters' deposits and pays hosts, the protocol treasury and the stakers when
/// a locker (the JobMarketplace for jobs, the SessionManager for sessions) settles. Every
/// payout is a withdrawable balance (pull payment), so no recipient can block a settlement,
/// and each fee recipient's share is collected on its own.
/// @dev Key space: every lock is keyed by (locker, id), so two lockers never collide and a
/// locker can only move its own locks. Only allowed lockers make new locks; a locker that is
/// no longer allowed still settles, pays and refunds the locks it made, so retiring a contract
/// never strands its renters' deposits.
/// Solvency: for every token, this contract's balance equals the sum of the locked deposits,
/// the withdrawable balances and the uncollected fees (ETH forced in by selfdestruct can only
/// make it larger).
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
    /// @notice A host's fee discount never waives more than this share of the treasury's fee.
    uint16 public constant MAX_FEE_DISCOUNT_BPS = 5_000;

    /// @dev The fee split, read once per payment: one slot.
    struct Config {
        uint16 hostBps;
        uint16 treasuryBps;
        uint16 stakersBps;
        // Appended inside the slot's free bytes (upgrade-safe): address(0) until set.
        IFeeDiscounts feeDiscounts;
    }

    /// @dev A deposit. uint96 holds 7.9e28 wei: far above any deposit.
    struct Lock {
        address token;
        uint96 amount;
    }

    /// @dev Uncollected fees of one token, packed so a payment writes one slot.
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
        mapping(address locker => mapping(uint256 id => Lock)) locks;
        mapping(address account => mapping(address token => uint256)) balances;
        mapping(address token => Fees) fees;
        mapping(address locker => bool) lockers;
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

    // ---------------------------------------------------------------- lockers

    /// @inheritdoc IPaymentEscrow
    function lock(uint256 id, address payer, address token, uint256 amount) external payable nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        if (!$.lockers[msg.sender]) revert PaymentEscrowUnauthorized(msg.sender);
        Lock storage l = $.locks[msg.sender][id];
        if (l.amount != 0) revert PaymentEscrowAlreadyLocked(msg.sender, id);
        _take($, payer, token, amount, amount);
        l.token = token;
        l.amount = uint96(amount);
        emit FundsLocked(id, payer, token, msg.sender, amount);
    }

    /// @inheritdoc IPaymentEscrow
    function topUp(uint256 id, address payer, address token, uint256 amount) external payable nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        if (!$.lockers[msg.sender]) revert PaymentEscrowUnauthorized(msg.sender);
        Lock storage l = $.locks[msg.sender][id];
        Lock memory current = l;
        if (current.amount == 0) revert PaymentEscrowNotLocked(msg.sender, id);
        if (current.token != token) revert PaymentEscrowTokenMismatch(id, current.token, token);
        _take($, payer, token, amount, uint256(current.amount) + amount);
        l.amount = uint96(uint256(current.amount) + amount);
        emit FundsLocked(id, payer, token, msg.sender, amount);
    }

    /// @inheritdoc IPaymentEscrow
    function pay(uint256 id, address host, uint256 payment, uint16 feeDiscountBps) external nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        Lock storage l = $.locks[msg.sender][id];
        Lock memory current = l;
        if (current.amount == 0) revert PaymentEscrowNotLocked(msg.sender, id);
        if (payment == 0 || payment > current.amount) {
            revert PaymentEscrowPaymentExceedsDeposit(msg.sender, id, payment, current.amount);
        }
        // Cannot underflow: checked just above. A lock paid down to zero is closed.
        unchecked {
            l.amount = uint96(current.amount - payment);
        }
        (uint256 hostAmount, uint256 treasuryAmount, uint256 stakersAmount) =
            _split($, current.token, host, payment, feeDiscountBps);
        emit PaymentReleased(
            id, host, current.token, msg.sender, address(0), hostAmount, treasuryAmount, stakersAmount, 0
        );
    }

    /// @inheritdoc IPaymentEscrow
    function release(uint256 id, address host, address renter, uint256 payment) external nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        _release($, id, host, renter, payment, payment == 0 ? 0 : _currentDiscount($, host));
    }

    /// @inheritdoc IPaymentEscrow
    function releaseAt(uint256 id, address host, address renter, uint256 payment, uint16 feeDiscountBps)
        external
        nonReentrant
    {
        _release(_s(), id, host, renter, payment, feeDiscountBps);
    }

    /// @inheritdoc IPaymentEscrow
    function refund(uint256 id, address renter) external nonReentrant {
        PaymentEscrowStorage storage $ = _s();
        (address token, uint256 deposit) = _unlock($, id);
        $.balances[renter][token] += deposit;
        emit FundsRefunded(id, renter, token, msg.sender, deposit);
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

    /// @notice Sends the accrued fees of `token` of one kind to its recipient (the treasury or the
    /// stakers pool). Anyone may call. Each kind is collected on its own, so a recipient that
    /// cannot receive never blocks the other's fees.
    function collectFees(address token, FeeKind kind) external nonReentrant whenNotPaused {
        PaymentEscrowStorage storage $ = _s();
        Fees storage f = $.fees[token];
        uint256 amount;
        address recipient;
        if (kind == FeeKind.Treasury) {
            amount = f.treasury;
            f.treasury = 0;
            recipient = $.treasury;
        } else {
            amount = f.stakers;
            f.stakers = 0;
            recipient = $.stakersPool;
        }
        emit FeesCollected(token, kind, recipient, amount);
        if (amount != 0) _send(token, recipient, amount);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Allows or disallows `locker` to make new locks. A disallowed locker still pays,
    /// releases and refunds the locks it already made.
    function setLocker(address locker, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (locker == address(0)) revert PaymentEscrowZeroAddress();
        _s().lockers[locker] = allowed;
        emit LockerUpdated(locker, allowed);
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

    /// @notice Sets the contract asked for a host's protocol-fee discount on each `release` (a
    /// job's payment; the ReputationSystem), or address(0) for none. Lockers that fixed a
    /// discount themselves (sessions, at opening) pass it to `pay`/`releaseAt` instead. The discount (at most MAX_FEE_DISCOUNT_BPS of
    /// the treasury's share) goes to the host; the stakers' share never changes.
    function setFeeDiscounts(address discounts) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Config storage c = _s().config;
        emit FeeDiscountsUpdated(address(c.feeDiscounts), discounts);
        c.feeDiscounts = IFeeDiscounts(discounts);
    }

    /// @notice The contract asked for fee discounts (address(0): none).
    function feeDiscounts() external view returns (address) {
        return address(_s().config.feeDiscounts);
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

    /// @notice Resumes withdrawals: governance only (the guardian, PAUSER_ROLE, cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPaymentEscrow
    function lockOf(address locker, uint256 id) external view returns (address token, uint256 amount) {
        Lock memory l = _s().locks[locker][id];
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

    /// @notice Whether `locker` may make new locks.
    function isLocker(address locker) external view returns (bool) {
        return _s().lockers[locker];
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

    function _unlock(PaymentEscrowStorage storage $, uint256 id) private returns (address token, uint256 amount) {
        Lock memory l = $.locks[msg.sender][id];
        if (l.amount == 0) revert PaymentEscrowNotLocked(msg.sender, id);
        delete $.locks[msg.sender][id];
        return (l.token, l.amount);
    }

    /// @dev Takes `amount` of `token` from `payer` (or checks msg.value for ETH); `total` is what
    /// the lock will hold afterwards (bounded to uint96).
    function _take(PaymentEscrowStorage storage $, address payer, address token, uint256 amount, uint256 total)
        private
    {
        if (amount == 0 || total > type(uint96).max) revert PaymentEscrowInvalidAmount(amount);
        if (token == address(0)) {
            if (msg.value != amount) revert PaymentEscrowValueMismatch(amount, msg.value);
        } else {
            if (msg.value != 0) revert PaymentEscrowValueMismatch(0, msg.value);
            if (!$.allowedTokens[token]) revert PaymentEscrowTokenNotAllowed(token);
            // Measure what arrived so fee-on-transfer tokens cannot break solvency.
            uint256 before = _balanceOfThis(token);
            IERC20(token).safeTransferFrom(payer, address(this), amount);
            uint256 received = _balanceOfThis(token) - before;
            if (received != amount) revert PaymentEscrowTransferMismatch(token, amount, received);
        }
    }

    /// @dev IERC20(token).balanceOf(address(this)), as the compiler's call does it (a failure
    /// bubbles up, an answer shorter than a word reverts), without building the call in memory.
    function _balanceOfThis(address token) private view returns (uint256 held) {
        bytes4 selector = IERC20.balanceOf.selector;
        assembly ("memory-safe") {
            mstore(0x00, selector)
            mstore(0x04, address())
            let ok := staticcall(gas(), token, 0x00, 0x24, 0x00, 0x20)
            if iszero(and(ok, gt(returndatasize(), 0x1f))) {
                let m := mload(0x40)
                returndatacopy(m, 0x00, returndatasize())
                revert(m, returndatasize())
            }
            held := mload(0x00)
        }
    }

    function _release(
        PaymentEscrowStorage storage $,
        uint256 id,
        address host,
        address renter,
        uint256 payment,
        uint256 feeDiscountBps
    ) private {
        (address token, uint256 deposit) = _unlock($, id);
        if (payment > deposit) revert PaymentEscrowPaymentExceedsDeposit(msg.sender, id, payment, deposit);
        uint256 hostAmount;
        uint256 treasuryAmount;
        uint256 stakersAmount;
        if (payment != 0) (hostAmount, treasuryAmount, stakersAmount) = _split($, token, host, payment, feeDiscountBps);
        uint256 refundAmount = deposit - payment;
        if (refundAmount != 0) $.balances[renter][token] += refundAmount;
        emit PaymentReleased(
            id, host, token, msg.sender, renter, hostAmount, treasuryAmount, stakersAmount, refundAmount
        );
    }

    /// @dev `host`'s fee discount now, asked of the fee-discount source (0 when none is set). A
    /// failing, gas-hungry or malformed source never blocks a payment: no discount then.
    function _currentDiscount(PaymentEscrowStorage storage $, address host) private view returns (uint256) {
        address source = address($.config.feeDiscounts);
        if (source == address(0)) return 0;
        (bool ok, bytes memory ret) =
            source.staticcall{gas: 100_000}(abi.encodeCall(IFeeDiscounts.feeDiscountBps, (host)));
        return ok && ret.length == 32 ? abi.decode(ret, (uint256)) : 0;
    }

    /// @dev Splits `payment` (> 0) into the host's balance and the two fee accruals; the host's
    /// discount (bounded to MAX_FEE_DISCOUNT_BPS) is waived from the treasury's share.
    function _split(
        PaymentEscrowStorage storage $,
        address token,
        address host,
        uint256 payment,
        uint256 feeDiscountBps
    ) private returns (uint256 hostAmount, uint256 treasuryAmount, uint256 stakersAmount) {
        Config memory c = $.config;
        hostAmount = payment * c.hostBps / BPS;
        treasuryAmount = payment * c.treasuryBps / BPS;
        if (feeDiscountBps != 0) {
            uint256 discount = feeDiscountBps > MAX_FEE_DISCOUNT_BPS ? MAX_FEE_DISCOUNT_BPS : feeDiscountBps;
            uint256 waived = treasuryAmount * discount / BPS;
            treasuryAmount -= waived;
            hostAmount += waived;
        }
        // Rounding dust goes to the stakers so the three shares always sum to `payment`.
        stakersAmount = payment - hostAmount - treasuryAmount;
        $.balances[host][token] += hostAmount;
        Fees storage f = $.fees[token];
        Fees memory current = f;
        // Each share is below a deposit (< 2^96), so the casts keep it whole; the sums are checked
        // (bounded by the token's total supply held by this contract in practice).
        uint128 treasuryFees = current.treasury + uint128(treasuryAmount);
        uint128 stakersFees = current.stakers + uint128(stakersAmount);
        // One write of the slot (member by member the compiler reads and writes it twice), packed
        // as the compiler packs Fees: treasury in the low 128 bits, stakers in the high ones.
        uint256 word = uint256(treasuryFees) | uint256(stakersFees) << 128;
        assembly ("memory-safe") {
            sstore(f.slot, word)
        }
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
