// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IProofSystem
/// @notice Types, events and errors of the ProofSystem: the per-model verifier registry,
/// output-count proofs of jobs and sessions, and bonded challenges.
/// @dev Two different strengths live here (docs/proofs.md, docs/trust.md): an accepted proof is
/// cryptographic (the billed token count is the number of token ids the stored commitment opens
/// to); a challenge is economic (a bond, a deadline, a slash), never a proof of anything.
interface IProofSystem {
    /// @notice What a proof or challenge is about. Values are emitted as uint8 and hashed into
    /// the binding: only ever appended.
    enum Work {
        Job,
        Session
    }

    /// @notice The two kinds of challenge.
    /// @param Count "the billed count is not backed by committed output": the host answers with
    /// a valid proof before the response deadline, or loses.
    /// @param Output "this answer was not produced by the listed model": evidence is revealed
    /// off chain to the resolvers only; an arbiter decides before the arbitration deadline.
    enum ChallengeKind {
        Count,
        Output
    }

    /// @notice Where a challenge is. Values are emitted as uint8: only ever appended.
    /// @param Open waiting for the host's proof (Count) or the arbiter (Output).
    /// @param Answered the host proved the challenged count in time: the bond went to the host.
    /// @param Unanswered no proof by the response deadline: the host was slashed, the bond returned.
    /// @param Upheld the arbiter found for the challenger: the host was slashed, the bond returned.
    /// @param Rejected the arbiter found for the host: the bond went to the host.
    /// @param Unarbitrated no arbiter decided by the deadline: the documented default applied (the
    /// bond returned, nobody slashed).
    /// @param Voided the model lost every verifier before the host could answer: the bond was
    /// returned and nobody slashed (the host could not have proven anything).
    enum ChallengeStatus {
        None,
        Open,
        Answered,
        Unanswered,
        Upheld,
        Rejected,
        Unarbitrated,
        Voided
    }

    /// @notice One chunk's proof as submitted. The contract supplies the other public inputs
    /// (the binding, and the previous commitment: the binding or the chunk before).
    /// @param proof the verifier's proof bytes.
    /// @param commitment the chain's commitment after this chunk.
    /// @param count the chunk's token count: CHUNK_TOKENS for every chunk but the last, which
    /// holds 1 to CHUNK_TOKENS.
    struct ChunkProof {
        bytes proof;
        uint256 commitment;
        uint32 count;
    }

    /// @notice What is proven of a job or session, and its count challenges: two slots.
    /// @param commitment the Poseidon output commitment the last accepted proof ended on.
    /// @param tokens the tokens it covers (a session's proofs extend it).
    /// @param chunks the chunks proven in all.
    /// @param proofs the accepted submissions (always 1 for a job).
    /// @param provenAt the time of the last accepted submission (0: never proven).
    /// @param openCountChallenge the open count challenge of this work (0: none).
    /// @param countChallengeLost whether the host lost a count challenge of this work (then no
    /// further count challenge of it can be opened: a host is slashed once per work).
    struct ProofRecord {
        uint256 commitment;
        uint32 tokens;
        uint32 chunks;
        uint32 proofs;
        uint64 provenAt;
        uint64 openCountChallenge;
        bool countChallengeLost;
    }

    /// @notice A challenge as stored (bond amounts live in the escrow under the challenge's lock).
    /// @param deadline the response deadline (Count) or the arbitration deadline (Output).
    /// @param tokens the billed tokens the challenge is about (the work's count when opened).
    /// @param id the job or session id.
    /// @param modelId the work's model.
    /// @param evidenceHash the digest of the evidence revealed to the resolvers (Output; 0 for Count).
    struct Challenge {
        address challenger;
        ChallengeKind kind;
        Work work;
        ChallengeStatus status;
        uint64 deadline;
        address host;
        uint32 tokens;
        uint256 id;
        bytes32 modelId;
        bytes32 evidenceHash;
    }

    /// @notice `modelId` got its own verifier (`previous` is address(0) for a first one).
    event VerifierSet(bytes32 indexed modelId, address indexed previous, address indexed verifier);
    /// @notice `modelId`'s own verifier was removed; the default verifier applies to it again.
    event VerifierRemoved(bytes32 indexed modelId, address indexed previous);
    /// @notice The verifier for models without their own changed (address(0): none).
    event DefaultVerifierSet(address indexed previous, address indexed verifier);
    /// @notice A submission was accepted: the work's proven output now ends on `commitment`.
    /// @param requestHash a job's request (prompt) hash as the host gave it, or a session's terms hash.
    /// @param binding the binding every chunk was proven against.
    /// @param fromCommitment where the chain started (the binding, or a session's last commitment).
    /// @param fromTokens the tokens proven before this submission.
    /// @param tokens the tokens proven in all after it.
    /// @param chunks the chunks of this submission (one proof each).
    /// @param verifier the verifier that accepted them.
    event OutputProven(
        Work indexed work,
        uint256 indexed id,
        address indexed host,
        bytes32 modelId,
        bytes32 requestHash,
        uint256 binding,
        uint256 fromCommitment,
        uint256 commitment,
        uint256 fromTokens,
        uint256 tokens,
        uint256 chunks,
        address verifier
    );
    /// @notice A count challenge was opened: `host` must prove `tokens` by `deadline`.
    event CountChallengeOpened(
        uint256 indexed challengeId,
        Work indexed work,
        uint256 indexed id,
        address challenger,
        address host,
        bytes32 modelId,
        address token,
        uint256 bond,
        uint256 tokens,
        uint64 deadline
    );
    /// @notice An output challenge was opened: an arbiter decides by `deadline`.
    event OutputChallengeOpened(
        uint256 indexed challengeId,
        Work indexed work,
        uint256 indexed id,
        address challenger,
        address host,
        bytes32 modelId,
        address token,
        uint256 bond,
        uint256 tokens,
        bytes32 evidenceHash,
        uint64 deadline
    );
    /// @notice A challenge ended with `outcome`: its bond was credited to `bondTo` in the escrow
    /// (pull payment), and `slashed` FAB taken from the host (0 when not slashed).
    event ChallengeResolved(
        uint256 indexed challengeId, ChallengeStatus indexed outcome, address indexed bondTo, uint256 bond, uint256 slashed
    );
    /// @notice The reputation system refused to record a lost challenge; the challenge ended anyway.
    event OffenceNotRecorded(uint256 indexed challengeId, address indexed host, bytes reason);
    event ReputationUpdated(address indexed previous, address indexed current);
    /// @notice The challenge windows and deadlines (seconds) for challenges from now on.
    event WindowsUpdated(
        uint32 jobChallengeWindow, uint32 sessionChallengeWindow, uint32 responseWindow, uint32 arbitrationWindow
    );
    event BondBpsUpdated(uint16 previous, uint16 current);
    /// @notice The least bond of a challenge paid in `token` (address(0): ETH).
    event MinBondUpdated(address indexed token, uint256 previous, uint256 current);

    error ProofSystemZeroAddress();
    error ProofSystemNotContract(address account);
    error ProofSystemNoVerifier(bytes32 modelId);
    error ProofSystemNotHost(Work work, uint256 id, address caller);
    error ProofSystemUnknownWork(Work work, uint256 id);
    error ProofSystemWrongTerms(uint256 sessionId);
    /// @notice The job is not (or not yet) completed: `status` is IJobMarketplace.JobStatus.
    error ProofSystemInvalidJobState(uint256 jobId, uint8 status);
    error ProofSystemAlreadyProven(Work work, uint256 id);
    error ProofSystemNoChunks();
    /// @notice Chunk `index` has a count of 0, above CHUNK_TOKENS, or below it while not the last.
    error ProofSystemInvalidChunk(uint256 index, uint256 count);
    error ProofSystemInvalidProof(uint256 index);
    /// @notice The proven tokens (`proven`) are not the work's billed tokens (`billed`).
    error ProofSystemCountMismatch(Work work, uint256 id, uint256 proven, uint256 billed);
    error ProofSystemNothingToProve(Work work, uint256 id);
    error ProofSystemNothingToChallenge(Work work, uint256 id);
    error ProofSystemChallengeWindowClosed(Work work, uint256 id, uint256 closedAt);
    error ProofSystemCountChallengeOpen(Work work, uint256 id, uint256 challengeId);
    /// @notice The host already lost a count challenge of this work (it is slashed once per work).
    error ProofSystemCountChallengeLost(Work work, uint256 id);
    error ProofSystemSelfChallenge(address host);
    error ProofSystemNoEvidence();
    error ProofSystemNoBond(address token);
    error ProofSystemInvalidChallenge(uint256 challengeId, ChallengeKind kind, ChallengeStatus status);
    error ProofSystemResponseWindowOpen(uint256 challengeId, uint64 deadline);
    error ProofSystemArbitrationOpen(uint256 challengeId, uint64 deadline);
    error ProofSystemArbitrationClosed(uint256 challengeId, uint64 deadline);
    /// @notice The call carried too little gas for the reputation system to record the offence.
    error ProofSystemInsufficientGas();
    error ProofSystemInvalidParameter(string name);
}
