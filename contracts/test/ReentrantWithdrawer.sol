// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PaymentEscrow} from "../escrow/PaymentEscrow.sol";

/// @title ReentrantWithdrawer
/// @notice Test-only account that tries to withdraw again from inside its ETH
/// receive hook; the escrow's reentrancy guard must make the outer withdrawal fail.
contract ReentrantWithdrawer {
    PaymentEscrow public immutable escrow;

    constructor(PaymentEscrow escrow_) {
        escrow = escrow_;
    }

    function withdraw(uint256 amount) external {
        escrow.withdraw(address(0), amount, address(this));
    }

    receive() external payable {
        escrow.withdraw(address(0), msg.value, address(this));
    }
}
