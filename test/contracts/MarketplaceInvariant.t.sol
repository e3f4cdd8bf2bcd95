// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IPaymentEscrow} from "../../contracts/escrow/IPaymentEscrow.sol";
import {PaymentEscrow} from "../../contracts/escrow/PaymentEscrow.sol";
import {IJobMarketplace} from "../../contracts/marketplace/IJobMarketplace.sol";
import {JobMarketplace} from "../../contracts/marketplace/JobMarketplace.sol";
import {IProofSystem} from "../../contracts/proofs/IProofSystem.sol";
import {ProofSystem} from "../../contracts/proofs/ProofSystem.sol";
import {FabstirProxy} from "../../contracts/proxy/FabstirProxy.sol";
import {INodeRegistry} from "../../contracts/registry/INodeRegistry.sol";
import {NodeRegistry} from "../../contracts/registry/NodeRegistry.sol";
import {IReputationSystem} from "../../contracts/reputation/IReputationSystem.sol";
import {ReputationSystem} from "../../contracts/reputation/ReputationSystem.sol";
import {TestAcceptingVerifier} from "../../contracts/test/TestAcceptingVerifier.sol";
import {TestStablecoin} from "../../contracts/test/TestStablecoin.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";
import {ModelCheckedHandler} from "./ModelCheckedHandler.sol";

/// @notice Drives the job lifecycle with bounded, mostly valid actions. It keeps its own model of
/// every job (a ghost copy) and checks each call against it: a call the model says must succeed
/// that reverts, or one that must revert that succeeds, is recorded as a violation (the fuzzer
/// ignores reverts, so the handler never reverts itself and the invariants read the record).
/// Disputes lock a bond; the arbiter resolves them or, after the arbitration deadline, anyone
/// applies the default; claims time out; abandoned claims and lost disputes slash the host's
/// stake through the ReputationSystem (each slash checked against the parameters: escalation,
/// cap, compensation); renters rate settled jobs and high scores earn fee discounts. Completed,
/// disputed and settled jobs are challenged in the ProofSystem (bonds in the job's token locked in
/// the same escrow; count challenges answered by a proof or lost, output challenges upheld,
/// rejected or left to the default), so the escrow holds deposits, dispute bonds and challenge
/// bonds side by side while slashes move stake. Proofs are checked by TestAcceptingVerifier (a
/// FAKE: no Groth16 proof can be made in Solidity; proof-system.test.ts uses real proofs).
contract MarketplaceHandler is ModelCheckedHandler {
    uint16 internal constant BPS = 10_000;
    uint256 public constant BOND_ID = uint256(1) << 255;
    /// The escrow id of a challenge bond: the challenge id with bit 254 set (ProofSystem's BOND_ID).
    uint256 public constant CHALLENGE_BOND_ID = uint256(1) << 254;
    bytes32 internal constant MODEL = bytes32("llama-3.1-8b-q4_k_m");
    address internal constant ETH = address(0);

    JobMarketplace public immutable marketplace;
    PaymentEscrow public immutable escrow;
    NodeRegistry public immutable registry;
    ReputationSystem public immutable reputation;
    ProofSystem public immutable proofs;
    TestStablecoin public immutable usd;
    address public immutable admin;
    address public immutable treasury;
    address public immutable stakersPool;

    /// actors[0..2] are registered hosts, actors[2..4] renters: actors[2] is both, so
    /// self-dealing and "chosen host == poster" paths are reachable.
    address[5] internal actors;

    struct GhostJob {
        address renter;
        address token;
        address chosenHost;
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
        uint256 credited;
        uint256 hostPaid;
        uint64 claimedAt;
        uint256 bond;
        uint64 arbitrationEndsAt;
    }

    uint256[] internal jobIds;
    mapping(uint256 jobId => GhostJob) internal jobs;

    uint256 public time;
    uint16 public hostBps = 8_500;
    uint16 public treasuryBps = 1_000;
    uint16 public stakersBps = 500;
    mapping(address token => uint256) public withdrawn;
    mapping(address token => uint256) public collected;
    /// FAB taken from each host by slashes (measured from the registry's balance, not the model),
    /// and what went to the wronged parties and to the treasury.
    mapping(address host => uint256) public slashedFrom;
    uint256 public compensationPaid;
    uint256 public slashedToTreasury;
    /// FAB each host ever put into the registry (its registration stake and every addStake).
    mapping(address host => uint256) public stakedIn;

    /// A challenge of a job in the ProofSystem as the model sees it.
    struct GhostChallenge {
        uint256 jobId;
        IProofSystem.ChallengeKind kind;
        address challenger;
        address host;
        address token;
        uint256 bond;
        uint64 deadline;
        bool open;
    }

    /// Challenge ids run from 1 to challengeCount().
    mapping(uint256 challengeId => GhostChallenge) internal challenges;
    uint256 public challengeCount;
    mapping(uint256 jobId => uint256) public openCountChallengeOf;
    mapping(uint256 jobId => bool) public countChallengeLost;
    mapping(uint256 jobId => bool) public proven;
    /// Bonds of ended challenges, credited in full to the challenger or the host (no fee).
    mapping(address token => uint256) public endedBonds;

    constructor(
        JobMarketplace marketplace_,
        PaymentEscrow escrow_,
        NodeRegistry registry_,
        ReputationSystem reputation_,
        ProofSystem proofs_,
        TestStablecoin usd_,
        address admin_,
        address treasury_,
        address stakersPool_,
        address[5] memory actors_
    ) {
        marketplace = marketplace_;
        escrow = escrow_;
        registry = registry_;
        reputation = reputation_;
        proofs = proofs_;
        usd = usd_;
        admin = admin_;
        treasury = treasury_;
        stakersPool = stakersPool_;
        actors = actors_;
        time = block.timestamp;
        for (uint256 i; i < 3; ++i) {
            (, uint256 stake,, uint256 unbonding,) = registry_.hostState(actors_[i]);
            stakedIn[actors_[i]] = stake + unbonding;
        }
    }

    modifier tick() {
        vm.warp(time);
        _;
    }

    // ---------------------------------------------------------------- views for the invariants

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function jobIdAt(uint256 i) external view returns (uint256) {
        return jobIds[i];
    }

    function ghostJob(uint256 jobId) external view returns (GhostJob memory) {
        return jobs[jobId];
    }

    function ghostChallenge(uint256 challengeId) external view returns (GhostChallenge memory) {
        return challenges[challengeId];
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

    // ---------------------------------------------------------------- internals

    function _token(uint256 seed) internal view returns (address) {
        return seed % 2 == 0 ? ETH : address(usd);
    }

    function _host(uint256 seed) internal view returns (address) {
        return actors[seed % 3];
    }

    function _renter(uint256 seed) internal view returns (address) {
        return actors[2 + seed % 3];
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % 5];
    }

    /// @dev Mostly a job in `wanted` state (if any), sometimes any job, to exercise the rejections.
    function _pick(uint256 seed, IJobMarketplace.JobStatus wanted) internal view returns (bool found, uint256 jobId) {
        uint256 n = jobIds.length;
        if (n == 0) return (false, 0);
        uint256 start = (seed >> 8) % n;
        if (seed % 8 != 0) {
            for (uint256 i; i < n; ++i) {
                uint256 id = jobIds[(start + i) % n];
                if (jobs[id].status == wanted) return (true, id);
            }
        }
        return (true, jobIds[start]);
    }

    function _tokenBalance(address token, address account) internal view returns (uint256) {
        return token == ETH ? account.balance : usd.balanceOf(account);
    }

    struct Snap {
        uint256 host;
        uint256 renter;
        uint256 treasuryFees;
        uint256 stakersFees;
        uint256 total;
    }

    function _snap(address host, address renter, address token) internal view returns (Snap memory s) {
        if (host != address(0)) s.host = escrow.balanceOf(host, token);
        s.renter = escrow.balanceOf(renter, token);
        (s.treasuryFees, s.stakersFees) = escrow.feesOf(token);
        s.total = s.treasuryFees + s.stakersFees;
        for (uint256 i; i < 5; ++i) {
            s.total += escrow.balanceOf(actors[i], token);
        }
    }

    /// @dev The escrow's split of `payment` with a fee discount of `discount` bps of the treasury's
    /// share (capped as the escrow caps it), mirroring PaymentEscrow._split.
    function _split(uint256 payment, uint256 discount)
        internal
        view
        returns (uint256 hostAmount, uint256 treasuryAmount, uint256 stakersAmount)
    {
        hostAmount = payment * hostBps / BPS;
        treasuryAmount = payment * treasuryBps / BPS;
        if (discount > 5_000) discount = 5_000;
        uint256 waived = treasuryAmount * discount / BPS;
        treasuryAmount -= waived;
        hostAmount += waived;
        stakersAmount = payment - hostAmount - treasuryAmount;
    }

    /// @dev Checks a successful settlement or refund against the model, then marks the job terminal.
    /// `payment` of the deposit and `bondToHost` of the dispute bond (if any) go to the host, each
    /// split with the fees (less the host's fee `discount`); the renter gets the rest of both.
    function _terminal(
        uint256 jobId,
        Snap memory b,
        uint256 payment,
        uint256 bondToHost,
        uint256 discount,
        IJobMarketplace.JobStatus next
    ) internal {
        GhostJob storage g = jobs[jobId];
        Snap memory a = _snap(g.host, g.renter, g.token);
        (uint256 hostAmount, uint256 treasuryAmount, uint256 stakersAmount) = _split(payment, discount);
        (uint256 hostBond, uint256 treasuryBond, uint256 stakersBond) = _split(bondToHost, discount);
        // Compared additively so that a balance that went down is reported, not an underflow.
        if (a.total != b.total + g.deposit + g.bond) _violate("terminal: credited != deposit + bond", "");
        if (a.host != b.host + hostAmount + hostBond) _violate("terminal: wrong host share", "");
        if (a.renter != b.renter + (g.deposit - payment) + (g.bond - bondToHost)) {
            _violate("terminal: wrong renter refund", "");
        }
        if (a.treasuryFees != b.treasuryFees + treasuryAmount + treasuryBond) {
            _violate("terminal: wrong treasury fee", "");
        }
        if (a.stakersFees != b.stakersFees + stakersAmount + stakersBond) _violate("terminal: wrong stakers fee", "");
        (, uint256 locked) = escrow.lockOf(address(marketplace), jobId);
        if (locked != 0) _violate("terminal: lock not cleared", "");
        (, locked) = escrow.lockOf(address(marketplace), jobId | BOND_ID);
        if (locked != 0) _violate("terminal: bond not released", "");
        if (bondToHost != 0 && bondToHost != g.bond) _probe("bondSplit");
        if (discount != 0 && payment != 0) _probe("discount");
        g.status = next;
        g.terminalCount++;
        if (a.total >= b.total) g.credited += a.total - b.total;
        if (a.host >= b.host) g.hostPaid += a.host - b.host;
    }

    /// @dev What an offence must slash, from the state before it: the offence's share of the host's
    /// stake and unbonding stake, doubled per earlier offence (at most 4 times), capped per incident;
    /// the wronged party's (renter's or challenger's) compensation share of it.
    struct SlashCheck {
        uint256 held;
        uint256 cap;
        uint256 slash;
        uint256 compensation;
        uint256 wrongedFab;
        uint256 treasuryFab;
        uint256 registryFab;
        uint256 offences;
    }

    function _expectSlash(address host, address wronged, IReputationSystem.Offence offence)
        internal
        view
        returns (SlashCheck memory c)
    {
        (, uint256 stake,, uint256 unbonding,) = registry.hostState(host);
        c.held = stake + unbonding;
        ReputationSystem.Parameters memory p = reputation.parameters();
        IReputationSystem.Reputation memory r = reputation.reputationOf(host);
        c.offences = uint256(r.abandoned) + r.disputesLost + r.challengesLost;
        uint256 bps = offence == IReputationSystem.Offence.AbandonedClaim
            ? p.abandonedBps
            : offence == IReputationSystem.Offence.DisputeLost ? p.disputeLostBps : p.challengeLostBps;
        bps <<= c.offences < 4 ? c.offences : 4;
        if (bps > p.maxSlashBps) bps = p.maxSlashBps;
        c.cap = c.held * p.maxSlashBps / BPS;
        c.slash = c.held * bps / BPS;
        c.compensation = c.slash * p.compensationBps / BPS;
        IERC20 fab = IERC20(registry.fab());
        c.wrongedFab = fab.balanceOf(wronged);
        c.treasuryFab = fab.balanceOf(treasury);
        c.registryFab = fab.balanceOf(address(registry));
    }

    function _probe(string memory name) internal {
        if (keccak256(bytes(vm.envOr("FABSTIR_PROBE", string("")))) == keccak256(bytes(name))) _violate(name, "");
    }

    /// @dev Checks a slash against `c` (taken before it). What was taken is measured from the FAB
    /// that left the registry: never more than the host held (stake and unbonding stake), never
    /// more than the per-incident cap, and exactly what the model expects.
    function _checkSlash(address host, address wronged, SlashCheck memory c) internal {
        _probe(c.slash == 0 ? "slash0" : c.compensation == 0 ? "slashNoComp" : "slash");
        if (c.offences >= 2) _probe("escalated");
        IERC20 fab = IERC20(registry.fab());
        uint256 registryFab = fab.balanceOf(address(registry));
        if (registryFab > c.registryFab) _violate("slash: the registry gained FAB", "");
        uint256 taken = c.registryFab > registryFab ? c.registryFab - registryFab : 0;
        (, uint256 stake,, uint256 unbonding,) = registry.hostState(host);
        if (taken > c.held) _violate("slash: more than the stake and unbonding stake", "");
        if (taken > c.cap) _violate("slash: more than the per-incident cap", "");
        if (taken != c.slash) _violate("slash: wrong amount taken", "");
        if (stake + unbonding + taken != c.held) _violate("slash: stake not reduced by what was taken", "");
        if (fab.balanceOf(wronged) != c.wrongedFab + c.compensation) _violate("slash: wrong compensation", "");
        if (fab.balanceOf(treasury) + c.compensation != c.treasuryFab + taken) {
            _violate("slash: wrong treasury share", "");
        }
        IReputationSystem.Reputation memory r = reputation.reputationOf(host);
        if (uint256(r.abandoned) + r.disputesLost + r.challengesLost != c.offences + 1) {
            _violate("slash: offence not recorded", "");
        }
        slashedFrom[host] += taken;
        compensationPaid += c.compensation;
        if (taken >= c.compensation) slashedToTreasury += taken - c.compensation;
    }

    /// @dev When a claimed job may be taken back: its deadline or the claim timeout, whichever first.
    function claimEndsAt(GhostJob memory g) public view returns (uint256) {
        uint256 timeoutEnd = uint256(g.claimedAt) + marketplace.claimTimeout();
        return timeoutEnd < g.deadline ? timeoutEnd : g.deadline;
    }

    /// @dev How many open claims `host` may hold now (0 if it may not claim at all).
    function _capacity(address host) internal view returns (uint256) {
        (, uint256 stake,,,) = registry.hostState(host);
        return stake / registry.minimumStake() * registry.claimsPerMinimumStake();
    }

    // ---------------------------------------------------------------- lifecycle steps
    // Each step computes from the model whether the call must succeed, makes it as `caller`,
    // records the outcome and, on success, checks its effects and updates the model.

    function _claim(uint256 jobId, address claimer) internal {
        GhostJob storage g = jobs[jobId];
        (INodeRegistry.HostStatus hs, uint256 stake,,,) = registry.hostState(claimer);
        uint64 price = registry.priceOf(claimer, MODEL, g.token);
        bool expectOk = g.status == IJobMarketplace.JobStatus.Posted && time <= g.deadline
            && (g.chosenHost == address(0) || g.chosenHost == claimer) && claimer != g.renter
            && hs == INodeRegistry.HostStatus.Active && stake >= registry.minimumStake() && price != 0
            && price <= g.maxPrice && !marketplace.paused();
        uint256 activeBefore = marketplace.activeJobCount(claimer);
        expectOk = expectOk && activeBefore < _capacity(claimer);

        vm.prank(claimer);
        (bool ok, bytes memory err) = address(marketplace).call(abi.encodeCall(marketplace.claimJob, (jobId)));
        _record("claimJob", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (marketplace.activeJobCount(claimer) != activeBefore + 1) _violate("claimJob: active count", "");
        g.status = IJobMarketplace.JobStatus.Claimed;
        g.host = claimer;
        g.price = price;
        g.claimedAt = uint64(time);
        // While Claimed the job's tokensUsed field holds the claim time.
        g.tokensUsed = uint32(time);
    }

    function _complete(uint256 jobId, address caller, uint32 used) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = caller == g.host && g.status == IJobMarketplace.JobStatus.Claimed && time <= g.deadline
            && used <= g.maxTokens;
        uint32 window = marketplace.disputeWindow();
        vm.prank(caller);
        (bool ok, bytes memory err) =
            address(marketplace).call(abi.encodeCall(marketplace.completeJob, (jobId, keccak256("out"), used)));
        _record("completeJob", expectOk, ok, err);
        if (!ok || !expectOk) return;
        g.status = IJobMarketplace.JobStatus.Completed;
        g.tokensUsed = used;
        g.disputeEndsAt = uint64(time + window);
    }

    function _accept(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = caller == g.renter && g.status == IJobMarketplace.JobStatus.Completed;
        Snap memory b = _snap(g.host, g.renter, g.token);
        uint256 discount = reputation.feeDiscountBps(g.host);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(marketplace).call(abi.encodeCall(marketplace.acceptJob, (jobId)));
        _record("acceptJob", expectOk, ok, err);
        if (ok && expectOk) {
            _terminal(jobId, b, uint256(g.tokensUsed) * g.price, 0, discount, IJobMarketplace.JobStatus.Settled);
        }
    }

    function _dispute(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk =
            caller == g.renter && g.status == IJobMarketplace.JobStatus.Completed && time <= g.disputeEndsAt;
        uint256 bond = uint256(g.tokensUsed) * g.price * marketplace.disputeBondBps() / BPS;
        uint256 paidBefore = _tokenBalance(g.token, caller);
        uint64 arbitrationEndsAt = uint64(time + marketplace.arbitrationWindow());
        vm.prank(caller);
        (bool ok, bytes memory err) = address(marketplace).call{value: g.token == ETH ? bond : 0}(
            abi.encodeCall(marketplace.disputeJob, (jobId, keccak256("evidence")))
        );
        _record("disputeJob", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (_tokenBalance(g.token, caller) + bond != paidBefore) _violate("disputeJob: renter paid != bond", "");
        (address lockedToken, uint256 locked) = escrow.lockOf(address(marketplace), jobId | BOND_ID);
        if (locked != bond || (bond != 0 && lockedToken != g.token)) _violate("disputeJob: bond not locked", "");
        g.status = IJobMarketplace.JobStatus.Disputed;
        g.bond = bond;
        g.arbitrationEndsAt = arbitrationEndsAt;
    }

    /// @dev The arbiter's resolution (also after the deadline, until someone applies the default):
    /// payment and bond split by `bps`; below half the host lost and is slashed.
    function _resolve(uint256 jobId, uint16 bps) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = g.status == IJobMarketplace.JobStatus.Disputed && bps <= BPS;
        Snap memory b = _snap(g.host, g.renter, g.token);
        uint256 discount = g.host == address(0) ? 0 : reputation.feeDiscountBps(g.host);
        SlashCheck memory c;
        if (expectOk && bps < BPS / 2) c = _expectSlash(g.host, g.renter, IReputationSystem.Offence.DisputeLost);
        uint256 wonBefore = g.host == address(0) ? 0 : reputation.reputationOf(g.host).disputesWon;
        vm.prank(admin);
        (bool ok, bytes memory err) =
            address(marketplace).call(abi.encodeCall(marketplace.resolveDispute, (jobId, bps)));
        _record("resolveDispute", expectOk, ok, err);
        if (!ok || !expectOk) return;
        uint256 payment = uint256(g.tokensUsed) * g.price * bps / BPS;
        _terminal(jobId, b, payment, g.bond * bps / BPS, discount, IJobMarketplace.JobStatus.Settled);
        if (bps < BPS / 2) _checkSlash(g.host, g.renter, c);
        else if (reputation.reputationOf(g.host).disputesWon != wonBefore + 1) _violate("resolve: win not recorded", "");
    }

    /// @dev The default after the arbitration deadline: the host paid in full, the bond refunded.
    function _settleDispute(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = g.status == IJobMarketplace.JobStatus.Disputed && time > g.arbitrationEndsAt;
        Snap memory b = _snap(g.host, g.renter, g.token);
        uint256 discount = g.host == address(0) ? 0 : reputation.feeDiscountBps(g.host);
        (, uint256 stakeBefore,,,) = registry.hostState(g.host);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(marketplace).call(abi.encodeCall(marketplace.settleDispute, (jobId)));
        _record("settleDispute", expectOk, ok, err);
        if (!ok || !expectOk) return;
        _terminal(jobId, b, uint256(g.tokensUsed) * g.price, 0, discount, IJobMarketplace.JobStatus.Settled);
        _probe("settleDispute");
        (, uint256 stakeAfter,,,) = registry.hostState(g.host);
        if (stakeAfter != stakeBefore) _violate("settleDispute: the default slashed", "");
    }

    /// @dev The renter rates a settled job once (1-5 stars), weighted by what it paid.
    function _rate(uint256 jobId, address caller, uint8 stars) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = g.status == IJobMarketplace.JobStatus.Settled && caller == g.renter
            && !reputation.isRated(IReputationSystem.Work.Job, jobId) && stars >= 1 && stars <= 5
            && reputation.ratingUnit(g.token) != 0;
        vm.prank(caller);
        (bool ok, bytes memory err) = address(reputation).call(abi.encodeCall(reputation.rateJob, (jobId, stars)));
        _record("rateJob", expectOk, ok, err);
        if (ok) _probe("rate");
        uint16 score = g.host == address(0) ? 0 : reputation.scoreOf(g.host);
        if (score > 1_000) _violate("rateJob: score above 1000", "");
    }

    function _release(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = g.status == IJobMarketplace.JobStatus.Completed && time > g.disputeEndsAt;
        Snap memory b = _snap(g.host, g.renter, g.token);
        uint256 discount = g.host == address(0) ? 0 : reputation.feeDiscountBps(g.host);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(marketplace).call(abi.encodeCall(marketplace.releasePayment, (jobId)));
        _record("releasePayment", expectOk, ok, err);
        if (ok && expectOk) {
            _terminal(jobId, b, uint256(g.tokensUsed) * g.price, 0, discount, IJobMarketplace.JobStatus.Settled);
        }
    }

    function _expire(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool claimed = g.status == IJobMarketplace.JobStatus.Claimed;
        bool expectOk = (g.status == IJobMarketplace.JobStatus.Posted && time > g.deadline)
            || (claimed && time > claimEndsAt(g));
        Snap memory b = _snap(g.host, g.renter, g.token);
        SlashCheck memory c;
        if (expectOk && claimed) c = _expectSlash(g.host, g.renter, IReputationSystem.Offence.AbandonedClaim);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(marketplace).call(abi.encodeCall(marketplace.expireJob, (jobId)));
        _record("expireJob", expectOk, ok, err);
        if (!ok || !expectOk) return;
        _terminal(jobId, b, 0, 0, 0, IJobMarketplace.JobStatus.Expired);
        // Taken back from its host: an abandoned claim, slashed.
        if (claimed && time <= g.deadline) _probe("claimTimeout");
        if (claimed) _checkSlash(g.host, g.renter, c);
    }

    function _refuse(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = caller == g.host && g.status == IJobMarketplace.JobStatus.Claimed && time <= g.deadline;
        uint256 activeBefore = marketplace.activeJobCount(caller);
        Snap memory b = _snap(g.host, g.renter, g.token);
        vm.prank(caller);
        (bool ok, bytes memory err) =
            address(marketplace).call(abi.encodeCall(marketplace.refuseJob, (jobId, bytes32("prompt_too_long"))));
        _record("refuseJob", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (marketplace.activeJobCount(caller) + 1 != activeBefore) _violate("refuseJob: active count", "");
        _terminal(jobId, b, 0, 0, 0, IJobMarketplace.JobStatus.Refused);
    }

    function _cancel(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = caller == g.renter && g.status == IJobMarketplace.JobStatus.Posted;
        Snap memory b = _snap(g.host, g.renter, g.token);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(marketplace).call(abi.encodeCall(marketplace.cancelJob, (jobId)));
        _record("cancelJob", expectOk, ok, err);
        if (ok && expectOk) _terminal(jobId, b, 0, 0, 0, IJobMarketplace.JobStatus.Cancelled);
    }

    /// @dev Mostly a valid token count (often 0 or all of them), one time in eight too many.
    function _tokensUsed(uint256 seed, uint32 maxTokens) internal pure returns (uint32) {
        uint256 mode = seed % 8;
        if (mode == 0) return 0;
        if (mode == 1) return maxTokens;
        if (mode == 2) return uint32(bound(seed >> 3, uint256(maxTokens) + 1, type(uint32).max));
        return uint32(bound(seed >> 3, 0, maxTokens));
    }

    /// @dev Mostly a valid share (often 0 or all of it), one time in eight above 10000.
    function _bps(uint256 seed) internal pure returns (uint16) {
        uint256 mode = seed % 8;
        if (mode == 0) return 0;
        if (mode == 1) return BPS;
        if (mode == 2) return uint16(bound(seed >> 3, uint256(BPS) + 1, type(uint16).max));
        return uint16(bound(seed >> 3, 0, BPS));
    }

    /// @dev The caller a step should come from, one time in eight any actor instead.
    function _callerOr(uint256 seed, address rightful) internal view returns (address) {
        return seed % 8 == 0 ? _actor(seed >> 3) : rightful;
    }

    // ---------------------------------------------------------------- renter actions

    function postJob(
        uint256 renterSeed,
        uint256 tokenSeed,
        uint256 maxTokensSeed,
        uint256 priceSeed,
        uint256 durationSeed,
        uint256 hostSeed
    ) external tick {
        address renter = _renter(renterSeed);
        address token = _token(tokenSeed);
        uint32 maxTokens = uint32(bound(maxTokensSeed, 1, 10_000));
        // Mostly at or above the hosts' usual prices so claims can happen.
        uint64 maxPrice = token == ETH
            ? uint64(priceSeed % 4 == 0 ? bound(priceSeed >> 2, 1, 1e13) : bound(priceSeed >> 2, 3e9, 1e13))
            : uint64(priceSeed % 4 == 0 ? bound(priceSeed >> 2, 1, 1e6) : bound(priceSeed >> 2, 30, 1e6));
        uint64 deadline = uint64(time + bound(durationSeed, 1 hours, 2 days));
        address chosen = hostSeed % 4 == 0 ? _host(hostSeed >> 2) : address(0);
        uint256 deposit = uint256(maxTokens) * maxPrice;
        IJobMarketplace.JobRequest memory r = IJobMarketplace.JobRequest({
            modelId: MODEL,
            promptHash: keccak256(abi.encode(time, renter)),
            token: token,
            maxTokens: maxTokens,
            maxPricePerToken: maxPrice,
            deadline: deadline,
            host: chosen,
            minScore: 0
        });
        bool expectOk = chosen != renter && !marketplace.paused();
        uint256 expectedId = marketplace.nextJobId();
        uint256 paidBefore = _tokenBalance(token, renter);

        vm.prank(renter);
        (bool ok, bytes memory ret) =
            address(marketplace).call{value: token == ETH ? deposit : 0}(abi.encodeCall(marketplace.postJob, (r)));
        _record("postJob", expectOk, ok, ret);
        if (!ok || !expectOk) return;

        uint256 jobId = abi.decode(ret, (uint256));
        if (jobId != expectedId) _violate("postJob: unexpected job id", "");
        if (_tokenBalance(token, renter) + deposit != paidBefore) _violate("postJob: renter paid != deposit", "");
        (address lockedToken, uint256 locked) = escrow.lockOf(address(marketplace), jobId);
        if (lockedToken != token || locked != deposit) _violate("postJob: lock != deposit", "");
        jobIds.push(jobId);
        GhostJob storage g = jobs[jobId];
        g.renter = renter;
        g.token = token;
        g.chosenHost = chosen;
        g.deposit = deposit;
        g.deadline = deadline;
        g.maxTokens = maxTokens;
        g.maxPrice = maxPrice;
        g.price = maxPrice;
        g.status = IJobMarketplace.JobStatus.Posted;
    }

    function cancelJob(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Posted);
        if (found) _cancel(jobId, _callerOr(callerSeed, jobs[jobId].renter));
    }

    function acceptJob(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Completed);
        if (found) _accept(jobId, _callerOr(callerSeed, jobs[jobId].renter));
    }

    function disputeJob(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Completed);
        if (found) _dispute(jobId, _callerOr(callerSeed, jobs[jobId].renter));
    }

    // ---------------------------------------------------------------- host actions

    function claimJob(uint256 jobSeed, uint256 claimerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Posted);
        if (!found) return;
        address chosen = jobs[jobId].chosenHost;
        address claimer = chosen != address(0) && claimerSeed % 8 != 0 ? chosen : _host(claimerSeed >> 3);
        if (claimerSeed % 16 == 1) claimer = _actor(claimerSeed >> 4);
        _claim(jobId, claimer);
    }

    function completeJob(uint256 jobSeed, uint256 usedSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Claimed);
        if (!found) return;
        GhostJob storage g = jobs[jobId];
        _complete(jobId, _callerOr(callerSeed, g.host), _tokensUsed(usedSeed, g.maxTokens));
    }

    /// The claiming host hands a job back (one time in eight someone else tries).
    function refuseJob(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Claimed);
        if (!found) return;
        GhostJob storage g = jobs[jobId];
        _refuse(jobId, _callerOr(callerSeed, g.host != address(0) ? g.host : _host(callerSeed >> 3)));
    }

    // ---------------------------------------------------------------- anyone

    function releasePayment(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Completed);
        if (found) _release(jobId, _actor(callerSeed));
    }

    function expireJob(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) =
            _pick(jobSeed, jobSeed % 2 == 0 ? IJobMarketplace.JobStatus.Posted : IJobMarketplace.JobStatus.Claimed);
        if (found) _expire(jobId, _actor(callerSeed));
    }

    /// Takes a random live job one valid step further (the fuzzer rarely lines the steps up by
    /// itself within a short sequence): claim by an eligible host, complete (or refuse), then
    /// accept, dispute, release or resolve, or expire once late.
    function progressJob(uint256 jobSeed, uint256 seed) external tick {
        uint256 n = jobIds.length;
        if (n == 0) return;
        uint256 start = jobSeed % n;
        for (uint256 i; i < n; ++i) {
            uint256 jobId = jobIds[(start + i) % n];
            GhostJob storage g = jobs[jobId];
            IJobMarketplace.JobStatus s = g.status;
            if (isTerminal(s) && (s != IJobMarketplace.JobStatus.Settled || seed % 4 != 0)) continue;
            if (
                (s == IJobMarketplace.JobStatus.Posted && time > g.deadline)
                    || (s == IJobMarketplace.JobStatus.Claimed && time > claimEndsAt(g) && seed % 4 != 0)
            ) {
                _expire(jobId, _actor(seed));
            } else if (s == IJobMarketplace.JobStatus.Posted) {
                address claimer = g.chosenHost != address(0) ? g.chosenHost : _eligibleHost(g, seed);
                if (claimer == address(0)) continue;
                _claim(jobId, claimer);
            } else if (s == IJobMarketplace.JobStatus.Claimed) {
                // One claimed job in eight cannot be served and is handed back; late hosts may
                // still complete or refuse until the deadline if nobody took the job back.
                if (seed % 8 == 0) _refuse(jobId, g.host);
                else _complete(jobId, g.host, uint32(bound(seed, 0, g.maxTokens)));
            } else if (s == IJobMarketplace.JobStatus.Completed) {
                if (time > g.disputeEndsAt) _release(jobId, _actor(seed));
                else if (seed % 2 == 0) _accept(jobId, g.renter);
                else _dispute(jobId, g.renter);
            } else if (s == IJobMarketplace.JobStatus.Disputed) {
                if (time > g.arbitrationEndsAt && seed % 2 == 0) _settleDispute(jobId, _actor(seed >> 1));
                else _resolve(jobId, uint16(bound(seed, 0, BPS)));
            } else if (s == IJobMarketplace.JobStatus.Settled && seed % 2 == 0) {
                _rate(jobId, g.renter, uint8(1 + (seed >> 1) % 5));
            } else {
                continue;
            }
            return;
        }
    }

    /// @dev A host the model says may claim `g` (address(0) if none), starting from a random one.
    function _eligibleHost(GhostJob storage g, uint256 seed) internal view returns (address) {
        if (marketplace.paused()) return address(0);
        for (uint256 i; i < 3; ++i) {
            address h = _host(seed + i);
            if (h == g.renter) continue;
            (INodeRegistry.HostStatus hs, uint256 stake,,,) = registry.hostState(h);
            uint64 price = registry.priceOf(h, MODEL, g.token);
            if (
                hs == INodeRegistry.HostStatus.Active && stake >= registry.minimumStake() && price != 0
                    && price <= g.maxPrice && marketplace.activeJobCount(h) < _capacity(h)
            ) return h;
        }
        return address(0);
    }

    function withdraw(uint256 actorSeed, uint256 tokenSeed, uint256 amountSeed) external tick {
        address account = _actor(actorSeed);
        address token = _token(tokenSeed);
        // Prefer an account that has something to withdraw.
        if (amountSeed % 8 != 0) {
            for (uint256 i; i < 10 && escrow.balanceOf(account, token) == 0; ++i) {
                account = _actor(actorSeed + i);
                token = _token(tokenSeed + i / 5);
            }
        }
        uint256 balance = escrow.balanceOf(account, token);
        uint256 amount = balance == 0 || amountSeed % 16 == 0 ? balance + 1 : bound(amountSeed >> 4, 1, balance);
        bool expectOk = amount <= balance && !escrow.paused();
        uint256 before = _tokenBalance(token, account);
        vm.prank(account);
        (bool ok, bytes memory err) =
            address(escrow).call(abi.encodeCall(escrow.withdraw, (token, amount, account)));
        _record("withdraw", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (_tokenBalance(token, account) != before + amount) _violate("withdraw: wrong amount received", "");
        if (escrow.balanceOf(account, token) + amount != balance) _violate("withdraw: wrong balance left", "");
        withdrawn[token] += amount;
    }

    function collectFees(uint256 tokenSeed, uint256 callerSeed) external tick {
        address token = _token(tokenSeed);
        (uint256 tf, uint256 sf) = escrow.feesOf(token);
        uint256 tBefore = _tokenBalance(token, treasury);
        uint256 sBefore = _tokenBalance(token, stakersPool);
        bool expectOk = !escrow.paused();
        vm.prank(_actor(callerSeed));
        (bool ok, bytes memory err) =
            address(escrow).call(abi.encodeCall(escrow.collectFees, (token, IPaymentEscrow.FeeKind.Treasury)));
        _record("collectFees", expectOk, ok, err);
        if (!ok || !expectOk) return;
        vm.prank(_actor(callerSeed));
        (ok, err) = address(escrow).call(abi.encodeCall(escrow.collectFees, (token, IPaymentEscrow.FeeKind.Stakers)));
        _record("collectFees", expectOk, ok, err);
        if (!ok) return;
        if (_tokenBalance(token, treasury) != tBefore + tf) _violate("collectFees: treasury amount", "");
        if (_tokenBalance(token, stakersPool) != sBefore + sf) _violate("collectFees: stakers amount", "");
        (uint256 tAfter, uint256 sAfter) = escrow.feesOf(token);
        if (tAfter != 0 || sAfter != 0) _violate("collectFees: fees not cleared", "");
        collected[token] += tf + sf;
    }

    // ---------------------------------------------------------------- arbiter / admin

    function resolveDispute(uint256 jobSeed, uint256 bpsSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Disputed);
        if (found) _resolve(jobId, _bps(bpsSeed));
    }

    /// Anyone applies the default to a disputed job (the model says whether its deadline passed).
    function settleDispute(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Disputed);
        if (found) _settleDispute(jobId, _actor(callerSeed));
    }

    /// The renter of a settled job rates it; one time in eight someone else, or an invalid star count.
    function rateJob(uint256 jobSeed, uint256 callerSeed, uint256 starsSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Settled);
        if (!found) return;
        uint8 stars = starsSeed % 8 == 0 ? uint8(starsSeed >> 3) : uint8(1 + (starsSeed >> 3) % 5);
        _rate(jobId, _callerOr(callerSeed, jobs[jobId].renter), stars);
    }

    /// Governs the claim timeout, the arbitration window or the dispute bond; one time in eight
    /// out of bounds (which must revert). A new claim timeout applies to open claims at once.
    function setMarketplaceParameter(uint256 which, uint256 seed) external tick {
        bool valid = seed % 8 != 0;
        bytes memory call;
        if (which % 3 == 0) {
            uint32 t = valid ? uint32(bound(seed >> 3, 1 minutes, 3 hours)) : uint32(bound(seed >> 3, 7 days + 1, 8 days));
            call = abi.encodeCall(marketplace.setClaimTimeout, (t));
        } else if (which % 3 == 1) {
            uint32 w = valid ? uint32(bound(seed >> 3, 1 hours, 2 days)) : uint32(bound(seed >> 3, 0, 1 hours - 1));
            call = abi.encodeCall(marketplace.setArbitrationWindow, (w));
        } else {
            uint16 bps = valid ? uint16(bound(seed >> 3, 0, 5_000)) : uint16(bound(seed >> 3, 5_001, type(uint16).max));
            call = abi.encodeCall(marketplace.setDisputeBondBps, (bps));
        }
        vm.prank(admin);
        (bool ok, bytes memory err) = address(marketplace).call(call);
        _record("setMarketplaceParameter", valid, ok, err);
    }

    /// Governs the slash shares (within the cap), or the fee discount (often from a score new
    /// hosts have, so that discounted payments are common).
    function setReputationParameter(uint256 which, uint256 seed) external tick {
        bytes memory call;
        if (which % 2 == 0) {
            uint16 cap = uint16(bound(seed, 0, 5_000));
            call = abi.encodeCall(
                reputation.setSlashing,
                (
                    uint16(bound(seed >> 16, 0, cap)),
                    uint16(bound(seed >> 32, 0, cap)),
                    uint16(bound(seed >> 48, 0, cap)),
                    cap,
                    uint16(bound(seed >> 64, 0, BPS))
                )
            );
        } else {
            call = abi.encodeCall(reputation.setFeeDiscount, (uint16(bound(seed, 0, 1_000)), uint16(bound(seed >> 16, 0, 5_000))));
        }
        vm.prank(admin);
        (bool ok, bytes memory err) = address(reputation).call(call);
        _record("setReputationParameter", true, ok, err);
    }

    function setFeeSplit(uint256 tSeed, uint256 sSeed) external tick {
        uint16 t = uint16(bound(tSeed, 0, 2_000));
        uint16 s = uint16(bound(sSeed, 0, 3_000 - t > 2_000 ? 2_000 : 3_000 - t));
        uint16 h = BPS - t - s;
        vm.prank(admin);
        (bool ok, bytes memory err) = address(escrow).call(abi.encodeCall(escrow.setFeeSplit, (h, t, s)));
        _record("setFeeSplit", true, ok, err);
        if (!ok) return;
        (hostBps, treasuryBps, stakersBps) = (h, t, s);
    }

    /// Resumes the marketplace (seed even) or the escrow (seed odd) if paused; otherwise pauses it
    /// one time in four, so that most of a run happens unpaused.
    function togglePause(uint256 seed) external tick {
        bool onMarketplace = seed % 2 == 0;
        bool paused = onMarketplace ? marketplace.paused() : escrow.paused();
        if (!paused && (seed >> 1) % 4 != 0) return;
        vm.prank(admin);
        (bool ok, bytes memory err) = onMarketplace
            ? address(marketplace).call(
                paused ? abi.encodeCall(marketplace.unpause, ()) : abi.encodeCall(marketplace.pause, ())
            )
            : address(escrow).call(paused ? abi.encodeCall(escrow.unpause, ()) : abi.encodeCall(escrow.pause, ()));
        _record("togglePause", true, ok, err);
        bool pausedAfter = onMarketplace ? marketplace.paused() : escrow.paused();
        if (ok && pausedAfter == paused) _violate("togglePause: flag unchanged", "");
    }

    /// Changes the dispute window for jobs completed from now on (jobs already completed keep
    /// theirs: the model fixed it at completion); one time in eight an invalid window.
    function setDisputeWindow(uint256 seed) external tick {
        uint32 window;
        if (seed % 8 == 0) window = seed % 16 == 0 ? 0 : uint32(bound(seed >> 4, 30 days + 1, type(uint32).max));
        else window = uint32(bound(seed >> 3, 1, 1 days));
        bool expectOk = window != 0 && window <= 30 days;
        vm.prank(admin);
        (bool ok, bytes memory err) =
            address(marketplace).call(abi.encodeCall(marketplace.setDisputeWindow, (window)));
        _record("setDisputeWindow", expectOk, ok, err);
    }

    // ---------------------------------------------------------------- challenges (ProofSystem)

    function _completedOrLater(IJobMarketplace.JobStatus s) internal pure returns (bool) {
        return s == IJobMarketplace.JobStatus.Completed || s == IJobMarketplace.JobStatus.Disputed
            || s == IJobMarketplace.JobStatus.Settled;
    }

    /// @dev When a job's challenge window closes: jobChallengeWindow after its dispute window ended
    /// (after its arbitration deadline once disputed).
    function _challengeWindowEnd(GhostJob storage g) internal view returns (uint256) {
        (uint32 jobWindow,,,) = proofs.windows();
        return uint256(g.arbitrationEndsAt != 0 ? g.arbitrationEndsAt : g.disputeEndsAt) + jobWindow;
    }

    /// @dev Mostly a job that can be challenged now (completed, disputed or settled, with tokens,
    /// inside its challenge window), sometimes any job, to exercise the rejections.
    function _pickChallengeable(uint256 seed) internal view returns (bool found, uint256 jobId) {
        uint256 n = jobIds.length;
        if (n == 0) return (false, 0);
        uint256 start = (seed >> 8) % n;
        if (seed % 8 != 0) {
            for (uint256 i; i < n; ++i) {
                uint256 id = jobIds[(start + i) % n];
                GhostJob storage g = jobs[id];
                if (_completedOrLater(g.status) && g.tokensUsed != 0 && time <= _challengeWindowEnd(g)) {
                    return (true, id);
                }
            }
        }
        return (true, jobIds[start]);
    }

    /// A renter (actor 2 is also a host, so self-challenges happen) challenges a completed,
    /// disputed or settled job's count or output, locking a bond of the job's payment in its token.
    function openChallenge(uint256 jobSeed, uint256 challengerSeed, uint256 kindSeed) external tick {
        (bool found, uint256 jobId) = _pickChallengeable(jobSeed);
        if (!found) return;
        GhostJob storage g = jobs[jobId];
        bool output = kindSeed % 2 == 1;
        address challenger = _renter(challengerSeed);
        bool done = _completedOrLater(g.status);
        uint256 bond = done ? uint256(g.tokensUsed) * g.price * proofs.bondBps() / BPS : 0;
        bool expectOk = done && g.tokensUsed != 0 && time <= _challengeWindowEnd(g) && challenger != g.host
            && bond != 0;
        if (!output) {
            expectOk = expectOk && openCountChallengeOf[jobId] == 0 && !countChallengeLost[jobId] && !proven[jobId];
        }
        uint256 challengeId = proofs.nextChallengeId();
        uint256 paidBefore = _tokenBalance(g.token, challenger);
        bytes memory call = output
            ? abi.encodeCall(proofs.challengeJobOutput, (jobId, keccak256(abi.encode("evidence", jobId))))
            : abi.encodeCall(proofs.challengeJobCount, (jobId));
        vm.prank(challenger);
        (bool ok, bytes memory ret) = address(proofs).call{value: g.token == ETH ? bond : 0}(call);
        _record(output ? bytes32("challengeJobOutput") : bytes32("challengeJobCount"), expectOk, ok, ret);
        if (!ok || !expectOk) return;
        if (abi.decode(ret, (uint256)) != challengeId || challengeId != challengeCount + 1) {
            _violate("challenge: unexpected id", "");
        }
        if (_tokenBalance(g.token, challenger) + bond != paidBefore) _violate("challenge: challenger paid != bond", "");
        (address lockedToken, uint256 locked) = escrow.lockOf(address(proofs), challengeId | CHALLENGE_BOND_ID);
        if (locked != bond || lockedToken != g.token) _violate("challenge: bond not locked", "");
        (,, uint32 responseWindow, uint32 arbitrationWindow) = proofs.windows();
        challenges[challengeId] = GhostChallenge({
            jobId: jobId,
            kind: output ? IProofSystem.ChallengeKind.Output : IProofSystem.ChallengeKind.Count,
            challenger: challenger,
            host: g.host,
            token: g.token,
            bond: bond,
            deadline: uint64(time + (output ? arbitrationWindow : responseWindow)),
            open: true
        });
        challengeCount = challengeId;
        if (!output) openCountChallengeOf[jobId] = challengeId;
        if (g.status == IJobMarketplace.JobStatus.Disputed) _probe("challengeDisputed");
    }

    /// The job's host proves its whole count (one time in eight someone else tries); a proof in
    /// time answers the job's open count challenge, whose bond then goes to the host.
    function proveJob(uint256 jobSeed, uint256 callerSeed) external tick {
        (bool found, uint256 jobId) = _pick(jobSeed, IJobMarketplace.JobStatus.Completed);
        if (!found) return;
        // Rather a job with an open count challenge, when there is one.
        uint256 n = challengeCount;
        if (n != 0 && jobSeed % 2 == 0) {
            for (uint256 i; i < n; ++i) {
                GhostChallenge storage gc = challenges[1 + ((jobSeed >> 8) + i) % n];
                if (gc.open && gc.kind == IProofSystem.ChallengeKind.Count) {
                    jobId = gc.jobId;
                    break;
                }
            }
        }
        GhostJob storage g = jobs[jobId];
        _prove(jobId, _callerOr(callerSeed, g.host != address(0) ? g.host : _host(callerSeed >> 3)));
    }

    function _prove(uint256 jobId, address caller) internal {
        GhostJob storage g = jobs[jobId];
        bool expectOk = caller == g.host && g.host != address(0) && _completedOrLater(g.status) && g.tokensUsed != 0
            && !proven[jobId];
        uint256 answering = openCountChallengeOf[jobId];
        GhostChallenge storage c = challenges[answering];
        bool answers = expectOk && answering != 0 && time <= c.deadline;
        uint256 hostBalance = escrow.balanceOf(g.host, g.token);
        IProofSystem.ChunkProof[] memory chunks = _chunks(_completedOrLater(g.status) ? g.tokensUsed : 1);
        vm.prank(caller);
        (bool ok, bytes memory err) =
            address(proofs).call(abi.encodeCall(proofs.submitJobProof, (jobId, keccak256("prompt"), chunks)));
        _record("submitJobProof", expectOk, ok, err);
        if (!ok || !expectOk) return;
        proven[jobId] = true;
        if (proofs.recordOf(IProofSystem.Work.Job, jobId).tokens != g.tokensUsed) _violate("prove: tokens", "");
        IProofSystem.ChallengeStatus status = proofs.challengeOf(answering).status;
        if (!answers) {
            // A proof after the response deadline is stored but does not save the host.
            if (answering != 0 && status != IProofSystem.ChallengeStatus.Open) _violate("prove: late answer ended", "");
            if (escrow.balanceOf(g.host, g.token) != hostBalance) _violate("prove: host credited", "");
            return;
        }
        _probe("challengeAnswered");
        if (status != IProofSystem.ChallengeStatus.Answered) _violate("prove: challenge not answered", "");
        if (escrow.balanceOf(g.host, g.token) != hostBalance + c.bond) _violate("prove: bond not to the host", "");
        _endChallenge(answering);
        openCountChallengeOf[jobId] = 0;
    }

    /// Ends a challenge (mostly an open one) as its kind allows: a count challenge by anyone after
    /// its response deadline (unanswered: slashed), an output challenge by the arbiter before its
    /// deadline (upheld: slashed; rejected: bond to the host) or by anyone after it (the default).
    function endChallenge(uint256 idSeed, uint256 how, bool upheld) external tick {
        uint256 n = challengeCount;
        if (n == 0) return;
        uint256 id = 1 + (idSeed >> 3) % n;
        for (uint256 i; idSeed % 8 != 0 && i < n && !challenges[id].open; ++i) {
            id = 1 + ((idSeed >> 3) + i) % n;
        }
        _end(id, how, upheld);
    }

    /// Takes a random open challenge to its end (the fuzzer rarely lines up a deadline and the
    /// right call by itself): a count challenge is answered by the host's proof in time or, once
    /// its deadline has passed (time moves on to it if needed), resolved as unanswered; an output
    /// challenge is upheld or rejected by the arbiter in time, or left to the default after its
    /// deadline.
    function progressChallenge(uint256 idSeed, uint256 seed) external tick {
        uint256 n = challengeCount;
        for (uint256 i; i < n; ++i) {
            uint256 id = 1 + (idSeed + i) % n;
            GhostChallenge storage c = challenges[id];
            if (!c.open) continue;
            bool late = time > c.deadline;
            uint256 mode = seed % 3;
            if (c.kind == IProofSystem.ChallengeKind.Count) {
                if (!late && mode == 0 && !proven[c.jobId]) {
                    _prove(c.jobId, c.host);
                } else {
                    _passDeadline(c.deadline);
                    _end(id, seed >> 2, false);
                }
            } else if (!late && mode != 2) {
                // how: even for the arbiter's decision, odd for anyone's default.
                _end(id, 0, mode == 0);
            } else {
                _passDeadline(c.deadline);
                _end(id, 1 | (seed >> 2) << 2, false);
            }
            return;
        }
    }

    function _passDeadline(uint64 deadline) internal {
        if (time > deadline) return;
        time = uint256(deadline) + 1;
        vm.warp(time);
    }

    function _end(uint256 id, uint256 how, bool upheld) internal {
        GhostChallenge storage c = challenges[id];
        bool late = time > c.deadline;
        bool expectOk;
        bool slash;
        address bondTo = c.challenger;
        IProofSystem.ChallengeStatus outcome;
        bytes memory call;
        address caller = _actor(how >> 2);
        if (c.kind == IProofSystem.ChallengeKind.Count) {
            expectOk = c.open && late;
            slash = true;
            outcome = IProofSystem.ChallengeStatus.Unanswered;
            call = abi.encodeCall(proofs.resolveCountChallenge, (id));
        } else if (how % 2 == 0) {
            expectOk = c.open && !late;
            slash = upheld;
            if (!upheld) bondTo = c.host;
            outcome = upheld ? IProofSystem.ChallengeStatus.Upheld : IProofSystem.ChallengeStatus.Rejected;
            caller = admin;
            call = abi.encodeCall(proofs.resolveOutputChallenge, (id, upheld));
        } else {
            expectOk = c.open && late;
            outcome = IProofSystem.ChallengeStatus.Unarbitrated;
            call = abi.encodeCall(proofs.settleOutputChallenge, (id));
        }
        SlashCheck memory sc;
        if (expectOk && slash) sc = _expectSlash(c.host, c.challenger, IReputationSystem.Offence.ChallengeLost);
        uint256 bondToBalance = escrow.balanceOf(bondTo, c.token);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(proofs).call(call);
        _record("endChallenge", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (proofs.challengeOf(id).status != outcome) _violate("endChallenge: wrong outcome", "");
        if (escrow.balanceOf(bondTo, c.token) != bondToBalance + c.bond) {
            _violate("endChallenge: bond not credited", "");
        }
        if (slash) _checkSlash(c.host, c.challenger, sc);
        _probe(
            outcome == IProofSystem.ChallengeStatus.Unanswered
                ? "challengeUnanswered"
                : outcome == IProofSystem.ChallengeStatus.Upheld
                    ? "challengeUpheld"
                    : outcome == IProofSystem.ChallengeStatus.Rejected ? "challengeRejected" : "challengeDefault"
        );
        if (c.kind == IProofSystem.ChallengeKind.Count) {
            openCountChallengeOf[c.jobId] = 0;
            countChallengeLost[c.jobId] = true;
        }
        _endChallenge(id);
    }

    function _endChallenge(uint256 id) internal {
        GhostChallenge storage c = challenges[id];
        c.open = false;
        endedBonds[c.token] += c.bond;
        (, uint256 locked) = escrow.lockOf(address(proofs), id | CHALLENGE_BOND_ID);
        if (locked != 0) _violate("challenge ended: bond still locked", "");
    }

    /// @dev `tokens` cut into chunks of 64 and one last partial chunk (the fake verifier accepts
    /// any proof bytes but 0xff...).
    function _chunks(uint256 tokens) internal pure returns (IProofSystem.ChunkProof[] memory chunks) {
        uint256 n = (tokens + 63) / 64;
        chunks = new IProofSystem.ChunkProof[](n);
        for (uint256 i; i < n; ++i) {
            uint256 count = i + 1 < n ? 64 : tokens - 64 * (n - 1);
            chunks[i] = IProofSystem.ChunkProof({
                proof: hex"01",
                commitment: uint256(keccak256(abi.encode(tokens, i))) >> 8,
                count: uint32(count)
            });
        }
    }

    // ---------------------------------------------------------------- host registry actions

    function setHostPrice(uint256 hostSeed, uint256 tokenSeed, uint256 priceSeed) external tick {
        address host = _host(hostSeed);
        address token = _token(tokenSeed);
        uint64 price = priceSeed % 8 == 0 ? 0 : uint64(bound(priceSeed >> 3, 1, token == ETH ? 1e13 : 1e6));
        INodeRegistry.Offer[] memory offers = new INodeRegistry.Offer[](1);
        offers[0] = INodeRegistry.Offer({modelId: MODEL, token: token, pricePerToken: price});
        vm.prank(host);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.setOffers, (offers)));
        _record("setHostPrice", true, ok, err);
        if (ok && registry.priceOf(host, MODEL, token) != price) _violate("setHostPrice: price not stored", "");
    }

    /// Resumes a paused host; pauses an active one one time in four; one time in eight asks for
    /// the status the host already has (which must revert).
    function setHostAvailable(uint256 hostSeed) external tick {
        address host = _host(hostSeed);
        (INodeRegistry.HostStatus hs,,,,) = registry.hostState(host);
        bool active = hs == INodeRegistry.HostStatus.Active;
        bool available;
        if ((hostSeed >> 8) % 8 == 0) available = active;
        else if (!active) available = true;
        else if ((hostSeed >> 8) % 4 == 1) available = false;
        else return;
        bool expectOk = available != active;
        vm.prank(host);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.setAvailable, (available)));
        _record("setHostAvailable", expectOk, ok, err);
    }

    function hostRequestUnstake(uint256 hostSeed, uint256 amountSeed) external tick {
        address host = _host(hostSeed);
        (, uint256 stake,,,) = registry.hostState(host);
        if (stake == 0) return;
        uint256 minimum = registry.minimumStake();
        // Mostly stays above the minimum (the host keeps working), one time in four anything.
        uint256 amount = stake > minimum && amountSeed % 4 != 0
            ? bound(amountSeed >> 2, 1, stake - minimum)
            : bound(amountSeed >> 2, 1, stake);
        uint256 active = marketplace.activeJobCount(host);
        bool expectOk = stake - amount >= minimum || active == 0;
        vm.prank(host);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.requestUnstake, (amount)));
        _record("hostRequestUnstake", expectOk, ok, err);
    }

    function hostAddStake(uint256 hostSeed, uint256 amountSeed) external tick {
        address host = _host(hostSeed);
        uint256 amount = bound(amountSeed, 1, 1_000e18);
        vm.prank(host);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.addStake, (amount)));
        _record("hostAddStake", true, ok, err);
        if (ok) stakedIn[host] += amount;
    }

    // ---------------------------------------------------------------- time

    /// Moves time on; one time in four exactly to a live job's next edge (its deadline, or the end
    /// of its dispute window once completed) or one second past it, where off-by-one bugs live;
    /// one time in eight to an open challenge's deadline or one second past it.
    function warp(uint256 secondsSeed) external {
        uint256 n = jobIds.length;
        uint256 m = challengeCount;
        if (secondsSeed % 8 == 2 && m != 0) {
            for (uint256 i; i < m; ++i) {
                GhostChallenge storage c = challenges[1 + ((secondsSeed >> 3) + i) % m];
                if (!c.open) continue;
                uint256 edge = uint256(c.deadline) + (secondsSeed >> 2) % 2;
                if (edge > time) time = edge;
                break;
            }
        } else if (secondsSeed % 4 == 0 && n != 0) {
            for (uint256 i; i < n; ++i) {
                GhostJob storage g = jobs[jobIds[((secondsSeed >> 3) + i) % n]];
                if (isTerminal(g.status)) continue;
                uint256 edge = g.deadline;
                if (g.status == IJobMarketplace.JobStatus.Completed) edge = g.disputeEndsAt;
                else if (g.status == IJobMarketplace.JobStatus.Claimed) edge = claimEndsAt(g);
                else if (g.status == IJobMarketplace.JobStatus.Disputed) edge = g.arbitrationEndsAt;
                edge += (secondsSeed >> 2) % 2;
                if (edge > time) time = edge;
                break;
            }
        } else {
            time += bound(secondsSeed, 1 minutes, 12 hours);
        }
        vm.warp(time);
    }
}

/// @notice Invariants of the escrow and the marketplace under the handler's random action sequences.
contract MarketplaceInvariantTest is FabstirTestBase {
    MarketplaceHandler internal handler;
    ProofSystem internal proofs;
    /// FAB held by the registry, the treasury and the actors at the start (the admin holds the rest).
    uint256 internal fabHeld;

    function setUp() public {
        _deploySystem();
        address[5] memory actors =
            [makeAddr("host0"), makeAddr("host1"), makeAddr("hostAndRenter"), makeAddr("renter0"), makeAddr("renter1")];
        for (uint256 i; i < 3; ++i) {
            _fundHost(actors[i], 100_000 * FAB);
            _register(actors[i], MIN_STAKE + i * 100 * FAB, uint64(1e9 * (i + 1)), uint64(10 * (i + 1)));
        }
        for (uint256 i = 2; i < 5; ++i) {
            _fundRenter(actors[i], 1e30, 1e30);
        }
        // The ProofSystem as the Ignition module wires it, with a FAKE verifier that accepts the
        // handler's proofs (see MarketplaceHandler).
        ProofSystem proofsImpl = new ProofSystem(address(marketplace), address(sessions), address(escrow));
        proofs = ProofSystem(
            address(
                new FabstirProxy(
                    address(proofsImpl),
                    abi.encodeCall(
                        ProofSystem.initialize, (admin, address(new TestAcceptingVerifier()), address(reputation))
                    )
                )
            )
        );
        vm.startPrank(admin);
        escrow.setLocker(address(proofs), true);
        reputation.setRecorder(address(proofs), true);
        // Short windows so that a few warps get completed jobs and challenges past them.
        marketplace.setDisputeWindow(2 hours);
        proofs.setWindows(3 hours, 1 days, 1 hours, 2 hours);
        vm.stopPrank();
        handler = new MarketplaceHandler(
            marketplace, escrow, registry, reputation, proofs, usd, admin, treasury, stakersPool, actors
        );
        fabHeld = fab.balanceOf(address(registry)) + fab.balanceOf(treasury);
        for (uint256 i; i < 5; ++i) {
            fabHeld += fab.balanceOf(actors[i]);
        }

        // progressJob is repeated so that jobs often get through their whole lifecycle.
        bytes4[] memory selectors = new bytes4[](39);
        selectors[0] = MarketplaceHandler.postJob.selector;
        selectors[1] = MarketplaceHandler.postJob.selector;
        selectors[2] = MarketplaceHandler.claimJob.selector;
        selectors[3] = MarketplaceHandler.completeJob.selector;
        selectors[4] = MarketplaceHandler.acceptJob.selector;
        selectors[5] = MarketplaceHandler.disputeJob.selector;
        selectors[6] = MarketplaceHandler.resolveDispute.selector;
        selectors[7] = MarketplaceHandler.releasePayment.selector;
        selectors[8] = MarketplaceHandler.expireJob.selector;
        selectors[9] = MarketplaceHandler.cancelJob.selector;
        selectors[10] = MarketplaceHandler.progressJob.selector;
        selectors[11] = MarketplaceHandler.progressJob.selector;
        selectors[12] = MarketplaceHandler.progressJob.selector;
        selectors[13] = MarketplaceHandler.progressJob.selector;
        selectors[14] = MarketplaceHandler.progressJob.selector;
        selectors[15] = MarketplaceHandler.progressJob.selector;
        selectors[16] = MarketplaceHandler.withdraw.selector;
        selectors[17] = MarketplaceHandler.withdraw.selector;
        selectors[18] = MarketplaceHandler.collectFees.selector;
        selectors[19] = MarketplaceHandler.warp.selector;
        selectors[20] = MarketplaceHandler.warp.selector;
        selectors[21] = MarketplaceHandler.setFeeSplit.selector;
        selectors[22] = MarketplaceHandler.setDisputeWindow.selector;
        selectors[23] = MarketplaceHandler.togglePause.selector;
        selectors[24] = MarketplaceHandler.setHostPrice.selector;
        selectors[25] = MarketplaceHandler.setHostAvailable.selector;
        selectors[26] = MarketplaceHandler.hostRequestUnstake.selector;
        selectors[27] = MarketplaceHandler.hostAddStake.selector;
        selectors[28] = MarketplaceHandler.refuseJob.selector;
        selectors[29] = MarketplaceHandler.settleDispute.selector;
        selectors[30] = MarketplaceHandler.rateJob.selector;
        selectors[31] = MarketplaceHandler.setMarketplaceParameter.selector;
        selectors[32] = MarketplaceHandler.setReputationParameter.selector;
        selectors[33] = MarketplaceHandler.disputeJob.selector;
        selectors[34] = MarketplaceHandler.openChallenge.selector;
        selectors[35] = MarketplaceHandler.openChallenge.selector;
        selectors[36] = MarketplaceHandler.proveJob.selector;
        selectors[37] = MarketplaceHandler.endChallenge.selector;
        selectors[38] = MarketplaceHandler.progressChallenge.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    // ---------------------------------------------------------------- helpers

    function _tokenBalance(address token, address account) internal view returns (uint256) {
        return token == ETH ? account.balance : usd.balanceOf(account);
    }

    function _sumBalances(address token) internal view returns (uint256 sum) {
        for (uint256 i; i < handler.actorCount(); ++i) {
            sum += escrow.balanceOf(handler.actor(i), token);
        }
    }

    function _sumLocked(address token) internal view returns (uint256 sum) {
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobIdAt(i);
            (address lockedToken, uint256 amount) = escrow.lockOf(address(marketplace), id);
            if (lockedToken == token) sum += amount;
            (lockedToken, amount) = escrow.lockOf(address(marketplace), id | handler.BOND_ID());
            if (lockedToken == token) sum += amount;
        }
        for (uint256 id = 1; id <= handler.challengeCount(); ++id) {
            (address lockedToken, uint256 amount) = escrow.lockOf(address(proofs), id | handler.CHALLENGE_BOND_ID());
            if (lockedToken == token) sum += amount;
        }
    }

    /// The escrow holds exactly what it owes: the jobs' deposits, the dispute bonds and the
    /// challenge bonds still locked, the accounts' withdrawable balances and the uncollected fees.
    function _assertSolvent(address token, string memory label) internal view {
        (uint256 tf, uint256 sf) = escrow.feesOf(token);
        assertEq(
            _tokenBalance(token, address(escrow)),
            _sumLocked(token) + _sumBalances(token) + tf + sf,
            string.concat(label, ": escrow balance != locked + withdrawable + fees")
        );
    }

    // ---------------------------------------------------------------- invariants

    /// Every call so far behaved as the model predicts (checked by every invariant, so that each
    /// invariant's campaign also hunts for model violations).
    function _assertModel() internal view {
        assertEq(handler.violations(), 0, handler.firstViolation());
    }

    function invariant_modelHoldsForEveryCall() public view {
        _assertModel();
    }

    function invariant_escrowSolvency() public view {
        _assertModel();
        _assertSolvent(ETH, "ETH");
        _assertSolvent(address(usd), "tUSD");
    }

    /// Every job's on-chain state matches the model; a terminal job was settled or refunded exactly
    /// once, its lock is zero and exactly its deposit was credited (the host never more than it);
    /// a live job still has its whole deposit locked.
    function invariant_jobsSettleExactlyOnce() public view {
        _assertModel();
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobIdAt(i);
            MarketplaceHandler.GhostJob memory g = handler.ghostJob(id);
            (IJobMarketplace.Job memory job,, address token) = marketplace.getJob(id);
            assertEq(uint256(job.status), uint256(g.status), "status");
            assertEq(job.renter, g.renter, "renter");
            assertEq(token, g.token, "token");
            assertEq(job.pricePerToken, g.price, "price");
            assertEq(job.tokensUsed, g.tokensUsed, "tokensUsed (the claim time while claimed)");
            assertEq(job.host, g.host != address(0) ? g.host : g.chosenHost, "host");
            if (g.status == IJobMarketplace.JobStatus.Disputed) {
                assertEq(job.timeout, g.arbitrationEndsAt, "disputed: timeout is the arbitration deadline");
            }
            (address lockedToken, uint256 locked) = escrow.lockOf(address(marketplace), id);
            (, uint256 bondLocked) = escrow.lockOf(address(marketplace), id | handler.BOND_ID());
            if (handler.isTerminal(g.status)) {
                assertEq(g.terminalCount, 1, "terminal exactly once");
                assertEq(locked, 0, "terminal job keeps no lock");
                assertEq(bondLocked, 0, "terminal job keeps no bond");
                assertEq(g.credited, g.deposit + g.bond, "credited exactly the deposit and the bond");
                assertLe(g.hostPaid, g.deposit + g.bond, "host paid at most the deposit and the bond");
            } else {
                assertEq(g.terminalCount, 0, "live job never paid");
                assertEq(locked, g.deposit, "live job keeps its whole deposit locked");
                assertEq(lockedToken, g.token, "lock token");
                assertEq(bondLocked, g.bond, "a disputed job keeps its bond locked");
            }
        }
        assertEq(marketplace.nextJobId(), handler.jobCount() + 1, "every posted job is tracked");
    }

    /// What the escrow credited (balances, fees, and what already left through withdraw and
    /// collectFees) is exactly the deposits and dispute bonds of terminal jobs plus the bonds of
    /// ended challenges.
    function invariant_creditsEqualTerminalDeposits() public view {
        _assertModel();
        address[2] memory tokens = [ETH, address(usd)];
        for (uint256 t; t < 2; ++t) {
            address token = tokens[t];
            uint256 terminalDeposits;
            for (uint256 i; i < handler.jobCount(); ++i) {
                MarketplaceHandler.GhostJob memory g = handler.ghostJob(handler.jobIdAt(i));
                if (g.token == token && handler.isTerminal(g.status)) terminalDeposits += g.deposit + g.bond;
            }
            (uint256 tf, uint256 sf) = escrow.feesOf(token);
            assertEq(
                _sumBalances(token) + tf + sf + handler.withdrawn(token) + handler.collected(token),
                terminalDeposits + handler.endedBonds(token),
                "credits != deposits and bonds of terminal jobs + bonds of ended challenges"
            );
        }
    }

    /// A challenge bond is locked exactly while the challenge is open, for the amount the model
    /// says, and the ProofSystem agrees with the model about every challenge's status.
    function invariant_challengeBondsLockedWhileOpen() public view {
        _assertModel();
        for (uint256 id = 1; id <= handler.challengeCount(); ++id) {
            MarketplaceHandler.GhostChallenge memory c = handler.ghostChallenge(id);
            (address token, uint256 locked) = escrow.lockOf(address(proofs), id | handler.CHALLENGE_BOND_ID());
            bool open = proofs.challengeOf(id).status == IProofSystem.ChallengeStatus.Open;
            assertEq(open, c.open, "challenge status");
            assertEq(locked, c.open ? c.bond : 0, "a bond is locked exactly while its challenge is open");
            if (c.open) assertEq(token, c.token, "bond token");
        }
        assertEq(proofs.nextChallengeId(), handler.challengeCount() + 1, "every challenge is tracked");
    }

    /// activeJobCount(host) is the number of the host's Claimed, Completed or Disputed jobs.
    function invariant_activeJobCountMatchesJobs() public view {
        _assertModel();
        for (uint256 a; a < handler.actorCount(); ++a) {
            address account = handler.actor(a);
            uint256 active;
            for (uint256 i; i < handler.jobCount(); ++i) {
                (IJobMarketplace.Job memory job,,) = marketplace.getJob(handler.jobIdAt(i));
                if (
                    job.host == account
                        && (
                            job.status == IJobMarketplace.JobStatus.Claimed
                                || job.status == IJobMarketplace.JobStatus.Completed
                                || job.status == IJobMarketplace.JobStatus.Disputed
                        )
                ) ++active;
            }
            assertEq(marketplace.activeJobCount(account), active, "activeJobCount");
        }
    }

    /// The registry holds exactly the hosts' stake and unbonding stake.
    function invariant_registryHoldsStakes() public view {
        _assertModel();
        uint256 sum;
        for (uint256 a; a < handler.actorCount(); ++a) {
            (, uint256 stake,, uint256 unbonding,) = registry.hostState(handler.actor(a));
            sum += stake + unbonding;
        }
        assertEq(fab.balanceOf(address(registry)), sum);
    }

    function invariant_feeSplitMatchesModel() public view {
        _assertModel();
        (uint16 h, uint16 t, uint16 s) = escrow.feeSplit();
        assertEq(h, handler.hostBps());
        assertEq(t, handler.treasuryBps());
        assertEq(s, handler.stakersBps());
    }

    /// Slashes only move FAB from the registry to the wronged renters and challengers
    /// (compensation) and the treasury: FAB is conserved and every slash was split as the model says.
    function invariant_slashesConserveFab() public view {
        _assertModel();
        uint256 sum = fab.balanceOf(address(registry)) + fab.balanceOf(treasury);
        for (uint256 a; a < handler.actorCount(); ++a) {
            sum += fab.balanceOf(handler.actor(a));
        }
        assertEq(sum, fabHeld, "FAB created or lost");
        assertEq(fab.balanceOf(treasury), handler.slashedToTreasury(), "treasury got the rest of each slash");
    }

    /// A slash never exceeds the host's stake: what each host ever staked is exactly what it still
    /// holds (stake and unbonding stake) plus what slashes took from the registry for it (measured
    /// from FAB leaving the registry), so slashes never took more than it put in nor anyone
    /// else's stake. Each single slash is also checked against the host's holding and the
    /// per-incident cap when it happens (MarketplaceHandler._checkSlash).
    function invariant_slashNeverExceedsStake() public view {
        _assertModel();
        for (uint256 a; a < 3; ++a) {
            address host = handler.actor(a);
            (, uint256 stake,, uint256 unbonding,) = registry.hostState(host);
            assertEq(
                stake + unbonding + handler.slashedFrom(host), handler.stakedIn(host), "stake in != held + slashed"
            );
        }
    }

    /// Scores stay within 0-1000 and a host's fee discount is never more than the cap.
    function invariant_scoresAndDiscountsBounded() public view {
        _assertModel();
        for (uint256 a; a < handler.actorCount(); ++a) {
            address account = handler.actor(a);
            assertLe(reputation.scoreOf(account), 1_000, "score above 1000");
            assertLe(reputation.feeDiscountBps(account), 5_000, "discount above the cap");
        }
    }

    /// Every dispute ends: one second after its arbitration deadline anyone can apply the default
    /// (settleDispute never reverts then), the job settles, its deposit and bond are released, and
    /// the host is not slashed.
    function invariant_everyDisputeEndsAfterItsDeadline() public {
        _assertModel();
        address anyone = makeAddr("anyone");
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobIdAt(i);
            MarketplaceHandler.GhostJob memory g = handler.ghostJob(id);
            if (g.status != IJobMarketplace.JobStatus.Disputed) continue;
            uint256 snapshot = vm.snapshotState();
            vm.warp(uint256(g.arbitrationEndsAt) + 1);
            (, uint256 stakeBefore,, uint256 unbondingBefore,) = registry.hostState(g.host);
            vm.prank(anyone);
            marketplace.settleDispute(id);
            assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Settled), "dispute did not end");
            (, uint256 locked) = escrow.lockOf(address(marketplace), id);
            (, uint256 bond) = escrow.lockOf(address(marketplace), id | handler.BOND_ID());
            assertEq(locked + bond, 0, "deposit or bond locked after the dispute ended");
            (, uint256 stake,, uint256 unbonding,) = registry.hostState(g.host);
            assertEq(stake + unbonding, stakeBefore + unbondingBefore, "the default slashed the host");
            vm.revertToState(snapshot);
        }
    }

    /// Every job ends and nothing is locked forever: from any state reached, once time passes every
    /// deadline (a year on), anyone can take every job to a terminal state (expire, release, apply
    /// the dispute default) and end every challenge, after which no deposit or bond stays locked,
    /// every host can leave (deregister) and withdraw its stake and earnings, and every renter and
    /// challenger its refunds and bonds.
    function invariant_everyJobEndsAndNothingStaysLocked() public {
        _assertModel();
        uint256 snapshot = vm.snapshotState();
        vm.warp(handler.time() + 365 days);
        address anyone = makeAddr("anyone");
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobIdAt(i);
            IJobMarketplace.JobStatus s = _status(id);
            vm.prank(anyone);
            if (s == IJobMarketplace.JobStatus.Posted || s == IJobMarketplace.JobStatus.Claimed) {
                marketplace.expireJob(id);
            } else if (s == IJobMarketplace.JobStatus.Completed) {
                marketplace.releasePayment(id);
            } else if (s == IJobMarketplace.JobStatus.Disputed) {
                marketplace.settleDispute(id);
            }
            assertTrue(handler.isTerminal(_status(id)), "job did not end");
            (, uint256 locked) = escrow.lockOf(address(marketplace), id);
            (, uint256 bond) = escrow.lockOf(address(marketplace), id | handler.BOND_ID());
            assertEq(locked + bond, 0, "deposit or bond locked after the job ended");
        }
        // Every open challenge ends after its deadline too, whoever calls, and releases its bond.
        for (uint256 id = 1; id <= handler.challengeCount(); ++id) {
            IProofSystem.Challenge memory c = proofs.challengeOf(id);
            if (c.status != IProofSystem.ChallengeStatus.Open) continue;
            vm.prank(anyone);
            if (c.kind == IProofSystem.ChallengeKind.Count) proofs.resolveCountChallenge(id);
            else proofs.settleOutputChallenge(id);
            assertTrue(proofs.challengeOf(id).status != IProofSystem.ChallengeStatus.Open, "challenge did not end");
            (, uint256 bond) = escrow.lockOf(address(proofs), id | handler.CHALLENGE_BOND_ID());
            assertEq(bond, 0, "challenge bond locked after the challenge ended");
        }
        // Pausing is governance's call, not a lock: with the escrow resumed everyone withdraws.
        if (escrow.paused()) {
            vm.prank(admin);
            escrow.unpause();
        }
        for (uint256 a; a < handler.actorCount(); ++a) {
            address account = handler.actor(a);
            assertEq(marketplace.activeJobCount(account), 0, "host still busy");
            (INodeRegistry.HostStatus hs,,,,) = registry.hostState(account);
            if (hs != INodeRegistry.HostStatus.Unregistered) {
                vm.prank(account);
                registry.deregister();
            }
            for (uint256 t; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                uint256 balance = escrow.balanceOf(account, token);
                if (balance == 0) continue;
                vm.prank(account);
                escrow.withdraw(token, balance, account);
            }
        }
        vm.warp(block.timestamp + 90 days);
        for (uint256 a; a < 3; ++a) {
            address account = handler.actor(a);
            (,,, uint256 unbonding,) = registry.hostState(account);
            if (unbonding != 0) {
                vm.prank(account);
                registry.withdrawUnstaked();
            }
        }
        assertEq(fab.balanceOf(address(registry)), 0, "stake left in the registry");
        (uint256 tf, uint256 sf) = escrow.feesOf(ETH);
        assertEq(address(escrow).balance, tf + sf, "ETH left in the escrow beyond fees");
        (tf, sf) = escrow.feesOf(address(usd));
        assertEq(usd.balanceOf(address(escrow)), tf + sf, "tUSD left in the escrow beyond fees");
        vm.revertToState(snapshot);
    }
}
