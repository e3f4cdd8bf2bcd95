// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISessionManager} from "../../contracts/sessions/ISessionManager.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";

/// @notice Fuzz tests of the SessionManager's accounting and authorization: exact payouts and
/// refunds for any deposit, receipt and fee split; receipts accepted from the renter or its
/// signer only; the close window's edges; a deposit spent and topped up again.
contract SessionManagerFuzzTest is FabstirTestBase {
    uint64 internal constant ETH_PRICE = 1e9;
    uint64 internal constant USD_PRICE = 3;

    address internal host = makeAddr("host");
    address internal renter;
    uint256 internal renterKey;
    address internal gateway;
    uint256 internal gatewayKey;

    /// @dev The salt of the latest session `_open` opened (each open takes the next).
    uint64 internal salt;

    function setUp() public {
        _deploySystem();
        (renter, renterKey) = makeAddrAndKey("renter");
        (gateway, gatewayKey) = makeAddrAndKey("gateway");
        _fundHost(host, MIN_STAKE);
        _register(host, MIN_STAKE, ETH_PRICE, USD_PRICE);
        _fundRenter(renter, type(uint96).max, type(uint96).max);
    }

    // ---------------------------------------------------------------- helpers

    function _open(address token, uint256 deposit, address signer) internal returns (uint256 id, ISessionManager.Session memory t) {
        uint64 price = token == ETH ? ETH_PRICE : USD_PRICE;
        uint64 expiry = uint64(block.timestamp + 1 days);
        vm.prank(renter);
        id = sessions.openSession{value: token == ETH ? deposit : 0}(
            ISessionManager.SessionRequest({
                host: host,
                modelId: MODEL,
                token: token,
                signer: signer,
                maxPricePerToken: price,
                deposit: uint96(deposit),
                expiry: expiry,
                minScore: 0,
                salt: ++salt
            })
        );
        t = ISessionManager.Session({
            renter: renter,
            host: host,
            token: token,
            signer: signer,
            modelId: MODEL,
            pricePerToken: price,
            expiry: expiry,
            feeDiscountBps: 0,
            salt: salt
        });
        assertEq(id, uint256(keccak256(abi.encode(t))), "the id is the terms' hash");
    }

    function _receipt(uint256 id, uint32 tokens, uint256 amount) internal pure returns (ISessionManager.Receipt memory) {
        return ISessionManager.Receipt({sessionId: id, tokens: tokens, amount: uint96(amount), digest: keccak256(abi.encode(id, tokens))});
    }

    function _sign(uint256 key, ISessionManager.Receipt memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, sessions.receiptDigest(r));
        return abi.encodePacked(rr, s, v);
    }

    function _tokenBalance(address token, address account) internal view returns (uint256) {
        return token == ETH ? account.balance : usd.balanceOf(account);
    }

    // ---------------------------------------------------------------- payouts

    /// Any deposit, checkpointed amount, final receipt (or none) and fee split: the host, the
    /// treasury and the stakers get exactly the split of the final amount, the renter exactly
    /// the rest of the deposit, and the escrow still holds all of it.
    function testFuzz_close_paysTheLastReceiptExactlyAndRefundsTheRest(
        uint256 depositSeed,
        uint256 midSeed,
        uint256 finalSeed,
        uint256 tSeed,
        uint256 sSeed,
        bool useUsd,
        bool withReceipt
    ) public {
        address token = useUsd ? address(usd) : ETH;
        uint64 price = useUsd ? USD_PRICE : ETH_PRICE;
        uint256 deposit = bound(depositSeed, price, type(uint96).max);
        uint16 t = uint16(bound(tSeed, 0, 2_000));
        uint16 s = uint16(bound(sSeed, 0, 3_000 - t > 2_000 ? 2_000 : 3_000 - t));
        uint16 h = BPS - t - s;
        vm.prank(admin);
        escrow.setFeeSplit(h, t, s);
        (uint256 id, ISessionManager.Session memory terms) = _open(token, deposit, address(0));

        uint256 mid = bound(midSeed, 0, deposit);
        uint256 paid;
        uint256 hostGot;
        if (mid != 0) {
            ISessionManager.Receipt memory r = _receipt(id, 1, mid);
            bytes memory sig = _sign(renterKey, r);
            vm.prank(host);
            sessions.checkpoint(terms, id, r, sig);
            paid = mid;
            hostGot = mid * h / BPS;
        }
        uint256 last = withReceipt && paid < deposit ? bound(finalSeed, paid + 1, deposit) : paid;
        ISessionManager.Receipt memory fin = _receipt(id, 2, last);
        bytes memory finSig = last != paid ? _sign(renterKey, fin) : bytes("");
        vm.prank(host);
        sessions.closeSession(terms, id, fin, finSig);
        hostGot += (last - paid) * h / BPS;

        assertEq(escrow.balanceOf(host, token), hostGot, "host share");
        assertEq(escrow.balanceOf(renter, token), deposit - last, "renter refund");
        (uint256 tf, uint256 sf) = escrow.feesOf(token);
        assertEq(hostGot + tf + sf, last, "shares sum to what was signed");
        assertLe(tf, last * t / BPS, "treasury within its share");
        assertLe(sf, last * s / BPS + 4, "stakers within their share plus dust");
        assertEq(_tokenBalance(token, address(escrow)), deposit, "escrow holds the whole deposit");
        (, uint256 locked) = escrow.lockOf(address(sessions), id);
        assertEq(locked, 0, "no lock left");
        (ISessionManager.SessionStatus status, ISessionManager.SessionState memory st) = sessions.sessionState(id);
        assertEq(uint8(status), uint8(ISessionManager.SessionStatus.Settled));
        assertEq(st.paid, last);
    }

    /// Any sequence of receipts: one is paid iff it raises the amount (without lowering the
    /// tokens) within the deposit; what the escrow paid out is always the latest paid amount,
    /// never more than the deposit, and the lock holds the rest.
    function testFuzz_checkpoint_neverPaysMoreThanTheDeposit(uint256 depositSeed, uint256[8] memory amounts)
        public
    {
        uint256 deposit = bound(depositSeed, ETH_PRICE, 1e24);
        (uint256 id, ISessionManager.Session memory terms) = _open(ETH, deposit, address(0));
        for (uint256 i; i < amounts.length; ++i) {
            _presentReceipt(terms, id, deposit, amounts[i]);
        }
    }

    /// @dev The paid amount and tokens of the session under test (state: too many locals otherwise).
    uint256 internal _paid;
    uint32 internal _tokens;

    function _presentReceipt(ISessionManager.Session memory terms, uint256 id, uint256 deposit, uint256 seed)
        internal
    {
        uint256 amount = bound(seed, 0, deposit + deposit / 4);
        uint32 nextTokens = uint32(bound(seed >> 128, 0, 1_000));
        ISessionManager.Receipt memory r = _receipt(id, nextTokens, amount);
        bool expectOk = amount > _paid && amount <= deposit && nextTokens >= _tokens;
        bytes memory sig = _sign(renterKey, r);
        vm.prank(host);
        (bool ok,) = address(sessions).call(abi.encodeCall(sessions.checkpoint, (terms, id, r, sig)));
        assertEq(ok, expectOk, "accepted iff a later receipt within the deposit");
        if (ok) (_paid, _tokens) = (amount, nextTokens);
        (uint256 tf, uint256 sf) = escrow.feesOf(ETH);
        assertEq(escrow.balanceOf(host, ETH) + tf + sf, _paid, "paid out == latest receipt");
        (, uint256 locked) = escrow.lockOf(address(sessions), id);
        assertEq(locked, deposit - _paid, "lock == deposit - paid");
    }

    // ---------------------------------------------------------------- authorization

    /// A receipt signed by any key is paid iff the key is the renter's or the session's signer.
    function testFuzz_checkpoint_onlyTheRenterOrItsSignerAuthorizes(uint256 keySeed, bool withSigner, bool renterSigns)
        public
    {
        uint256 key = renterSigns ? renterKey : bound(keySeed, 1, 2 ** 128);
        (uint256 id, ISessionManager.Session memory terms) = _open(ETH, 1e15, withSigner ? gateway : address(0));
        if (withSigner && keySeed % 3 == 0) key = gatewayKey;
        address signedBy = vm.addr(key);
        ISessionManager.Receipt memory r = _receipt(id, 10, 1e12);
        bool expectOk = signedBy == renter || (withSigner && signedBy == gateway);
        bytes memory sig = _sign(key, r);
        if (!expectOk) {
            vm.expectRevert(abi.encodeWithSelector(ISessionManager.SessionManagerBadSignature.selector, id));
        }
        vm.prank(host);
        sessions.checkpoint(terms, id, r, sig);
        (, ISessionManager.SessionState memory st) = sessions.sessionState(id);
        assertEq(st.paid, expectOk ? 1e12 : 0);
    }

    // ---------------------------------------------------------------- closing

    /// Settling succeeds exactly from the end of the host's window: after the renter's request,
    /// or after expiry; before, it reverts with CloseWindowOpen and the earliest time.
    function testFuzz_settle_onlyOnceTheWindowHasPassed(uint256 requestSeed, uint256 settleSeed, bool requested)
        public
    {
        (uint256 id, ISessionManager.Session memory terms) = _open(ETH, 1e15, address(0));
        uint256 afterExpiry = uint256(terms.expiry) + CLOSE_WINDOW;
        uint256 closeAt;
        if (requested) {
            vm.warp(bound(requestSeed, block.timestamp, afterExpiry + 1 days));
            vm.prank(renter);
            sessions.requestClose(terms, id);
            closeAt = block.timestamp + CLOSE_WINDOW;
        }
        // One time in two exactly at an edge (or a second before it), where off-by-one bugs live.
        uint256 edge = settleSeed % 4 < 2 && closeAt != 0 ? closeAt : afterExpiry;
        uint256 settleAt = settleSeed % 2 == 0 ? edge - (settleSeed >> 2) % 2 : bound(settleSeed, 0, afterExpiry + 2 days);
        vm.warp(settleAt > block.timestamp ? settleAt : block.timestamp);
        bool due = (closeAt != 0 && block.timestamp >= closeAt) || block.timestamp >= afterExpiry;
        if (!due) {
            uint256 until = closeAt != 0 && closeAt < afterExpiry ? closeAt : afterExpiry;
            vm.expectRevert(
                abi.encodeWithSelector(ISessionManager.SessionManagerCloseWindowOpen.selector, id, uint64(until))
            );
        }
        sessions.settle(terms, id);
        if (!due) return;
        assertEq(escrow.balanceOf(renter, ETH), 1e15, "whole deposit refunded");
        vm.expectRevert(
            abi.encodeWithSelector(
                ISessionManager.SessionManagerInvalidState.selector, id, ISessionManager.SessionStatus.Settled
            )
        );
        sessions.settle(terms, id);
    }

    /// A session whose receipts spent its whole deposit is locked again by a top-up, and the
    /// escrow's lock always equals deposit - paid.
    function testFuzz_topUp_relocksASpentDeposit(uint256 depositSeed, uint256 moreSeed, uint256 lastSeed) public {
        uint256 deposit = bound(depositSeed, USD_PRICE, type(uint96).max / 2);
        uint256 more = bound(moreSeed, 1, type(uint96).max / 2);
        (uint256 id, ISessionManager.Session memory terms) = _open(address(usd), deposit, address(0));
        ISessionManager.Receipt memory all = _receipt(id, 1, deposit);
        bytes memory sig = _sign(renterKey, all);
        vm.prank(host);
        sessions.checkpoint(terms, id, all, sig);
        (, uint256 locked) = escrow.lockOf(address(sessions), id);
        assertEq(locked, 0);
        vm.prank(renter);
        sessions.topUp(terms, id, uint96(more));
        (, locked) = escrow.lockOf(address(sessions), id);
        assertEq(locked, more, "top-up relocked");
        uint256 last = bound(lastSeed, deposit + 1, deposit + more);
        ISessionManager.Receipt memory fin = _receipt(id, 2, last);
        sig = _sign(renterKey, fin);
        vm.prank(host);
        sessions.closeSession(terms, id, fin, sig);
        assertEq(escrow.balanceOf(renter, address(usd)), deposit + more - last, "refund of the top-up's rest");
        assertEq(usd.balanceOf(address(escrow)), deposit + more, "escrow holds both deposits");
    }
}
