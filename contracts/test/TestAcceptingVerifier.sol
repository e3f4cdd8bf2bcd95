// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IProofVerifier} from "../proofs/IProofVerifier.sol";

/// @title TestAcceptingVerifier
/// @notice Test-only FAKE verifier: accepts every proof whose first byte is not 0xff, and refuses
/// the rest. It stands in for the real OutputCountVerifier in Solidity fuzz and invariant tests,
/// where no Groth16 proof can be made; the TypeScript tests use the real verifier and real
/// proofs. Never deploy it.
contract TestAcceptingVerifier is IProofVerifier {
    /// @inheritdoc IProofVerifier
    function verifyProof(bytes calldata proof, uint256[] calldata) external pure returns (bool) {
        return proof.length == 0 || proof[0] != 0xff;
    }
}
