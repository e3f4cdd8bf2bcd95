// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {IPaymentEscrow} from "../../contracts/escrow/IPaymentEscrow.sol";
import {FeeOnTransferToken} from "../../contracts/test/FeeOnTransferToken.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";

/// @notice Fuzz tests of the PaymentEscrow's own API. The marketplace is the only caller allowed to
/// lock and release, so these tests prank the (real, proxied) marketplace to drive the escrow with
/// amounts the marketplace itself would never produce (up to the uint96 lock limit).
contract PaymentEscrowFuzzTest is FabstirTestBase {
    address internal payer = makeAddr("payer");
    address internal host = makeAddr("host");
    address internal renter = makeAddr("renter");

    function setUp() public {
        _deploySystem();
        vm.prank(payer);
        usd.approve(address(escrow), type(uint256).max);
    }

    // ---------------------------------------------------------------- helpers

    function _token(bool useUsd) internal view returns (address) {
        return useUsd ? address(usd) : ETH;
    }

    function _tokenBalance(address token, address account) internal view returns (uint256) {
        return token == ETH ? account.balance : usd.balanceOf(account);
    }

    /// @dev Locks `amount` for `jobId` as the marketplace would (funding the payer or the marketplace first).
    function _lock(uint256 jobId, address token, uint256 amount) internal {
        if (token == ETH) {
            vm.deal(address(marketplace), amount);
            vm.prank(address(marketplace));
            escrow.lock{value: amount}(jobId, payer, ETH, amount);
        } else {
            usd.mint(payer, amount);
            vm.prank(address(marketplace));
            escrow.lock(jobId, payer, token, amount);
        }
    }

    /// @dev A random split that setFeeSplit accepts: treasury, stakers <= 2000 and host >= 7000.
    function _validSplit(uint256 tSeed, uint256 sSeed) internal pure returns (uint16 h, uint16 t, uint16 s) {
        t = uint16(bound(tSeed, 0, 2_000));
        s = uint16(bound(sSeed, 0, 3_000 - t > 2_000 ? 2_000 : 3_000 - t));
        h = BPS - t - s;
    }

    // ---------------------------------------------------------------- release / refund

    /// Any split within bounds: host, treasury and stakers shares sum exactly to `payment`, each
    /// share is its bps of the payment (stakers get at most 2 wei of rounding dust) and the renter
    /// is credited exactly `deposit - payment`; the escrow still holds the whole deposit.
    function testFuzz_release_splitSumsToPaymentAndRefundsTheRest(
        uint256 depositSeed,
        uint256 paymentSeed,
        uint256 tSeed,
        uint256 sSeed,
        uint256 jobId,
        bool useUsd
    ) public {
        uint256 deposit = bound(depositSeed, 1, type(uint96).max);
        uint256 payment = bound(paymentSeed, 0, deposit);
        (uint16 hBps, uint16 tBps, uint16 sBps) = _validSplit(tSeed, sSeed);
        vm.prank(admin);
        escrow.setFeeSplit(hBps, tBps, sBps);
        address token = _token(useUsd);

        _lock(jobId, token, deposit);
        vm.prank(address(marketplace));
        escrow.release(jobId, host, renter, payment);

        uint256 hostAmount = escrow.balanceOf(host, token);
        (uint256 treasuryFees, uint256 stakersFees) = escrow.feesOf(token);
        assertEq(hostAmount, payment * hBps / BPS, "host share");
        assertEq(treasuryFees, payment * tBps / BPS, "treasury share");
        assertEq(hostAmount + treasuryFees + stakersFees, payment, "shares sum to the payment");
        assertGe(stakersFees, payment * sBps / BPS, "stakers get at least their share");
        assertLe(stakersFees, payment * sBps / BPS + 2, "stakers get at most 2 wei of dust");
        assertEq(escrow.balanceOf(renter, token), deposit - payment, "renter refund");
        assertEq(_lockedAmount(jobId), 0, "lock cleared");
        assertEq(_tokenBalance(token, address(escrow)), deposit, "escrow still holds the whole deposit");
    }

    /// A refund credits the whole deposit to the renter and clears the lock; a second refund or
    /// release of the same job reverts (no double payout).
    function testFuzz_refund_creditsWholeDepositOnce(uint256 depositSeed, uint256 jobId, bool useUsd) public {
        uint256 deposit = bound(depositSeed, 1, type(uint96).max);
        address token = _token(useUsd);
        _lock(jobId, token, deposit);
        (address lockedToken, uint256 locked) = escrow.lockOf(address(marketplace), jobId);
        assertEq(lockedToken, token);
        assertEq(locked, deposit);

        vm.prank(address(marketplace));
        escrow.refund(jobId, renter);
        assertEq(escrow.balanceOf(renter, token), deposit);
        assertEq(_lockedAmount(jobId), 0);

        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowNotLocked.selector, address(marketplace), jobId));
        vm.prank(address(marketplace));
        escrow.refund(jobId, renter);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowNotLocked.selector, address(marketplace), jobId));
        vm.prank(address(marketplace));
        escrow.release(jobId, host, renter, 0);
        assertEq(escrow.balanceOf(renter, token), deposit, "still credited once");
    }

    function testFuzz_release_revertsWhenPaymentExceedsDeposit(uint256 depositSeed, uint256 paymentSeed, uint256 jobId)
        public
    {
        uint256 deposit = bound(depositSeed, 1, type(uint96).max);
        uint256 payment = bound(paymentSeed, deposit + 1, type(uint256).max);
        _lock(jobId, ETH, deposit);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentEscrow.PaymentEscrowPaymentExceedsDeposit.selector, address(marketplace), jobId, payment, deposit
            )
        );
        vm.prank(address(marketplace));
        escrow.release(jobId, host, renter, payment);
        assertEq(_lockedAmount(jobId), deposit, "lock kept");
    }

    // ---------------------------------------------------------------- lock

    function testFuzz_lock_rejectsInvalidAmount(uint256 amountSeed, bool zero) public {
        uint256 amount = zero ? 0 : bound(amountSeed, uint256(type(uint96).max) + 1, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowInvalidAmount.selector, amount));
        vm.prank(address(marketplace));
        escrow.lock(1, payer, ETH, amount);
    }

    function testFuzz_lock_ethRequiresExactValue(uint256 amountSeed, uint256 valueSeed) public {
        uint256 amount = bound(amountSeed, 1, type(uint96).max);
        uint256 value = bound(valueSeed, 0, uint256(type(uint96).max) * 2);
        vm.assume(value != amount);
        vm.deal(address(marketplace), value);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowValueMismatch.selector, amount, value));
        vm.prank(address(marketplace));
        escrow.lock{value: value}(7, payer, ETH, amount);
    }

    function testFuzz_lock_erc20RejectsValue(uint256 amountSeed, uint256 valueSeed) public {
        uint256 amount = bound(amountSeed, 1, type(uint96).max);
        uint256 value = bound(valueSeed, 1, type(uint96).max);
        usd.mint(payer, amount);
        vm.deal(address(marketplace), value);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowValueMismatch.selector, 0, value));
        vm.prank(address(marketplace));
        escrow.lock{value: value}(7, payer, address(usd), amount);
    }

    function testFuzz_lock_rejectsDisallowedToken(address token, uint256 amountSeed) public {
        vm.assume(token != ETH && token != address(usd));
        uint256 amount = bound(amountSeed, 1, type(uint96).max);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowTokenNotAllowed.selector, token));
        vm.prank(address(marketplace));
        escrow.lock(7, payer, token, amount);
    }

    /// A fee-on-transfer token delivers less than asked: the lock is refused with the measured amount.
    function testFuzz_lock_rejectsShortTransfers(uint256 amountSeed) public {
        uint256 amount = bound(amountSeed, 100, type(uint96).max);
        FeeOnTransferToken feeToken = new FeeOnTransferToken();
        vm.prank(admin);
        escrow.setTokenAllowed(address(feeToken), true);
        feeToken.mint(payer, amount);
        vm.prank(payer);
        feeToken.approve(address(escrow), amount);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentEscrow.PaymentEscrowTransferMismatch.selector, address(feeToken), amount, amount - amount / 100
            )
        );
        vm.prank(address(marketplace));
        escrow.lock(7, payer, address(feeToken), amount);
    }

    function testFuzz_lock_rejectsSecondLockOfSameJob(uint256 jobId, uint256 firstSeed, uint256 secondSeed) public {
        uint256 first = bound(firstSeed, 1, type(uint96).max);
        uint256 second = bound(secondSeed, 1, type(uint96).max);
        _lock(jobId, ETH, first);
        vm.deal(address(marketplace), second);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowAlreadyLocked.selector, address(marketplace), jobId));
        vm.prank(address(marketplace));
        escrow.lock{value: second}(jobId, payer, ETH, second);
        assertEq(_lockedAmount(jobId), first);
    }

    /// Only allowed lockers lock; every other caller's release and refund address its own
    /// (empty) key space, so nobody but the marketplace moves the marketplace's deposits.
    function testFuzz_onlyTheLockerMovesItsDeposits(address caller, uint256 jobId) public {
        vm.assume(caller != address(marketplace) && caller != address(escrow));
        assumeNotForgeAddress(caller);
        assumeNotPrecompile(caller);
        _lock(jobId, ETH, 1 ether);
        vm.deal(caller, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowUnauthorized.selector, caller));
        vm.prank(caller);
        escrow.lock{value: 1 ether}(jobId ^ 1, caller, ETH, 1 ether);
        bytes memory notLocked = abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowNotLocked.selector, caller, jobId);
        vm.expectRevert(notLocked);
        vm.prank(caller);
        escrow.release(jobId, caller, caller, 0);
        vm.expectRevert(notLocked);
        vm.prank(caller);
        escrow.refund(jobId, caller);
        vm.expectRevert(notLocked);
        vm.prank(caller);
        escrow.pay(jobId, caller, 1, 0);
        assertEq(_lockedAmount(jobId), 1 ether);
    }

    // ---------------------------------------------------------------- withdraw / fees

    /// Withdrawals move exactly the requested amount out of the caller's balance; more than the
    /// balance reverts with the balance and the request.
    function testFuzz_withdraw_movesExactAmounts(uint256 depositSeed, uint256 firstSeed, uint256 extraSeed, bool useUsd)
        public
    {
        uint256 deposit = bound(depositSeed, 1, type(uint96).max);
        uint256 first = bound(firstSeed, 1, deposit);
        uint256 extra = bound(extraSeed, 1, type(uint96).max);
        address token = _token(useUsd);
        address to = makeAddr("recipient");
        _lock(1, token, deposit);
        vm.prank(address(marketplace));
        escrow.refund(1, renter);

        vm.prank(renter);
        escrow.withdraw(token, first, to);
        assertEq(_tokenBalance(token, to), first, "recipient got the amount");
        assertEq(escrow.balanceOf(renter, token), deposit - first, "balance reduced");
        assertEq(_tokenBalance(token, address(escrow)), deposit - first, "escrow paid out");

        uint256 remaining = deposit - first;
        uint256 tooMuch = remaining + extra;
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentEscrow.PaymentEscrowInsufficientBalance.selector, renter, token, remaining, tooMuch
            )
        );
        vm.prank(renter);
        escrow.withdraw(token, tooMuch, to);
    }

    function testFuzz_withdraw_blockedWhilePaused(uint256 depositSeed) public {
        uint256 deposit = bound(depositSeed, 1, type(uint96).max);
        _lock(1, ETH, deposit);
        vm.prank(address(marketplace));
        escrow.refund(1, renter);
        vm.prank(admin);
        escrow.pause();
        vm.expectRevert(PausableUpgradeable.EnforcedPause.selector);
        vm.prank(renter);
        escrow.withdraw(ETH, deposit, renter);
        vm.prank(admin);
        escrow.unpause();
        vm.prank(renter);
        escrow.withdraw(ETH, deposit, renter);
        assertEq(renter.balance, deposit);
    }

    /// collectFees sends exactly the accrued fees of several releases and zeroes them.
    function testFuzz_collectFees_sendsAccruedFees(
        uint256 aSeed,
        uint256 bSeed,
        uint256 tSeed,
        uint256 sSeed,
        bool useUsd
    ) public {
        address token = _token(useUsd);
        uint256 a = bound(aSeed, 1, type(uint96).max / 2);
        uint256 b = bound(bSeed, 1, type(uint96).max / 2);
        _lock(1, token, a);
        vm.prank(address(marketplace));
        escrow.release(1, host, renter, a);
        (uint16 hBps, uint16 tBps, uint16 sBps) = _validSplit(tSeed, sSeed);
        vm.prank(admin);
        escrow.setFeeSplit(hBps, tBps, sBps);
        _lock(2, token, b);
        vm.prank(address(marketplace));
        escrow.release(2, host, renter, b);

        uint256 expectedTreasury = a * 1_000 / BPS + b * tBps / BPS;
        uint256 expectedStakers = (a - a * 8_500 / BPS - a * 1_000 / BPS) + (b - b * hBps / BPS - b * tBps / BPS);
        escrow.collectFees(token, IPaymentEscrow.FeeKind.Treasury);
        escrow.collectFees(token, IPaymentEscrow.FeeKind.Stakers);
        assertEq(_tokenBalance(token, treasury), expectedTreasury, "treasury");
        assertEq(_tokenBalance(token, stakersPool), expectedStakers, "stakers");
        (uint256 tf, uint256 sf) = escrow.feesOf(token);
        assertEq(tf + sf, 0, "fees cleared");
        assertEq(
            _tokenBalance(token, address(escrow)),
            escrow.balanceOf(host, token) + escrow.balanceOf(renter, token),
            "escrow keeps exactly the withdrawable balances"
        );
    }

    // ---------------------------------------------------------------- admin

    /// setFeeSplit accepts exactly the splits that sum to 10000 with host >= 7000 and each fee <= 2000.
    function testFuzz_setFeeSplit_acceptsExactlyTheValidSplits(uint16 h, uint16 t, uint16 s, bool sumTo10000) public {
        if (sumTo10000) {
            h = uint16(bound(h, 0, BPS));
            t = uint16(bound(t, 0, BPS - h));
            s = BPS - h - t;
        }
        bool valid = uint256(h) + t + s == BPS && h >= 7_000 && t <= 2_000 && s <= 2_000;
        if (!valid) {
            vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowInvalidFeeSplit.selector, h, t, s));
        }
        vm.prank(admin);
        escrow.setFeeSplit(h, t, s);
        (uint16 hh, uint16 tt, uint16 ss) = escrow.feeSplit();
        if (valid) {
            assertEq(abi.encode(hh, tt, ss), abi.encode(h, t, s));
        } else {
            assertEq(abi.encode(hh, tt, ss), abi.encode(uint16(8_500), uint16(1_000), uint16(500)), "unchanged");
        }
    }
}
