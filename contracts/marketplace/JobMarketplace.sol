// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPaymentEscrow} from "../escrow/IPaymentEscrow.sol";
import {IActiveJobCounter, INodeRegistry} from "../registry/INodeRegistry.sol";
import {IJobMarketplace} from "./IJobMarketplace.sol";

/// @title JobMarketplace
/// @notice The job lifecycle: a renter posts a job and its deposit is locked in the
/// PaymentEscrow in the same transaction; an eligible host claims it, serves it off
/// chain and completes it with the output digest and the tokens used; the renter
/// accepts (paid at once) or, after the dispute window, anyone releases the
/// payment; a dispute inside the window goes to an arbiter. A host that cannot serve
/// the renter's request refuses the claimed job, which refunds the renter at once.
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
    }

    /// @custom:storage-location erc7201:fabstir.storage.JobMarketplace
    struct JobMarketplaceStorage {
        Config config;
        mapping(uint256 jobId => Job) jobs;
        mapping(address host => uint256 activePlusOne) activeJobs;
        mapping(bytes32 offerKey => uint32 offerId) offerIds;
        mapping(uint32 offerId => Offer) offers;
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

    /// @notice Disputes a completed job inside the dispute window; an arbiter resolves it.
    /// @param reason digest of the renter's evidence.
    function disputeJob(uint256 jobId, bytes32 reason) external {
        Job storage job = _s().jobs[jobId];
        if (job.renter != msg.sender) revert JobMarketplaceNotRenter(jobId, msg.sender);
        if (job.status != JobStatus.Completed) revert JobMarketplaceInvalidState(jobId, job.status);
        if (block.timestamp > job.timeout) revert JobMarketplaceDisputeWindowClosed(jobId, job.timeout);
        job.status = JobStatus.Disputed;
        emit JobDisputed(jobId, msg.sender, reason);
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
        uint64 price = registry.checkEligible(msg.sender, $.offers[job.offerId].key);
        uint64 maxPrice = job.pricePerToken;
        if (price > maxPrice) revert JobMarketplacePriceTooHigh(jobId, price, maxPrice);
        job.status = JobStatus.Claimed;
        job.host = msg.sender;
        job.pricePerToken = price;
        uint256 activePlusOne = $.activeJobs[msg.sender];
        // Cannot overflow: bounded by the number of jobs ever posted.
        unchecked {
            $.activeJobs[msg.sender] = activePlusOne == 0 ? 2 : activePlusOne + 1;
        }
        emit JobClaimed(jobId, msg.sender, price);
    }

    /// @notice Completes a claimed job before its deadline with the output's digest and the tokens used.
    /// The dispute window is fixed now: later changes to it do not apply to this job.
    function completeJob(uint256 jobId, bytes32 outputHash, uint32 tokensUsed) external {
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        if (job.host != msg.sender) revert JobMarketplaceNotHost(jobId, msg.sender);
        if (job.status != JobStatus.Claimed) revert JobMarketplaceInvalidState(jobId, job.status);
        if (block.timestamp > job.timeout) revert JobMarketplaceDeadlinePassed(jobId, job.timeout);
        if (tokensUsed > job.maxTokens) revert JobMarketplaceTooManyTokens(jobId, tokensUsed, job.maxTokens);
        // Cannot overflow uint32 before 2106 (window <= 30 days).
        uint32 disputeEndsAt = uint32(block.timestamp) + $.config.disputeWindow;
        job.status = JobStatus.Completed;
        job.timeout = disputeEndsAt;
        job.tokensUsed = tokensUsed;
        emit JobCompleted(
            jobId, msg.sender, outputHash, tokensUsed, uint256(tokensUsed) * job.pricePerToken, disputeEndsAt
        );
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

    /// @notice Refunds a job that was not completed by its deadline (posted or claimed).
    function expireJob(uint256 jobId) external nonReentrant {
        JobMarketplaceStorage storage $ = _s();
        Job storage job = $.jobs[jobId];
        JobStatus status = job.status;
        if (status != JobStatus.Posted && status != JobStatus.Claimed) revert JobMarketplaceInvalidState(jobId, status);
        if (block.timestamp <= job.timeout) revert JobMarketplaceDeadlineNotPassed(jobId, job.timeout);
        job.status = JobStatus.Expired;
        if (status == JobStatus.Claimed) _finishActive($, job.host);
        emit JobExpired(jobId, msg.sender, status);
        escrow.refund(jobId, job.renter);
    }

    // ---------------------------------------------------------------- arbiter

    /// @notice Resolves a dispute: the host receives `hostBps` of the job's payment
    /// (10000 = pay in full, 0 = refund the renter in full), the renter the rest of the deposit.
    function resolveDispute(uint256 jobId, uint16 hostBps) external nonReentrant onlyRole(ARBITER_ROLE) {
        if (hostBps > BPS) revert JobMarketplaceInvalidBps(hostBps);
        Job storage job = _s().jobs[jobId];
        if (job.status != JobStatus.Disputed) revert JobMarketplaceInvalidState(jobId, job.status);
        _settle(jobId, job, Settlement.Resolved, hostBps);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the dispute window (at most MAX_DISPUTE_WINDOW) for jobs completed from now on.
    function setDisputeWindow(uint32 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDisputeWindow(_s().config, window);
    }

    /// @notice Stops posting and claiming (new commitments). Completion, disputes, settlement,
    /// refunds (cancel, expire, refuse) stay open so no renter's or host's money or work is held hostage.
    function pause() external onlyRole(PAUSER_ROLE) {
        _s().config.paused = true;
        emit MarketplacePaused(msg.sender);
    }

    /// @notice Resumes normal operation.
    function unpause() external onlyRole(PAUSER_ROLE) {
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

    /// @notice The catalog id of (modelId, token), 0 if no job was ever posted for it.
    function offerIdOf(bytes32 modelId, address token) external view returns (uint32) {
        return _s().offerIds[keccak256(abi.encode(modelId, token))];
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
        jobId = c.nextJobId;
        uint32 offerId = _offerId($, c, r.modelId, r.token);
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
            jobId, msg.sender, r.modelId, r.promptHash, r.token, r.maxTokens, r.maxPricePerToken, r.deadline, r.host
        );
        escrow.lock{value: msg.value}(jobId, msg.sender, r.token, uint256(r.maxTokens) * r.maxPricePerToken);
    }

    /// @dev The catalog id of (modelId, token), registered on first use.
    function _offerId(JobMarketplaceStorage storage $, Config memory c, bytes32 modelId, address token)
        private
        returns (uint32 offerId)
    {
        bytes32 key = keccak256(abi.encode(modelId, token));
        offerId = $.offerIds[key];
        if (offerId != 0) return offerId;
        offerId = c.nextOfferId;
        // Cannot overflow in practice: one id per distinct (model, token) pair ever used.
        $.config.nextOfferId = offerId + 1;
        $.offerIds[key] = offerId;
        $.offers[offerId] = Offer({key: key, modelId: modelId, token: token});
        emit OfferRegistered(offerId, modelId, token);
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

    function _setDisputeWindow(Config storage c, uint32 window) private {
        if (window == 0 || window > MAX_DISPUTE_WINDOW) revert JobMarketplaceInvalidDisputeWindow(window);
        emit DisputeWindowUpdated(c.disputeWindow, window);
        c.disputeWindow = window;
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
