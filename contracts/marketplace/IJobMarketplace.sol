// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IJobMarketplace
/// @notice Types, events and errors of the JobMarketplace.
interface IJobMarketplace {
    /// @notice Where a job is in its lifecycle. Values are stored and emitted as uint8:
    /// new states are only ever appended.
    enum JobStatus {
        None,
        Posted,
        Claimed,
        Completed,
        Disputed,
        Settled,
        Cancelled,
        Expired,
        Refused
    }

    /// @notice How a job reached Settled.
    /// @param Unarbitrated no arbiter resolved the dispute before its deadline: the documented
    /// default applied (the host is paid for its completion, the renter's bond is returned).
    enum Settlement {
        Accepted,
        AutoReleased,
        Resolved,
        Unarbitrated
    }

    /// @notice What a renter posts.
    /// @param modelId the model's id (a bytes32 digest, as hosts advertise it in the registry).
    /// @param promptHash digest of the prompt (or of its content address).
    /// @param token payment token, address(0) for ETH.
    /// @param maxTokens the most output tokens the renter pays for (at most 2^24 - 1).
    /// @param maxPricePerToken the most the renter pays per output token.
    /// @param deadline unix time by which the job must be completed.
    /// @param host the only host allowed to claim, or address(0) for any eligible host.
    /// @param minScore the least on-chain reputation score (0-1000) a claiming host must have;
    /// 0 for none.
    struct JobRequest {
        bytes32 modelId;
        bytes32 promptHash;
        address token;
        uint32 maxTokens;
        uint64 maxPricePerToken;
        uint64 deadline;
        address host;
        uint16 minScore;
    }

    /// @notice A job as stored: two slots.
    /// @param timeout while Posted or Claimed, the deadline; once Completed, the end of the
    /// dispute window, fixed at completion; once Disputed, the arbitration deadline.
    /// @param offerId the (modelId, token) pair in this contract's offer catalog (see offerOf).
    /// @param pricePerToken the renter's maximum until a host claims; the host's price after.
    /// @param tokensUsed while Claimed, the time of the claim (unix seconds); from completion on,
    /// the output tokens the host billed.
    struct Job {
        address renter;
        uint32 timeout;
        uint24 maxTokens;
        JobStatus status;
        uint32 offerId;
        address host;
        uint64 pricePerToken;
        uint32 tokensUsed;
    }

    /// @notice A (model, payment token, minimum score) triple jobs have been posted for.
    /// @param key keccak256(abi.encode(modelId, token)), the registry's price key.
    /// @param minScore the least reputation score a claiming host must have (0: none).
    struct Offer {
        bytes32 key;
        bytes32 modelId;
        address token;
        uint16 minScore;
    }

    /// @notice A (model, token, minimum score) triple got its catalog id (the first job posted for it).
    event OfferRegistered(uint32 indexed offerId, bytes32 indexed modelId, address indexed token, uint16 minScore);
    /// @notice A job was posted; its deposit is maxTokens * maxPricePerToken.
    event JobPosted(
        uint256 indexed jobId,
        address indexed renter,
        bytes32 indexed modelId,
        bytes32 promptHash,
        address token,
        uint256 maxTokens,
        uint256 maxPricePerToken,
        uint64 deadline,
        address host,
        uint16 minScore
    );
    event JobClaimed(uint256 indexed jobId, address indexed host, uint256 pricePerToken);
    event JobCompleted(
        uint256 indexed jobId,
        address indexed host,
        bytes32 outputHash,
        uint256 tokensUsed,
        uint256 payment,
        uint64 disputeDeadline
    );
    /// @notice The renter disputed a completed job, locking `bond` (in the job's token) until an
    /// arbiter resolves it or `arbitrationDeadline` passes (then the default applies).
    event JobDisputed(
        uint256 indexed jobId, address indexed renter, bytes32 reason, uint256 bond, uint64 arbitrationDeadline
    );
    /// @notice A job was settled; the escrow's PaymentReleased carries the amounts.
    /// @param hostBps the share of the job's price the host was paid (10000 unless a dispute was resolved).
    event JobSettled(uint256 indexed jobId, Settlement settlement, uint16 hostBps);
    event JobCancelled(uint256 indexed jobId, address indexed renter);
    /// @notice A job was taken back from its host or its deadline: refunded in full. From Claimed it is
    /// an abandoned claim (the host did not complete or refuse it within the claim timeout or the
    /// deadline), recorded against the host and slashed.
    event JobExpired(uint256 indexed jobId, address indexed caller, JobStatus previous);
    /// @notice The claiming host handed a job back before its deadline because it cannot serve
    /// the renter's request; the whole deposit was credited back to the renter.
    /// @param reason a short machine code, UTF-8 right-padded (e.g. "prompt_too_long").
    event JobRefused(uint256 indexed jobId, address indexed host, bytes32 reason);
    event DisputeWindowUpdated(uint32 previous, uint32 current);
    event ClaimTimeoutUpdated(uint32 previous, uint32 current);
    event ArbitrationWindowUpdated(uint32 previous, uint32 current);
    event DisputeBondUpdated(uint16 previousBps, uint16 currentBps);
    event ReputationUpdated(address indexed previous, address indexed current);
    event MarketplacePaused(address account);
    event MarketplaceUnpaused(address account);

    error JobMarketplaceZeroAddress();
    error JobMarketplaceInvalidState(uint256 jobId, JobStatus status);
    error JobMarketplaceNotRenter(uint256 jobId, address caller);
    error JobMarketplaceNotHost(uint256 jobId, address caller);
    error JobMarketplaceInvalidRequest(string field);
    error JobMarketplaceDeadlinePassed(uint256 jobId, uint64 deadline);
    error JobMarketplaceDeadlineNotPassed(uint256 jobId, uint64 deadline);
    error JobMarketplacePriceTooHigh(uint256 jobId, uint256 hostPrice, uint256 maxPrice);
    error JobMarketplaceTooManyTokens(uint256 jobId, uint256 tokensUsed, uint256 maxTokens);
    error JobMarketplaceDisputeWindowOpen(uint256 jobId, uint64 releaseAt);
    error JobMarketplaceDisputeWindowClosed(uint256 jobId, uint64 closedAt);
    error JobMarketplaceInvalidBps(uint16 bps);
    error JobMarketplaceInvalidDisputeWindow(uint32 window);
    error JobMarketplaceSelfDealing(uint256 jobId);
    error JobMarketplacePaused();
    /// @notice `host` already holds `active` open claims, as many as its stake allows.
    error JobMarketplaceClaimLimit(address host, uint256 active, uint256 capacity);
    /// @notice `host`'s reputation score is below the job's minimum.
    error JobMarketplaceScoreTooLow(uint256 jobId, uint16 score, uint16 minScore);
    error JobMarketplaceInvalidParameter(string name);
    error JobMarketplaceArbitrationOpen(uint256 jobId, uint64 deadline);
}
