// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PaymentEscrow} from "../escrow/PaymentEscrow.sol";
import {IJobMarketplace} from "../marketplace/IJobMarketplace.sol";
import {JobMarketplace} from "../marketplace/JobMarketplace.sol";

/// @title ReentrantWithdrawer
/// @notice Test-only renter contract that, when paid ETH by the escrow, tries to
/// withdraw again from inside its receive hook; the escrow's reentrancy guard must
/// make the outer withdrawal fail.
contract ReentrantWithdrawer {
    PaymentEscrow public immutable escrow;

    constructor(PaymentEscrow escrow_) {
        escrow = escrow_;
    }

    /// @notice Posts an ETH job as the renter (so a cancel credits this contract).
    function post(JobMarketplace marketplace, IJobMarketplace.JobRequest calldata r)
        external
        payable
        returns (uint256)
    {
        return marketplace.postJob{value: msg.value}(r);
    }

    function cancel(JobMarketplace marketplace, uint256 jobId) external {
        marketplace.cancelJob(jobId);
    }

    function withdraw(uint256 amount) external {
        escrow.withdraw(address(0), amount, address(this));
    }

    receive() external payable {
        escrow.withdraw(address(0), msg.value, address(this));
    }
}
