// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStakeObserver} from "../token/IFABCustody.sol";

/// @title TestStakeObserver
/// @notice Test-only observer of the registry's stake changes: records the last stake it heard
/// for each host (the StakersPool is the real observer).
contract TestStakeObserver is IStakeObserver {
    mapping(address host => uint256) public stakeOf;

    function onHostStakeChanged(address host, uint256 stake) external {
        stakeOf[host] = stake;
    }
}
