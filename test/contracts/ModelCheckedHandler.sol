// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

/// @notice Shared bookkeeping of the invariant handlers: every action's outcome is compared
/// with the handler's model of the contracts; a disagreement in either direction is a
/// violation (failOnRevert is off, so a handler must never rely on reverts being reported).
abstract contract ModelCheckedHandler is CommonBase, StdCheats, StdUtils {
    uint256 public violations;
    string public firstViolation;
    mapping(bytes32 action => uint256) public successes;
    mapping(bytes32 action => uint256) public failures;
    mapping(bytes32 action => bytes4) public lastFailure;

    function _record(bytes32 action, bool expectOk, bool ok, bytes memory err) internal {
        if (ok) successes[action]++;
        else failures[action]++;
        if (!ok && err.length >= 4) lastFailure[action] = bytes4(err);
        if (ok != expectOk) {
            _violate(
                string.concat(
                    _name(action),
                    ok ? ": succeeded, the model says it must revert" : ": reverted, the model says it must succeed"
                ),
                err
            );
        }
    }

    function _violate(string memory what, bytes memory err) internal {
        if (violations++ == 0) {
            firstViolation = err.length >= 4
                ? string.concat(what, " (revert selector ", vm.toString(bytes4(err)), ")")
                : what;
        }
    }

    function _name(bytes32 action) internal pure returns (string memory) {
        uint256 len;
        while (len < 32 && action[len] != 0) ++len;
        bytes memory b = new bytes(len);
        for (uint256 i; i < len; ++i) {
            b[i] = action[i];
        }
        return string(b);
    }
}
