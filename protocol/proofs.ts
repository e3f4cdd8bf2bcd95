/**
 * Output-count proofs (docs/proofs.md): the chunk commitments and the binding exactly as the
 * circuit (circuits/output_count.circom) and the ProofSystem contract compute them, and a
 * Groth16 prover over the committed setup in circuits/build/.
 *
 * - A chunk is up to CHUNK_TOKENS output token ids; id `t` is encoded as t + 1 (0 = padding).
 *   An output is cut into full chunks and one last, partial chunk (a proof of n tokens has
 *   ceil(n / 64) chunks; never an empty chunk).
 * - H(chunk) = Poseidon4(Poseidon16(e[0..15]), ..., Poseidon16(e[48..63])).
 * - The chain: c_0 = start, c_k = Poseidon3(c_{k-1}, H(chunk_k), count_k). `start` is the
 *   binding for a job and a session's first proof; a session's later proofs start from the
 *   commitment its last proof ended on.
 * - binding = uint256(keccak256(abi.encode(uint8 kind, uint256 id, bytes32 modelId,
 *   bytes32 requestHash))) mod the BN254 scalar field: a job's requestHash is its promptHash,
 *   a session's is the hash of its terms.
 * - One proof per chunk, public signals [binding, prevCommitment, commitment, count]; its bytes
 *   are abi.encode(uint256[2] a, uint256[2][2] b, uint256[2] c) (OutputCountVerifier decodes them).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { gunzip, gunzipSync } from "node:zlib";
import { poseidon3, poseidon4, poseidon16 } from "poseidon-lite";
import * as snarkjs from "snarkjs";
import { encodeAbiParameters, type Hex, hexToBigInt, keccak256 } from "viem";
import { FabstirError } from "./errors.ts";

/** Output tokens per chunk (per proof): the circuit's N. */
export const CHUNK_TOKENS = 64;
/** The circuit's public signals, in the order the verifier takes them. */
export const PUBLIC_SIGNALS = ["binding", "prevCommitment", "commitment", "count"] as const;
/** The BN254 scalar field: every commitment and binding is an element of it. */
export const SNARK_SCALAR_FIELD =
  21888242871839275222246405745257275088548364400416034343698204186575808495617n;
/** What a proof is about, as the contract numbers it (IReputationSystem.Work). */
export const ProofWork = { Job: 0, Session: 1 } as const;
export type ProofWork = (typeof ProofWork)[keyof typeof ProofWork];

/** The committed setup: circuits/build/ at the repository root. */
export const CIRCUIT_BUILD_DIR = path.resolve(import.meta.dirname, "..", "circuits", "build");

/** A token id list that cannot be committed to (not a uint32, or an empty output). */
export class InvalidOutputError extends FabstirError {
  override readonly code = "invalid_output";
  override readonly userError = true;
}

/** The binding of a job's or a session's proofs (ProofSystem.bindingOf computes the same). */
export function bindingOf(args: {
  kind: ProofWork;
  id: bigint;
  modelId: Hex;
  requestHash: Hex;
}): bigint {
  const encoded = encodeAbiParameters(
    [{ type: "uint8" }, { type: "uint256" }, { type: "bytes32" }, { type: "bytes32" }],
    [args.kind, args.id, args.modelId, args.requestHash],
  );
  return hexToBigInt(keccak256(encoded)) % SNARK_SCALAR_FIELD;
}

/** The CHUNK_TOKENS circuit entries of one chunk: id + 1, then zeros. */
export function encodeChunk(tokenIds: readonly number[]): bigint[] {
  if (tokenIds.length === 0 || tokenIds.length > CHUNK_TOKENS) {
    throw new InvalidOutputError(`a chunk holds 1 to ${CHUNK_TOKENS} tokens`);
  }
  const entries = new Array<bigint>(CHUNK_TOKENS).fill(0n);
  tokenIds.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
      throw new InvalidOutputError(`token id ${id} is not a uint32`);
    }
    entries[i] = BigInt(id) + 1n;
  });
  return entries;
}

/** H(chunk): Poseidon4 over the Poseidon16 of each block of 16 entries. */
export function chunkDigest(entries: readonly bigint[]): bigint {
  if (entries.length !== CHUNK_TOKENS) throw new InvalidOutputError("a chunk has 64 entries");
  const blocks: bigint[] = [];
  for (let b = 0; b < CHUNK_TOKENS; b += 16) blocks.push(poseidon16(entries.slice(b, b + 16)));
  return poseidon4(blocks);
}

/** One step of the chain: Poseidon3(prev, H(chunk), count). */
export function chainStep(prev: bigint, digest: bigint, count: number): bigint {
  return poseidon3([prev, digest, BigInt(count)]);
}

/** An output cut into chunks as proofs cover it: full chunks, then one partial. */
export function splitChunks(tokenIds: readonly number[]): number[][] {
  const chunks: number[][] = [];
  for (let i = 0; i < tokenIds.length; i += CHUNK_TOKENS) {
    chunks.push(tokenIds.slice(i, i + CHUNK_TOKENS));
  }
  return chunks;
}

/** One chunk's place in the chain. */
export interface ChainLink {
  tokenIds: number[];
  prevCommitment: bigint;
  commitment: bigint;
  count: number;
}

/** The chain over `tokenIds` from `start` (the binding, or a session's last commitment). */
export function commitmentChain(
  start: bigint,
  tokenIds: readonly number[],
): { commitment: bigint; links: ChainLink[] } {
  if (tokenIds.length === 0) throw new InvalidOutputError("nothing to commit to");
  let prev = start;
  const links: ChainLink[] = [];
  for (const chunk of splitChunks(tokenIds)) {
    const commitment = chainStep(prev, chunkDigest(encodeChunk(chunk)), chunk.length);
    links.push({ tokenIds: chunk, prevCommitment: prev, commitment, count: chunk.length });
    prev = commitment;
  }
  return { commitment: prev, links };
}

/** The final output commitment of `tokenIds` from `start`: what the contract stores. */
export function outputCommitment(start: bigint, tokenIds: readonly number[]): bigint {
  return commitmentChain(start, tokenIds).commitment;
}

/** The circuit's input for one chunk (decimal strings, as snarkjs takes them). */
export function chunkInput(args: {
  binding: bigint;
  prevCommitment: bigint;
  tokenIds: readonly number[];
}): Record<string, string | string[]> {
  const entries = encodeChunk(args.tokenIds);
  const commitment = chainStep(args.prevCommitment, chunkDigest(entries), args.tokenIds.length);
  return {
    binding: args.binding.toString(),
    prevCommitment: args.prevCommitment.toString(),
    commitment: commitment.toString(),
    count: String(args.tokenIds.length),
    tokens: entries.map(String),
  };
}

/** A Groth16 proof as the OutputCountVerifier adapter decodes it (256 bytes). */
export function encodeProof(proof: snarkjs.Groth16Proof): Hex {
  const n = (s: string | undefined) => {
    if (s === undefined) throw new InvalidOutputError("malformed proof");
    return BigInt(s);
  };
  const [a, b, c] = [proof.pi_a, proof.pi_b, proof.pi_c];
  // The EVM's pairing precompile takes G2 coordinates as (imaginary, real): swapped.
  return encodeAbiParameters(
    [{ type: "uint256[2]" }, { type: "uint256[2][2]" }, { type: "uint256[2]" }],
    [
      [n(a[0]), n(a[1])],
      [
        [n(b[0]?.[1]), n(b[0]?.[0])],
        [n(b[1]?.[1]), n(b[1]?.[0])],
      ],
      [n(c[0]), n(c[1])],
    ],
  );
}

/** One chunk's proof, ready for the contract (ProofSystem's ChunkProof is proof, commitment, count). */
export interface ChunkProof {
  /** abi-encoded (a, b, c). */
  proof: Hex;
  /** The public signals: [binding, prevCommitment, commitment, count]. */
  instances: [bigint, bigint, bigint, bigint];
  commitment: bigint;
  count: number;
  /** snarkjs's own form, for verifyChunk. */
  raw: { proof: snarkjs.Groth16Proof; publicSignals: string[] };
}

/** The proving artifacts: the witness generator, the proving key and the verification key. */
export interface ProverArtifacts {
  wasm: Uint8Array;
  zkey: Uint8Array;
  vkey: snarkjs.VerificationKey;
}

const loaded = new Map<string, ProverArtifacts>();

/** Reads (once per folder) the committed setup from `dir` (default circuits/build/). */
export function loadArtifacts(dir: string = CIRCUIT_BUILD_DIR): ProverArtifacts {
  const cached = loaded.get(dir);
  if (cached) return cached;
  const artifacts = {
    wasm: new Uint8Array(gunzipSync(readFileSync(path.join(dir, "output_count.wasm.gz")))),
    zkey: new Uint8Array(gunzipSync(readFileSync(path.join(dir, "output_count.zkey.gz")))),
    vkey: JSON.parse(
      readFileSync(path.join(dir, "verification_key.json"), "utf8"),
    ) as snarkjs.VerificationKey,
  };
  loaded.set(dir, artifacts);
  return artifacts;
}

const gunzipAsync = promisify(gunzip);
const loading = new Map<string, Promise<ProverArtifacts>>();

/**
 * loadArtifacts without blocking the event loop (the files are read and gunzipped off the main
 * thread): for a server that proves beside its requests. Shares loadArtifacts's cache.
 */
export function loadArtifactsAsync(dir: string = CIRCUIT_BUILD_DIR): Promise<ProverArtifacts> {
  const cached = loaded.get(dir);
  if (cached) return Promise.resolve(cached);
  let p = loading.get(dir);
  if (!p) {
    const unzip = async (name: string) =>
      new Uint8Array(await gunzipAsync(await readFile(path.join(dir, name))));
    p = (async () => {
      const [wasm, zkey, vkey] = await Promise.all([
        unzip("output_count.wasm.gz"),
        unzip("output_count.zkey.gz"),
        readFile(path.join(dir, "verification_key.json"), "utf8"),
      ]);
      const artifacts = loaded.get(dir) ?? {
        wasm,
        zkey,
        vkey: JSON.parse(vkey) as snarkjs.VerificationKey,
      };
      loaded.set(dir, artifacts);
      return artifacts;
    })().finally(() => loading.delete(dir));
    loading.set(dir, p);
  }
  return p;
}

/** Proves one chunk of the chain. */
export async function proveChunk(
  binding: bigint,
  link: ChainLink,
  artifacts: ProverArtifacts = loadArtifacts(),
): Promise<ChunkProof> {
  const input = chunkInput({
    binding,
    prevCommitment: link.prevCommitment,
    tokenIds: link.tokenIds,
  });
  // snarkjs reads (and may keep a reference to) in-memory files: hand it its own views.
  const { proof, publicSignals } = await snarkjs.groth16.fullProve(
    input,
    { type: "mem", data: artifacts.wasm },
    { type: "mem", data: artifacts.zkey },
  );
  const instances = publicSignals.map((s) => BigInt(s));
  if (instances.length !== 4 || instances[2] !== link.commitment) {
    throw new Error("the circuit's public signals differ from the chain computed here");
  }
  return {
    proof: encodeProof(proof),
    instances: instances as ChunkProof["instances"],
    commitment: link.commitment,
    count: link.count,
    raw: { proof, publicSignals },
  };
}

/**
 * Proves an output: one Groth16 proof per chunk of `tokenIds`, chained from `start` (the
 * binding unless given: a session's later proofs start from its last proven commitment).
 */
export async function proveOutput(args: {
  binding: bigint;
  tokenIds: readonly number[];
  start?: bigint;
  artifacts?: ProverArtifacts;
}): Promise<{ chunks: ChunkProof[]; commitment: bigint }> {
  const artifacts = args.artifacts ?? loadArtifacts();
  const { commitment, links } = commitmentChain(args.start ?? args.binding, args.tokenIds);
  const chunks: ChunkProof[] = [];
  // One at a time: snarkjs already spreads one proof over every core.
  for (const link of links) chunks.push(await proveChunk(args.binding, link, artifacts));
  return { chunks, commitment };
}

/** Checks one chunk's proof off chain with the committed verification key. */
export async function verifyChunk(
  chunk: Pick<ChunkProof, "raw">,
  artifacts: ProverArtifacts = loadArtifacts(),
): Promise<boolean> {
  return snarkjs.groth16.verify(artifacts.vkey, chunk.raw.publicSignals, chunk.raw.proof);
}

/** The chunks as ProofSystem's submit functions take them. */
export function toChunkArgs(
  chunks: readonly ChunkProof[],
): { proof: Hex; commitment: bigint; count: number }[] {
  return chunks.map((c) => ({ proof: c.proof, commitment: c.commitment, count: c.count }));
}

/**
 * Stops snarkjs's worker threads (they keep a process alive): call once no more proofs are
 * needed. A later proof starts them again.
 */
export async function disposeProver(): Promise<void> {
  await (
    globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }
  ).curve_bn128?.terminate();
}
