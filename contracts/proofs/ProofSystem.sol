// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPaymentEscrow} from "../escrow/IPaymentEscrow.sol";
import {IJobMarketplace} from "../marketplace/IJobMarketplace.sol";
import {IReputationSystem} from "../reputation/IReputationSystem.sol";
import {ISessionManager} from "../sessions/ISessionManager.sol";
import {IProofSystem} from "./IProofSystem.sol";
import {IProofVerifier} from "./IProofVerifier.sol";

/// @dev What the ProofSystem reads of a job (the JobMarketplace answers).
interface IJobReader {
    function getJob(uint256 jobId)
        external
        view
        returns (IJobMarketplace.Job memory job, bytes32 modelId, address token);
}

/// @dev What the ProofSystem reads of a session (the SessionManager answers).
interface ISessionReader {
    function termsHash(uint256 sessionId) external view returns (bytes32);
    function sessionState(uint256 sessionId)
        external
        view
        returns (ISessionManager.SessionStatus status, ISessionManager.SessionState memory state);
}

/// @title ProofSystem
/// @notice Output-count proofs and bonded challenges (docs/proofs.md).
///
/// What is proven (cryptographic): a job's or session's billed token count is exactly the
/// number of non-padding token ids its stored Poseidon output commitment opens to. A host
/// submits one Groth16 proof per chunk of 64 tokens, chained from a binding the contract
/// computes from the work's kind, id, model and request; the chunks' counts must add up to the
/// tokens billed on chain (a job's tokensUsed; a session's cumulative receipt tokens).
///
/// What is only economic (no proof): a count challenge ("the billed count is not backed") is
/// answered by such a proof before a response deadline or the host is slashed; an output
/// challenge ("this answer was not produced by the listed model") is decided by an arbiter
/// before an arbitration deadline, after which a documented default applies. Both lock a bond
/// in the work's payment token in the PaymentEscrow (this contract is a locker there), and every
/// challenge ends by its deadline: no bond is locked forever.
///
/// Verifiers: one per model id (a publisher's EZKL verifier plugs in), else the default
/// verifier (the model-independent OutputCountVerifier).
/// @dev Sessions: a session's later proofs extend its chain from the last proven commitment and
/// count up to the session's cumulative tokens at submission (its latest checkpointed receipt),
/// so each proof covers the tokens checkpointed since the previous one. A job is proven once.
contract ProofSystem is Initializable, AccessControlUpgradeable, UUPSUpgradeable, ReentrancyGuardTransient, IProofSystem {
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    /// @notice Manages the per-model verifier registry (governance later).
    bytes32 public constant VERIFIER_ADMIN_ROLE = keccak256("VERIFIER_ADMIN_ROLE");
    /// @notice Decides output challenges.
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");

    /// @notice Output tokens per chunk (one proof each): the circuit's N.
    uint32 public constant CHUNK_TOKENS = 64;
    /// @notice The BN254 scalar field: bindings and commitments are its elements.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint16 public constant BPS = 10_000;
    /// @notice The bond can never be set above this share of the challenged payment.
    uint16 public constant MAX_BOND_BPS = 5_000;
    uint32 public constant MIN_CHALLENGE_WINDOW = 1 hours;
    uint32 public constant MAX_CHALLENGE_WINDOW = 30 days;
    uint32 public constant MIN_RESPONSE_WINDOW = 10 minutes;
    uint32 public constant MAX_RESPONSE_WINDOW = 7 days;
    uint32 public constant MIN_ARBITRATION_WINDOW = 1 hours;
    uint32 public constant MAX_ARBITRATION_WINDOW = 30 days;
    /// @dev Escrow ids of challenge bonds: the challenge id with bit 254 set. This contract's
    /// locks are keyed by its own address in the escrow, and bonds are its only locks.
    uint256 private constant BOND_ID = 1 << 254;
    /// @notice The gas a lost challenge's offence record may use in the reputation system.
    uint256 public constant OFFENCE_GAS = 1_000_000;

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IJobReader public immutable marketplace;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    ISessionReader public immutable sessions;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IPaymentEscrow public immutable escrow;

    /// @dev Read by every challenge: one slot.
    struct Config {
        uint64 nextChallengeId;
        uint32 jobChallengeWindow;
        uint32 sessionChallengeWindow;
        uint32 responseWindow;
        uint32 arbitrationWindow;
        uint16 bondBps;
    }

    /// @dev What a challenge is about, read from the marketplace or the session manager.
    struct Target {
        address host;
        address token;
        bytes32 modelId;
        uint256 tokens;
        uint256 payment;
        uint256 windowEnd;
    }

    /// @custom:storage-location erc7201:fabstir.storage.ProofSystem
    struct ProofSystemStorage {
        Config config;
        IReputationSystem reputation;
        IProofVerifier defaultVerifier;
        mapping(bytes32 modelId => IProofVerifier) verifiers;
        mapping(Work work => mapping(uint256 id => ProofRecord)) records;
        mapping(uint256 challengeId => Challenge) challenges;
        mapping(address token => uint256) minBonds;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.ProofSystem")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0xdbc9654b26aa3d7902b5c9505feb64b37a9a96f39f68cb7bbafe607b5dd76300;

    function _s() private pure returns (ProofSystemStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @param marketplace_ the JobMarketplace proxy (jobs are read from it).
    /// @param sessions_ the SessionManager proxy (sessions are read from it).
    /// @param escrow_ the PaymentEscrow proxy (challenge bonds are locked in it).
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address marketplace_, address sessions_, address escrow_) {
        if (marketplace_ == address(0) || sessions_ == address(0) || escrow_ == address(0)) {
            revert ProofSystemZeroAddress();
        }
        marketplace = IJobReader(marketplace_);
        sessions = ISessionReader(sessions_);
        escrow = IPaymentEscrow(escrow_);
        _disableInitializers();
    }

    /// @notice Initializes the proxy. Challenge windows start at 3 days (jobs: after the job's
    /// dispute window ends; sessions: after the session's expiry), the host's response window at
    /// 1 day, the arbitration window at 7 days and the bond at 10% of the challenged payment (no
    /// minimum per token until set); each is governed within bounds.
    /// @param admin receives DEFAULT_ADMIN_ROLE, UPGRADER_ROLE, VERIFIER_ADMIN_ROLE and ARBITER_ROLE.
    /// @param defaultVerifier_ the verifier for models without their own (the OutputCountVerifier),
    /// or address(0) for none.
    /// @param reputation_ the ReputationSystem that records lost challenges (this contract needs
    /// its recorder role), or address(0) for none.
    function initialize(address admin, address defaultVerifier_, address reputation_) external initializer {
        if (admin == address(0)) revert ProofSystemZeroAddress();
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(VERIFIER_ADMIN_ROLE, admin);
        _grantRole(ARBITER_ROLE, admin);
        ProofSystemStorage storage $ = _s();
        $.config.nextChallengeId = 1;
        _setWindows($.config, 3 days, 3 days, 1 days, 7 days);
        _setBondBps($.config, 1_000);
        if (defaultVerifier_ != address(0)) _setDefaultVerifier($, defaultVerifier_);
        if (reputation_ != address(0)) _setReputation($, reputation_);
    }

    // ---------------------------------------------------------------- proofs

    /// @notice Proves a completed job's output count (the job's host only; the job Completed,
    /// Disputed or Settled; once per job). The chunks' counts must add up to the job's tokensUsed.
    /// Answers the job's open count challenge if its response deadline has not passed.
    /// @param requestHash the job's request hash (its promptHash in JobPosted): bound into the
    /// binding. The marketplace does not store it, so it is not checked here; it is emitted for
    /// the renter and the indexer to compare.
    /// @param chunks one proof per 64 tokens (the last chunk may be partial), in order.
    function submitJobProof(uint256 jobId, bytes32 requestHash, ChunkProof[] calldata chunks) external nonReentrant {
        (IJobMarketplace.Job memory job, bytes32 modelId,) = marketplace.getJob(jobId);
        if (job.host != msg.sender || job.host == address(0)) revert ProofSystemNotHost(Work.Job, jobId, msg.sender);
        _requireCompleted(jobId, job.status);
        _submit(Work.Job, jobId, modelId, requestHash, job.tokensUsed, chunks);
    }

    /// @notice Proves a session's output count up to its cumulative tokens now (the session's
    /// host only): the chunks extend the session's chain from its last proven commitment and
    /// must add up to the tokens checkpointed since. Answers the session's open count challenge
    /// if its response deadline has not passed.
    /// @param terms the session's terms (as in SessionOpened); checked against its terms hash.
    /// @param chunks one proof per 64 tokens (the last chunk may be partial), in order.
    function submitSessionProof(ISessionManager.Session calldata terms, uint256 sessionId, ChunkProof[] calldata chunks)
        external
        nonReentrant
    {
        bytes32 termsHash = _checkTerms(terms, sessionId);
        if (terms.host != msg.sender) revert ProofSystemNotHost(Work.Session, sessionId, msg.sender);
        (, ISessionManager.SessionState memory state) = sessions.sessionState(sessionId);
        _submit(Work.Session, sessionId, terms.modelId, termsHash, state.tokens, chunks);
    }

    // ---------------------------------------------------------------- challenges (economic)

    /// @notice Challenges a job's billed count (anyone but its host) until the job's challenge
    /// window closes (jobChallengeWindow after its dispute window ended), locking a bond in the
    /// job's token (challengeBondOfJob; msg.value for ETH, or approve the escrow for an ERC-20).
    /// The host must prove the count before the response deadline; otherwise anyone resolves the
    /// challenge against it (slashed, bond returned). A proof in time sends the bond to the host.
    /// @return challengeId the new challenge's id.
    function challengeJobCount(uint256 jobId) external payable nonReentrant returns (uint256 challengeId) {
        return _openCount(Work.Job, jobId, _jobTarget(jobId));
    }

    /// @notice Challenges a session's billed count (its cumulative tokens now; anyone but its
    /// host) until sessionChallengeWindow after the session's expiry, as challengeJobCount.
    /// @return challengeId the new challenge's id.
    function challengeSessionCount(ISessionManager.Session calldata terms, uint256 sessionId)
        external
        payable
        nonReentrant
        returns (uint256 challengeId)
    {
        return _openCount(Work.Session, sessionId, _sessionTarget(terms, sessionId));
    }

    /// @notice Challenges a job's output as not produced by its listed model (anyone but its
    /// host), within the job's challenge window, locking a bond as challengeJobCount. The
    /// evidence (request, answer, check) is revealed off chain to the resolvers only; an arbiter
    /// decides before the arbitration deadline; after it anyone applies the default.
    /// @param evidenceHash the digest of the evidence (not zero).
    /// @return challengeId the new challenge's id.
    function challengeJobOutput(uint256 jobId, bytes32 evidenceHash)
        external
        payable
        nonReentrant
        returns (uint256 challengeId)
    {
        return _openOutput(Work.Job, jobId, _jobTarget(jobId), evidenceHash);
    }

    /// @notice Challenges a session's output as challengeJobOutput, within the session's
    /// challenge window.
    /// @return challengeId the new challenge's id.
    function challengeSessionOutput(ISessionManager.Session calldata terms, uint256 sessionId, bytes32 evidenceHash)
        external
        payable
        nonReentrant
        returns (uint256 challengeId)
    {
        return _openOutput(Work.Session, sessionId, _sessionTarget(terms, sessionId), evidenceHash);
    }

    /// @notice Ends a count challenge the host did not answer by its response deadline (anyone):
    /// the host is slashed (ChallengeLost, the challenger compensated) and the bond returned to
    /// the challenger. If the work's model has no verifier left, the challenge is void instead
    /// (bond returned, nobody slashed).
    function resolveCountChallenge(uint256 challengeId) external nonReentrant {
        Challenge storage c = _s().challenges[challengeId];
        if (c.kind != ChallengeKind.Count || c.status != ChallengeStatus.Open) {
            revert ProofSystemInvalidChallenge(challengeId, c.kind, c.status);
        }
        if (block.timestamp <= c.deadline) revert ProofSystemResponseWindowOpen(challengeId, c.deadline);
        ProofRecord storage r = _s().records[c.work][c.id];
        r.openCountChallenge = 0;
        if (address(_verifierOf(_s(), c.modelId)) == address(0)) {
            _close(challengeId, c, ChallengeStatus.Voided, c.challenger, false);
        } else {
            r.countChallengeLost = true;
            _close(challengeId, c, ChallengeStatus.Unanswered, c.challenger, true);
        }
    }

    /// @notice Decides an output challenge before its arbitration deadline (arbiters only):
    /// upheld, the host is slashed (ChallengeLost, the challenger compensated) and the bond
    /// returned; rejected, the bond goes to the host.
    function resolveOutputChallenge(uint256 challengeId, bool upheld) external nonReentrant onlyRole(ARBITER_ROLE) {
        Challenge storage c = _openOutputChallenge(challengeId);
        if (block.timestamp > c.deadline) revert ProofSystemArbitrationClosed(challengeId, c.deadline);
        if (upheld) _close(challengeId, c, ChallengeStatus.Upheld, c.challenger, true);
        else _close(challengeId, c, ChallengeStatus.Rejected, c.host, false);
    }

    /// @notice Ends an output challenge no arbiter decided by its deadline (anyone), with the
    /// default: the bond returned to the challenger, nobody slashed.
    function settleOutputChallenge(uint256 challengeId) external nonReentrant {
        Challenge storage c = _openOutputChallenge(challengeId);
        if (block.timestamp <= c.deadline) revert ProofSystemArbitrationOpen(challengeId, c.deadline);
        _close(challengeId, c, ChallengeStatus.Unarbitrated, c.challenger, false);
    }

    // ---------------------------------------------------------------- verifier registry

    /// @notice Sets (or replaces) `modelId`'s own verifier: an EZKL-interface contract.
    function setVerifier(bytes32 modelId, address verifier) external onlyRole(VERIFIER_ADMIN_ROLE) {
        _requireContract(verifier);
        ProofSystemStorage storage $ = _s();
        emit VerifierSet(modelId, address($.verifiers[modelId]), verifier);
        $.verifiers[modelId] = IProofVerifier(verifier);
    }

    /// @notice Removes `modelId`'s own verifier; the default verifier applies to it again.
    function removeVerifier(bytes32 modelId) external onlyRole(VERIFIER_ADMIN_ROLE) {
        ProofSystemStorage storage $ = _s();
        address previous = address($.verifiers[modelId]);
        if (previous == address(0)) revert ProofSystemNoVerifier(modelId);
        delete $.verifiers[modelId];
        emit VerifierRemoved(modelId, previous);
    }

    /// @notice Sets the verifier for models without their own (address(0): none).
    function setDefaultVerifier(address verifier) external onlyRole(VERIFIER_ADMIN_ROLE) {
        _setDefaultVerifier(_s(), verifier);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the reputation system that records lost challenges (address(0): none).
    function setReputation(address reputation_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setReputation(_s(), reputation_);
    }

    /// @notice Sets the challenge windows and deadlines (seconds), each within its bounds: how
    /// long after a job's dispute window (`jobChallengeWindow`) and after a session's expiry
    /// (`sessionChallengeWindow`) challenges may be opened (MIN/MAX_CHALLENGE_WINDOW), the host's
    /// time to answer a count challenge (MIN/MAX_RESPONSE_WINDOW) and the arbiter's time to
    /// decide an output challenge (MIN/MAX_ARBITRATION_WINDOW). Open challenges keep their deadlines.
    function setWindows(
        uint32 jobChallengeWindow,
        uint32 sessionChallengeWindow,
        uint32 responseWindow,
        uint32 arbitrationWindow
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setWindows(_s().config, jobChallengeWindow, sessionChallengeWindow, responseWindow, arbitrationWindow);
    }

    /// @notice Sets the bond as a share (bps, at most MAX_BOND_BPS) of the challenged payment.
    function setBondBps(uint16 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setBondBps(_s().config, bps);
    }

    /// @notice Sets the least bond of a challenge paid in `token` (address(0): ETH), at most
    /// 2^96 - 1 (the escrow's limit). A bond is the larger of this and the bps share.
    function setMinBond(address token, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (amount > type(uint96).max) revert ProofSystemInvalidParameter("minBond");
        ProofSystemStorage storage $ = _s();
        emit MinBondUpdated(token, $.minBonds[token], amount);
        $.minBonds[token] = amount;
    }

    // ---------------------------------------------------------------- views

    /// @notice The binding of a work's proofs: uint256(keccak256(abi.encode(uint8(work), id,
    /// modelId, requestHash))) mod the BN254 scalar field (protocol/proofs.ts bindingOf).
    function bindingOf(Work work, uint256 id, bytes32 modelId, bytes32 requestHash) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(uint8(work), id, modelId, requestHash))) % SNARK_SCALAR_FIELD;
    }

    /// @notice The verifier that checks `modelId`'s proofs (its own, else the default; address(0):
    /// none) and whether it is the default.
    function verifierOf(bytes32 modelId) external view returns (address verifier, bool isDefault) {
        ProofSystemStorage storage $ = _s();
        address own = address($.verifiers[modelId]);
        if (own != address(0)) return (own, false);
        return (address($.defaultVerifier), true);
    }

    /// @notice The verifier for models without their own.
    function defaultVerifier() external view returns (address) {
        return address(_s().defaultVerifier);
    }

    /// @notice What is proven of a job or session (all zero if nothing).
    function recordOf(Work work, uint256 id) external view returns (ProofRecord memory) {
        return _s().records[work][id];
    }

    /// @notice A challenge (status None for an unknown id).
    function challengeOf(uint256 challengeId) external view returns (Challenge memory) {
        return _s().challenges[challengeId];
    }

    /// @notice The token and amount of a challenge's bond while it is open (0 after it ended).
    function bondOf(uint256 challengeId) external view returns (address token, uint256 amount) {
        return escrow.lockOf(address(this), challengeId | BOND_ID);
    }

    /// @notice The bond challenging job `jobId` costs now, in the job's token.
    function challengeBondOfJob(uint256 jobId) external view returns (address token, uint256 bond) {
        Target memory t = _jobTarget(jobId);
        return (t.token, _bond(_s(), t));
    }

    /// @notice The bond challenging session `sessionId` costs now, in the session's token.
    function challengeBondOfSession(ISessionManager.Session calldata terms, uint256 sessionId)
        external
        view
        returns (address token, uint256 bond)
    {
        Target memory t = _sessionTarget(terms, sessionId);
        return (t.token, _bond(_s(), t));
    }

    /// @notice The challenge windows and deadlines in seconds (see setWindows).
    function windows()
        external
        view
        returns (uint32 jobChallengeWindow, uint32 sessionChallengeWindow, uint32 responseWindow, uint32 arbitrationWindow)
    {
        Config memory c = _s().config;
        return (c.jobChallengeWindow, c.sessionChallengeWindow, c.responseWindow, c.arbitrationWindow);
    }

    /// @notice The bond as a share (bps) of the challenged payment.
    function bondBps() external view returns (uint16) {
        return _s().config.bondBps;
    }

    /// @notice The least bond of a challenge paid in `token`.
    function minBond(address token) external view returns (uint256) {
        return _s().minBonds[token];
    }

    /// @notice The id the next challenge will get.
    function nextChallengeId() external view returns (uint256) {
        return _s().config.nextChallengeId;
    }

    /// @notice The reputation system in use (address(0): none).
    function reputation() external view returns (address) {
        return address(_s().reputation);
    }

    // ---------------------------------------------------------------- internals

    function _submit(
        Work work,
        uint256 id,
        bytes32 modelId,
        bytes32 requestHash,
        uint256 billed,
        ChunkProof[] calldata chunks
    ) private {
        ProofSystemStorage storage $ = _s();
        ProofRecord storage r = $.records[work][id];
        ProofRecord memory before = r;
        if (billed == 0) revert ProofSystemNothingToProve(work, id);
        if (before.tokens >= billed) revert ProofSystemAlreadyProven(work, id);
        uint256 binding = bindingOf(work, id, modelId, requestHash);
        uint256 start = before.provenAt == 0 ? binding : before.commitment;
        IProofVerifier verifier = _verifierOf($, modelId);
        if (address(verifier) == address(0)) revert ProofSystemNoVerifier(modelId);
        (uint256 commitment, uint256 proven) = _verifyChain(verifier, binding, start, chunks);
        uint256 total = before.tokens + proven;
        if (total != billed) revert ProofSystemCountMismatch(work, id, total, billed);
        // The casts keep the values whole: billed tokens are a uint32 on both sources, and the
        // chunks of one work are at most its tokens.
        r.commitment = commitment;
        r.tokens = uint32(total);
        r.chunks = before.chunks + uint32(chunks.length);
        r.proofs = before.proofs + 1;
        r.provenAt = uint64(block.timestamp);
        emit OutputProven(
            work,
            id,
            msg.sender,
            modelId,
            requestHash,
            binding,
            start,
            commitment,
            before.tokens,
            total,
            chunks.length,
            address(verifier)
        );
        uint256 challengeId = before.openCountChallenge;
        if (challengeId != 0) {
            Challenge storage c = $.challenges[challengeId];
            // A proof after the deadline comes too late to answer: the challenge is resolved
            // against the host (resolveCountChallenge); the proof still stands.
            if (block.timestamp <= c.deadline && total >= c.tokens) {
                r.openCountChallenge = 0;
                _close(challengeId, c, ChallengeStatus.Answered, c.host, false);
            }
        }
    }

    /// @dev Verifies the chain of `chunks` from `start`; returns its last commitment and its tokens.
    function _verifyChain(IProofVerifier verifier, uint256 binding, uint256 start, ChunkProof[] calldata chunks)
        private
        returns (uint256 commitment, uint256 tokens)
    {
        uint256 n = chunks.length;
        if (n == 0) revert ProofSystemNoChunks();
        uint256[] memory instances = new uint256[](4);
        instances[0] = binding;
        commitment = start;
        for (uint256 i; i < n; ++i) {
            ChunkProof calldata chunk = chunks[i];
            uint256 count = chunk.count;
            // Full chunks, then one last chunk of 1 to CHUNK_TOKENS: the canonical cut of the
            // output, so a renter recomputes the same commitment from the tokens it received.
            if (count == 0 || count > CHUNK_TOKENS || (i + 1 < n && count != CHUNK_TOKENS)) {
                revert ProofSystemInvalidChunk(i, count);
            }
            instances[1] = commitment;
            instances[2] = chunk.commitment;
            instances[3] = count;
            try verifier.verifyProof(chunk.proof, instances) returns (bool ok) {
                if (!ok) revert ProofSystemInvalidProof(i);
            } catch {
                revert ProofSystemInvalidProof(i);
            }
            commitment = chunk.commitment;
            // Cannot overflow: at most CHUNK_TOKENS per chunk of a calldata array.
            unchecked {
                tokens += count;
            }
        }
    }

    function _openCount(Work work, uint256 id, Target memory t) private returns (uint256 challengeId) {
        if (t.tokens == 0) revert ProofSystemNothingToChallenge(work, id);
        ProofSystemStorage storage $ = _s();
        ProofRecord storage r = $.records[work][id];
        ProofRecord memory rec = r;
        if (rec.openCountChallenge != 0) revert ProofSystemCountChallengeOpen(work, id, rec.openCountChallenge);
        if (rec.countChallengeLost) revert ProofSystemCountChallengeLost(work, id);
        if (rec.tokens >= t.tokens) revert ProofSystemAlreadyProven(work, id);
        // A host cannot answer without a verifier: such a challenge would be a slash by default.
        if (address(_verifierOf($, t.modelId)) == address(0)) revert ProofSystemNoVerifier(t.modelId);
        Config memory c = $.config;
        uint64 deadline = uint64(block.timestamp) + c.responseWindow;
        challengeId = _newChallenge($, c, work, id, t, ChallengeKind.Count, deadline, bytes32(0));
        r.openCountChallenge = uint64(challengeId);
        uint256 bond = _lockBond($, challengeId, t);
        emit CountChallengeOpened(
            challengeId, work, id, msg.sender, t.host, t.modelId, t.token, bond, t.tokens, deadline
        );
    }

    function _openOutput(Work work, uint256 id, Target memory t, bytes32 evidenceHash)
        private
        returns (uint256 challengeId)
    {
        if (t.tokens == 0) revert ProofSystemNothingToChallenge(work, id);
        if (evidenceHash == bytes32(0)) revert ProofSystemNoEvidence();
        ProofSystemStorage storage $ = _s();
        Config memory c = $.config;
        uint64 deadline = uint64(block.timestamp) + c.arbitrationWindow;
        challengeId = _newChallenge($, c, work, id, t, ChallengeKind.Output, deadline, evidenceHash);
        uint256 bond = _lockBond($, challengeId, t);
        emit OutputChallengeOpened(
            challengeId, work, id, msg.sender, t.host, t.modelId, t.token, bond, t.tokens, evidenceHash, deadline
        );
    }

    function _newChallenge(
        ProofSystemStorage storage $,
        Config memory c,
        Work work,
        uint256 id,
        Target memory t,
        ChallengeKind kind,
        uint64 deadline,
        bytes32 evidenceHash
    ) private returns (uint256 challengeId) {
        if (block.timestamp > t.windowEnd) revert ProofSystemChallengeWindowClosed(work, id, t.windowEnd);
        if (msg.sender == t.host) revert ProofSystemSelfChallenge(t.host);
        challengeId = c.nextChallengeId;
        // Cannot overflow: one id per transaction.
        unchecked {
            $.config.nextChallengeId = c.nextChallengeId + 1;
        }
        $.challenges[challengeId] = Challenge({
            challenger: msg.sender,
            kind: kind,
            work: work,
            status: ChallengeStatus.Open,
            deadline: deadline,
            host: t.host,
            // Billed tokens are a uint32 on both sources.
            tokens: uint32(t.tokens),
            id: id,
            modelId: t.modelId,
            evidenceHash: evidenceHash
        });
    }

    /// @dev Locks the challenger's bond for `challengeId` in the escrow and returns it.
    function _lockBond(ProofSystemStorage storage $, uint256 challengeId, Target memory t)
        private
        returns (uint256 bond)
    {
        bond = _bond($, t);
        if (bond == 0) revert ProofSystemNoBond(t.token);
        escrow.lock{value: msg.value}(challengeId | BOND_ID, msg.sender, t.token, bond);
    }

    function _bond(ProofSystemStorage storage $, Target memory t) private view returns (uint256) {
        uint256 share = t.payment * $.config.bondBps / BPS;
        uint256 least = $.minBonds[t.token];
        return share > least ? share : least;
    }

    /// @dev Ends challenge `challengeId`: credits its bond to `bondTo` and, if `slash`, records
    /// the host's lost challenge in the reputation system.
    function _close(uint256 challengeId, Challenge storage c, ChallengeStatus outcome, address bondTo, bool slash)
        private
    {
        c.status = outcome;
        uint256 bondId = challengeId | BOND_ID;
        (, uint256 bond) = escrow.lockOf(address(this), bondId);
        uint256 slashed = slash ? _recordOffence(challengeId, c.host, c.challenger) : 0;
        emit ChallengeResolved(challengeId, outcome, bondTo, bond, slashed);
        escrow.refund(bondId, bondTo);
    }

    /// @dev Records a lost challenge with at most OFFENCE_GAS: a reputation system that reverts
    /// or spends all it gets never keeps a challenge from ending, and a caller cannot skip the
    /// slash by sending too little gas (the call is only made with OFFENCE_GAS available).
    function _recordOffence(uint256 challengeId, address host, address challenger) private returns (uint256) {
        IReputationSystem rep = _s().reputation;
        if (address(rep) == address(0)) return 0;
        // The call gets at most 63/64 of what is left (EIP-150): leave room for OFFENCE_GAS.
        if (gasleft() < OFFENCE_GAS + OFFENCE_GAS / 63 + 10_000) revert ProofSystemInsufficientGas();
        try rep.recordOffence{gas: OFFENCE_GAS}(
            IReputationSystem.Offence.ChallengeLost, host, challenger, bytes32(challengeId)
        ) returns (uint256 slashed) {
            return slashed;
        } catch (bytes memory reason) {
            emit OffenceNotRecorded(challengeId, host, reason);
            return 0;
        }
    }

    function _openOutputChallenge(uint256 challengeId) private view returns (Challenge storage c) {
        c = _s().challenges[challengeId];
        if (c.kind != ChallengeKind.Output || c.status != ChallengeStatus.Open) {
            revert ProofSystemInvalidChallenge(challengeId, c.kind, c.status);
        }
    }

    function _jobTarget(uint256 jobId) private view returns (Target memory t) {
        (IJobMarketplace.Job memory job, bytes32 modelId, address token) = marketplace.getJob(jobId);
        if (job.status == IJobMarketplace.JobStatus.None) revert ProofSystemUnknownWork(Work.Job, jobId);
        _requireCompleted(jobId, job.status);
        // job.timeout is the end of the dispute window from completion on (the arbitration
        // deadline once disputed): challenges stay open jobChallengeWindow after it.
        return Target({
            host: job.host,
            token: token,
            modelId: modelId,
            tokens: job.tokensUsed,
            payment: uint256(job.tokensUsed) * job.pricePerToken,
            windowEnd: uint256(job.timeout) + _s().config.jobChallengeWindow
        });
    }

    function _sessionTarget(ISessionManager.Session calldata terms, uint256 sessionId)
        private
        view
        returns (Target memory t)
    {
        _checkTerms(terms, sessionId);
        (, ISessionManager.SessionState memory state) = sessions.sessionState(sessionId);
        return Target({
            host: terms.host,
            token: terms.token,
            modelId: terms.modelId,
            tokens: state.tokens,
            payment: state.paid,
            windowEnd: uint256(terms.expiry) + _s().config.sessionChallengeWindow
        });
    }

    function _checkTerms(ISessionManager.Session calldata terms, uint256 sessionId)
        private
        view
        returns (bytes32 termsHash)
    {
        termsHash = sessions.termsHash(sessionId);
        if (termsHash == bytes32(0)) revert ProofSystemUnknownWork(Work.Session, sessionId);
        if (termsHash != keccak256(abi.encode(terms))) revert ProofSystemWrongTerms(sessionId);
    }

    function _requireCompleted(uint256 jobId, IJobMarketplace.JobStatus status) private pure {
        if (
            status != IJobMarketplace.JobStatus.Completed && status != IJobMarketplace.JobStatus.Disputed
                && status != IJobMarketplace.JobStatus.Settled
        ) revert ProofSystemInvalidJobState(jobId, uint8(status));
    }

    function _verifierOf(ProofSystemStorage storage $, bytes32 modelId) private view returns (IProofVerifier) {
        IProofVerifier own = $.verifiers[modelId];
        return address(own) != address(0) ? own : $.defaultVerifier;
    }

    function _requireContract(address account) private view {
        if (account == address(0)) revert ProofSystemZeroAddress();
        if (account.code.length == 0) revert ProofSystemNotContract(account);
    }

    function _setDefaultVerifier(ProofSystemStorage storage $, address verifier) private {
        if (verifier != address(0)) _requireContract(verifier);
        emit DefaultVerifierSet(address($.defaultVerifier), verifier);
        $.defaultVerifier = IProofVerifier(verifier);
    }

    function _setReputation(ProofSystemStorage storage $, address reputation_) private {
        emit ReputationUpdated(address($.reputation), reputation_);
        $.reputation = IReputationSystem(reputation_);
    }

    function _setWindows(
        Config storage c,
        uint32 jobChallengeWindow,
        uint32 sessionChallengeWindow,
        uint32 responseWindow,
        uint32 arbitrationWindow
    ) private {
        if (jobChallengeWindow < MIN_CHALLENGE_WINDOW || jobChallengeWindow > MAX_CHALLENGE_WINDOW) {
            revert ProofSystemInvalidParameter("jobChallengeWindow");
        }
        if (sessionChallengeWindow < MIN_CHALLENGE_WINDOW || sessionChallengeWindow > MAX_CHALLENGE_WINDOW) {
            revert ProofSystemInvalidParameter("sessionChallengeWindow");
        }
        if (responseWindow < MIN_RESPONSE_WINDOW || responseWindow > MAX_RESPONSE_WINDOW) {
            revert ProofSystemInvalidParameter("responseWindow");
        }
        if (arbitrationWindow < MIN_ARBITRATION_WINDOW || arbitrationWindow > MAX_ARBITRATION_WINDOW) {
            revert ProofSystemInvalidParameter("arbitrationWindow");
        }
        c.jobChallengeWindow = jobChallengeWindow;
        c.sessionChallengeWindow = sessionChallengeWindow;
        c.responseWindow = responseWindow;
        c.arbitrationWindow = arbitrationWindow;
        emit WindowsUpdated(jobChallengeWindow, sessionChallengeWindow, responseWindow, arbitrationWindow);
    }

    function _setBondBps(Config storage c, uint16 bps) private {
        if (bps > MAX_BOND_BPS) revert ProofSystemInvalidParameter("bondBps");
        emit BondBpsUpdated(c.bondBps, bps);
        c.bondBps = bps;
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
