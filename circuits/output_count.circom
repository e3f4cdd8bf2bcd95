pragma circom 2.1.0;

// The Fabstir output-count circuit: one chunk of up to N output token ids.
//
// What one proof states (and nothing more): the prover knows N field elements t[0..N-1]
// such that
//   1. the first `count` of them are non-zero and the rest are zero (so count <= N), and
//   2. commitment = Poseidon(prevCommitment, H(t), count), where
//      H(t) = Poseidon(Poseidon16(t[0..15]), Poseidon16(t[16..31]), ...)  (N / 16 blocks).
// A token id `id` is encoded as id + 1 so that 0 means padding. Chained proofs (the
// contract sets each chunk's prevCommitment to the previous chunk's commitment, the first
// to `binding`) therefore prove that the billed count is the number of token ids the final
// commitment opens to. `binding` ties a proof to one job or session (the contract computes
// it); it is constrained below so that a proof made for one binding fails for any other.

include "../node_modules/circomlib/circuits/poseidon.circom";

template OutputCount(N) {
    assert(N % 16 == 0);
    assert(N <= 256);
    var BLOCKS = N \ 16;

    signal input binding;
    signal input prevCommitment;
    signal input commitment;
    signal input count;
    signal input tokens[N];

    // present[i] = 1 if tokens[i] != 0, else 0 (circomlib's IsZero, inverted).
    signal inv[N];
    signal present[N];
    for (var i = 0; i < N; i++) {
        inv[i] <-- tokens[i] != 0 ? 1 / tokens[i] : 0;
        present[i] <== tokens[i] * inv[i];
        tokens[i] * (1 - present[i]) === 0;
    }
    // Non-padding entries come first: present[i] <= present[i - 1].
    for (var i = 1; i < N; i++) {
        present[i] * (1 - present[i - 1]) === 0;
    }
    // count is the number of non-padding entries (hence 0 <= count <= N).
    var total = 0;
    for (var i = 0; i < N; i++) {
        total += present[i];
    }
    count === total;

    // The chunk's digest.
    component blocks[BLOCKS];
    component digest = Poseidon(BLOCKS);
    for (var b = 0; b < BLOCKS; b++) {
        blocks[b] = Poseidon(16);
        for (var j = 0; j < 16; j++) {
            blocks[b].inputs[j] <== tokens[b * 16 + j];
        }
        digest.inputs[b] <== blocks[b].out;
    }

    // The chain step.
    component step = Poseidon(3);
    step.inputs[0] <== prevCommitment;
    step.inputs[1] <== digest.out;
    step.inputs[2] <== count;
    commitment === step.out;

    // binding appears in no other constraint: square it so the proof is bound to it.
    signal bindingSquared;
    bindingSquared <== binding * binding;
}

component main {public [binding, prevCommitment, commitment, count]} = OutputCount(64);
