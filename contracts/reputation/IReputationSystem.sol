// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IReputationSystem
/// @notice Types, events, errors and the recorder-facing API of the ReputationSystem: on-chain
/// performance counters and paid ratings per host, one score (0-1000) readable in one view
/// call, reputation incentives (minimum scores, a protocol-fee discount) and slashing.
/// @dev What a score is: a statistic, not a proof (see docs/trust.md). It says how a host has
/// behaved, weighted toward the recent past; it cannot say that a given answer was correct.
interface IReputationSystem {
    /// @notice Misconduct that slashes stake. Values are emitted as uint8: only ever appended.
    /// @param AbandonedClaim a claimed job was neither completed nor refused in time.
    /// @param DisputeLost an arbiter resolved a dispute mostly for the renter.
    /// @param ChallengeLost a bonded challenge of the host's work succeeded (ProofSystem).
    enum Offence {
        AbandonedClaim,
        DisputeLost,
        ChallengeLost
    }

    /// @notice What a renter paid for and may rate once.
    enum Work {
        Job,
        Session
    }

    /// @notice A host's record with every decayed figure brought to the time of the read.
    /// Decayed figures are fixed point with 3 decimals (1000 = one job, one offence, ...).
    /// @param completed decayed count of completed (settled and paid) jobs and sessions.
    /// @param offences decayed, weighted count of offences (a lost challenge weighs 3).
    /// @param ratingWeight decayed sum of the ratings' weights.
    /// @param ratingAverage weighted average rating on the 0-1000 scale (0 with no ratings).
    /// @param jobs lifetime jobs settled with a payment.
    /// @param sessions lifetime sessions settled with a payment.
    /// @param tokens lifetime output tokens paid for.
    /// @param abandoned lifetime abandoned claims.
    /// @param disputesLost lifetime disputes lost.
    /// @param disputesWon lifetime disputes won.
    /// @param challengesLost lifetime challenges lost.
    /// @param avgCompletionSeconds decayed mean time from claim to completion of jobs (0 if none).
    /// @param score the score, 0-1000 (NEUTRAL_SCORE for a host with no history).
    /// @notice A registry-stake tier: hosts staking at least `minStake` get `discountBps` off the protocol fee.
    struct StakeTier {
        uint128 minStake;
        uint16 discountBps;
    }

    struct Reputation {
        uint256 completed;
        uint256 offences;
        uint256 ratingWeight;
        uint256 ratingAverage;
        uint64 jobs;
        uint64 sessions;
        uint64 tokens;
        uint32 abandoned;
        uint32 disputesLost;
        uint32 disputesWon;
        uint32 challengesLost;
        uint32 avgCompletionSeconds;
        uint16 score;
    }

    /// @notice `host` delivered a job (completed on chain) or a session (settled with a payment).
    /// @param paid what the renter owes for it (in the work's payment token), before the fee split.
    /// @param duration seconds from claim to completion (jobs); 0 for sessions.
    event WorkRecorded(
        Work indexed kind,
        uint256 indexed id,
        address indexed host,
        address renter,
        uint256 paid,
        uint256 tokens,
        uint256 duration,
        uint16 score
    );
    /// @notice The renter of a settled job or session rated it (1-5 stars) with `weight`
    /// (what it paid, in the token's rating units).
    event Rated(
        Work indexed kind,
        uint256 indexed id,
        address indexed host,
        address renter,
        uint8 stars,
        uint256 weight,
        uint16 score
    );
    /// @notice An arbiter resolved a dispute of job `jobId` for the host.
    event DisputeWon(uint256 indexed jobId, address indexed host, uint16 score);
    /// @notice `host` committed `offence` (`ref` names the job, session or challenge); it was
    /// slashed `slashed` FAB, of which `compensation` went to `wronged` and the rest to the treasury.
    /// @param count the host's lifetime offences including this one (escalation).
    event OffenceRecorded(
        Offence indexed offence,
        address indexed host,
        address indexed wronged,
        bytes32 ref,
        uint256 slashed,
        uint256 compensation,
        uint256 count,
        uint16 score
    );
    /// @notice A slash could not be taken (the registry refused it); the offence still counts.
    event SlashFailed(address indexed host, uint256 amount, bytes reason);
    event RecorderUpdated(address indexed recorder, bool allowed);
    event HalfLifeUpdated(uint32 previous, uint32 current);
    event RatingUnitUpdated(address indexed token, uint256 unit);
    event SlashingUpdated(
        uint16 abandonedBps, uint16 disputeLostBps, uint16 challengeLostBps, uint16 maxSlashBps, uint16 compensationBps
    );
    event FeeDiscountUpdated(uint16 minScore, uint16 discountBps);
    event StakeTiersUpdated(uint128[] minStakes, uint16[] discountsBps);
    event TreasuryUpdated(address indexed previous, address indexed current);

    error ReputationZeroAddress();
    error ReputationInvalidStars(uint8 stars);
    error ReputationNotRateable(Work kind, uint256 id);
    error ReputationNotRenter(Work kind, uint256 id, address caller);
    error ReputationAlreadyRated(Work kind, uint256 id);
    error ReputationNoRatingUnit(address token);
    error ReputationInvalidParameter(string name);
    error ReputationWrongTerms(uint256 sessionId);

    /// @notice Records delivered work (recorders only): a job when its host completes it, a
    /// session when it settles with a payment.
    function recordWork(Work kind, uint256 id, address host, address renter, uint256 paid, uint256 tokens, uint256 duration)
        external;

    /// @notice Records a dispute the host won (recorders only).
    function recordDisputeWon(uint256 jobId, address host) external;

    /// @notice Records an offence and slashes `host`'s stake (recorders only): a share that
    /// escalates with the host's earlier offences, capped per incident; `wronged` (the renter
    /// or the challenger) receives the compensation share, the treasury the rest. Never
    /// reverts because of the slash itself (a host without stake is recorded, not slashed).
    /// @return slashed the FAB taken from the host.
    function recordOffence(Offence offence, address host, address wronged, bytes32 ref)
        external
        returns (uint256 slashed);

    /// @notice The host's score, 0-1000, decayed to now (one view call).
    function scoreOf(address host) external view returns (uint16);

    /// @notice The share of the protocol's fee (bps of it) `host` does not pay.
    function feeDiscountBps(address host) external view returns (uint16);

    /// @notice `feeDiscountBps` for `host` if its registry stake were `stake` (callers that just
    /// read the stake from the NodeRegistry pass it, saving the registry a second call).
    function feeDiscountAt(address host, uint256 stake) external view returns (uint16);
}
