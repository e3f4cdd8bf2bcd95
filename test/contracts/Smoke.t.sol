// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

contract SmokeTest is Test {
    function testFuzz_add(uint8 a) public pure {
        assertEq(uint256(a) + 1, uint256(a) + 1);
    }
}
