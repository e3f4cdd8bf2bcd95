// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPaymentEscrow} from "../../contracts/escrow/IPaymentEscrow.sol";
import {PaymentEscrow} from "../../contracts/escrow/PaymentEscrow.sol";
import {IJobMarketplace} from "../../contracts/marketplace/IJobMarketplace.sol";
import {JobMarketplace} from "../../contracts/marketplace/JobMarketplace.sol";
import {INodeRegistry} from "../../contracts/registry/INodeRegistry.sol";
import {NodeRegistry} from "../../contracts/registry/NodeRegistry.sol";
import {ISessionManager} from "../../contracts/sessions/ISessionManager.sol";
import {SessionManager} from "../../contracts/sessions/SessionManager.sol";
import {TestStablecoin} from "../../contracts/test/TestStablecoin.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";
import {ModelCheckedHandler} from "./ModelCheckedHandler.sol";

/// @notice Signs session receipts as a renter's wallet does (EIP-712, computed here from first
/// principles rather than read from the contract, so a wrong domain or type hash is caught).
abstract contract ReceiptSigner is ModelCheckedHandler {
    bytes32 internal constant RECEIPT_TYPEHASH =
        keccak256("Receipt(uint256 sessionId,uint32 tokens,uint96 amount,bytes32 digest)");
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    function _digest(ISessionManager.Receipt memory r, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Fabstir Sessions"), keccak256("1"), chainId, verifyingContract)
        );
        bytes32 structHash = keccak256(abi.encode(RECEIPT_TYPEHASH, r.sessionId, r.tokens, r.amount, r.digest));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}

/// @notice Drives sessions and jobs side by side through one escrow, with bounded, mostly valid
/// actions, and keeps a model (ghost copy) of every session and job. Each call is checked against
/// the model: a call the model says must succeed that reverts, or one that must revert that
/// succeeds, is a violation, and so is any effect (payout, refund, lock) other than the model's.
contract SessionHandler is ReceiptSigner {
    uint16 internal constant BPS = 10_000;
    bytes32 internal constant MODEL = bytes32("llama-3.1-8b-q4_k_m");
    address internal constant ETH = address(0);
    uint32 internal constant SETTLED = type(uint32).max;

    SessionManager public immutable sessions;
    JobMarketplace public immutable marketplace;
    PaymentEscrow public immutable escrow;
    NodeRegistry public immutable registry;
    TestStablecoin public immutable usd;
    address public immutable admin;
    address public immutable treasury;
    address public immutable stakersPool;

    /// actors[0..2] are registered hosts, actors[2..4] renters (actors[2] is both); `gateway`
    /// only ever signs, as a session's signer.
    address[5] internal actors;
    uint256[5] internal keys;
    address public immutable gateway;
    uint256 internal immutable gatewayKey;

    struct GhostSession {
        ISessionManager.Session terms;
        uint256 deposit;
        uint256 paid;
        uint32 tokens;
        uint32 closeAt;
        uint256 settleCount;
        /// What the escrow paid out for the session (host share + fees), observed call by call.
        uint256 grossPaid;
        /// The highest amount the renter or its signer ever signed for the session.
        uint256 maxSigned;
        /// What the renter was credited back at settlement.
        uint256 refunded;
    }

    struct GhostJob {
        address renter;
        address token;
        address host;
        uint256 deposit;
        uint64 deadline;
        uint64 disputeEndsAt;
        uint32 maxTokens;
        uint32 tokensUsed;
        uint64 maxPrice;
        uint64 price;
        IJobMarketplace.JobStatus status;
        uint256 terminalCount;
    }

    uint256[] internal sessionIds;
    mapping(uint256 sessionId => GhostSession) internal ghosts;
    uint256[] internal jobIds;
    mapping(uint256 jobId => GhostJob) internal jobs;

    uint256 public time;
    mapping(address token => uint256) public withdrawn;
    mapping(address token => uint256) public collected;

    constructor(
        SessionManager sessions_,
        JobMarketplace marketplace_,
        PaymentEscrow escrow_,
        NodeRegistry registry_,
        TestStablecoin usd_,
        address[3] memory roles, // admin, treasury, stakersPool
        address[5] memory actors_,
        uint256[5] memory keys_,
        uint256 gatewayKey_
    ) {
        sessions = sessions_;
        marketplace = marketplace_;
        escrow = escrow_;
        registry = registry_;
        usd = usd_;
        admin = roles[0];
        treasury = roles[1];
        stakersPool = roles[2];
        actors = actors_;
        keys = keys_;
        gatewayKey = gatewayKey_;
        gateway = vm.addr(gatewayKey_);
        time = block.timestamp;
    }

    modifier tick() {
        vm.warp(time);
        _;
    }

    // ---------------------------------------------------------------- views for the invariants

    function sessionCount() external view returns (uint256) {
        return sessionIds.length;
    }

    function sessionIdAt(uint256 i) external view returns (uint256) {
        return sessionIds[i];
    }

    function ghostSession(uint256 id) external view returns (GhostSession memory) {
        return ghosts[id];
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function jobIdAt(uint256 i) external view returns (uint256) {
        return jobIds[i];
    }

    function ghostJob(uint256 id) external view returns (GhostJob memory) {
        return jobs[id];
    }

    function actor(uint256 i) external view returns (address) {
        return actors[i];
    }

    function actorCount() external pure returns (uint256) {
        return 5;
    }

    function isTerminal(IJobMarketplace.JobStatus s) public pure returns (bool) {
        return s == IJobMarketplace.JobStatus.Settled || s == IJobMarketplace.JobStatus.Cancelled
            || s == IJobMarketplace.JobStatus.Expired || s == IJobMarketplace.JobStatus.Refused;
    }

    // ---------------------------------------------------------------- helpers

    function _token(uint256 seed) internal view returns (address) {
        return seed % 2 == 0 ? ETH : address(usd);
    }

    function _host(uint256 seed) internal view returns (address) {
        return actors[seed % 3];
    }

    function _renterIndex(uint256 seed) internal pure returns (uint256) {
        return 2 + seed % 3;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % 5];
    }

    function _keyOf(address account) internal view returns (uint256) {
        for (uint256 i; i < 5; ++i) {
            if (actors[i] == account) return keys[i];
        }
        return 0;
    }

    function _tokenBalance(address token, address account) internal view returns (uint256) {
        return token == ETH ? account.balance : usd.balanceOf(account);
    }

    function _lockOf(address locker, uint256 id) internal view returns (uint256 amount) {
        (, amount) = escrow.lockOf(locker, id);
    }

    /// @dev Escrow balances and fees of `token` that a settlement may move.
    struct Snap {
        uint256 host;
        uint256 renter;
        uint256 treasuryFees;
        uint256 stakersFees;
    }

    function _snap(address host, address renter, address token) internal view returns (Snap memory s) {
        s.host = escrow.balanceOf(host, token);
        s.renter = escrow.balanceOf(renter, token);
        (s.treasuryFees, s.stakersFees) = escrow.feesOf(token);
    }

    /// @dev Checks that `payment` was split with the current fee split and `refund` credited, and
    /// returns the gross amount the escrow paid out (host share + fees).
    function _checkPayout(Snap memory b, Snap memory a, uint256 payment, uint256 refund, string memory what)
        internal
        returns (uint256 gross)
    {
        (uint16 hBps, uint16 tBps,) = escrow.feeSplit();
        uint256 hostAmount = payment * hBps / BPS;
        uint256 treasuryAmount = payment * tBps / BPS;
        if (a.host != b.host + hostAmount) _violate(string.concat(what, ": wrong host share"), "");
        if (a.treasuryFees != b.treasuryFees + treasuryAmount) {
            _violate(string.concat(what, ": wrong treasury fee"), "");
        }
        if (a.stakersFees != b.stakersFees + (payment - hostAmount - treasuryAmount)) {
            _violate(string.concat(what, ": wrong stakers fee"), "");
        }
        if (a.renter != b.renter + refund) _violate(string.concat(what, ": wrong renter refund"), "");
        if (a.host >= b.host && a.treasuryFees >= b.treasuryFees && a.stakersFees >= b.stakersFees) {
            gross = (a.host - b.host) + (a.treasuryFees - b.treasuryFees) + (a.stakersFees - b.stakersFees);
        }
    }

    /// @dev Mostly a session in the wanted state (open, or not settled), sometimes any session.
    function _pickSession(uint256 seed, bool wantOpen) internal view returns (bool found, uint256 id) {
        uint256 n = sessionIds.length;
        if (n == 0) return (false, 0);
        uint256 start = (seed >> 8) % n;
        if (seed % 8 != 0) {
            for (uint256 i; i < n; ++i) {
                uint256 candidate = sessionIds[(start + i) % n];
                uint32 closeAt = ghosts[candidate].closeAt;
                if (wantOpen ? closeAt == 0 : closeAt != SETTLED) return (true, candidate);
            }
        }
        return (true, sessionIds[start]);
    }

    // ---------------------------------------------------------------- receipts

    struct Signed {
        ISessionManager.Receipt receipt;
        bytes signature;
        /// Whether the model says the signature authorizes the receipt for the session.
        bool authorized;
    }

    /// @dev A receipt for session `id`: mostly the next valid one (more tokens, a higher amount
    /// within the deposit), one time in eight each a stale one, one above the deposit, one for
    /// another session, or one with fewer tokens; signed mostly by the renter or the session's
    /// signer, sometimes by another key, over a wrong domain, or with a malformed signature.
    function _receipt(uint256 id, uint256 seed, uint256 signerSeed) internal returns (Signed memory out) {
        GhostSession storage g = ghosts[id];
        ISessionManager.Receipt memory r;
        r.sessionId = id;
        r.digest = keccak256(abi.encode(id, seed));
        uint256 mode = seed % 8;
        uint256 deposit = g.deposit;
        if (mode == 0) {
            r.amount = uint96(bound(seed >> 3, 0, g.paid));
            r.tokens = g.tokens;
        } else if (mode == 1) {
            r.amount = uint96(deposit + bound(seed >> 3, 1, 1e18));
            r.tokens = g.tokens + 1;
        } else if (mode == 2) {
            r.sessionId = id + 1 + (seed >> 3) % 3;
            r.amount = uint96(bound(seed >> 3, g.paid + 1, deposit > g.paid ? deposit : g.paid + 1));
            r.tokens = g.tokens + 1;
        } else if (mode == 3 && g.tokens != 0) {
            r.amount = uint96(bound(seed >> 3, g.paid + 1, deposit > g.paid ? deposit : g.paid + 1));
            r.tokens = g.tokens - 1;
        } else {
            // A valid next receipt; when the deposit is spent there is none (it exceeds the deposit).
            r.amount = uint96(deposit > g.paid ? bound(seed >> 3, g.paid + 1, deposit) : deposit + 1);
            uint256 price = g.terms.pricePerToken;
            uint256 more = (uint256(r.amount) - g.paid) / price;
            r.tokens = uint32(uint256(g.tokens) + (more > 10_000 ? 10_000 : more));
        }
        out.receipt = r;

        bytes32 digest = _digest(r, block.chainid, address(sessions));
        uint256 sMode = signerSeed % 16;
        address renter = g.terms.renter;
        address signer = g.terms.signer;
        if (sMode == 0) {
            out.signature = hex"deadbeef";
        } else if (sMode == 1) {
            // The renter's key over another chain's domain.
            out.signature = _sign(_keyOf(renter), _digest(r, block.chainid + 1, address(sessions)));
        } else if (sMode == 2) {
            // ... or over another contract's domain (the escrow).
            out.signature = _sign(_keyOf(renter), _digest(r, block.chainid, address(escrow)));
        } else {
            uint256 key;
            address by;
            if (sMode < 6) {
                uint256 i = (signerSeed >> 4) % 6;
                (by, key) = i == 5 ? (gateway, gatewayKey) : (actors[i], keys[i]);
            } else if (sMode < 10 && signer != address(0)) {
                (by, key) = (signer, signer == gateway ? gatewayKey : _keyOf(signer));
            } else {
                (by, key) = (renter, _keyOf(renter));
            }
            out.signature = _sign(key, digest);
            out.authorized = by == renter || (signer != address(0) && by == signer);
        }
        // What a valid key signed for this session bounds what the host may ever be paid.
        if (out.authorized && r.sessionId == id && r.amount > g.maxSigned) g.maxSigned = r.amount;
    }

    function _receiptOk(uint256 id, Signed memory s) internal view returns (bool) {
        GhostSession storage g = ghosts[id];
        ISessionManager.Receipt memory r = s.receipt;
        return r.sessionId == id && r.amount > g.paid && r.tokens >= g.tokens && r.amount <= g.deposit
            && s.authorized;
    }

    // ---------------------------------------------------------------- session steps

    function _checkpoint(uint256 id, address caller, Signed memory s) internal {
        GhostSession storage g = ghosts[id];
        bool expectOk = caller == g.terms.host && g.closeAt != SETTLED && _receiptOk(id, s);
        address token = g.terms.token;
        Snap memory b = _snap(g.terms.host, g.terms.renter, token);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(sessions).call(
            abi.encodeCall(sessions.checkpoint, (g.terms, id, s.receipt, s.signature))
        );
        _record("checkpoint", expectOk, ok, err);
        if (!ok || !expectOk) return;
        uint256 increment = s.receipt.amount - g.paid;
        g.grossPaid += _checkPayout(b, _snap(g.terms.host, g.terms.renter, token), increment, 0, "checkpoint");
        g.paid = s.receipt.amount;
        g.tokens = s.receipt.tokens;
        if (_lockOf(address(sessions), id) != g.deposit - g.paid) _violate("checkpoint: lock != deposit - paid", "");
    }

    function _close(uint256 id, address caller, Signed memory s, bool withReceipt) internal {
        GhostSession storage g = ghosts[id];
        bool expectOk = caller == g.terms.host && g.closeAt != SETTLED && (!withReceipt || _receiptOk(id, s));
        address token = g.terms.token;
        Snap memory b = _snap(g.terms.host, g.terms.renter, token);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(sessions).call(
            abi.encodeCall(sessions.closeSession, (g.terms, id, s.receipt, withReceipt ? s.signature : bytes("")))
        );
        _record("closeSession", expectOk, ok, err);
        if (!ok || !expectOk) return;
        uint256 increment;
        if (withReceipt) {
            increment = s.receipt.amount - g.paid;
            g.paid = s.receipt.amount;
            g.tokens = s.receipt.tokens;
        }
        _settled(id, b, increment, "closeSession");
    }

    function _settle(uint256 id, address caller) internal {
        GhostSession storage g = ghosts[id];
        uint256 afterExpiry = uint256(g.terms.expiry) + sessions.closeWindow();
        bool expectOk = g.closeAt != SETTLED && ((g.closeAt != 0 && time >= g.closeAt) || time >= afterExpiry);
        Snap memory b = _snap(g.terms.host, g.terms.renter, g.terms.token);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(sessions).call(abi.encodeCall(sessions.settle, (g.terms, id)));
        _record("settle", expectOk, ok, err);
        if (ok && expectOk) _settled(id, b, 0, "settle");
    }

    /// @dev Checks a settlement's effects against the model and marks the session settled.
    function _settled(uint256 id, Snap memory b, uint256 increment, string memory what) internal {
        GhostSession storage g = ghosts[id];
        uint256 refund = g.deposit - g.paid;
        g.grossPaid += _checkPayout(b, _snap(g.terms.host, g.terms.renter, g.terms.token), increment, refund, what);
        g.refunded += refund;
        g.closeAt = SETTLED;
        g.settleCount++;
        if (_lockOf(address(sessions), id) != 0) _violate(string.concat(what, ": lock left"), "");
        (ISessionManager.SessionStatus status,) = sessions.sessionState(id);
        if (status != ISessionManager.SessionStatus.Settled) _violate(string.concat(what, ": not settled"), "");
    }

    function _requestClose(uint256 id, address caller) internal {
        GhostSession storage g = ghosts[id];
        bool expectOk = caller == g.terms.renter && g.closeAt == 0;
        vm.prank(caller);
        (bool ok, bytes memory err) = address(sessions).call(abi.encodeCall(sessions.requestClose, (g.terms, id)));
        _record("requestClose", expectOk, ok, err);
        if (ok && expectOk) g.closeAt = uint32(time + sessions.closeWindow());
    }

    // ---------------------------------------------------------------- session actions

    function openSession(
        uint256 renterSeed,
        uint256 hostSeed,
        uint256 tokenSeed,
        uint256 signerSeed,
        uint256 depositSeed,
        uint256 durationSeed
    ) external tick {
        uint256 ri = _renterIndex(renterSeed);
        address renter = actors[ri];
        address host = hostSeed % 16 == 0 ? renter : _host(hostSeed >> 4);
        address token = _token(tokenSeed);
        uint256 sMode = signerSeed % 4;
        address signer = sMode == 0 ? gateway : sMode == 1 ? _actor(signerSeed >> 2) : address(0);
        uint64 price = registry.priceOf(host, MODEL, token);
        uint64 unit = token == ETH ? 3e9 : 30;
        // Mostly at or above the hosts' prices, one time in eight below.
        uint64 maxPrice = depositSeed % 8 == 0 ? uint64(bound(depositSeed >> 3, 1, unit)) : 3 * unit;
        // Mostly a few hundred tokens' worth, one time in sixteen less than one token's.
        uint256 deposit = (depositSeed >> 3) % 16 == 0
            ? bound(depositSeed >> 7, 1, unit)
            : bound(depositSeed >> 7, 1, 2_000) * (price == 0 ? unit : price);
        uint64 expiry = durationSeed % 16 == 0
            ? uint64(time + (durationSeed % 32 == 0 ? 0 : 31 days))
            : uint64(time + bound(durationSeed >> 5, 1 minutes, 3 days));
        ISessionManager.SessionRequest memory r = ISessionManager.SessionRequest({
            host: host,
            modelId: MODEL,
            token: token,
            signer: signer,
            maxPricePerToken: maxPrice,
            deposit: uint96(deposit),
            expiry: expiry,
            minScore: 0,
            salt: uint64(sessionIds.length)
        });
        bool expectOk = !sessions.paused() && host != renter && expiry > time && expiry <= time + 30 days
            && price != 0 && price <= maxPrice && deposit >= price;
        ISessionManager.Session memory t = ISessionManager.Session({
            renter: renter,
            host: host,
            token: token,
            signer: signer,
            modelId: MODEL,
            pricePerToken: price,
            expiry: expiry,
            feeDiscountBps: 0,
            salt: r.salt
        });
        uint256 expectedId = uint256(keccak256(abi.encode(t)));
        uint256 before = _tokenBalance(token, renter);

        vm.prank(renter);
        (bool ok, bytes memory ret) = address(sessions).call{value: token == ETH ? deposit : 0}(
            abi.encodeCall(sessions.openSession, (r))
        );
        _record("openSession", expectOk, ok, ret);
        if (!ok || !expectOk) return;
        uint256 id = abi.decode(ret, (uint256));
        if (id != expectedId) _violate("openSession: unexpected id", "");
        if (_tokenBalance(token, renter) + deposit != before) _violate("openSession: renter paid != deposit", "");
        if (_lockOf(address(sessions), id) != deposit) _violate("openSession: lock != deposit", "");
        if (sessions.termsHash(id) != keccak256(abi.encode(t))) _violate("openSession: terms hash", "");
        sessionIds.push(id);
        GhostSession storage g = ghosts[id];
        g.terms = t;
        g.deposit = deposit;
    }

    function topUp(uint256 sessionSeed, uint256 amountSeed, uint256 callerSeed) external tick {
        (bool found, uint256 id) = _pickSession(sessionSeed, true);
        if (!found) return;
        GhostSession storage g = ghosts[id];
        address caller = callerSeed % 8 == 0 ? _actor(callerSeed >> 3) : g.terms.renter;
        address token = g.terms.token;
        uint256 amount = amountSeed % 16 == 0 ? 0 : bound(amountSeed >> 4, 1, 500) * g.terms.pricePerToken;
        bool expectOk = !sessions.paused() && caller == g.terms.renter && g.closeAt == 0 && time <= g.terms.expiry
            && amount != 0;
        uint256 before = _tokenBalance(token, caller);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(sessions).call{value: token == ETH ? amount : 0}(
            abi.encodeCall(sessions.topUp, (g.terms, id, uint96(amount)))
        );
        _record("topUp", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (_tokenBalance(token, caller) + amount != before) _violate("topUp: renter paid != amount", "");
        g.deposit += amount;
        if (_lockOf(address(sessions), id) != g.deposit - g.paid) _violate("topUp: lock != deposit - paid", "");
    }

    function checkpoint(uint256 sessionSeed, uint256 receiptSeed, uint256 signerSeed, uint256 callerSeed)
        external
        tick
    {
        (bool found, uint256 id) = _pickSession(sessionSeed, false);
        if (!found) return;
        address caller = callerSeed % 8 == 0 ? _actor(callerSeed >> 3) : ghosts[id].terms.host;
        _checkpoint(id, caller, _receipt(id, receiptSeed, signerSeed));
    }

    function closeSession(uint256 sessionSeed, uint256 receiptSeed, uint256 signerSeed, uint256 callerSeed)
        external
        tick
    {
        (bool found, uint256 id) = _pickSession(sessionSeed, false);
        if (!found) return;
        address caller = callerSeed % 8 == 0 ? _actor(callerSeed >> 3) : ghosts[id].terms.host;
        _close(id, caller, _receipt(id, receiptSeed, signerSeed), (callerSeed >> 3) % 3 != 0);
    }

    function requestClose(uint256 sessionSeed, uint256 callerSeed) external tick {
        (bool found, uint256 id) = _pickSession(sessionSeed, true);
        if (!found) return;
        _requestClose(id, callerSeed % 8 == 0 ? _actor(callerSeed >> 3) : ghosts[id].terms.renter);
    }

    function settle(uint256 sessionSeed, uint256 callerSeed) external tick {
        (bool found, uint256 id) = _pickSession(sessionSeed, false);
        if (found) _settle(id, _actor(callerSeed));
    }

    /// Takes a random live session one plausible step further (the fuzzer rarely lines the steps
    /// up by itself): mostly the next valid receipt, sometimes a close request, a close by the
    /// host, or a settlement once it is due.
    function progressSession(uint256 sessionSeed, uint256 seed) external tick {
        uint256 n = sessionIds.length;
        if (n == 0) return;
        uint256 start = sessionSeed % n;
        for (uint256 i; i < n; ++i) {
            uint256 id = sessionIds[(start + i) % n];
            GhostSession storage g = ghosts[id];
            if (g.closeAt == SETTLED) continue;
            uint256 afterExpiry = uint256(g.terms.expiry) + sessions.closeWindow();
            if ((g.closeAt != 0 && time >= g.closeAt) || time >= afterExpiry) {
                _settle(id, _actor(seed));
            } else if (seed % 8 == 0 && g.closeAt == 0) {
                _requestClose(id, g.terms.renter);
            } else if (seed % 8 == 1) {
                _close(id, g.terms.host, _receipt(id, 4 + (seed & ~uint256(7)), 15), seed % 16 == 1);
            } else {
                // A valid receipt (mode >= 4) signed by the renter (signer mode 15).
                _checkpoint(id, g.terms.host, _receipt(id, 4 + (seed & ~uint256(7)), 15));
            }
            return;
        }
    }

    // ---------------------------------------------------------------- jobs

    function postJob(uint256 renterSeed, uint256 tokenSeed, uint256 maxTokensSeed, uint256 durationSeed)
        external
        tick
    {
        address renter = actors[_renterIndex(renterSeed)];
        address token = _token(tokenSeed);
        uint32 maxTokens = uint32(bound(maxTokensSeed, 1, 5_000));
        uint64 maxPrice = token == ETH ? 3e9 : 30;
        uint64 deadline = uint64(time + bound(durationSeed, 1 hours, 2 days));
        uint256 deposit = uint256(maxTokens) * maxPrice;
        IJobMarketplace.JobRequest memory r = IJobMarketplace.JobRequest({
            modelId: MODEL,
            promptHash: keccak256(abi.encode(time, renter)),
            token: token,
            maxTokens: maxTokens,
            maxPricePerToken: maxPrice,
            deadline: deadline,
            host: address(0),
            minScore: 0
        });
        vm.prank(renter);
        (bool ok, bytes memory ret) =
            address(marketplace).call{value: token == ETH ? deposit : 0}(abi.encodeCall(marketplace.postJob, (r)));
        _record("postJob", true, ok, ret);
        if (!ok) return;
        uint256 jobId = abi.decode(ret, (uint256));
        if (_lockOf(address(marketplace), jobId) != deposit) _violate("postJob: lock != deposit", "");
        jobIds.push(jobId);
        GhostJob storage g = jobs[jobId];
        g.renter = renter;
        g.token = token;
        g.deposit = deposit;
        g.deadline = deadline;
        g.maxTokens = maxTokens;
        g.maxPrice = maxPrice;
        g.price = maxPrice;
        g.status = IJobMarketplace.JobStatus.Posted;
    }

    /// Takes a random live job one valid step further: claim by an eligible host (or cancel),
    /// complete, then accept or release once the dispute window is over, or expire once late.
    function progressJob(uint256 jobSeed, uint256 seed) external tick {
        uint256 n = jobIds.length;
        if (n == 0) return;
        uint256 start = jobSeed % n;
        for (uint256 i; i < n; ++i) {
            uint256 jobId = jobIds[(start + i) % n];
            GhostJob storage g = jobs[jobId];
            IJobMarketplace.JobStatus s = g.status;
            if (isTerminal(s)) continue;
            if ((s == IJobMarketplace.JobStatus.Posted || s == IJobMarketplace.JobStatus.Claimed) && time > g.deadline)
            {
                _jobCall(jobId, _actor(seed), abi.encodeCall(marketplace.expireJob, (jobId)), "expireJob", 0);
            } else if (s == IJobMarketplace.JobStatus.Posted) {
                if (seed % 4 == 0) {
                    _jobCall(jobId, g.renter, abi.encodeCall(marketplace.cancelJob, (jobId)), "cancelJob", 0);
                } else {
                    _claim(jobId, seed);
                }
            } else if (s == IJobMarketplace.JobStatus.Claimed) {
                uint32 used = uint32(bound(seed, 0, g.maxTokens));
                uint32 window = marketplace.disputeWindow();
                vm.prank(g.host);
                (bool ok, bytes memory err) =
                    address(marketplace).call(abi.encodeCall(marketplace.completeJob, (jobId, keccak256("out"), used)));
                _record("completeJob", true, ok, err);
                if (!ok) return;
                g.status = IJobMarketplace.JobStatus.Completed;
                g.tokensUsed = used;
                g.disputeEndsAt = uint64(time + window);
            } else if (s == IJobMarketplace.JobStatus.Completed) {
                uint256 payment = uint256(g.tokensUsed) * g.price;
                if (time > g.disputeEndsAt) {
                    _jobCall(
                        jobId, _actor(seed), abi.encodeCall(marketplace.releasePayment, (jobId)), "releasePayment", payment
                    );
                } else {
                    _jobCall(jobId, g.renter, abi.encodeCall(marketplace.acceptJob, (jobId)), "acceptJob", payment);
                }
            }
            return;
        }
    }

    function _claim(uint256 jobId, uint256 seed) internal {
        GhostJob storage g = jobs[jobId];
        for (uint256 k; k < 3; ++k) {
            address h = _host(seed + k);
            if (h == g.renter) continue;
            (INodeRegistry.HostStatus hs, uint256 stake,,,) = registry.hostState(h);
            uint64 price = registry.priceOf(h, MODEL, g.token);
            if (hs != INodeRegistry.HostStatus.Active || stake < registry.minimumStake() || price == 0) continue;
            bool expectOk = price <= g.maxPrice;
            vm.prank(h);
            (bool ok, bytes memory err) = address(marketplace).call(abi.encodeCall(marketplace.claimJob, (jobId)));
            _record("claimJob", expectOk, ok, err);
            if (!ok || !expectOk) return;
            g.status = IJobMarketplace.JobStatus.Claimed;
            g.host = h;
            g.price = price;
            return;
        }
    }

    /// @dev A terminal step of a job that the model says must succeed (accept, release, expire,
    /// cancel): the escrow must credit exactly the deposit, split as the model says.
    function _jobCall(uint256 jobId, address caller, bytes memory data, bytes32 name, uint256 payment) internal {
        GhostJob storage g = jobs[jobId];
        address host = g.host != address(0) ? g.host : g.renter;
        Snap memory b = _snap(host, g.renter, g.token);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(marketplace).call(data);
        _record(name, true, ok, err);
        if (!ok) return;
        if (g.host != address(0)) {
            _checkPayout(b, _snap(host, g.renter, g.token), payment, g.deposit - payment, "job");
        } else {
            Snap memory a = _snap(host, g.renter, g.token);
            if (a.renter != b.renter + g.deposit) _violate("job: refund != deposit", "");
        }
        if (_lockOf(address(marketplace), jobId) != 0) _violate("job: lock left", "");
        g.status = name == "acceptJob" || name == "releasePayment"
            ? IJobMarketplace.JobStatus.Settled
            : name == "cancelJob" ? IJobMarketplace.JobStatus.Cancelled : IJobMarketplace.JobStatus.Expired;
        g.terminalCount++;
    }

    // ---------------------------------------------------------------- payouts and admin

    function withdraw(uint256 actorSeed, uint256 tokenSeed, uint256 amountSeed) external tick {
        address account = _actor(actorSeed);
        address token = _token(tokenSeed);
        for (uint256 i; i < 10 && escrow.balanceOf(account, token) == 0; ++i) {
            account = _actor(actorSeed + i);
            token = _token(tokenSeed + i / 5);
        }
        uint256 balance = escrow.balanceOf(account, token);
        if (balance == 0) return;
        uint256 amount = bound(amountSeed, 1, balance);
        bool expectOk = !escrow.paused();
        uint256 before = _tokenBalance(token, account);
        vm.prank(account);
        (bool ok, bytes memory err) = address(escrow).call(abi.encodeCall(escrow.withdraw, (token, amount, account)));
        _record("withdraw", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (_tokenBalance(token, account) != before + amount) _violate("withdraw: wrong amount received", "");
        withdrawn[token] += amount;
    }

    function collectFees(uint256 tokenSeed, uint256 kindSeed) external tick {
        address token = _token(tokenSeed);
        bool stakers = kindSeed % 2 == 1;
        (uint256 tf, uint256 sf) = escrow.feesOf(token);
        address recipient = stakers ? stakersPool : treasury;
        uint256 amount = stakers ? sf : tf;
        uint256 before = _tokenBalance(token, recipient);
        vm.prank(_actor(kindSeed >> 1));
        (bool ok, bytes memory err) = address(escrow).call(
            abi.encodeCall(
                escrow.collectFees, (token, stakers ? IPaymentEscrow.FeeKind.Stakers : IPaymentEscrow.FeeKind.Treasury)
            )
        );
        _record("collectFees", !escrow.paused(), ok, err);
        if (!ok) return;
        if (_tokenBalance(token, recipient) != before + amount) _violate("collectFees: wrong amount", "");
        collected[token] += amount;
    }

    /// Resumes the sessions (seed even) or the escrow (seed odd) if paused; otherwise pauses it
    /// one time in four, so that most of a run happens unpaused.
    function togglePause(uint256 seed) external tick {
        bool onSessions = seed % 2 == 0;
        bool paused = onSessions ? sessions.paused() : escrow.paused();
        if (!paused && (seed >> 1) % 4 != 0) return;
        vm.prank(admin);
        (bool ok, bytes memory err) = onSessions
            ? address(sessions).call(paused ? abi.encodeCall(sessions.unpause, ()) : abi.encodeCall(sessions.pause, ()))
            : address(escrow).call(paused ? abi.encodeCall(escrow.unpause, ()) : abi.encodeCall(escrow.pause, ()));
        _record("togglePause", true, ok, err);
    }

    /// Changes the close window (for requests from now on, and for every expiry); one time in
    /// eight an invalid one.
    function setCloseWindow(uint256 seed) external tick {
        uint32 window = seed % 8 == 0 ? uint32(bound(seed >> 3, 0, 59)) : uint32(bound(seed >> 3, 1 minutes, 6 hours));
        vm.prank(admin);
        (bool ok, bytes memory err) = address(sessions).call(abi.encodeCall(sessions.setCloseWindow, (window)));
        _record("setCloseWindow", window >= 1 minutes, ok, err);
    }

    /// Changes a host's price (open sessions keep theirs); one time in eight withdraws the offer.
    function setHostPrice(uint256 hostSeed, uint256 tokenSeed, uint256 priceSeed) external tick {
        address host = _host(hostSeed);
        address token = _token(tokenSeed);
        uint64 price = priceSeed % 8 == 0 ? 0 : uint64(bound(priceSeed >> 3, 1, token == ETH ? 3e9 : 30));
        INodeRegistry.Offer[] memory offers = new INodeRegistry.Offer[](1);
        offers[0] = INodeRegistry.Offer({modelId: MODEL, token: token, pricePerToken: price});
        vm.prank(host);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.setOffers, (offers)));
        _record("setHostPrice", true, ok, err);
    }

    /// Moves time on; one time in four exactly to a live session's edge (its close request's end
    /// or the end of the window after expiry), or one second before or after it.
    function warp(uint256 seed) external {
        uint256 n = sessionIds.length;
        if (seed % 4 == 0 && n != 0) {
            for (uint256 i; i < n; ++i) {
                GhostSession storage g = ghosts[sessionIds[((seed >> 4) + i) % n]];
                if (g.closeAt == SETTLED) continue;
                uint256 edge = g.closeAt != 0 ? g.closeAt : uint256(g.terms.expiry) + sessions.closeWindow();
                edge = edge + (seed >> 2) % 3 - 1;
                if (edge > time) time = edge;
                break;
            }
        } else {
            time += bound(seed, 1 minutes, 12 hours);
        }
        vm.warp(time);
    }
}

/// @notice Invariants of sessions and jobs sharing one escrow under the handler's random sequences.
contract SessionManagerInvariantTest is FabstirTestBase {
    SessionHandler internal handler;

    function setUp() public {
        _deploySystem();
        address[5] memory actors;
        uint256[5] memory keys;
        string[5] memory names = ["host0", "host1", "hostAndRenter", "renter0", "renter1"];
        for (uint256 i; i < 5; ++i) {
            (actors[i], keys[i]) = makeAddrAndKey(names[i]);
        }
        for (uint256 i; i < 3; ++i) {
            _fundHost(actors[i], 100_000 * FAB);
            _register(actors[i], MIN_STAKE + i * 100 * FAB, uint64(1e9 * (i + 1)), uint64(10 * (i + 1)));
        }
        for (uint256 i = 2; i < 5; ++i) {
            _fundRenter(actors[i], 1e30, 1e30);
        }
        (, uint256 gatewayKey) = makeAddrAndKey("gateway");
        // Short windows so that a few warps reach them.
        vm.startPrank(admin);
        marketplace.setDisputeWindow(2 hours);
        sessions.setCloseWindow(30 minutes);
        vm.stopPrank();
        handler = new SessionHandler(
            sessions, marketplace, escrow, registry, usd, [admin, treasury, stakersPool], actors, keys, gatewayKey
        );

        // The session steps are repeated so that sessions get through their whole lifecycle.
        bytes4[] memory selectors = new bytes4[](21);
        selectors[0] = SessionHandler.openSession.selector;
        selectors[1] = SessionHandler.openSession.selector;
        selectors[2] = SessionHandler.topUp.selector;
        selectors[3] = SessionHandler.checkpoint.selector;
        selectors[4] = SessionHandler.checkpoint.selector;
        selectors[5] = SessionHandler.closeSession.selector;
        selectors[6] = SessionHandler.requestClose.selector;
        selectors[7] = SessionHandler.settle.selector;
        selectors[8] = SessionHandler.progressSession.selector;
        selectors[9] = SessionHandler.progressSession.selector;
        selectors[10] = SessionHandler.progressSession.selector;
        selectors[11] = SessionHandler.postJob.selector;
        selectors[12] = SessionHandler.progressJob.selector;
        selectors[13] = SessionHandler.progressJob.selector;
        selectors[14] = SessionHandler.withdraw.selector;
        selectors[15] = SessionHandler.collectFees.selector;
        selectors[16] = SessionHandler.warp.selector;
        selectors[17] = SessionHandler.togglePause.selector;
        selectors[18] = SessionHandler.setCloseWindow.selector;
        selectors[19] = SessionHandler.setHostPrice.selector;
        selectors[20] = SessionHandler.openSession.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    // ---------------------------------------------------------------- helpers

    function _assertModel() internal view {
        assertEq(handler.violations(), 0, handler.firstViolation());
    }

    function _tokenBalance(address token, address account) internal view returns (uint256) {
        return token == ETH ? account.balance : usd.balanceOf(account);
    }

    function _sumBalances(address token) internal view returns (uint256 sum) {
        for (uint256 i; i < handler.actorCount(); ++i) {
            sum += escrow.balanceOf(handler.actor(i), token);
        }
    }

    /// @dev Everything locked in `token` under both lockers.
    function _sumLocked(address token) internal view returns (uint256 sum) {
        for (uint256 i; i < handler.jobCount(); ++i) {
            (address t, uint256 amount) = escrow.lockOf(address(marketplace), handler.jobIdAt(i));
            if (t == token) sum += amount;
        }
        for (uint256 i; i < handler.sessionCount(); ++i) {
            (address t, uint256 amount) = escrow.lockOf(address(sessions), handler.sessionIdAt(i));
            if (t == token) sum += amount;
        }
    }

    // ---------------------------------------------------------------- invariants

    function invariant_modelHoldsForEveryCall() public view {
        _assertModel();
    }

    /// Per token, the escrow holds exactly the locks of both lockers, the withdrawable balances
    /// and the uncollected fees.
    function invariant_escrowSolvencyWithJobsAndSessions() public view {
        _assertModel();
        address[2] memory tokens = [ETH, address(usd)];
        for (uint256 t; t < 2; ++t) {
            (uint256 tf, uint256 sf) = escrow.feesOf(tokens[t]);
            assertEq(
                _tokenBalance(tokens[t], address(escrow)),
                _sumLocked(tokens[t]) + _sumBalances(tokens[t]) + tf + sf,
                "escrow balance != locks + withdrawable + fees"
            );
        }
    }

    /// Every session matches the model: it never paid more than its deposit, nor more than the
    /// highest amount its renter (or signer) signed; what the escrow paid out for it is exactly
    /// its latest receipt's amount; while unsettled its lock is deposit - paid, once settled the
    /// lock is zero, it was settled exactly once and the rest of the deposit went to the renter.
    function invariant_sessionsPayWithinDepositAndReceipts() public view {
        _assertModel();
        for (uint256 i; i < handler.sessionCount(); ++i) {
            uint256 id = handler.sessionIdAt(i);
            SessionHandler.GhostSession memory g = handler.ghostSession(id);
            (ISessionManager.SessionStatus status, ISessionManager.SessionState memory st) = sessions.sessionState(id);
            assertEq(st.deposit, g.deposit, "deposit");
            assertEq(st.paid, g.paid, "paid");
            assertEq(st.tokens, g.tokens, "tokens");
            assertLe(st.paid, st.deposit, "paid within the deposit");
            assertLe(st.paid, g.maxSigned, "paid within what was signed");
            assertEq(g.grossPaid, st.paid, "paid out == latest receipt");
            (address token, uint256 locked) = escrow.lockOf(address(sessions), id);
            if (status == ISessionManager.SessionStatus.Settled) {
                assertEq(g.settleCount, 1, "settled exactly once");
                assertEq(locked, 0, "settled session keeps no lock");
                assertEq(g.refunded + st.paid, st.deposit, "refund == deposit - paid");
            } else {
                assertEq(g.settleCount, 0, "live session never settled");
                assertEq(locked, st.deposit - st.paid, "lock == deposit - paid");
                if (locked != 0) assertEq(token, g.terms.token, "lock token");
                assertEq(uint256(status), g.closeAt == 0 ? 1 : 2, "open or closing");
                assertEq(st.closeAt, g.closeAt, "closeAt");
            }
        }
        // Ids are terms hashes: a tracked session is known by the contract under exactly its id.
        for (uint256 i; i < handler.sessionCount(); ++i) {
            uint256 id = handler.sessionIdAt(i);
            assertEq(sessions.termsHash(id), bytes32(id), "a session's terms hash is its id");
        }
    }

    /// Every job: a terminal one settled once with no lock left, a live one fully locked.
    function invariant_jobsSettleOnceBesideSessions() public view {
        _assertModel();
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobIdAt(i);
            SessionHandler.GhostJob memory g = handler.ghostJob(id);
            (IJobMarketplace.Job memory job,,) = marketplace.getJob(id);
            assertEq(uint256(job.status), uint256(g.status), "job status");
            (, uint256 locked) = escrow.lockOf(address(marketplace), id);
            if (handler.isTerminal(g.status)) {
                assertEq(g.terminalCount, 1, "terminal exactly once");
                assertEq(locked, 0, "terminal job keeps no lock");
            } else {
                assertEq(locked, g.deposit, "live job keeps its deposit locked");
            }
        }
    }

    /// What the escrow credited (balances, fees, and what already left through withdraw and
    /// collectFees) is exactly what sessions paid out and refunded plus the deposits of
    /// terminal jobs.
    function invariant_creditsEqualSettledValue() public view {
        _assertModel();
        address[2] memory tokens = [ETH, address(usd)];
        for (uint256 t; t < 2; ++t) {
            address token = tokens[t];
            uint256 settledValue;
            for (uint256 i; i < handler.jobCount(); ++i) {
                SessionHandler.GhostJob memory g = handler.ghostJob(handler.jobIdAt(i));
                if (g.token == token && handler.isTerminal(g.status)) settledValue += g.deposit;
            }
            for (uint256 i; i < handler.sessionCount(); ++i) {
                SessionHandler.GhostSession memory g = handler.ghostSession(handler.sessionIdAt(i));
                if (g.terms.token == token) settledValue += g.grossPaid + g.refunded;
            }
            (uint256 tf, uint256 sf) = escrow.feesOf(token);
            assertEq(
                _sumBalances(token) + tf + sf + handler.withdrawn(token) + handler.collected(token),
                settledValue,
                "credits != value settled"
            );
        }
    }
}
