// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPaymentEscrow} from "../escrow/IPaymentEscrow.sol";
import {IActiveJobCounter, INodeRegistry} from "../registry/INodeRegistry.sol";
import {IReputationSystem} from "../reputation/IReputationSystem.sol";
import {IJobMarketplace} from "./IJobMarketplace.sol";

/// @title JobMarketplace
/// @notice The job lifecycle: a renter posts a job and its deposit is locked in the
/// PaymentEscrow in the same transaction; an eligible host claims it, serves it off
/// chain and completes it with the output digest and the tokens used; the renter
/// accepts (paid at once) or, after the dispute window, anyone releases the
/// payment; a dispute inside the window locks a bond from the renter and goes to an
/// arbiter, and ends by a deadline (then a documented default applies). A host that cannot
/// serve the renter's request refuses the claimed job, which refunds the renter at once; a
/// host that claims and does nothing loses the job after the claim timeout (refunded, recorded
/// as an abandoned claim and slashed). Open claims per host are bounded by its stake.
/// @dev Storage is laid out for gas: a job is two slots (its model and token are a
/// 32-bit id in an offer catalog written once per pair), the registry and escrow are
/// immutables (both are proxies whose addresses never change), the pause flag
/// shares a slot with the counters, and a host's active-job counter is stored plus
/// one so it never returns to zero (a zero-to-nonzero write costs 20k gas). Every state change emits an event that
/// carries what an indexer needs without reading storage.
contract JobMarketplace is
    Initializable,
    AccessControlUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransient,
    IJobMarketplace,
    IActiveJobCounter
{
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");

    uint16 public constant BPS = 10_000;
    uint32 public constant MAX_DISPUTE_WINDOW = 30 days;
    uint64 public constant MAX_JOB_DURATION = 30 days;
    uint32 public constant MIN_CLAIM_TIMEOUT = 1 minutes;
    uint32 public constant MAX_CLAIM_TIMEOUT = 7 days;
    uint32 public constant MIN_ARBITRATION_WINDOW = 1 hours;
    uint32 public constant MAX_ARBITRATION_WINDOW = 30 days;
    uint16 public constant MAX_DISPUTE_BOND_BPS = 5_000;
    /// @dev Escrow ids of dispute bonds: the job id with the top bit set (job ids are < 2^64).
    uint256 private constant BOND_ID = 1 << 255;

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    INodeRegistry public immutable registry;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IPaymentEscrow public immutable escrow;

    /// @dev Read by every transaction: one slot.
    struct Config {
        uint64 nextJobId;
        uint32 nextOfferId;
        uint32 disputeWindow;
        bool paused;
        // Appended inside the slot's free bytes (upgrade-safe): zero on an upgraded proxy until set.
        uint32 claimTimeout;
        uint32 arbitrationWindow;
        uint16 disputeBondBps;
    }

    /// @custom:storage-location erc7201:fabstir.storage.JobMarketplace
    struct JobMarketplaceStorage {
        Config config;
        mapping(uint256 jobId => Job) jobs;
        mapping(address host => uint256 activePlusOne) activeJobs;
        mapping(bytes32 offerKey => uint32 offerId) offerIds;
        mapping(uint32 offerId => Offer) offers;
        // Appended (upgrade-safe).
        IReputationSystem reputation;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.JobMarketplace")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0x89d6ae10e84318e46560931e52aeafde0e8fd06f9ecbe25b58c516312dd35b00;

    function _s() private pure returns (JobMarketplaceStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @param registry_ the NodeRegistry proxy.
    /// @param escrow_ the PaymentEscrow proxy.
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address registry_, address escrow_) {
        if (registry_ == address(0) || escrow_ == address(0)) revert JobMarketplaceZeroAddress();
        registry = INodeRegistry(registry_);
        escrow = IPaymentEscrow(escrow_);
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE, UPGRADER_ROLE and ARBITER_ROLE.
    /// @param initialDisputeWindow seconds after completion during which the renter may dispute.
    /// The claim timeout starts at 1 hour, the arbitration window at 7 days and the dispute bond
    /// at 10% of the disputed payment; each is governed (setClaimTimeout, ...).
    function initialize(address admin, uint32 initialDisputeWindow) external initializer {
        if (admin == address(0)) revert JobMarketplaceZeroAddress();
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(ARBITER_ROLE, admin);
        Config storage c = _s().config;
        c.nextJobId = 1;
        c.nextOfferId = 1;
        _setDisputeWindow(c, initialDisputeWindow);
        _setClaimTimeout(c, 1 hours);
        _setArbitrationWindow(c, 7 days);
        _setDisputeBond(c, 1_000);
    }

    // ---------------------------------------------------------------- renter

    /// @notice Posts a job and locks its deposit (maxTokens * maxPricePerToken): send it as
    /// msg.value for ETH, or approve the escrow for an ERC-20.
    /// @return jobId the new job's id.
    function postJob(JobRequest calldata r) external payable nonReentrant returns (uint256 jobId) {
        return _post(r);
    }

    /// @notice Posts an ERC-20 job, approving the escrow with an EIP-2612 permit first.
    function postJobWithPermit(JobRequest calldata r, uint256 permitDeadline, uint8 v, bytes32 rr, bytes32 s)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        if (r.token == address(0)) revert JobMarketplaceInvalidRequest("token");
        uint256 deposit = uint256(r.maxTokens) * r.maxPricePerToken;
        // A front-runner may have used this permit already; the allowance is what matters.
        try IERC20Permit(r.token).permit(msg.sender, address(escrow), deposit, permitDeadline, v, rr, s) {} catch {}
        return _post(r);
    }

    /// @notice Cancels a job nobody has claimed; the deposit is credited back in the escrow.
    function cancelJob(uint256 jobId) external nonReentrant {
        Job storage job = _s().jobs[jobId];
        if (job.renter != msg.sender) revert JobMarketplaceNotRenter(jobId, msg.sender);
        if (job.status != JobStatus.Posted) revert JobMarketplaceInvalidState(jobId, job.status);
        job.status = JobStatus.Cancelled;
        emit JobCancelled(jobId, msg.sender);
        escrow.refund(jobId, msg.sender);
    }

    /// @notice Accepts a completed job: the host is paid at once.
    function acceptJob(uint256 jobId) external nonReentrant {
        Job storage job = _s().jobs[jobId];
        if (job.renter != msg.sender) revert JobMarketplaceNotRenter(jobId, msg.sender);
        if (job.status != JobStatus.Completed) revert JobMarketplaceInvalidState(jobId, job.status);
        _settle(jobId, job, Settlement.Accepted, BPS);
    }

    /// @notice Disputes a completed job inside the dispute window, locking a bond in the job's
    /// token (disputeBondOf: the bond share of the job's payment; send it as msg.value for ETH, or
    /// approve the escrow for an ERC-20). An arbiter resolves the dispute before the arbitration
    /// deadline; after it anyone applies the default (settleDispute).
    /// @param reason digest of the renter's evidence.
    function disputeJob(uint256 jobId, bytes32 reason) external payable nonReentrant {
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        if (job.renter != msg.sender) revert JobMarketplaceNotRenter(jobId, msg.sender);
        if (job.status != JobStatus.Completed) revert JobMarketplaceInvalidState(jobId, job.status);
        if (block.timestamp > job.timeout) revert JobMarketplaceDisputeWindowClosed(jobId, job.timeout);
        Config memory c = $.config;
        uint256 bond = _bondFor(job, c);
        // Cannot overflow uint32 before 2106 (window <= 30 days).
        uint32 deadline = uint32(block.timestamp) + _arbitrationWindow(c);
        job.status = JobStatus.Disputed;
        job.timeout = deadline;
        emit JobDisputed(jobId, msg.sender, reason, bond, deadline);
        if (bond != 0) escrow.lock{value: msg.value}(jobId | BOND_ID, msg.sender, $.offers[job.offerId].token, bond);
        else if (msg.value != 0) revert JobMarketplaceInvalidRequest("value");
    }

    // ---------------------------------------------------------------- host

    /// @notice Claims a posted job (moves no value, so it needs no reentrancy guard; the
    /// registry call is a staticcall). The caller must be eligible in the registry for the
    /// job's model and token, price within the renter's maximum, and be the chosen host if any.
    function claimJob(uint256 jobId) external {
        JobMarketplaceStorage storage $ = _s();
        _requireNotPaused($);
        Job storage job = $.jobs[jobId];
        if (job.status != JobStatus.Posted) revert JobMarketplaceInvalidState(jobId, job.status);
        if (block.timestamp > job.timeout) revert JobMarketplaceDeadlinePassed(jobId, job.timeout);
        address chosen = job.host;
        if (chosen != address(0) && chosen != msg.sender) revert JobMarketplaceNotHost(jobId, msg.sender);
        if (job.renter == msg.sender) revert JobMarketplaceSelfDealing(jobId);
        Offer storage offer = $.offers[job.offerId];
        (uint64 price, uint256 capacity) = registry.checkClaim(msg.sender, offer.key);
        uint64 maxPrice = job.pricePerToken;
        if (price > maxPrice) revert JobMarketplacePriceTooHigh(jobId, price, maxPrice);
        uint16 minScore = offer.minScore;
        if (minScore != 0) {
            uint16 score = _scoreOf($, msg.sender);
            if (score < minScore) revert JobMarketplaceScoreTooLow(jobId, score, minScore);
        }
        uint256 activePlusOne = $.activeJobs[msg.sender];
        uint256 active = activePlusOne == 0 ? 0 : activePlusOne - 1;
        if (active >= capacity) revert JobMarketplaceClaimLimit(msg.sender, active, capacity);
        job.status = JobStatus.Claimed;
        job.host = msg.sender;
        job.pricePerToken = price;
        job.tokensUsed = uint32(block.timestamp);
        // Cannot overflow: bounded by the number of jobs ever posted.
        unchecked {
            $.activeJobs[msg.sender] = active + 2;
        }
        emit JobClaimed(jobId, msg.sender, price);
    }

    /// @notice Completes a claimed job before its deadline with the output's digest and the tokens used.
    /// The dispute window is fixed now: later changes to it do not apply to this job. The work and
    /// its time since the claim are recorded in the reputation system.
    function completeJob(uint256 jobId, bytes32 outputHash, uint32 tokensUsed) external {
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        if (job.host != msg.sender) revert JobMarketplaceNotHost(jobId, msg.sender);
        if (job.status != JobStatus.Claimed) revert JobMarketplaceInvalidState(jobId, job.status);
        if (block.timestamp > job.timeout) revert JobMarketplaceDeadlinePassed(jobId, job.timeout);
        if (tokensUsed > job.maxTokens) revert JobMarketplaceTooManyTokens(jobId, tokensUsed, job.maxTokens);
        // Cannot overflow uint32 before 2106 (window <= 30 days).
        uint32 disputeEndsAt = uint32(block.timestamp) + $.config.disputeWindow;
        uint256 duration = block.timestamp - job.tokensUsed;
        uint256 payment = uint256(tokensUsed) * job.pricePerToken;
        job.status = JobStatus.Completed;
        job.timeout = disputeEndsAt;
        job.tokensUsed = tokensUsed;
        emit JobCompleted(jobId, msg.sender, outputHash, tokensUsed, payment, disputeEndsAt);
        IReputationSystem rep = $.reputation;
        if (address(rep) != address(0)) {
            rep.recordWork(IReputationSystem.Work.Job, jobId, msg.sender, job.renter, payment, tokensUsed, duration);
        }
    }

    /// @notice Hands a claimed job back before its deadline: the host cannot serve the renter's
    /// (authenticated) request, e.g. the prompt is longer than the model's context. The whole
    /// deposit is credited back to the renter at once (instead of at the deadline) and the job
    /// no longer counts among the host's active jobs. Works while paused, like the other refunds.
    /// @param reason a short machine code, UTF-8 right-padded (e.g. "prompt_too_long").
    function refuseJob(uint256 jobId, bytes32 reason) external nonReentrant {
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        if (job.host != msg.sender) revert JobMarketplaceNotHost(jobId, msg.sender);
        if (job.status != JobStatus.Claimed) revert JobMarketplaceInvalidState(jobId, job.status);
        // Past the deadline the job is expired (by anyone); a refusal cannot turn an expiry into it.
        if (block.timestamp > job.timeout) revert JobMarketplaceDeadlinePassed(jobId, job.timeout);
        job.status = JobStatus.Refused;
        _finishActive($, msg.sender);
        emit JobRefused(jobId, msg.sender, reason);
        escrow.refund(jobId, job.renter);
    }

    // ---------------------------------------------------------------- anyone

    /// @notice Pays the host of a completed job once its dispute window has passed.
    function releasePayment(uint256 jobId) external nonReentrant {
        Job storage job = _s().jobs[jobId];
        if (job.status != JobStatus.Completed) revert JobMarketplaceInvalidState(jobId, job.status);
        if (block.timestamp <= job.timeout) revert JobMarketplaceDisputeWindowOpen(jobId, job.timeout);
        _settle(jobId, job, Settlement.AutoReleased, BPS);
    }

    /// @notice Refunds a job that was not completed in time: a posted job after its deadline,
    /// a claimed job after its deadline or the claim timeout (counted from the claim), whichever
    /// comes first. A claimed job taken back is an abandoned claim: recorded against the host,
    /// whose stake is slashed (the renter receives the compensation share).
    function expireJob(uint256 jobId) external nonReentrant {
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        JobStatus status = job.status;
        if (status != JobStatus.Posted && status != JobStatus.Claimed) revert JobMarketplaceInvalidState(jobId, status);
        uint64 until = job.timeout;
        if (status == JobStatus.Claimed) {
            uint64 claimEnds = uint64(job.tokensUsed) + _claimTimeout($.config);
            if (claimEnds < until) until = claimEnds;
        }
        if (block.timestamp <= until) revert JobMarketplaceDeadlineNotPassed(jobId, until);
        job.status = JobStatus.Expired;
        address renter = job.renter;
        emit JobExpired(jobId, msg.sender, status);
        escrow.refund(jobId, renter);
        if (status == JobStatus.Claimed) {
            address host = job.host;
            _finishActive($, host);
            IReputationSystem rep = $.reputation;
            if (address(rep) != address(0)) {
                rep.recordOffence(IReputationSystem.Offence.AbandonedClaim, host, renter, bytes32(jobId));
            }
        }
    }

    /// @notice Ends a dispute no arbiter resolved by its deadline, with the default outcome: the
    /// host is paid for its completion as if the renter had accepted, the renter's bond is
    /// returned, and neither side is recorded as having lost.
    function settleDispute(uint256 jobId) external nonReentrant {
        Job storage job = _s().jobs[jobId];
        if (job.status != JobStatus.Disputed) revert JobMarketplaceInvalidState(jobId, job.status);
        if (block.timestamp <= job.timeout) revert JobMarketplaceArbitrationOpen(jobId, job.timeout);
        _settle(jobId, job, Settlement.Unarbitrated, BPS);
        _settleBond(jobId, job, 0);
    }

    // ---------------------------------------------------------------- arbiter

    /// @notice Resolves a dispute (also after its deadline, until someone applies the default):
    /// the host receives `hostBps` of the job's payment (10000 = pay in full, 0 = refund the
    /// renter in full) and the same share of the renter's bond; the renter the rest of both.
    /// Below half, the host lost: recorded and slashed, the renter compensated from the slash.
    function resolveDispute(uint256 jobId, uint16 hostBps) external nonReentrant onlyRole(ARBITER_ROLE) {
        if (hostBps > BPS) revert JobMarketplaceInvalidBps(hostBps);
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        if (job.status != JobStatus.Disputed) revert JobMarketplaceInvalidState(jobId, job.status);
        _settle(jobId, job, Settlement.Resolved, hostBps);
        _settleBond(jobId, job, hostBps);
        IReputationSystem rep = $.reputation;
        if (address(rep) == address(0)) return;
        if (hostBps < BPS / 2) {
            rep.recordOffence(IReputationSystem.Offence.DisputeLost, job.host, job.renter, bytes32(jobId));
        } else {
            rep.recordDisputeWon(jobId, job.host);
        }
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the dispute window (at most MAX_DISPUTE_WINDOW) for jobs completed from now on.
    function setDisputeWindow(uint32 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDisputeWindow(_s().config, window);
    }

    /// @notice Sets how long a host may hold a claim before the renter can take the job back
    /// (MIN_CLAIM_TIMEOUT to MAX_CLAIM_TIMEOUT); applies to open claims at once.
    function setClaimTimeout(uint32 timeout) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setClaimTimeout(_s().config, timeout);
    }

    /// @notice Sets the arbiter's time to resolve a dispute, for disputes opened from now on.
    function setArbitrationWindow(uint32 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setArbitrationWindow(_s().config, window);
    }

    /// @notice Sets the renter's dispute bond as a share of the disputed payment (at most
    /// MAX_DISPUTE_BOND_BPS), for disputes opened from now on.
    function setDisputeBondBps(uint16 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDisputeBond(_s().config, bps);
    }

    /// @notice Sets the reputation system that records work and offences and holds minimum
    /// scores (address(0): none; then minimum scores cannot be met).
    function setReputation(address reputation_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        JobMarketplaceStorage storage $ = _s();
        emit ReputationUpdated(address($.reputation), reputation_);
        $.reputation = IReputationSystem(reputation_);
    }

    /// @notice Stops posting and claiming (new commitments). Completion, disputes, settlement,
    /// refunds (cancel, expire, refuse) stay open so no renter's or host's money or work is held hostage.
    function pause() external onlyRole(PAUSER_ROLE) {
        _s().config.paused = true;
        emit MarketplacePaused(msg.sender);
    }

    /// @notice Resumes normal operation: governance only (the guardian, PAUSER_ROLE, cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s().config.paused = false;
        emit MarketplaceUnpaused(msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @notice The stored job (status None for an unknown id) with its model and token.
    function getJob(uint256 jobId) external view returns (Job memory job, bytes32 modelId, address token) {
        JobMarketplaceStorage storage $ = _s();
        job = $.jobs[jobId];
        Offer memory o = $.offers[job.offerId];
        return (job, o.modelId, o.token);
    }

    /// @notice The catalog entry of `offerId` (all zero for an unknown id).
    function offerOf(uint32 offerId) external view returns (Offer memory) {
        return _s().offers[offerId];
    }

    /// @notice The catalog id of (modelId, token) with no minimum score, 0 if no job was ever posted for it.
    function offerIdOf(bytes32 modelId, address token) external view returns (uint32) {
        return _s().offerIds[_catalogKey(modelId, token, 0)];
    }

    /// @inheritdoc IActiveJobCounter
    function activeJobCount(address host) external view returns (uint256) {
        uint256 activePlusOne = _s().activeJobs[host];
        return activePlusOne == 0 ? 0 : activePlusOne - 1;
    }

    /// @notice The id the next posted job will get.
    function nextJobId() external view returns (uint256) {
        return _s().config.nextJobId;
    }

    /// @notice Seconds after completion during which the renter may dispute.
    function disputeWindow() external view returns (uint32) {
        return _s().config.disputeWindow;
    }

    /// @notice Seconds a host may hold a claim before the job can be taken back.
    function claimTimeout() external view returns (uint32) {
        return _claimTimeout(_s().config);
    }

    /// @notice Seconds an arbiter has to resolve a dispute.
    function arbitrationWindow() external view returns (uint32) {
        return _arbitrationWindow(_s().config);
    }

    /// @notice The renter's dispute bond as a share (bps) of the disputed payment.
    function disputeBondBps() external view returns (uint16) {
        return _s().config.disputeBondBps;
    }

    /// @notice The bond disputing `jobId` costs now (0 if it cannot be disputed).
    function disputeBondOf(uint256 jobId) external view returns (uint256) {
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        if (job.status != JobStatus.Completed) return 0;
        return _bondFor(job, $.config);
    }

    /// @notice The reputation system in use (address(0): none).
    function reputation() external view returns (address) {
        return address(_s().reputation);
    }

    /// @notice Whether posting and claiming are stopped.
    function paused() external view returns (bool) {
        return _s().config.paused;
    }

    // ---------------------------------------------------------------- internals

    function _post(JobRequest calldata r) private returns (uint256 jobId) {
        JobMarketplaceStorage storage $ = _s();
        Config memory c = $.config;
        if (c.paused) revert JobMarketplacePaused();
        if (r.modelId == bytes32(0)) revert JobMarketplaceInvalidRequest("modelId");
        if (r.maxTokens == 0 || r.maxTokens > type(uint24).max) revert JobMarketplaceInvalidRequest("maxTokens");
        if (r.maxPricePerToken == 0) revert JobMarketplaceInvalidRequest("maxPricePerToken");
        if (r.deadline <= block.timestamp || r.deadline > block.timestamp + MAX_JOB_DURATION) {
            revert JobMarketplaceInvalidRequest("deadline");
        }
        if (r.host == msg.sender) revert JobMarketplaceInvalidRequest("host");
        if (r.minScore > 1000) revert JobMarketplaceInvalidRequest("minScore");
        jobId = c.nextJobId;
        uint32 offerId = _offerId($, c, r.modelId, r.token, r.minScore);
        // Cannot overflow: one id per transaction.
        unchecked {
            $.config.nextJobId = c.nextJobId + 1;
        }
        $.jobs[jobId] = Job({
            renter: msg.sender,
            timeout: uint32(r.deadline),
            maxTokens: uint24(r.maxTokens),
            status: JobStatus.Posted,
            offerId: offerId,
            host: r.host,
            pricePerToken: r.maxPricePerToken,
            tokensUsed: 0
        });
        emit JobPosted(
            jobId,
            msg.sender,
            r.modelId,
            r.promptHash,
            r.token,
            r.maxTokens,
            r.maxPricePerToken,
            r.deadline,
            r.host,
            r.minScore
        );
        escrow.lock{value: msg.value}(jobId, msg.sender, r.token, uint256(r.maxTokens) * r.maxPricePerToken);
    }

    /// @dev The catalog id of (modelId, token, minScore), registered on first use.
    function _offerId(JobMarketplaceStorage storage $, Config memory c, bytes32 modelId, address token, uint16 minScore)
        private
        returns (uint32 offerId)
    {
        bytes32 catalogKey = _catalogKey(modelId, token, minScore);
        offerId = $.offerIds[catalogKey];
        if (offerId != 0) return offerId;
        offerId = c.nextOfferId;
        // Cannot overflow in practice: one id per distinct (model, token, minScore) ever used.
        $.config.nextOfferId = offerId + 1;
        $.offerIds[catalogKey] = offerId;
        $.offers[offerId] =
            Offer({key: keccak256(abi.encode(modelId, token)), modelId: modelId, token: token, minScore: minScore});
        emit OfferRegistered(offerId, modelId, token, minScore);
    }

    /// @dev (model, token) keeps the key it had before minimum scores existed, so old ids stay.
    function _catalogKey(bytes32 modelId, address token, uint16 minScore) private pure returns (bytes32) {
        return minScore == 0
            ? keccak256(abi.encode(modelId, token))
            : keccak256(abi.encode(modelId, token, minScore));
    }

    function _scoreOf(JobMarketplaceStorage storage $, address host) private view returns (uint16) {
        IReputationSystem rep = $.reputation;
        return address(rep) == address(0) ? 0 : rep.scoreOf(host);
    }

    /// @dev The bond a dispute of `job` (Completed) locks now.
    function _bondFor(Job storage job, Config memory c) private view returns (uint256) {
        uint16 bps = c.disputeBondBps;
        return uint256(job.tokensUsed) * job.pricePerToken * bps / BPS;
    }

    /// @dev Pays `hostBps` of a dispute's bond (if any) to the host, the rest back to the renter.
    function _settleBond(uint256 jobId, Job storage job, uint16 hostBps) private {
        uint256 bondId = jobId | BOND_ID;
        (, uint256 bond) = escrow.lockOf(address(this), bondId);
        if (bond == 0) return;
        if (hostBps == 0) escrow.refund(bondId, job.renter);
        else escrow.release(bondId, job.host, job.renter, bond * hostBps / BPS);
    }

    function _settle(uint256 jobId, Job storage job, Settlement settlement, uint16 hostBps) private {
        address host = job.host;
        uint256 payment = uint256(job.tokensUsed) * job.pricePerToken * hostBps / BPS;
        job.status = JobStatus.Settled;
        _finishActive(_s(), host);
        emit JobSettled(jobId, settlement, hostBps);
        escrow.release(jobId, host, job.renter, payment);
    }

    function _finishActive(JobMarketplaceStorage storage $, address host) private {
        // Cannot underflow: incremented (from at least 1) when the job was claimed.
        unchecked {
            --$.activeJobs[host];
        }
    }

    function _requireNotPaused(JobMarketplaceStorage storage $) private view {
        if ($.config.paused) revert JobMarketplacePaused();
    }

    /// @dev 0 on a proxy upgraded from before the setting existed: the default applies.
    function _claimTimeout(Config memory c) private pure returns (uint32) {
        return c.claimTimeout == 0 ? 1 hours : c.claimTimeout;
    }

    function _arbitrationWindow(Config memory c) private pure returns (uint32) {
        return c.arbitrationWindow == 0 ? 7 days : c.arbitrationWindow;
    }

    function _setClaimTimeout(Config storage c, uint32 timeout) private {
        if (timeout < MIN_CLAIM_TIMEOUT || timeout > MAX_CLAIM_TIMEOUT) {
            revert JobMarketplaceInvalidParameter("claimTimeout");
        }
        emit ClaimTimeoutUpdated(c.claimTimeout, timeout);
        c.claimTimeout = timeout;
    }

    function _setArbitrationWindow(Config storage c, uint32 window) private {
        if (window < MIN_ARBITRATION_WINDOW || window > MAX_ARBITRATION_WINDOW) {
            revert JobMarketplaceInvalidParameter("arbitrationWindow");
        }
        emit ArbitrationWindowUpdated(c.arbitrationWindow, window);
        c.arbitrationWindow = window;
    }

    function _setDisputeBond(Config storage c, uint16 bps) private {
        if (bps > MAX_DISPUTE_BOND_BPS) revert JobMarketplaceInvalidParameter("disputeBondBps");
        emit DisputeBondUpdated(c.disputeBondBps, bps);
        c.disputeBondBps = bps;
    }

    function _setDisputeWindow(Config storage c, uint32 window) private {
        if (window == 0 || window > MAX_DISPUTE_WINDOW) revert JobMarketplaceInvalidDisputeWindow(window);
        emit DisputeWindowUpdated(c.disputeWindow, window);
        c.disputeWindow = window;
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
