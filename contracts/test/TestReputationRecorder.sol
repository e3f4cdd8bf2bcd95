// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IReputationSystem} from "../reputation/IReputationSystem.sol";

/// @title TestReputationRecorder
/// @notice Test-only stand-in for the ReputationSystem's recorder API: records offences as
/// events and returns a fixed slash, so the ProofSystem's challenge outcomes can be tested on
/// their own. It can be set to revert, or to burn all its gas, to test that a failing
/// reputation system never keeps a challenge from ending. Never deploy it.
contract TestReputationRecorder {
    /// @notice How the double answers recordOffence.
    enum Mode {
        Record,
        Revert,
        BurnGas
    }

    /// @notice An offence was recorded (what the real system would slash for).
    event OffenceRecorded(
        IReputationSystem.Offence indexed offence, address indexed host, address indexed wronged, bytes32 ref, uint256 slashed
    );

    error TestReputationRecorderRefused();

    /// @notice The FAB reported as slashed per offence.
    uint256 public constant SLASH = 100e18;

    Mode public mode;
    uint256 public offences;
    mapping(address host => uint256) public offencesOf;

    /// @notice Sets how recordOffence answers.
    function setMode(Mode m) external {
        mode = m;
    }

    /// @notice Records an offence (or fails, as the mode says) and reports SLASH as slashed.
    function recordOffence(IReputationSystem.Offence offence, address host, address wronged, bytes32 ref)
        external
        returns (uint256 slashed)
    {
        if (mode == Mode.Revert) revert TestReputationRecorderRefused();
        if (mode == Mode.BurnGas) {
            uint256 x;
            while (true) x++;
        }
        offences++;
        offencesOf[host]++;
        emit OffenceRecorded(offence, host, wronged, ref, SLASH);
        return SLASH;
    }
}
