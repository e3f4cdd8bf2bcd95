// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {JobMarketplace} from "../marketplace/JobMarketplace.sol";

/// @title JobMarketplaceV2
/// @notice Test-only upgrade target: proves state survives a UUPS upgrade.
contract JobMarketplaceV2 is JobMarketplace {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address registry_, address escrow_) JobMarketplace(registry_, escrow_) {}

    function version() external pure returns (string memory) {
        return "2";
    }
}
