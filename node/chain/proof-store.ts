/**
 * The host's durable memory of its output-count proofs (node/chain/proofs.ts): for each job and
 * session it served, the token ids it generated (what a proof needs and nothing on chain
 * holds), the chunk proofs already made (kept for reuse: an answer to a count challenge, or a
 * session's next submission over the same prefix), and where the work stands; plus the last
 * block whose ProofSystem challenges were read. One JSON file, synced to disk on each save
 * (temp file, fsync, rename), so a restart resumes the queue and never loses the ids of an
 * answer it may be challenged on.
 */
import { mkdir, readFile, rename } from "node:fs/promises";
import path from "node:path";
import type { Hex } from "viem";
import type { SessionTermsWire } from "../../protocol/sessions.ts";
import { writeDurably } from "./session-store.ts";
import { StateFileError } from "./state.ts";

export type ProofWorkKind = "job" | "session";

export const PROOF_PHASE = {
  /** Work to do: prove and (by policy, or for a challenge) submit. */
  pending: "pending",
  /** Nothing to do until the chain moves (a checkpoint, a challenge) or the challenge window ends. */
  waiting: "waiting",
  /** Everything billed is proven on chain: no count challenge can be opened any more. */
  proven: "proven",
  /** Cannot be proven (no token ids, a count that differs, a job that ended uncompleted). */
  unprovable: "unprovable",
  /** The challenge window closed unproven (submit "challenged"): the ids are dropped. */
  expired: "expired",
} as const;
export type ProofPhase = keyof typeof PROOF_PHASE;
/** Phases in which a record keeps no ids and no proofs, only why it ended. */
export const FINAL_PROOF_PHASES: readonly ProofPhase[] = ["proven", "unprovable", "expired"];

/** One chunk's Groth16 proof, keyed in `chunks` by the commitment it ends on (decimal). */
export interface StoredChunk {
  /** The commitment it starts from (decimal). */
  prev: string;
  count: number;
  /** abi-encoded (a, b, c), as submitted. */
  proof: Hex;
}

export interface WorkProof {
  kind: ProofWorkKind;
  id: string;
  modelId: Hex;
  /** A job's request (prompt) hash as the renter posted it; a session's terms hash. */
  requestHash: Hex;
  /** A session's terms (the contract takes them with each submission). */
  terms?: SessionTermsWire;
  /** The position of `tokenIds[0]` in the work's output (a session's ids before it are proven). */
  base: number;
  /** Generated token ids from `base` on, in order. */
  tokenIds: number[];
  /** A session's output from here on includes answers this node has no ids for. */
  gapAt?: number;
  /** Chunk proofs kept for reuse, by the commitment each ends on. */
  chunks: Record<string, StoredChunk>;
  phase: ProofPhase;
  /** Why the work ended unprovable (or the last proof outcome), for people reading logs. */
  reason?: string;
  /** An open count challenge against this work. */
  challenge?: { id: string; deadline: number; tokens: number };
  /** Tokens proven on chain so far. */
  provenTokens: number;
  /** Failed attempts in a row (the backoff grows with them). */
  attempts: number;
  /** Unix ms before which the work is not tried again. */
  nextAt: number;
  lastError?: string;
  updatedAt: number;
}

interface ProofFile {
  version: 1;
  chainId: number;
  proofSystem: `0x${string}`;
  host: `0x${string}`;
  /** Last block whose CountChallengeOpened events were handled. */
  checkpoint: number;
  works: Record<string, WorkProof>;
}

export interface ProofStore {
  readonly checkpoint: number;
  setCheckpoint: (block: number) => void;
  get: (kind: ProofWorkKind, id: string) => WorkProof | undefined;
  all: () => WorkProof[];
  put: (work: WorkProof) => void;
  remove: (kind: ProofWorkKind, id: string) => void;
  /** Writes and syncs the store (serialized; the latest state wins). */
  save: () => Promise<void>;
}

export const workKey = (kind: ProofWorkKind, id: string) => `${kind}:${id}`;

export async function openProofStore(
  file: string,
  identity: {
    chainId: number;
    proofSystem: `0x${string}`;
    host: `0x${string}`;
    startBlock: number;
  },
): Promise<ProofStore> {
  let data: ProofFile | undefined;
  try {
    data = JSON.parse(await readFile(file, "utf8")) as ProofFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new StateFileError(`cannot read the proof store ${file}: ${(e as Error).message}`);
  }
  const proofSystem = identity.proofSystem.toLowerCase() as `0x${string}`;
  const host = identity.host.toLowerCase() as `0x${string}`;
  // Another chain's, contract's or key's proofs never apply here: keep that file aside.
  if (
    data &&
    (data.version !== 1 ||
      data.chainId !== identity.chainId ||
      data.proofSystem !== proofSystem ||
      data.host !== host)
  ) {
    await rename(file, `${file}.${Date.now()}.other`);
    data = undefined;
  }
  const state: ProofFile = data ?? {
    version: 1,
    chainId: identity.chainId,
    proofSystem,
    host,
    checkpoint: identity.startBlock - 1,
    works: {},
  };
  await mkdir(path.dirname(file), { recursive: true });
  let writing: Promise<void> = Promise.resolve();
  return {
    get checkpoint() {
      return state.checkpoint;
    },
    setCheckpoint: (block) => {
      state.checkpoint = block;
    },
    get: (kind, id) => state.works[workKey(kind, id)],
    all: () => Object.values(state.works),
    put: (work) => {
      work.updatedAt = Date.now();
      state.works[workKey(work.kind, work.id)] = work;
    },
    remove: (kind, id) => {
      delete state.works[workKey(kind, id)];
    },
    save: () => {
      const text = JSON.stringify(state);
      writing = writing.catch(() => undefined).then(() => writeDurably(file, text));
      return writing;
    },
  };
}
