// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ProofSystem} from "../proofs/ProofSystem.sol";

/// @title ProofSystemV2
/// @notice Test-only upgrade target: proves the ProofSystem's state survives a UUPS upgrade.
contract ProofSystemV2 is ProofSystem {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address marketplace_, address sessions_, address escrow_)
        ProofSystem(marketplace_, sessions_, escrow_)
    {}

    function version() external pure returns (string memory) {
        return "2";
    }
}
