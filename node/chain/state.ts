/**
 * What the host node remembers about the chain between runs, in one JSON file written
 * atomically (temp file + rename): the last block whose JobMarketplace events were fully
 * handled (the checkpoint), and a record per job the node took an interest in. The
 * checkpoint and the records it implies are written together, so a killed process
 * resumes from a consistent point: it may see a block's events again (handling is
 * idempotent: every action re-reads the job on chain), but never skips one.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { JobStatus } from "../../protocol/jobs.ts";
import type { JobRefusal } from "../../protocol/wire-errors.ts";
import { NodeError } from "../errors.ts";

export const JOB_RECORD_STATUS = {
  /** Posted and fits this node; not claimed yet (a claim failed on a transient error). */
  posted: "posted",
  /** Claimed by this host; waiting for the renter's request. */
  claimed: "claimed",
  /** The renter's request is being answered now. */
  serving: "serving",
  /** The renter's request cannot be served: handing the job back (refuseJob) not yet mined. */
  refusing: "refusing",
  /** Answered in full; completion not yet mined. */
  served: "served",
  /** Completed on chain; waiting for acceptance or the dispute window. */
  completed: "completed",
  /** Settled, expired, cancelled or refused: nothing more to do. */
  done: "done",
} as const;
export type JobRecordStatus = keyof typeof JOB_RECORD_STATUS;

/**
 * Why a job ended for this host, one of a closed set (logs, metrics and tests switch on
 * `kind`, never on text).
 */
export type JobOutcome =
  /** Paid: accepted by the renter, released after the dispute window, or resolved. */
  | { kind: "settled" }
  /** It ended on chain without this host's doing (cancelled, expired, refused). */
  | { kind: "ended"; status: JobStatus }
  /** The escrow did not hold the deposit: never claimed, and refused if the renter asks. */
  | { kind: "underfunded" }
  /** The deadline passed before this host could claim it. */
  | { kind: "missed" }
  /** The marketplace refused the claim (`error` names the contract error), or another host won it. */
  | { kind: "not_claimed"; error?: string }
  /** The marketplace refused the completion (`error` names the contract error). */
  | { kind: "completion_refused"; error?: string }
  /** Claimed, but nobody completed or handed it back in time (this node was down): expired
   * on chain, refunded, and counted against this host as an abandoned claim. */
  | { kind: "unasked" }
  /** The renter's own request could not be served; this host handed the job back (refund). */
  | { kind: "refused"; refusal: JobRefusal };

export interface JobRecord {
  id: string;
  status: JobRecordStatus;
  renter: `0x${string}`;
  modelId: `0x${string}`;
  promptHash: `0x${string}`;
  token: `0x${string}`;
  maxTokens: number;
  maxPricePerToken: string;
  /** Unix seconds. */
  deadline: number;
  /** Unix seconds (chain time) this node first saw the job claimed by it. */
  claimedAt?: number;
  outputHash?: `0x${string}`;
  tokensUsed?: number;
  /** Why this host hands the job back, while status is "refusing". */
  refusal?: JobRefusal;
  /** Why the job ended, once status is "done". */
  outcome?: JobOutcome;
  updatedAt: number;
}

export interface ChainStateData {
  version: 1;
  chainId: number;
  marketplace: `0x${string}`;
  host: `0x${string}`;
  /** Last block fully handled; -1 before the first. */
  checkpoint: number;
  jobs: Record<string, JobRecord>;
}

export class StateFileError extends NodeError {
  override readonly code = "state_file";
}

export interface ChainStateStore {
  readonly data: ChainStateData;
  job: (id: string | bigint) => JobRecord | undefined;
  put: (record: JobRecord) => void;
  update: (id: string, patch: Partial<JobRecord>) => JobRecord | undefined;
  /** Writes the state (serialized: one write at a time, the latest state wins). */
  save: () => Promise<void>;
}

export async function openChainState(
  file: string,
  identity: {
    chainId: number;
    marketplace: `0x${string}`;
    host: `0x${string}`;
    startBlock: number;
  },
): Promise<ChainStateStore> {
  let data: ChainStateData | undefined;
  try {
    data = JSON.parse(await readFile(file, "utf8")) as ChainStateData;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new StateFileError(`cannot read the chain state ${file}: ${(e as Error).message}`);
  }
  const fresh = (): ChainStateData => ({
    version: 1,
    chainId: identity.chainId,
    marketplace: identity.marketplace.toLowerCase() as `0x${string}`,
    host: identity.host.toLowerCase() as `0x${string}`,
    checkpoint: identity.startBlock - 1,
    jobs: {},
  });
  // State of another chain, marketplace or key does not apply: start over for this one.
  if (
    data?.version !== 1 ||
    data.chainId !== identity.chainId ||
    data.marketplace !== identity.marketplace.toLowerCase() ||
    data.host !== identity.host.toLowerCase()
  )
    data = fresh();
  const state = data;
  // Files written before outcomes were typed carry text: keep what logic reads from it (an
  // underfunded job is refused if its renter asks), drop the rest (finished jobs).
  for (const r of Object.values(state.jobs)) {
    const legacy: unknown = r.outcome;
    if (typeof legacy === "string")
      r.outcome = legacy.startsWith("refused: underfunded") ? { kind: "underfunded" } : undefined;
  }
  await mkdir(path.dirname(file), { recursive: true });
  let writing: Promise<void> = Promise.resolve();
  return {
    data: state,
    job: (id) => state.jobs[String(id)],
    put: (record) => {
      state.jobs[record.id] = { ...record, updatedAt: Date.now() };
    },
    update: (id, patch) => {
      const r = state.jobs[id];
      if (!r) return undefined;
      Object.assign(r, patch, { updatedAt: Date.now() });
      return r;
    },
    save: () => {
      const text = JSON.stringify(state, null, 1);
      writing = writing
        .catch(() => undefined)
        .then(async () => {
          const tmp = `${file}.${process.pid}.tmp`;
          await writeFile(tmp, text);
          await rename(tmp, file);
        });
      return writing;
    },
  };
}
