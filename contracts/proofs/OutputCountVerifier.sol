// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {OutputCountGroth16Verifier} from "./generated/OutputCountGroth16Verifier.sol";
import {IProofVerifier} from "./IProofVerifier.sol";

/// @title OutputCountVerifier
/// @notice Verifies proofs of the project's output-count circuit (circuits/output_count.circom)
/// behind the EZKL interface: a proof that one chunk of up to 64 output token ids has exactly
/// `count` non-padding entries and that `commitment = Poseidon(prevCommitment, H(chunk), count)`.
/// It proves nothing about which model produced the tokens (docs/proofs.md), so it serves as
/// the ProofSystem's model-independent default verifier.
/// @dev An adapter over the snarkjs-generated Groth16 verifier, which it deploys in its
/// constructor. The proof bytes are abi.encode(uint256[2] a, uint256[2][2] b, uint256[2] c),
/// with b's coordinates in the EVM's order (protocol/proofs.ts encodeProof writes them); the
/// instances are the circuit's four public signals [binding, prevCommitment, commitment, count].
/// The setup behind the verifying key is a single-party local one (circuits/README.md).
contract OutputCountVerifier is IProofVerifier {
    /// @notice The bytes of an encoded proof: eight field elements.
    uint256 public constant PROOF_BYTES = 256;
    /// @notice The number of public signals of the circuit.
    uint256 public constant INSTANCES = 4;

    /// @notice The generated Groth16 verifier this adapter calls.
    OutputCountGroth16Verifier public immutable groth16;

    constructor() {
        groth16 = new OutputCountGroth16Verifier();
    }

    /// @inheritdoc IProofVerifier
    /// @dev False (not a revert) for proof bytes of the wrong length or a wrong number of
    /// instances; the generated verifier itself returns false for values outside the field and
    /// for points not on the curve.
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool) {
        if (proof.length != PROOF_BYTES || instances.length != INSTANCES) return false;
        (uint256[2] memory a, uint256[2][2] memory b, uint256[2] memory c) =
            abi.decode(proof, (uint256[2], uint256[2][2], uint256[2]));
        return groth16.verifyProof(a, b, c, [instances[0], instances[1], instances[2], instances[3]]);
    }
}
