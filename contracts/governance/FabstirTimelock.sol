// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TimelockControllerUpgradeable} from
    "@openzeppelin/contracts-upgradeable/governance/TimelockControllerUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/// @title FabstirTimelock
/// @notice OpenZeppelin's TimelockController, the holder of every admin and upgrader role in the
/// protocol once deployment hands them over: whatever governance decides waits `minDelay` here
/// before anyone may execute it. The FabstirGovernor is its only proposer and canceller;
/// anyone may execute a ready operation.
/// @dev UUPS upgradeable like the rest of the protocol: only the timelock itself (that is, a
/// passed and queued proposal) may upgrade it. Nothing here but OpenZeppelin's code and that rule.
contract FabstirTimelock is TimelockControllerUpgradeable, UUPSUpgradeable {
    /// @notice Only the timelock itself (an executed proposal) may upgrade it.
    error FabstirTimelockUnauthorizedUpgrade(address caller);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    // initialize(minDelay, proposers, executors, admin) is TimelockControllerUpgradeable's own;
    // `admin` is an optional bootstrap admin that wires the governor in and then renounces.

    function _authorizeUpgrade(address) internal view override {
        if (msg.sender != address(this)) revert FabstirTimelockUnauthorizedUpgrade(msg.sender);
    }
}
