// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The FAB token's custody: contracts holding CUSTODIAN_ROLE take FAB for its owners and
/// give it back without taking their votes (see FABToken).
interface IFABCustody {
    /// @notice Takes `amount` FAB from `owner` (who approved the caller); the owner keeps the votes.
    function custodyIn(address owner, uint256 amount) external;

    /// @notice Pays `amount` FAB held for `owner` to `to` (the owner, or someone else on a slash).
    function custodyOut(address owner, address to, uint256 amount) external;

    /// @notice FAB `custodian` holds for others.
    function heldBy(address custodian) external view returns (uint256);
}

/// @notice Told of every change of a host's active registry stake (the StakersPool counts it).
interface IStakeObserver {
    /// @notice `host`'s active (not unbonding) registry stake is now `stake`.
    function onHostStakeChanged(address host, uint256 stake) external;
}
