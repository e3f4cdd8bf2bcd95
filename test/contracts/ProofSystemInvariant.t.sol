// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PaymentEscrow} from "../../contracts/escrow/PaymentEscrow.sol";
import {IJobMarketplace} from "../../contracts/marketplace/IJobMarketplace.sol";
import {JobMarketplace} from "../../contracts/marketplace/JobMarketplace.sol";
import {IProofSystem} from "../../contracts/proofs/IProofSystem.sol";
import {ProofSystem} from "../../contracts/proofs/ProofSystem.sol";
import {FabstirProxy} from "../../contracts/proxy/FabstirProxy.sol";
import {ISessionManager} from "../../contracts/sessions/ISessionManager.sol";
import {SessionManager} from "../../contracts/sessions/SessionManager.sol";
import {TestAcceptingVerifier} from "../../contracts/test/TestAcceptingVerifier.sol";
import {TestStablecoin} from "../../contracts/test/TestStablecoin.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";
import {ModelCheckedHandler} from "./ModelCheckedHandler.sol";

/// @notice Drives the ProofSystem through random proofs, challenges of both kinds, resolutions,
/// verifier removals and time, over jobs and sessions paid in ETH and tUSD, with the real
/// ReputationSystem slashing. Proofs are checked by TestAcceptingVerifier (a FAKE: no Groth16
/// proof can be made in Solidity; the TypeScript suite uses real proofs), so what is tested here
/// is the accounting and the lifecycle, not the cryptography.
contract ProofHandler is ModelCheckedHandler {
    struct SessionWork {
        uint256 id;
        ISessionManager.Session terms;
    }

    uint256 internal constant BOND_ID = 1 << 254;
    bytes32 internal constant MODEL = bytes32("llama-3.1-8b-q4_k_m");

    ProofSystem public immutable proofs;
    JobMarketplace internal immutable marketplace;
    SessionManager internal immutable sessions;
    PaymentEscrow internal immutable escrow;
    TestStablecoin internal immutable usd;
    address internal immutable admin;
    address internal immutable host;
    address internal immutable renter;
    uint256 internal immutable renterKey;
    address internal immutable verifier;
    address[3] internal challengers;

    uint256[] internal jobs;
    SessionWork[] internal sessionWorks;
    /// @dev The bond each challenge locked (ghost), and the sum over open challenges.
    mapping(uint256 challengeId => uint256) public bondOf;
    uint256 public openBonds;

    constructor(
        ProofSystem proofs_,
        JobMarketplace marketplace_,
        SessionManager sessions_,
        PaymentEscrow escrow_,
        TestStablecoin usd_,
        address[4] memory accounts,
        uint256 renterKey_,
        address verifier_
    ) {
        proofs = proofs_;
        marketplace = marketplace_;
        sessions = sessions_;
        escrow = escrow_;
        usd = usd_;
        (admin, host, renter) = (accounts[0], accounts[1], accounts[2]);
        renterKey = renterKey_;
        verifier = verifier_;
        for (uint256 i; i < 3; ++i) {
            challengers[i] = i == 2 ? accounts[3] : makeAddr(string.concat("challenger", vm.toString(i)));
            vm.deal(challengers[i], 1e30);
            usd.mint(challengers[i], 1e30);
            vm.prank(challengers[i]);
            usd.approve(address(escrow), type(uint256).max);
        }
    }

    // ---------------------------------------------------------------- work

    function newJob(bool inUsd, uint256 tokensSeed) external {
        address token = inUsd ? address(usd) : address(0);
        uint64 price = inUsd ? 10 : 1e9;
        uint32 tokens = uint32(_bound(tokensSeed, 0, 200));
        IJobMarketplace.JobRequest memory r = IJobMarketplace.JobRequest({
            modelId: MODEL,
            promptHash: keccak256("prompt"),
            token: token,
            maxTokens: 200,
            maxPricePerToken: price,
            deadline: uint64(block.timestamp + 1 hours),
            host: host,
            minScore: 0
        });
        vm.prank(renter);
        try marketplace.postJob{value: inUsd ? 0 : 200 * uint256(price)}(r) returns (uint256 jobId) {
            vm.startPrank(host);
            try marketplace.claimJob(jobId) {
                marketplace.completeJob(jobId, keccak256("output"), tokens);
                jobs.push(jobId);
            } catch {}
            vm.stopPrank();
        } catch {}
    }

    function newSession(bool inUsd, uint256 tokensSeed) external {
        ISessionManager.SessionRequest memory r = ISessionManager.SessionRequest({
            host: host,
            modelId: MODEL,
            token: inUsd ? address(usd) : address(0),
            signer: address(0),
            maxPricePerToken: inUsd ? 10 : 1e9,
            deposit: inUsd ? 10_000 : 1e12,
            expiry: uint64(block.timestamp + 1 days),
            minScore: 0,
            salt: uint64(sessionWorks.length)
        });
        vm.prank(renter);
        try sessions.openSession{value: inUsd ? 0 : r.deposit}(r) returns (uint256 id) {
            ISessionManager.Session memory t = ISessionManager.Session({
                renter: renter,
                host: host,
                token: r.token,
                signer: address(0),
                modelId: MODEL,
                pricePerToken: r.maxPricePerToken,
                expiry: r.expiry,
                feeDiscountBps: 0,
                salt: r.salt
            });
            sessionWorks.push(SessionWork(id, t));
            _checkpoint(sessionWorks.length - 1, tokensSeed);
        } catch {}
    }

    function checkpoint(uint256 sessionSeed, uint256 moreSeed) external {
        if (sessionWorks.length == 0) return;
        _checkpoint(_bound(sessionSeed, 0, sessionWorks.length - 1), moreSeed);
    }

    /// @dev The host proves everything billed and not yet proven (canonical chunks).
    function prove(uint256 workSeed) external {
        (IProofSystem.Work work, uint256 id, ISessionManager.Session memory t, bool found) = _pick(workSeed);
        if (!found) return;
        uint256 billed = billedOf(work, id);
        IProofSystem.ProofRecord memory rec = proofs.recordOf(work, id);
        (address v,) = proofs.verifierOf(MODEL);
        bool expectOk = billed > rec.tokens && v != address(0);
        IProofSystem.ChunkProof[] memory chunks = _chunks(billed > rec.tokens ? billed - rec.tokens : 1);
        vm.prank(host);
        bool ok;
        bytes memory err;
        if (work == IProofSystem.Work.Job) {
            try proofs.submitJobProof(id, keccak256("prompt"), chunks) {
                ok = true;
            } catch (bytes memory e) {
                err = e;
            }
        } else {
            try proofs.submitSessionProof(t, id, chunks) {
                ok = true;
            } catch (bytes memory e) {
                err = e;
            }
        }
        if (ok) _afterAnswer(rec.openCountChallenge);
        _record("prove", expectOk, ok, err);
    }

    function openChallenge(uint256 workSeed, uint256 challengerSeed, bool output) external {
        (IProofSystem.Work work, uint256 id, ISessionManager.Session memory t, bool found) = _pick(workSeed);
        if (!found) return;
        address challenger = challengers[_bound(challengerSeed, 0, 2)];
        address token;
        uint256 bond;
        if (work == IProofSystem.Work.Job) {
            try proofs.challengeBondOfJob(id) returns (address tk, uint256 b) {
                (token, bond) = (tk, b);
            } catch {
                return;
            }
        } else {
            (token, bond) = proofs.challengeBondOfSession(t, id);
        }
        uint256 value = token == address(0) ? bond : 0;
        uint256 challengeId = proofs.nextChallengeId();
        vm.prank(challenger);
        bool ok;
        if (work == IProofSystem.Work.Job) {
            ok = output
                ? _try(abi.encodeCall(ProofSystem.challengeJobOutput, (id, keccak256("evidence"))), value)
                : _try(abi.encodeCall(ProofSystem.challengeJobCount, (id)), value);
        } else {
            ok = output
                ? _try(abi.encodeCall(ProofSystem.challengeSessionOutput, (t, id, keccak256("evidence"))), value)
                : _try(abi.encodeCall(ProofSystem.challengeSessionCount, (t, id)), value);
        }
        if (ok) {
            bondOf[challengeId] = bond;
            openBonds += bond;
            successes["open"]++;
        }
    }

    /// @dev Ends (or tries to end) a challenge as its kind and deadline allow; the model says
    /// whether it must succeed.
    function end(uint256 idSeed, bool upheld, uint256 how) external {
        uint256 next = proofs.nextChallengeId();
        if (next == 1) return;
        uint256 id = _bound(idSeed, 1, next - 1);
        IProofSystem.Challenge memory c = proofs.challengeOf(id);
        bool open = c.status == IProofSystem.ChallengeStatus.Open;
        bool late = block.timestamp > c.deadline;
        bool ok;
        bytes memory err;
        bool expectOk;
        if (c.kind == IProofSystem.ChallengeKind.Count) {
            expectOk = open && late;
            vm.prank(challengers[how % 3]);
            (ok, err) = address(proofs).call(abi.encodeCall(ProofSystem.resolveCountChallenge, (id)));
        } else if (how % 2 == 0) {
            expectOk = open && !late;
            vm.prank(admin);
            (ok, err) = address(proofs).call(abi.encodeCall(ProofSystem.resolveOutputChallenge, (id, upheld)));
        } else {
            expectOk = open && late;
            (ok, err) = address(proofs).call(abi.encodeCall(ProofSystem.settleOutputChallenge, (id)));
        }
        if (ok) openBonds -= bondOf[id];
        _record("end", expectOk, ok, err);
    }

    function toggleVerifier(bool on) external {
        vm.prank(admin);
        proofs.setDefaultVerifier(on ? verifier : address(0));
    }

    function warp(uint256 seed) external {
        vm.warp(block.timestamp + _bound(seed, 1, 2 days));
    }

    // ---------------------------------------------------------------- views

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function jobAt(uint256 i) external view returns (uint256) {
        return jobs[i];
    }

    function sessionCount() external view returns (uint256) {
        return sessionWorks.length;
    }

    function sessionAt(uint256 i) external view returns (uint256) {
        return sessionWorks[i].id;
    }

    function billedOf(IProofSystem.Work work, uint256 id) public view returns (uint256) {
        if (work == IProofSystem.Work.Job) {
            (IJobMarketplace.Job memory job,,) = marketplace.getJob(id);
            return job.tokensUsed;
        }
        (, ISessionManager.SessionState memory st) = sessions.sessionState(id);
        return st.tokens;
    }

    // ---------------------------------------------------------------- internals

    function _afterAnswer(uint256 challengeId) internal {
        if (challengeId == 0) return;
        if (proofs.challengeOf(challengeId).status == IProofSystem.ChallengeStatus.Answered) {
            openBonds -= bondOf[challengeId];
        }
    }

    function _try(bytes memory data, uint256 value) internal returns (bool ok) {
        (ok,) = address(proofs).call{value: value}(data);
    }

    function _checkpoint(uint256 index, uint256 moreSeed) internal {
        SessionWork storage w = sessionWorks[index];
        (ISessionManager.SessionStatus status, ISessionManager.SessionState memory st) = sessions.sessionState(w.id);
        if (status == ISessionManager.SessionStatus.Settled) return;
        uint32 tokens = st.tokens + uint32(_bound(moreSeed, 1, 150));
        uint96 amount = uint96(tokens * w.terms.pricePerToken);
        if (amount > st.deposit) return;
        ISessionManager.Receipt memory r = ISessionManager.Receipt(w.id, tokens, amount, keccak256(abi.encode(tokens)));
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(renterKey, sessions.receiptDigest(r));
        vm.prank(host);
        sessions.checkpoint(w.terms, w.id, r, abi.encodePacked(rr, s, v));
    }

    function _pick(uint256 seed)
        internal
        view
        returns (IProofSystem.Work work, uint256 id, ISessionManager.Session memory t, bool found)
    {
        uint256 n = jobs.length + sessionWorks.length;
        if (n == 0) return (work, 0, t, false);
        uint256 i = _bound(seed, 0, n - 1);
        if (i < jobs.length) return (IProofSystem.Work.Job, jobs[i], t, true);
        SessionWork storage w = sessionWorks[i - jobs.length];
        return (IProofSystem.Work.Session, w.id, w.terms, true);
    }

    /// @dev `tokens` cut into chunks of 64 and one last partial chunk (the fake verifier accepts
    /// any proof bytes).
    function _chunks(uint256 tokens) internal pure returns (IProofSystem.ChunkProof[] memory chunks) {
        uint256 n = (tokens + 63) / 64;
        chunks = new IProofSystem.ChunkProof[](n);
        for (uint256 i; i < n; ++i) {
            uint256 count = i + 1 < n ? 64 : tokens - 64 * (n - 1);
            chunks[i] = IProofSystem.ChunkProof({proof: hex"01", commitment: uint256(keccak256(abi.encode(tokens, i))) >> 8, count: uint32(count)});
        }
    }
}

contract ProofSystemInvariantTest is FabstirTestBase {
    ProofHandler internal handler;
    ProofSystem internal proofs;

    function setUp() public {
        _deploySystem();
        address host = makeAddr("host");
        (address renter, uint256 renterKey) = makeAddrAndKey("renter");
        _fundHost(host, 1_000_000 * FAB);
        _register(host, 100_000 * FAB, 1e9, 10);
        _fundRenter(renter, 1e30, 1e30);
        TestAcceptingVerifier verifier = new TestAcceptingVerifier();
        ProofSystem impl = new ProofSystem(address(marketplace), address(sessions), address(escrow));
        proofs = ProofSystem(
            address(
                new FabstirProxy(
                    address(impl),
                    abi.encodeCall(ProofSystem.initialize, (admin, address(verifier), address(reputation)))
                )
            )
        );
        vm.startPrank(admin);
        escrow.setLocker(address(proofs), true);
        reputation.setRecorder(address(proofs), true);
        marketplace.setDisputeWindow(2 hours);
        // Short windows so that a few warps cross them.
        proofs.setWindows(1 days, 1 days, 1 hours, 2 hours);
        vm.stopPrank();
        handler = new ProofHandler(
            proofs, marketplace, sessions, escrow, usd, [admin, host, renter, renter], renterKey, address(verifier)
        );

        bytes4[] memory selectors = new bytes4[](11);
        selectors[0] = ProofHandler.newJob.selector;
        selectors[1] = ProofHandler.newSession.selector;
        selectors[2] = ProofHandler.checkpoint.selector;
        selectors[3] = ProofHandler.prove.selector;
        selectors[4] = ProofHandler.openChallenge.selector;
        selectors[5] = ProofHandler.openChallenge.selector;
        selectors[6] = ProofHandler.end.selector;
        selectors[7] = ProofHandler.end.selector;
        selectors[8] = ProofHandler.warp.selector;
        selectors[9] = ProofHandler.toggleVerifier.selector;
        selectors[10] = ProofHandler.newJob.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice Every call's outcome agreed with the handler's model.
    function invariant_modelHoldsForEveryCall() public view {
        assertEq(handler.violations(), 0, handler.firstViolation());
    }

    /// @notice A bond is locked in the escrow exactly while its challenge is open, and the
    /// ProofSystem's locks add up to the open challenges' bonds.
    function invariant_bondsLockedExactlyWhileOpen() public view {
        uint256 locked;
        uint256 next = proofs.nextChallengeId();
        for (uint256 id = 1; id < next; ++id) {
            (, uint256 amount) = escrow.lockOf(address(proofs), id | (1 << 254));
            bool open = proofs.challengeOf(id).status == IProofSystem.ChallengeStatus.Open;
            assertEq(amount != 0, open, "a lock exists exactly while its challenge is open");
            if (open) assertEq(amount, handler.bondOf(id), "the lock holds the bond");
            locked += amount;
        }
        assertEq(locked, handler.openBonds(), "locks equal the open bonds");
    }

    /// @notice Every open challenge ends once its deadline passes, whoever calls, and releases its
    /// bond: no bond is locked forever.
    function invariant_everyChallengeEnds() public {
        uint256 next = proofs.nextChallengeId();
        for (uint256 id = 1; id < next; ++id) {
            IProofSystem.Challenge memory c = proofs.challengeOf(id);
            if (c.status != IProofSystem.ChallengeStatus.Open) continue;
            uint256 snapshot = vm.snapshotState();
            vm.warp(uint256(c.deadline) + 1);
            if (c.kind == IProofSystem.ChallengeKind.Count) proofs.resolveCountChallenge{gas: 5_000_000}(id);
            else proofs.settleOutputChallenge{gas: 5_000_000}(id);
            assertTrue(proofs.challengeOf(id).status != IProofSystem.ChallengeStatus.Open, "ended");
            (, uint256 amount) = escrow.lockOf(address(proofs), id | (1 << 254));
            assertEq(amount, 0, "its bond was released");
            vm.revertToState(snapshot);
        }
    }

    /// @notice What is proven of a work never exceeds what it billed.
    function invariant_provenWithinBilled() public view {
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobAt(i);
            assertLe(proofs.recordOf(IProofSystem.Work.Job, id).tokens, handler.billedOf(IProofSystem.Work.Job, id));
        }
        for (uint256 i; i < handler.sessionCount(); ++i) {
            uint256 id = handler.sessionAt(i);
            assertLe(
                proofs.recordOf(IProofSystem.Work.Session, id).tokens, handler.billedOf(IProofSystem.Work.Session, id)
            );
        }
    }

    /// @notice The handler's paths work (so the invariants above are not vacuous): jobs and
    /// sessions are made, proven and challenged, and challenges of both kinds end.
    function test_handlerReachesEveryOutcome() public {
        handler.newJob(false, 100); // job 1, ETH
        handler.newJob(true, 70); // job 2, tUSD
        handler.newSession(false, 80); // session 1
        handler.openChallenge(0, 0, false); // count challenge 1 of job 1
        handler.openChallenge(1, 1, true); // output challenge 2 of job 2
        handler.openChallenge(2, 2, false); // count challenge 3 of session 1
        handler.prove(2); // the session's host answers challenge 3
        handler.end(2, true, 0); // the arbiter upholds challenge 2
        handler.warp(2 days);
        handler.end(1, false, 0); // challenge 1 unanswered: slashed
        assertEq(uint8(proofs.challengeOf(1).status), uint8(IProofSystem.ChallengeStatus.Unanswered));
        assertEq(uint8(proofs.challengeOf(2).status), uint8(IProofSystem.ChallengeStatus.Upheld));
        assertEq(uint8(proofs.challengeOf(3).status), uint8(IProofSystem.ChallengeStatus.Answered));
        assertEq(handler.successes("open"), 3);
        assertEq(handler.openBonds(), 0);
        invariant_bondsLockedExactlyWhileOpen();
        invariant_modelHoldsForEveryCall();
    }
}
