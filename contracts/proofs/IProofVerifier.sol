// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IProofVerifier
/// @notice The interface of EZKL's generated verifiers, which the ProofSystem's registry takes
/// per model: a model publisher's EZKL verifier plugs in as it is, and the project's own
/// output-count verifier (OutputCountVerifier) is wrapped behind the same call.
/// @dev The ProofSystem passes four instances to every verifier, in this order: the binding
/// (job or session), the previous commitment, the new commitment and the chunk's token count
/// (see docs/proofs.md). A verifier returns false (or reverts) for a proof that does not verify.
interface IProofVerifier {
    /// @notice Whether `proof` proves the statement whose public inputs are `instances`.
    /// @param proof the proof bytes, in the verifier's own encoding.
    /// @param instances the public inputs (field elements).
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool);
}
