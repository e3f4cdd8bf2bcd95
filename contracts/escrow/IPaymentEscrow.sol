// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IPaymentEscrow
/// @notice Events, errors and the marketplace-facing API of the PaymentEscrow.
/// @dev The native coin (ETH) is represented by `address(0)` everywhere.
interface IPaymentEscrow {
    /// @notice A job's deposit was locked.
    event FundsLocked(uint256 indexed jobId, address indexed payer, address indexed token, uint256 amount);
    /// @notice A job was paid: `payment` split into host, treasury and stakers shares; `refund` credited to the renter.
    event PaymentReleased(
        uint256 indexed jobId,
        address indexed host,
        address indexed token,
        address renter,
        uint256 hostAmount,
        uint256 treasuryAmount,
        uint256 stakersAmount,
        uint256 refund
    );
    /// @notice A job's whole deposit was credited back to the renter.
    event FundsRefunded(uint256 indexed jobId, address indexed renter, address indexed token, uint256 amount);
    /// @notice `account` withdrew `amount` of its balance.
    event Withdrawn(address indexed account, address indexed token, address indexed to, uint256 amount);
    /// @notice Accrued protocol and staker fees were sent to the treasury and the stakers pool.
    event FeesCollected(
        address indexed token, address treasury, uint256 treasuryAmount, address stakersPool, uint256 stakersAmount
    );
    event FeeSplitUpdated(uint16 hostBps, uint16 treasuryBps, uint16 stakersBps);
    event TokenAllowanceUpdated(address indexed token, bool allowed);
    event TreasuryUpdated(address indexed previous, address indexed current);
    event StakersPoolUpdated(address indexed previous, address indexed current);
    event MarketplaceUpdated(address indexed previous, address indexed current);

    error PaymentEscrowZeroAddress();
    error PaymentEscrowUnauthorized(address caller);
    error PaymentEscrowTokenNotAllowed(address token);
    error PaymentEscrowInvalidAmount(uint256 amount);
    error PaymentEscrowValueMismatch(uint256 expected, uint256 sent);
    error PaymentEscrowTransferMismatch(address token, uint256 expected, uint256 received);
    error PaymentEscrowJobAlreadyLocked(uint256 jobId);
    error PaymentEscrowJobNotLocked(uint256 jobId);
    error PaymentEscrowPaymentExceedsDeposit(uint256 jobId, uint256 payment, uint256 deposit);
    error PaymentEscrowInsufficientBalance(address account, address token, uint256 balance, uint256 requested);
    error PaymentEscrowInvalidFeeSplit(uint16 hostBps, uint16 treasuryBps, uint16 stakersBps);
    error PaymentEscrowNativeTransferFailed(address to, uint256 amount);

    /// @notice Locks `amount` of `token` for `jobId`, taken from `payer` (ERC-20) or from `msg.value` (ETH).
    function lock(uint256 jobId, address payer, address token, uint256 amount) external payable;

    /// @notice Pays `payment` out of `jobId`'s deposit (split between host, treasury and stakers)
    /// and credits the rest of the deposit to `renter`.
    function release(uint256 jobId, address host, address renter, uint256 payment) external;

    /// @notice Credits `jobId`'s whole deposit back to `renter`.
    function refund(uint256 jobId, address renter) external;

    /// @notice The token and amount locked for `jobId` (amount 0 when nothing is locked).
    function lockOf(uint256 jobId) external view returns (address token, uint256 amount);

    /// @notice Whether `token` may be used for payment (the native coin always may).
    function isTokenAllowed(address token) external view returns (bool);
}
