/**
 * Output-count proofs: the TypeScript chain equals the circuit's (the circuit's public signals
 * are what it computed), proofs from the committed setup verify, and a proof does not verify
 * for another binding, commitment or count.
 */
import assert from "node:assert/strict";
import * as snarkjs from "snarkjs";
import { keccak256, stringToHex } from "viem";
import { afterAll, describe, it } from "vitest";
import {
  bindingOf,
  CHUNK_TOKENS,
  chainStep,
  chunkDigest,
  commitmentChain,
  disposeProver,
  encodeChunk,
  InvalidOutputError,
  loadArtifacts,
  loadArtifactsAsync,
  outputCommitment,
  ProofWork,
  proveOutput,
  SNARK_SCALAR_FIELD,
  splitChunks,
  verifyChunk,
} from "./proofs.ts";

const MODEL = stringToHex("fabstir-tiny-chat", { size: 32 });
const REQUEST = keccak256(stringToHex("What is the capital of France?"));
const binding = bindingOf({ kind: ProofWork.Job, id: 7n, modelId: MODEL, requestHash: REQUEST });
const tokens = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => (from + i * 7919) % 50_000);

afterAll(async () => {
  await disposeProver();
});

describe("output commitments", () => {
  it("binds kind, id, model and request into one field element", () => {
    assert.ok(binding < SNARK_SCALAR_FIELD);
    const others = [
      bindingOf({ kind: ProofWork.Session, id: 7n, modelId: MODEL, requestHash: REQUEST }),
      bindingOf({ kind: ProofWork.Job, id: 8n, modelId: MODEL, requestHash: REQUEST }),
      bindingOf({ kind: ProofWork.Job, id: 7n, modelId: REQUEST, requestHash: REQUEST }),
      bindingOf({ kind: ProofWork.Job, id: 7n, modelId: MODEL, requestHash: MODEL }),
    ];
    assert.equal(new Set([binding, ...others]).size, 5);
  });

  it("cuts an output into full chunks and one partial, encoding ids as id + 1", () => {
    assert.deepEqual(
      splitChunks(tokens(130)).map((c) => c.length),
      [64, 64, 2],
    );
    const entries = encodeChunk([0, 5]);
    assert.equal(entries.length, CHUNK_TOKENS);
    assert.deepEqual(entries.slice(0, 3), [1n, 6n, 0n]);
    assert.throws(() => encodeChunk([]), InvalidOutputError);
    assert.throws(() => encodeChunk(tokens(65)), InvalidOutputError);
    assert.throws(() => encodeChunk([-1]), InvalidOutputError);
    assert.throws(() => encodeChunk([2 ** 32]), InvalidOutputError);
    assert.throws(() => commitmentChain(binding, []), InvalidOutputError);
  });

  it("chains chunks from the start: every token, its place and the count matter", () => {
    const out = tokens(100);
    const { commitment, links } = commitmentChain(binding, out);
    assert.equal(links.length, 2);
    assert.equal(links[0]?.prevCommitment, binding);
    assert.equal(links[1]?.prevCommitment, links[0]?.commitment);
    assert.equal(
      commitment,
      chainStep(
        chainStep(binding, chunkDigest(encodeChunk(out.slice(0, 64))), 64),
        chunkDigest(encodeChunk(out.slice(64))),
        36,
      ),
    );
    const changed = [...out];
    changed[99] = (changed[99] ?? 0) + 1;
    assert.notEqual(outputCommitment(binding, changed), commitment);
    assert.notEqual(
      outputCommitment(binding, [...out, 0]),
      commitment,
      "a trailing token 0 counts",
    );
    assert.notEqual(outputCommitment(binding + 1n, out), commitment);
  });
});

describe("proving with the committed setup", () => {
  it("loads the setup off the event loop into the same cache as the synchronous loader", async () => {
    const [a, b] = await Promise.all([loadArtifactsAsync(), loadArtifactsAsync()]);
    assert.equal(a, b);
    assert.equal(a, loadArtifacts());
    assert.ok(a.wasm.length > 0 && a.zkey.length > 0);
    assert.equal(a.vkey.nPublic, 4);
  });

  it("proves a 70-token output in two chunks whose public signals are the TS chain", async () => {
    const out = tokens(70, 3);
    const { chunks, commitment } = await proveOutput({ binding, tokenIds: out });
    const { links } = commitmentChain(binding, out);
    assert.equal(commitment, outputCommitment(binding, out));
    assert.equal(chunks.length, 2);
    for (const [i, chunk] of chunks.entries()) {
      const link = links[i];
      assert.ok(link);
      // The circuit computed these (its witness); TS computed the link: they must agree.
      assert.deepEqual(chunk.instances, [
        binding,
        link.prevCommitment,
        link.commitment,
        BigInt(link.count),
      ]);
      assert.equal((chunk.proof.length - 2) / 2, 256, "abi.encode(a, b, c): 8 words");
      assert.equal(await verifyChunk(chunk), true);
    }
  });

  it("a session's later proof starts from the last commitment", async () => {
    const first = tokens(10);
    const start = outputCommitment(binding, first);
    const { chunks, commitment } = await proveOutput({ binding, tokenIds: [4, 2], start });
    assert.equal(chunks[0]?.instances[1], start);
    assert.equal(commitment, outputCommitment(start, [4, 2]));
    assert.equal(await verifyChunk(chunks[0] ?? assert.fail("no chunk")), true);
  });

  it("a proof does not verify for another binding, commitment or count", async () => {
    const { chunks } = await proveOutput({ binding, tokenIds: tokens(5) });
    const chunk = chunks[0];
    assert.ok(chunk);
    for (const i of [0, 1, 2, 3]) {
      const signals: string[] = [...chunk.raw.publicSignals];
      signals[i] = (BigInt(signals[i] ?? "0") + 1n).toString();
      assert.equal(
        await verifyChunk({ raw: { proof: chunk.raw.proof, publicSignals: signals } }),
        false,
        `public signal ${i} changed`,
      );
    }
  });

  it("the circuit refuses a count that is not the number of leading non-zero tokens", async () => {
    // The witness generator checks every constraint: such an input has no witness at all. Each
    // input below carries the commitment its own entries and count hash to, so only the count
    // rule can fail.
    const a = loadArtifacts();
    const input = (entries: bigint[], count: number) => ({
      binding: binding.toString(),
      prevCommitment: binding.toString(),
      commitment: chainStep(binding, chunkDigest(entries), count).toString(),
      count: String(count),
      tokens: entries.map(String),
    });
    const prove = (i: Record<string, unknown>) =>
      snarkjs.groth16.fullProve(i, { type: "mem", data: a.wasm }, { type: "mem", data: a.zkey });
    const three = encodeChunk([1, 2, 3]);
    await prove(input(three, 3)); // the honest count works
    await assert.rejects(prove(input(three, 2)), "a count below the tokens");
    await assert.rejects(prove(input(three, 4)), "a count above the tokens");
    const gap = [...three];
    gap[1] = 0n;
    await assert.rejects(prove(input(gap, 2)), "a padding entry before a token");
  });
});
