// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

interface IPoolForReentrantHost {
    function claim(address[] calldata tokens, address to) external;
    function onHostStakeChanged(address host, uint256 activeStake) external;
}

/// @title ReentrantPoolHost
/// @notice Test-only attacker: a host contract that is also the pool's registry (as a real
/// registry would report its unstake), and that lowers its stake from inside a claim's ETH
/// payment, to be paid the claim's next token at its old shares. The pool must refuse.
contract ReentrantPoolHost {
    IPoolForReentrantHost public immutable pool;

    constructor(address pool_) {
        pool = IPoolForReentrantHost(pool_);
    }

    function report(uint256 activeStake) external {
        pool.onHostStakeChanged(address(this), activeStake);
    }

    function claim(address[] calldata tokens) external {
        pool.claim(tokens, address(this));
    }

    receive() external payable {
        pool.onHostStakeChanged(address(this), 0);
    }
}
