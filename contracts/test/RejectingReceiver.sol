// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title RejectingReceiver
/// @notice Test-only recipient that refuses every ETH transfer (e.g. a treasury that cannot
/// receive the native coin), to prove it cannot block payouts owed to anyone else.
contract RejectingReceiver {
    error RejectingReceiverRefused();

    receive() external payable {
        revert RejectingReceiverRefused();
    }
}
