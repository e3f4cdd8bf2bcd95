// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title FabstirProxy
/// @notice The ERC-1967 proxy every Fabstir contract is deployed behind (UUPS: the
/// upgrade logic lives in the implementation and is guarded by its UPGRADER_ROLE).
contract FabstirProxy is ERC1967Proxy {
    constructor(address implementation, bytes memory data) payable ERC1967Proxy(implementation, data) {}
}
