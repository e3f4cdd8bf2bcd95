// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IPaymentEscrow
/// @notice Events, errors and the locker-facing API of the PaymentEscrow.
/// @dev The native coin (ETH) is represented by `address(0)` everywhere. Every lock belongs to
/// the contract that made it (its "locker", e.g. the JobMarketplace or the SessionManager): the
/// same id under two lockers is two locks, and only the locker that made a lock moves it.
interface IPaymentEscrow {
    /// @notice `locker` locked (or, for a top-up, added) `amount` to its lock `id`.
    event FundsLocked(
        uint256 indexed id, address indexed payer, address indexed token, address locker, uint256 amount
    );
    /// @notice `payment` of `locker`'s lock `id` was split into host, treasury and stakers shares;
    /// `refund` (the rest of the deposit, when the lock was closed) was credited to the renter.
    event PaymentReleased(
        uint256 indexed id,
        address indexed host,
        address indexed token,
        address locker,
        address renter,
        uint256 hostAmount,
        uint256 treasuryAmount,
        uint256 stakersAmount,
        uint256 refund
    );
    /// @notice `locker`'s lock `id` was closed and its whole remaining deposit credited to the renter.
    event FundsRefunded(
        uint256 indexed id, address indexed renter, address indexed token, address locker, uint256 amount
    );
    /// @notice `account` withdrew `amount` of its balance.
    event Withdrawn(address indexed account, address indexed token, address indexed to, uint256 amount);
    /// @notice Accrued fees of one kind were sent to their recipient.
    event FeesCollected(address indexed token, FeeKind indexed kind, address indexed recipient, uint256 amount);
    event FeeSplitUpdated(uint16 hostBps, uint16 treasuryBps, uint16 stakersBps);
    event TokenAllowanceUpdated(address indexed token, bool allowed);
    event TreasuryUpdated(address indexed previous, address indexed current);
    event StakersPoolUpdated(address indexed previous, address indexed current);
    /// @notice `locker` may (or may no longer) make new locks. A retired locker still settles
    /// the locks it made.
    event LockerUpdated(address indexed locker, bool allowed);
    event FeeDiscountsUpdated(address indexed previous, address indexed current);

    /// @notice The two fee recipients; each one's share is collected on its own.
    enum FeeKind {
        Treasury,
        Stakers
    }

    error PaymentEscrowZeroAddress();
    error PaymentEscrowUnauthorized(address caller);
    error PaymentEscrowTokenNotAllowed(address token);
    error PaymentEscrowInvalidAmount(uint256 amount);
    error PaymentEscrowValueMismatch(uint256 expected, uint256 sent);
    error PaymentEscrowTransferMismatch(address token, uint256 expected, uint256 received);
    error PaymentEscrowAlreadyLocked(address locker, uint256 id);
    error PaymentEscrowNotLocked(address locker, uint256 id);
    error PaymentEscrowPaymentExceedsDeposit(address locker, uint256 id, uint256 payment, uint256 deposit);
    error PaymentEscrowInsufficientBalance(address account, address token, uint256 balance, uint256 requested);
    error PaymentEscrowInvalidFeeSplit(uint16 hostBps, uint16 treasuryBps, uint16 stakersBps);
    error PaymentEscrowNativeTransferFailed(address to, uint256 amount);
    /// @notice A top-up in another token than the lock's.
    error PaymentEscrowTokenMismatch(uint256 id, address locked, address given);

    /// @notice Locks `amount` of `token` under the caller's `id`, taken from `payer` (ERC-20,
    /// which must have approved the escrow) or from `msg.value` (ETH). Only allowed lockers.
    function lock(uint256 id, address payer, address token, uint256 amount) external payable;

    /// @notice Adds `amount` of `token` to the caller's existing lock `id`, as `lock` takes it.
    function topUp(uint256 id, address payer, address token, uint256 amount) external payable;

    /// @notice Pays `payment` out of the caller's lock `id` (split between host, treasury and
    /// stakers) and keeps the rest locked. `feeDiscountBps` is the host's discount on the
    /// treasury's share, fixed by the locker (a session fixes it at opening, as it fixes the
    /// price); the escrow bounds it to MAX_FEE_DISCOUNT_BPS.
    function pay(uint256 id, address host, uint256 payment, uint16 feeDiscountBps) external;

    /// @notice Pays `payment` out of the caller's lock `id` (split between host, treasury and
    /// stakers, at the host's current fee discount, asked of the fee-discount source), credits
    /// the rest to `renter` and closes the lock.
    function release(uint256 id, address host, address renter, uint256 payment) external;

    /// @notice As `release`, at a fee discount the locker fixed (bounded to MAX_FEE_DISCOUNT_BPS)
    /// instead of the host's current one.
    function releaseAt(uint256 id, address host, address renter, uint256 payment, uint16 feeDiscountBps) external;

    /// @notice Credits the whole of the caller's lock `id` back to `renter` and closes it.
    function refund(uint256 id, address renter) external;

    /// @notice The token and amount `locker` holds under `id` (amount 0 when nothing is locked).
    function lockOf(address locker, uint256 id) external view returns (address token, uint256 amount);

    /// @notice Whether `token` may be used for payment (the native coin always may).
    function isTokenAllowed(address token) external view returns (bool);
}
