// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IJobMarketplace} from "../marketplace/IJobMarketplace.sol";
import {ISessionManager} from "../sessions/ISessionManager.sol";
import {IReputationSystem} from "./IReputationSystem.sol";

/// @dev What the ReputationSystem reads from the marketplace to check a rating.
interface IJobReader {
    function getJob(uint256 jobId) external view returns (IJobMarketplace.Job memory job, bytes32 modelId, address token);
}

/// @dev What the ReputationSystem reads from the SessionManager to check a rating.
interface ISessionReader {
    function sessionState(uint256 sessionId)
        external
        view
        returns (ISessionManager.SessionStatus status, ISessionManager.SessionState memory state);
    function termsHash(uint256 sessionId) external view returns (bytes32);
}

/// @dev What the ReputationSystem needs from the NodeRegistry to slash (it holds SLASHER_ROLE).
interface IStakeSlasher {
    function hostState(address host)
        external
        view
        returns (uint8 status, uint256 stake, uint64 registeredAt, uint256 unbonding, uint64 releaseAt);
    function slash(address host, uint256 amount, address recipient, bytes32 reason) external;
}

/// @title ReputationSystem
/// @notice A host's track record on chain, and what it changes: performance counters fed by
/// the marketplace, the sessions and the proof system; ratings by renters weighted by what they
/// paid; one score (0-1000) in one view call; minimum scores renters can require; a
/// protocol-fee discount for high scores; and slashing of stake for misconduct, escalating with
/// repeat offences, the wronged party paid first.
/// @dev The score (documented in docs/trust.md):
///   perf   = (1000 * completed + 500 * PRIOR) / (completed + offences + PRIOR)
///   rating = (sum(weight * stars') + 500 * RATING_PRIOR) / (sum(weight) + RATING_PRIOR)
///   score  = (perf + rating) / 2
/// where stars' maps 1..5 stars to 0..1000, offences are weighted (an abandoned claim 5, a lost
/// dispute 10, a lost challenge 25 jobs' worth), and every sum decays with a half-life (lazily,
/// when touched; reads decay to now). A host with no history scores exactly 500 (neutral).
/// Decay uses 2^-n exactly for whole half-lives and 1 - f/2 between them (within 6% of 2^-f).
/// A rating's weight is what the renter paid divided by the token's rating unit, so a rating
/// costs what the service cost (a host rating itself still pays the fees: 15% by default).
/// Per host: three slots (decayed record, decayed ratings, lifetime totals).
contract ReputationSystem is Initializable, AccessControlUpgradeable, UUPSUpgradeable, IReputationSystem {
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    /// @notice Held by the contracts that record work and offences (marketplace, sessions, proofs).
    bytes32 public constant RECORDER_ROLE = keccak256("RECORDER_ROLE");

    uint16 public constant BPS = 10_000;
    uint16 public constant MAX_SCORE = 1000;
    uint16 public constant NEUTRAL_SCORE = 500;
    /// @notice Pseudo-count of neutral outcomes every host starts with (fixed point, 3 decimals).
    uint256 public constant PRIOR = 5_000;
    /// @notice Pseudo-weight of a neutral rating every host starts with (in rating units).
    uint256 public constant RATING_PRIOR = 100;
    /// @notice Offence weights in completed jobs' worth (fixed point, 3 decimals).
    uint256 public constant ABANDONED_WEIGHT = 5_000;
    uint256 public constant DISPUTE_LOST_WEIGHT = 10_000;
    uint256 public constant CHALLENGE_LOST_WEIGHT = 25_000;
    uint256 private constant ONE = 1_000;
    uint32 public constant MIN_HALF_LIFE = 1 days;
    uint32 public constant MAX_HALF_LIFE = 365 days;
    /// @notice No single incident takes more than this share of a host's stake.
    uint16 public constant MAX_SLASH_CAP_BPS = 5_000;
    /// @notice A fee discount never waives more than this share of the protocol's fee.
    uint16 public constant MAX_FEE_DISCOUNT_BPS = 5_000;
    /// @notice Escalation doubles the slash share per earlier offence, at most this many times.
    uint256 public constant MAX_ESCALATIONS = 4;
    /// @notice At most this many stake tiers; a tier's discount is at most MAX_TIER_DISCOUNT_BPS.
    uint256 public constant MAX_STAKE_TIERS = 4;
    uint16 public constant MAX_TIER_DISCOUNT_BPS = 2_500;

    /// @dev Decayed figures (3 decimals) and when they were last decayed: one slot.
    struct Record {
        uint48 completed;
        uint48 offences;
        uint48 timedJobs;
        uint64 durationSum;
        uint40 updatedAt;
    }

    /// @dev Decayed rating sums and when they were last decayed: one slot.
    struct Ratings {
        uint112 weight;
        uint112 weightedStars;
        uint32 updatedAt;
    }

    /// @dev Lifetime totals (never decayed): one slot.
    struct Totals {
        uint40 jobs;
        uint40 sessions;
        uint64 tokens;
        uint32 abandoned;
        uint24 disputesLost;
        uint24 disputesWon;
        uint24 challengesLost;
    }

    struct Slashing {
        uint16 abandonedBps;
        uint16 disputeLostBps;
        uint16 challengeLostBps;
        uint16 maxSlashBps;
        uint16 compensationBps;
        uint16 discountMinScore;
        uint16 discountBps;
        uint32 halfLife;
        // Appended inside the slot's free bytes (upgrade-safe): the number of stake tiers plus
        // one, so that a fee discount finds it in the slot it reads anyway instead of reading
        // the array's length from a slot of its own. 0 (tiers set before it existed): read the
        // length.
        uint8 stakeTiersPlusOne;
    }

    /// @notice The parameters as `parameters` returns them.
    struct Parameters {
        uint16 abandonedBps;
        uint16 disputeLostBps;
        uint16 challengeLostBps;
        uint16 maxSlashBps;
        uint16 compensationBps;
        uint16 discountMinScore;
        uint16 discountBps;
        uint32 halfLife;
    }

    /// @custom:storage-location erc7201:fabstir.storage.ReputationSystem
    struct ReputationStorage {
        Slashing params;
        IStakeSlasher registry;
        IJobReader marketplace;
        ISessionReader sessions;
        address treasury;
        mapping(address host => Record) records;
        mapping(address host => Ratings) ratings;
        mapping(address host => Totals) totals;
        mapping(address token => uint256) ratingUnits;
        mapping(bytes32 workKey => bool) rated;
        // Appended (upgrade-safe): registry-stake tiers, ascending, each with its fee discount.
        StakeTier[] stakeTiers;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.ReputationSystem")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0x34c14be2f5becbfe870d3054d156e03255a646199038bff191d94cca944f7500;

    function _s() private pure returns (ReputationStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy with the default parameters: half-life 30 days; slashes of
    /// 1% (abandoned claim), 5% (lost dispute) and 10% (lost challenge) of stake, doubling per
    /// earlier offence up to 50% per incident; half of each slash to the wronged party; a 20%
    /// discount of the protocol fee from a score of 800.
    /// @param admin receives DEFAULT_ADMIN_ROLE and UPGRADER_ROLE.
    /// @param registry the NodeRegistry (this contract needs its SLASHER_ROLE).
    /// @param treasury receives what a slash does not pay to the wronged party.
    function initialize(address admin, address registry, address treasury) external initializer {
        if (admin == address(0) || registry == address(0) || treasury == address(0)) revert ReputationZeroAddress();
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        ReputationStorage storage $ = _s();
        $.registry = IStakeSlasher(registry);
        $.treasury = treasury;
        emit TreasuryUpdated(address(0), treasury);
        _setHalfLife($, 30 days);
        _setSlashing($, 100, 500, 1_000, 5_000, 5_000);
        _setFeeDiscount($, 800, 2_000);
        $.params.stakeTiersPlusOne = 1;
    }

    // ---------------------------------------------------------------- recorders

    /// @inheritdoc IReputationSystem
    function recordWork(Work kind, uint256 id, address host, address renter, uint256 paid, uint256 tokens, uint256 duration)
        external
        onlyRole(RECORDER_ROLE)
    {
        ReputationStorage storage $ = _s();
        Record memory r = _decayed($, host);
        r.completed = _add48(r.completed, ONE);
        if (kind == Work.Job) {
            r.timedJobs = _add48(r.timedJobs, ONE);
            uint256 sum = uint256(r.durationSum) + duration * ONE;
            r.durationSum = sum > type(uint64).max ? type(uint64).max : uint64(sum);
        }
        $.records[host] = r;
        Totals storage t = $.totals[host];
        Totals memory tt = t;
        // Lifetime counters: far below their widths in practice; saturate rather than revert.
        if (kind == Work.Job) tt.jobs = tt.jobs == type(uint40).max ? tt.jobs : tt.jobs + 1;
        else tt.sessions = tt.sessions == type(uint40).max ? tt.sessions : tt.sessions + 1;
        uint256 tok = uint256(tt.tokens) + tokens;
        tt.tokens = tok > type(uint64).max ? type(uint64).max : uint64(tok);
        $.totals[host] = tt;
        emit WorkRecorded(kind, id, host, renter, paid, tokens, duration, _score(r, _decayedRatings($, host)));
    }

    /// @inheritdoc IReputationSystem
    function recordDisputeWon(uint256 jobId, address host) external onlyRole(RECORDER_ROLE) {
        ReputationStorage storage $ = _s();
        Totals storage t = $.totals[host];
        if (t.disputesWon != type(uint24).max) t.disputesWon += 1;
        emit DisputeWon(jobId, host, _score(_decayed($, host), $.ratings[host]));
    }

    /// @inheritdoc IReputationSystem
    function recordOffence(Offence offence, address host, address wronged, bytes32 ref)
        external
        onlyRole(RECORDER_ROLE)
        returns (uint256 slashed)
    {
        ReputationStorage storage $ = _s();
        Record memory r = _decayed($, host);
        Totals memory t = $.totals[host];
        uint256 earlier = uint256(t.abandoned) + t.disputesLost + t.challengesLost;
        Slashing memory p = $.params;
        uint256 bps;
        if (offence == Offence.AbandonedClaim) {
            r.offences = _add48(r.offences, ABANDONED_WEIGHT);
            if (t.abandoned != type(uint32).max) t.abandoned += 1;
            bps = p.abandonedBps;
        } else if (offence == Offence.DisputeLost) {
            r.offences = _add48(r.offences, DISPUTE_LOST_WEIGHT);
            if (t.disputesLost != type(uint24).max) t.disputesLost += 1;
            bps = p.disputeLostBps;
        } else {
            r.offences = _add48(r.offences, CHALLENGE_LOST_WEIGHT);
            if (t.challengesLost != type(uint24).max) t.challengesLost += 1;
            bps = p.challengeLostBps;
        }
        $.records[host] = r;
        $.totals[host] = t;
        bps <<= earlier < MAX_ESCALATIONS ? earlier : MAX_ESCALATIONS;
        if (bps > p.maxSlashBps) bps = p.maxSlashBps;
        uint256 compensation;
        (slashed, compensation) = _slash($, host, bps, p.compensationBps, wronged, ref);
        emit OffenceRecorded(
            offence, host, wronged, ref, slashed, compensation, earlier + 1, _score(r, _decayedRatings($, host))
        );
    }

    // ---------------------------------------------------------------- renters

    /// @notice Rates a settled job, once, as its renter: 1 to 5 stars, weighted by what the job
    /// cost (its tokens times its price, in the job's token's rating units).
    function rateJob(uint256 jobId, uint8 stars) external {
        ReputationStorage storage $ = _s();
        (IJobMarketplace.Job memory job,, address token) = $.marketplace.getJob(jobId);
        if (job.status != IJobMarketplace.JobStatus.Settled) revert ReputationNotRateable(Work.Job, jobId);
        if (job.renter != msg.sender) revert ReputationNotRenter(Work.Job, jobId, msg.sender);
        _rate($, Work.Job, jobId, job.host, token, uint256(job.tokensUsed) * job.pricePerToken, stars);
    }

    /// @notice Rates a settled session, once, as its renter (pass the session's terms, as in
    /// SessionOpened), weighted by what the session paid.
    function rateSession(ISessionManager.Session calldata terms, uint256 sessionId, uint8 stars) external {
        ReputationStorage storage $ = _s();
        ISessionReader sessions = $.sessions;
        if (sessions.termsHash(sessionId) != keccak256(abi.encode(terms))) revert ReputationWrongTerms(sessionId);
        (ISessionManager.SessionStatus status, ISessionManager.SessionState memory st) = sessions.sessionState(sessionId);
        if (status != ISessionManager.SessionStatus.Settled) revert ReputationNotRateable(Work.Session, sessionId);
        if (terms.renter != msg.sender) revert ReputationNotRenter(Work.Session, sessionId, msg.sender);
        _rate($, Work.Session, sessionId, terms.host, terms.token, st.paid, stars);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the contracts ratings are checked against.
    function setSources(address marketplace, address sessions) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (marketplace == address(0) || sessions == address(0)) revert ReputationZeroAddress();
        ReputationStorage storage $ = _s();
        $.marketplace = IJobReader(marketplace);
        $.sessions = ISessionReader(sessions);
    }

    /// @notice Grants or revokes RECORDER_ROLE (an event names the change).
    function setRecorder(address recorder, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (recorder == address(0)) revert ReputationZeroAddress();
        if (allowed) _grantRole(RECORDER_ROLE, recorder);
        else _revokeRole(RECORDER_ROLE, recorder);
        emit RecorderUpdated(recorder, allowed);
    }

    /// @notice Sets how much of `token` counts as one unit of rating weight (0: not rateable).
    function setRatingUnit(address token, uint256 unit) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s().ratingUnits[token] = unit;
        emit RatingUnitUpdated(token, unit);
    }

    /// @notice Sets the half-life of every decayed figure (1 to 365 days).
    function setHalfLife(uint32 halfLife) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setHalfLife(_s(), halfLife);
    }

    /// @notice Sets the slash shares of stake per offence (before escalation), the cap per
    /// incident (at most MAX_SLASH_CAP_BPS) and the wronged party's share of each slash.
    function setSlashing(
        uint16 abandonedBps,
        uint16 disputeLostBps,
        uint16 challengeLostBps,
        uint16 maxSlashBps,
        uint16 compensationBps
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSlashing(_s(), abandonedBps, disputeLostBps, challengeLostBps, maxSlashBps, compensationBps);
    }

    /// @notice Sets the fee discount: hosts scoring at least `minScore` do not pay `discountBps`
    /// of the protocol's fee (at most MAX_FEE_DISCOUNT_BPS).
    function setFeeDiscount(uint16 minScore, uint16 discountBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFeeDiscount(_s(), minScore, discountBps);
    }

    /// @notice Sets the hosts' stake tiers: a host whose registry stake is at least
    /// `minStakes[i]` does not pay `discountsBps[i]` of the protocol's fee (the highest tier it
    /// reaches counts, added to the reputation discount; the sum is capped at
    /// MAX_FEE_DISCOUNT_BPS). Thresholds strictly ascending, discounts not descending, each at
    /// most MAX_TIER_DISCOUNT_BPS, at most MAX_STAKE_TIERS tiers; empty arrays remove the tiers.
    function setStakeTiers(uint128[] calldata minStakes, uint16[] calldata discountsBps)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (minStakes.length != discountsBps.length || minStakes.length > MAX_STAKE_TIERS) {
            revert ReputationInvalidParameter("tiers");
        }
        StakeTier[] storage tiers = _s().stakeTiers;
        delete _s().stakeTiers;
        for (uint256 i; i < minStakes.length; ++i) {
            if (minStakes[i] == 0 || discountsBps[i] == 0 || discountsBps[i] > MAX_TIER_DISCOUNT_BPS) {
                revert ReputationInvalidParameter("tier");
            }
            if (i != 0 && (minStakes[i] <= minStakes[i - 1] || discountsBps[i] < discountsBps[i - 1])) {
                revert ReputationInvalidParameter("tier order");
            }
            tiers.push(StakeTier({minStake: minStakes[i], discountBps: discountsBps[i]}));
        }
        // At most MAX_STAKE_TIERS (4) tiers: fits.
        _s().params.stakeTiersPlusOne = uint8(minStakes.length + 1);
        emit StakeTiersUpdated(minStakes, discountsBps);
    }

    /// @notice Sets who receives the part of a slash that does not compensate the wronged party.
    function setTreasury(address treasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury == address(0)) revert ReputationZeroAddress();
        ReputationStorage storage $ = _s();
        emit TreasuryUpdated($.treasury, treasury);
        $.treasury = treasury;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IReputationSystem
    function scoreOf(address host) public view returns (uint16) {
        ReputationStorage storage $ = _s();
        return _scoreNow($, host, $.params.halfLife);
    }

    /// @inheritdoc IReputationSystem
    function feeDiscountBps(address host) external view returns (uint16) {
        return _feeDiscount(_s(), host, type(uint256).max);
    }

    /// @inheritdoc IReputationSystem
    function feeDiscountAt(address host, uint256 stake) external view returns (uint16) {
        return _feeDiscount(_s(), host, stake);
    }

    /// @notice The stake tier `host`'s registry stake reaches (0: none) and that tier's discount.
    function stakeTierOf(address host) external view returns (uint256 tier, uint16 discountBps) {
        ReputationStorage storage $ = _s();
        StakeTier[] storage tiers = $.stakeTiers;
        if (tiers.length == 0) return (0, 0);
        (, uint256 stake,,,) = $.registry.hostState(host);
        for (uint256 i = tiers.length; i != 0; --i) {
            if (stake >= tiers[i - 1].minStake) return (i, tiers[i - 1].discountBps);
        }
    }

    /// @notice The stake tiers, ascending.
    function stakeTiers() external view returns (StakeTier[] memory) {
        return _s().stakeTiers;
    }

    /// @notice Everything known about `host`, decayed to now (one view call).
    function reputationOf(address host) external view returns (Reputation memory rep) {
        ReputationStorage storage $ = _s();
        Record memory r = _decayed($, host);
        Ratings memory g = _decayedRatings($, host);
        Totals memory t = $.totals[host];
        rep.completed = r.completed;
        rep.offences = r.offences;
        rep.ratingWeight = g.weight;
        rep.ratingAverage = g.weight == 0 ? 0 : g.weightedStars / g.weight;
        rep.jobs = t.jobs;
        rep.sessions = t.sessions;
        rep.tokens = t.tokens;
        rep.abandoned = t.abandoned;
        rep.disputesLost = t.disputesLost;
        rep.disputesWon = t.disputesWon;
        rep.challengesLost = t.challengesLost;
        rep.avgCompletionSeconds = r.timedJobs == 0 ? 0 : uint32(uint256(r.durationSum) / r.timedJobs);
        rep.score = _score(r, _decayedRatings($, host));
    }

    /// @notice Whether the renter of `kind` `id` has rated it.
    function isRated(Work kind, uint256 id) external view returns (bool) {
        return _s().rated[keccak256(abi.encode(kind, id))];
    }

    /// @notice The current parameters.
    function parameters() external view returns (Parameters memory) {
        Slashing memory p = _s().params;
        return Parameters({
            abandonedBps: p.abandonedBps,
            disputeLostBps: p.disputeLostBps,
            challengeLostBps: p.challengeLostBps,
            maxSlashBps: p.maxSlashBps,
            compensationBps: p.compensationBps,
            discountMinScore: p.discountMinScore,
            discountBps: p.discountBps,
            halfLife: p.halfLife
        });
    }

    /// @notice How much of `token` is one unit of rating weight (0: not rateable).
    function ratingUnit(address token) external view returns (uint256) {
        return _s().ratingUnits[token];
    }

    /// @notice The contracts this one reads and pays into.
    function sources()
        external
        view
        returns (address registry, address marketplace, address sessions, address treasury)
    {
        ReputationStorage storage $ = _s();
        return (address($.registry), address($.marketplace), address($.sessions), $.treasury);
    }

    // ---------------------------------------------------------------- internals

    function _rate(
        ReputationStorage storage $,
        Work kind,
        uint256 id,
        address host,
        address token,
        uint256 paid,
        uint8 stars
    ) private {
        if (stars < 1 || stars > 5) revert ReputationInvalidStars(stars);
        bytes32 key = keccak256(abi.encode(kind, id));
        if ($.rated[key]) revert ReputationAlreadyRated(kind, id);
        uint256 unit = $.ratingUnits[token];
        if (unit == 0) revert ReputationNoRatingUnit(token);
        $.rated[key] = true;
        Ratings memory g = _decayedRatings($, host);
        uint256 weight = paid / unit;
        uint256 w = uint256(g.weight) + weight;
        uint256 ws = uint256(g.weightedStars) + weight * (uint256(stars) - 1) * 250;
        // Bounded by the payment tokens' supply over the unit: halve both (the average and the
        // score keep) rather than revert.
        while (ws > type(uint112).max || w > type(uint112).max) {
            (w, ws) = (w >> 1, ws >> 1);
        }
        Ratings memory next = Ratings({weight: uint112(w), weightedStars: uint112(ws), updatedAt: uint32(block.timestamp)});
        $.ratings[host] = next;
        emit Rated(kind, id, host, msg.sender, stars, weight, _score(_decayed($, host), next));
    }

    /// @dev Takes `bps` of the host's stake (and unbonding stake): `compensationBps` of it to
    /// `wronged`, the rest to the treasury. A refused slash is reported, not propagated.
    function _slash(
        ReputationStorage storage $,
        address host,
        uint256 bps,
        uint256 compensationBps,
        address wronged,
        bytes32 ref
    ) private returns (uint256 slashed, uint256 compensation) {
        IStakeSlasher registry = $.registry;
        (, uint256 stake,, uint256 unbonding,) = registry.hostState(host);
        slashed = (stake + unbonding) * bps / BPS;
        if (slashed == 0) return (0, 0);
        compensation = wronged == address(0) ? 0 : slashed * compensationBps / BPS;
        if (compensation != 0) {
            try registry.slash(host, compensation, wronged, ref) {}
            catch (bytes memory reason) {
                emit SlashFailed(host, compensation, reason);
                return (0, 0);
            }
        }
        uint256 rest = slashed - compensation;
        if (rest != 0) {
            try registry.slash(host, rest, $.treasury, ref) {}
            catch (bytes memory reason) {
                emit SlashFailed(host, rest, reason);
                slashed = compensation;
            }
        }
    }

    /// @dev The host's record decayed to now (not written back).
    function _decayed(ReputationStorage storage $, address host) private view returns (Record memory r) {
        r = $.records[host];
        uint256 h = $.params.halfLife;
        uint256 dt = block.timestamp - r.updatedAt;
        if (r.updatedAt != 0 && dt != 0) {
            r.completed = uint48(_decay(r.completed, dt, h));
            r.offences = uint48(_decay(r.offences, dt, h));
            r.timedJobs = uint48(_decay(r.timedJobs, dt, h));
            r.durationSum = uint64(_decay(r.durationSum, dt, h));
        }
        r.updatedAt = uint40(block.timestamp);
    }

    /// @dev The host's rating sums decayed to now (not written back).
    function _decayedRatings(ReputationStorage storage $, address host) private view returns (Ratings memory g) {
        g = $.ratings[host];
        uint256 dt = block.timestamp - g.updatedAt;
        if (g.updatedAt == 0 || dt == 0) return g;
        uint256 h = $.params.halfLife;
        g.weight = uint112(_decay(g.weight, dt, h));
        g.weightedStars = uint112(_decay(g.weightedStars, dt, h));
        g.updatedAt = uint32(block.timestamp);
    }

    /// @dev The score from figures decayed to the same instant (see the contract's notes).
    function _score(Record memory r, Ratings memory g) private pure returns (uint16) {
        return _scoreOf(r.completed, r.offences, g.weight, g.weightedStars);
    }

    /// @dev The score now, as _score(_decayed, _decayedRatings) gives it, decaying only the four
    /// figures the score uses (a fee discount or a minimum score reads it on every opening).
    function _scoreNow(ReputationStorage storage $, address host, uint256 halfLife) private view returns (uint16) {
        Record memory r = $.records[host];
        uint256 completed = r.completed;
        uint256 offences = r.offences;
        // updatedAt is a past block's time (never later than now).
        if (r.updatedAt != 0 && r.updatedAt != block.timestamp) {
            uint256 dt = block.timestamp - r.updatedAt;
            completed = _decay(completed, dt, halfLife);
            offences = _decay(offences, dt, halfLife);
        }
        Ratings memory g = $.ratings[host];
        uint256 weight = g.weight;
        uint256 weightedStars = g.weightedStars;
        if (g.updatedAt != 0 && g.updatedAt != block.timestamp) {
            uint256 dt = block.timestamp - g.updatedAt;
            weight = _decay(weight, dt, halfLife);
            weightedStars = _decay(weightedStars, dt, halfLife);
        }
        return _scoreOf(completed, offences, weight, weightedStars);
    }

    function _scoreOf(uint256 completed, uint256 offences, uint256 weight, uint256 weightedStars)
        private
        pure
        returns (uint16)
    {
        // Cannot overflow: every figure is stored in at most 112 bits.
        unchecked {
            uint256 perf = (completed * MAX_SCORE + uint256(NEUTRAL_SCORE) * PRIOR) / (completed + offences + PRIOR);
            uint256 rating = (weightedStars + uint256(NEUTRAL_SCORE) * RATING_PRIOR) / (weight + RATING_PRIOR);
            return uint16((perf + rating) / 2);
        }
    }

    /// @dev v * 2^-(dt/h): exact over whole half-lives, linear (1 - f/2) within one.
    function _decay(uint256 v, uint256 dt, uint256 h) private pure returns (uint256) {
        uint256 n = dt / h;
        if (n >= 128) return 0;
        // Cannot overflow or underflow: v is a stored figure (at most 112 bits) and f < h < 2^32,
        // so v * f < 2^144, and v * f / (2 * h) < v.
        unchecked {
            v >>= n;
            uint256 f = dt % h;
            return v - v * f / (2 * h);
        }
    }

    function _add48(uint48 a, uint256 b) private pure returns (uint48) {
        uint256 s = uint256(a) + b;
        return s > type(uint48).max ? type(uint48).max : uint48(s);
    }

    function _setHalfLife(ReputationStorage storage $, uint32 halfLife) private {
        if (halfLife < MIN_HALF_LIFE || halfLife > MAX_HALF_LIFE) revert ReputationInvalidParameter("halfLife");
        emit HalfLifeUpdated($.params.halfLife, halfLife);
        $.params.halfLife = halfLife;
    }

    function _setSlashing(
        ReputationStorage storage $,
        uint16 abandonedBps,
        uint16 disputeLostBps,
        uint16 challengeLostBps,
        uint16 maxSlashBps,
        uint16 compensationBps
    ) private {
        if (maxSlashBps > MAX_SLASH_CAP_BPS) revert ReputationInvalidParameter("maxSlashBps");
        if (abandonedBps > maxSlashBps || disputeLostBps > maxSlashBps || challengeLostBps > maxSlashBps) {
            revert ReputationInvalidParameter("slashBps");
        }
        if (compensationBps > BPS) revert ReputationInvalidParameter("compensationBps");
        Slashing storage p = $.params;
        p.abandonedBps = abandonedBps;
        p.disputeLostBps = disputeLostBps;
        p.challengeLostBps = challengeLostBps;
        p.maxSlashBps = maxSlashBps;
        p.compensationBps = compensationBps;
        emit SlashingUpdated(abandonedBps, disputeLostBps, challengeLostBps, maxSlashBps, compensationBps);
    }

    function _setFeeDiscount(ReputationStorage storage $, uint16 minScore, uint16 discountBps) private {
        if (minScore > MAX_SCORE) revert ReputationInvalidParameter("minScore");
        if (discountBps > MAX_FEE_DISCOUNT_BPS) revert ReputationInvalidParameter("discountBps");
        Slashing storage p = $.params;
        p.discountMinScore = minScore;
        p.discountBps = discountBps;
        emit FeeDiscountUpdated(minScore, discountBps);
    }

    /// @dev The score discount plus the stake tier's, bounded; `stake` is the host's registry
    /// stake, or type(uint256).max to read it from the registry (only when tiers exist).
    function _feeDiscount(ReputationStorage storage $, address host, uint256 stake) private view returns (uint16) {
        Slashing memory p = $.params;
        uint256 discount = p.discountBps != 0 && scoreOf(host) >= p.discountMinScore ? p.discountBps : 0;
        discount += _tierDiscount($, p.stakeTiersPlusOne, host, stake);
        return uint16(discount > MAX_FEE_DISCOUNT_BPS ? MAX_FEE_DISCOUNT_BPS : discount);
    }

    function _tierDiscount(ReputationStorage storage $, uint256 tiersPlusOne, address host, uint256 stake)
        private
        view
        returns (uint256)
    {
        StakeTier[] storage tiers = $.stakeTiers;
        uint256 n = tiersPlusOne == 0 ? tiers.length : tiersPlusOne - 1;
        if (n == 0) return 0;
        if (stake == type(uint256).max) (, stake,,,) = $.registry.hostState(host);
        for (uint256 i = n; i != 0; --i) {
            StakeTier memory t = _tierAt(tiers, i - 1);
            if (stake >= t.minStake) return t.discountBps;
        }
        return 0;
    }

    /// @dev Tier `i` of `tiers`, for an `i` below their number, without the bounds check's read
    /// of the length.
    function _tierAt(StakeTier[] storage tiers, uint256 i) private pure returns (StakeTier storage t) {
        assembly ("memory-safe") {
            mstore(0, tiers.slot)
            // A StakeTier fills one slot (uint128 and uint16).
            t.slot := add(keccak256(0, 0x20), i)
        }
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
