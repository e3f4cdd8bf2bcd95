/**
 * Output-count proofs, the host's side (docs/proofs.md). What is proven (cryptographic): the
 * tokens a job or session billed are exactly the token ids its committed output opens to. The
 * node keeps the token ids it generated (from the engine, never re-tokenized text) and, off the
 * hot path (after the answer went out, at most `maxConcurrent` provers at once):
 * - a job: proves its ids in 64-token chunks against the job's binding (kind, id, model, the
 *   renter's prompt hash from JobPosted: the contract does not check that hash, the renter and
 *   the indexer compare it in OutputProven) and submits `submitJobProof` once the completion is
 *   mined;
 * - a session: after each checkpoint and the close, proves the tokens the chain billed since
 *   its last proof, chained from the last proven commitment, and submits `submitSessionProof`;
 * - a count challenge (CountChallengeOpened naming this host, read from the ProofSystem's logs
 *   from a persisted checkpoint): answered at once with the proof, from the kept chunk proofs
 *   when they are there, before the response deadline.
 * With `submit: "challenged"` proofs are still made and kept, but submitted only to answer a
 * challenge (no gas for proofs nobody asks for); the ids are dropped when the challenge window
 * closes. Submissions are idempotent: the chain's recordOf is read before each, so a restart
 * or a retry never sends a proof the chain already holds. Failures retry with backoff.
 */
import { CHALLENGE_STATUS, proofSystemAbi } from "../../abis/index.ts";
import { type ChainClient, ContractRevertError } from "../../protocol/chain-client.ts";
import { FINAL_JOB_STATUSES, type JobStatus, readJob } from "../../protocol/jobs.ts";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import {
  bindingOf,
  chainStep,
  chunkDigest,
  disposeProver,
  encodeChunk,
  loadArtifactsAsync,
  ProofWork,
  proveChunk,
  splitChunks,
} from "../../protocol/proofs.ts";
import {
  readSessionState,
  type SessionTermsWire,
  termsFromWire,
  termsHash,
} from "../../protocol/sessions.ts";
import {
  FINAL_PROOF_PHASES,
  type ProofPhase,
  type ProofStore,
  type ProofWorkKind,
  type StoredChunk,
  type WorkProof,
  workKey,
} from "./proof-store.ts";

export interface ProofPolicy {
  /**
   * "always": a job's proof once it is completed, a session's after each checkpoint and close.
   * "challenged": prove and keep the proofs, submit only to answer a count challenge.
   */
  submit: "always" | "challenged";
  /** Proofs computed at once (snarkjs already spreads one proof over every core). */
  maxConcurrent: number;
  /** The first retry after a failure; doubles per failure up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often a waiting work is looked at again on chain. */
  recheckMs: number;
  /** How long an ended record (proven, unprovable, expired) stays in the store. */
  keepEndedMs: number;
}

export const DEFAULT_PROOF_POLICY: ProofPolicy = {
  submit: "always",
  maxConcurrent: 1,
  retryBaseMs: 5_000,
  retryMaxMs: 300_000,
  recheckMs: 60_000,
  keepEndedMs: 24 * 3_600_000,
};

/** What the job manager and the sessions tell the proofs (node/chain/jobs.ts, sessions.ts). */
export interface ProofHooks {
  /** A job was answered in full (`tokenIds` undefined: not known, e.g. a cached answer). */
  jobServed: (
    jobId: string,
    work: { modelId: `0x${string}`; requestHash: `0x${string}`; tokenIds?: number[] },
  ) => void;
  /** The job's completion is mined: its proof may be submitted. */
  jobCompleted: (jobId: string) => void;
  /**
   * A session answer was delivered: `tokens` billed from position `from` of the session's
   * output (the tokens served before it), `tokenIds` when known.
   */
  sessionServed: (
    sessionId: string,
    terms: SessionTermsWire,
    from: number,
    tokens: number,
    tokenIds: number[] | undefined,
  ) => void;
  /** A checkpoint or the close is mined: the chain bills more tokens of the session. */
  sessionSettled: (sessionId: string) => void;
}

export interface ProofService extends ProofHooks {
  /** Reads new challenges, drops ended records, starts due work (the monitor's round). */
  sync: () => Promise<void>;
  /** Waits for the work in progress. */
  idle: () => Promise<void>;
  /** Stops taking work, waits for the work in progress, stops the prover's threads. */
  stop: () => Promise<void>;
  get: (kind: ProofWorkKind, id: string) => WorkProof | undefined;
  /** Records by phase, and the chunks proven by this process with their total time. */
  counts: () => Record<string, number>;
}

export interface ProofServiceOptions {
  client: ChainClient;
  proofSystem: `0x${string}`;
  marketplace: `0x${string}`;
  sessions: `0x${string}`;
  store: ProofStore;
  policy?: Partial<ProofPolicy>;
  confirmations?: number;
  logger?: Logger;
  /** Unix seconds now; the chain's clock may differ (tests move it). */
  now?: () => Promise<number>;
}

/** Job states a proof is accepted in. */
const PROVABLE_JOB: readonly JobStatus[] = ["Completed", "Disputed", "Settled"];
/** Block ranges of ProofSystem logs read per sync (the rest waits for the next round). */
const MAX_RANGES_PER_SYNC = 10;
const MAX_RANGE = 2_000;
/** Works tried at once (chain reads and transactions included); provers are `maxConcurrent`. */
const MAX_ATTEMPTS_AT_ONCE = 4;

/** The next try is not a failure: the chain has not moved yet. */
class NotYet {
  readonly reason: string;
  readonly ms: number;
  constructor(reason: string, ms: number) {
    this.reason = reason;
    this.ms = ms;
  }
}

/**
 * The prover's worker threads belong to the process (snarkjs keeps one curve in a global), and
 * one process may run several nodes (the local marketplace does): the last proof service to
 * stop ends them, never one whose neighbours are still proving.
 */
let runningServices = 0;

export function createProofService(options: ProofServiceOptions): ProofService {
  runningServices++;
  const { client, store } = options;
  const log = (options.logger ?? silentLogger).child({ component: "proofs" });
  const policy = { ...DEFAULT_PROOF_POLICY, ...options.policy };
  const me = client.account.address.toLowerCase();
  const now =
    options.now ??
    (async () =>
      Number(
        (await client.query("block time", (c) => c.getBlock({ blockTag: "latest" }))).timestamp,
      ));
  const inflight = new Map<string, Promise<void>>();
  /** Works poked while an attempt ran: tried again as soon as it ends. */
  const poked = new Set<string>();
  const saves = new Set<Promise<unknown>>();
  const figures = { chunksProved: 0, proveMs: 0 };
  let stopping = false;
  let proving = 0;
  const proverQueue: (() => void)[] = [];

  const save = () => {
    const p = store.save().catch((e) => log.error({ err: String(e) }, "saving proofs failed"));
    saves.add(p);
    p.finally(() => saves.delete(p));
    return p;
  };

  async function withProver<T>(fn: () => Promise<T>): Promise<T> {
    while (proving >= policy.maxConcurrent) await new Promise<void>((r) => proverQueue.push(r));
    proving++;
    try {
      return await fn();
    } finally {
      proving--;
      proverQueue.shift()?.();
    }
  }

  const recordOf = (work: ProofWork, id: bigint) =>
    client.read(`recordOf ${work} ${id}`, {
      address: options.proofSystem,
      abi: proofSystemAbi,
      functionName: "recordOf",
      args: [work, id],
    });

  const windows = async () => {
    const [jobWindow, sessionWindow] = await client.read("proof windows", {
      address: options.proofSystem,
      abi: proofSystemAbi,
      functionName: "windows",
    });
    return { job: jobWindow, session: sessionWindow };
  };

  const label = (w: WorkProof) => ({ work: w.kind, id: w.id });

  /** Ends a work: keeps why, drops its ids and proofs. */
  function end(w: WorkProof, phase: ProofPhase, reason: string) {
    if (phase === "proven") log.info({ ...label(w), tokens: w.provenTokens, reason }, "proven");
    else if (w.challenge)
      log.error(
        { ...label(w), challenge: w.challenge.id, reason },
        "cannot answer a count challenge: the host will be slashed",
      );
    else log.warn({ ...label(w), reason }, `proof ${phase}`);
    w.phase = phase;
    w.reason = reason;
    w.tokenIds = [];
    w.chunks = {};
    w.challenge = undefined;
  }

  function wait(w: WorkProof, reason: string) {
    w.phase = "waiting";
    w.reason = reason;
    w.nextAt = Date.now() + policy.recheckMs;
  }

  /**
   * The chunk proofs of `tokenIds` chained from `start`: kept ones are reused, the others
   * proven (one prover at a time) and kept as each is done; the work then keeps exactly these.
   * The chain is computed a chunk at a time with a turn of the event loop between chunks, so
   * a long output never holds up the answers being streamed.
   */
  async function proveRange(
    w: WorkProof,
    binding: bigint,
    start: bigint,
    tokenIds: number[],
  ): Promise<{ proof: `0x${string}`; commitment: bigint; count: number }[]> {
    const keep: Record<string, StoredChunk> = {};
    const out: { proof: `0x${string}`; commitment: bigint; count: number }[] = [];
    let proved = 0;
    let proveMs = 0;
    let prev = start;
    for (const ids of splitChunks(tokenIds)) {
      await new Promise((r) => setImmediate(r));
      if (stopping) throw new NotYet("the node is stopping", 0);
      const commitment = chainStep(prev, chunkDigest(encodeChunk(ids)), ids.length);
      const link = { tokenIds: ids, prevCommitment: prev, commitment, count: ids.length };
      const key = commitment.toString();
      let chunk = w.chunks[key];
      if (!chunk || chunk.prev !== prev.toString()) {
        const artifacts = await loadArtifactsAsync();
        const proof = await withProver(async () => {
          const t0 = performance.now();
          const p = await proveChunk(binding, link, artifacts);
          proveMs += performance.now() - t0;
          return p;
        });
        chunk = { prev: prev.toString(), count: ids.length, proof: proof.proof };
        w.chunks[key] = chunk;
        proved++;
        store.put(w);
        save();
      }
      keep[key] = chunk;
      out.push({ proof: chunk.proof, commitment, count: ids.length });
      prev = commitment;
    }
    w.chunks = keep;
    if (proved > 0) {
      figures.chunksProved += proved;
      figures.proveMs += proveMs;
      log.info(
        {
          ...label(w),
          chunks: out.length,
          proved,
          reused: out.length - proved,
          ms: Math.round(proveMs),
          ms_per_chunk: Math.round(proveMs / proved),
        },
        "output proven off chain",
      );
      store.put(w);
      await save();
    }
    return out;
  }

  /** After a submission that carried a challenge: how it ended. */
  async function reportChallenge(w: WorkProof) {
    const c = w.challenge;
    if (!c) return;
    w.challenge = undefined;
    const read = await client.read(`challengeOf ${c.id}`, {
      address: options.proofSystem,
      abi: proofSystemAbi,
      functionName: "challengeOf",
      args: [BigInt(c.id)],
    });
    const status = CHALLENGE_STATUS[read.status] ?? String(read.status);
    if (status === "Answered")
      log.info(
        { ...label(w), challenge: c.id },
        "count challenge answered: its bond goes to this host",
      );
    else
      log.error(
        { ...label(w), challenge: c.id, status, deadline: c.deadline },
        "the proof did not answer the count challenge (past its deadline?)",
      );
  }

  /** Classifies a refused submission: ends the work, or throws to retry. */
  function refused(w: WorkProof, e: unknown) {
    if (!(e instanceof ContractRevertError) || e.errorName === undefined) throw e;
    switch (e.errorName) {
      case "ProofSystemAlreadyProven":
        end(w, "proven", "already proven on chain");
        return;
      case "ProofSystemInvalidJobState":
        throw new NotYet("the job is not completed yet", policy.recheckMs);
      case "ProofSystemCountMismatch":
        // A session checkpointed between the read and the submission: prove the new range.
        if (w.kind === "session") throw new NotYet("the session moved on", 0);
        end(w, "unprovable", `the chain bills another count (${e.errorName})`);
        return;
      case "ProofSystemNoVerifier":
        // Governance may set one again; until then nobody can challenge the count either.
        throw e;
      default:
        // ProofSystemInvalidProof: a model with its own (e.g. EZKL) verifier needs its prover.
        end(w, "unprovable", `the ProofSystem refused the proof: ${e.errorName}`);
    }
  }

  async function attemptJob(w: WorkProof) {
    const id = BigInt(w.id);
    if (w.tokenIds.length === 0) return end(w, "unprovable", "no token ids");
    const binding = bindingOf({
      kind: ProofWork.Job,
      id,
      modelId: w.modelId,
      requestHash: w.requestHash,
    });
    // Idempotent: a proof the chain already holds (sent before a restart) is never sent again.
    const record = await recordOf(ProofWork.Job, id);
    if (record.provenAt > 0n) {
      w.provenTokens = record.tokens;
      return end(w, "proven", "already proven on chain");
    }
    const chunks = await proveRange(w, binding, binding, w.tokenIds);
    const job = await readJob(client, options.marketplace, id);
    if (!PROVABLE_JOB.includes(job.status)) {
      if (FINAL_JOB_STATUSES.includes(job.status))
        return end(w, "unprovable", `the job ended ${job.status}`);
      throw new NotYet("the job is not completed yet", policy.recheckMs);
    }
    if (job.tokensUsed !== w.tokenIds.length)
      return end(
        w,
        "unprovable",
        `the job bills ${job.tokensUsed} tokens, this node generated ${w.tokenIds.length}`,
      );
    if (policy.submit === "challenged" && !w.challenge) {
      // A challenge wakes the work (its event); otherwise look again when the window closes
      // (a dispute may have moved the job's timeout, and with it the window, later).
      const left = Number(job.timeout) + (await windows()).job - (await now());
      if (left < 0) return end(w, "expired", "the challenge window closed");
      wait(w, "proven off chain; submitted only if challenged");
      w.nextAt = Date.now() + Math.max(policy.recheckMs, left * 1_000);
      return;
    }
    try {
      const receipt = await client.send(`submitJobProof ${w.id}`, {
        address: options.proofSystem,
        abi: proofSystemAbi,
        functionName: "submitJobProof",
        args: [id, w.requestHash, chunks],
      });
      w.provenTokens = w.tokenIds.length;
      log.info(
        {
          ...label(w),
          tokens: w.provenTokens,
          chunks: chunks.length,
          gas: receipt.gasUsed.toString(),
          tx: receipt.transactionHash,
        },
        "proof submitted",
      );
      await reportChallenge(w);
      end(w, "proven", "submitted");
    } catch (e) {
      refused(w, e);
    }
  }

  async function attemptSession(w: WorkProof) {
    if (!w.terms) return end(w, "unprovable", "no terms");
    const terms = termsFromWire(w.terms);
    const id = BigInt(w.id);
    const binding = bindingOf({
      kind: ProofWork.Session,
      id,
      modelId: terms.modelId,
      requestHash: w.requestHash,
    });
    const [state, record] = await Promise.all([
      readSessionState(client, options.sessions, id),
      recordOf(ProofWork.Session, id),
    ]);
    const from = record.tokens;
    const to = state.tokens;
    w.provenTokens = from;
    trim(w, from);
    const settled = state.status === "Settled" || state.status === "None";
    if (to <= from) {
      if (!settled) return wait(w, "nothing billed since the last proof");
      return end(w, "proven", to === 0 ? "nothing billed" : "every billed token is proven");
    }
    const have = w.base + w.tokenIds.length;
    if (from < w.base || to > have || (w.gapAt !== undefined && to > w.gapAt))
      return end(
        w,
        "unprovable",
        `no token ids for the session's tokens ${Math.max(from, Math.min(have, w.gapAt ?? have))} to ${to}`,
      );
    const start = record.provenAt === 0n ? binding : record.commitment;
    const chunks = await proveRange(
      w,
      binding,
      start,
      w.tokenIds.slice(from - w.base, to - w.base),
    );
    if (policy.submit === "challenged" && !w.challenge) {
      wait(w, "proven off chain; submitted only if challenged");
      if (!settled) return; // a checkpoint or the close wakes it
      const left = Number(terms.expiry) + (await windows()).session - (await now());
      if (left < 0) return end(w, "expired", "the challenge window closed");
      w.nextAt = Date.now() + Math.max(policy.recheckMs, left * 1_000);
      return;
    }
    try {
      const receipt = await client.send(`submitSessionProof ${w.id}`, {
        address: options.proofSystem,
        abi: proofSystemAbi,
        functionName: "submitSessionProof",
        args: [terms, id, chunks],
      });
      w.provenTokens = to;
      log.info(
        {
          ...label(w),
          from,
          tokens: to,
          chunks: chunks.length,
          gas: receipt.gasUsed.toString(),
          tx: receipt.transactionHash,
        },
        "proof submitted",
      );
      await reportChallenge(w);
      trim(w, to);
      w.chunks = {};
      if (settled) end(w, "proven", "submitted");
      else wait(w, "proven up to the last checkpoint");
    } catch (e) {
      refused(w, e);
    }
  }

  /** Drops the ids before position `upTo` (proven on chain). */
  function trim(w: WorkProof, upTo: number) {
    if (upTo <= w.base) return;
    w.tokenIds = w.tokenIds.slice(Math.min(upTo - w.base, w.tokenIds.length));
    w.base = upTo;
  }

  async function attempt(w: WorkProof) {
    try {
      if (w.kind === "job") await attemptJob(w);
      else await attemptSession(w);
      w.attempts = 0;
      w.lastError = undefined;
    } catch (e) {
      if (e instanceof NotYet) {
        w.phase = "pending";
        w.reason = e.reason;
        w.nextAt = Date.now() + e.ms;
      } else {
        w.attempts++;
        w.lastError = e instanceof Error ? e.message.split("\n")[0] : String(e);
        const cap = w.challenge ? Math.min(policy.retryMaxMs, 60_000) : policy.retryMaxMs;
        const delay = Math.min(cap, policy.retryBaseMs * 2 ** (w.attempts - 1));
        w.phase = "pending";
        w.nextAt = Date.now() + delay;
        log.warn(
          { ...label(w), attempts: w.attempts, err: w.lastError, retry_in_ms: delay },
          "proof attempt failed; will retry",
        );
      }
    }
    store.put(w);
    await save();
  }

  /** Starts due works, challenged ones first (earliest deadline), then oldest due first. */
  function kick() {
    if (stopping) return;
    const t = Date.now();
    const due = store
      .all()
      .filter(
        (w) =>
          (w.phase === "pending" || w.phase === "waiting") &&
          w.nextAt <= t &&
          !inflight.has(workKey(w.kind, w.id)),
      )
      .sort(
        (a, b) =>
          (a.challenge?.deadline ?? Number.MAX_SAFE_INTEGER) -
            (b.challenge?.deadline ?? Number.MAX_SAFE_INTEGER) || a.nextAt - b.nextAt,
      );
    for (const w of due) {
      if (inflight.size >= MAX_ATTEMPTS_AT_ONCE) break;
      const key = workKey(w.kind, w.id);
      const run = attempt(w).finally(() => {
        inflight.delete(key);
        if (poked.delete(key)) makeDue(key);
        kick();
      });
      inflight.set(key, run);
    }
  }

  /** Makes a work due now (unless it ended); an attempt in progress is followed by another. */
  function makeDue(key: string) {
    const [kind, id] = key.split(":") as [ProofWorkKind, string];
    const w = store.get(kind, id);
    if (!w || FINAL_PROOF_PHASES.includes(w.phase)) return;
    if (inflight.has(key)) {
      poked.add(key);
      return;
    }
    w.phase = "pending";
    w.nextAt = 0;
  }

  /**
   * Saves and kicks after the caller's turn: the hooks run on the answer's path (before `done`
   * goes out) and must return at once.
   */
  const soon = () =>
    setImmediate(() => {
      save();
      kick();
    });

  async function readChallenges() {
    const head = Number(
      await client.query("block number", (c) => c.getBlockNumber({ cacheTime: 0 })),
    );
    const target = head - (options.confirmations ?? 0);
    for (let n = 0; n < MAX_RANGES_PER_SYNC && store.checkpoint < target; n++) {
      const fromBlock = store.checkpoint + 1;
      const toBlock = Math.min(target, fromBlock + MAX_RANGE - 1);
      const logs = await client.query(`CountChallengeOpened ${fromBlock}-${toBlock}`, (c) =>
        c.getContractEvents({
          address: options.proofSystem,
          abi: proofSystemAbi,
          eventName: "CountChallengeOpened",
          fromBlock: BigInt(fromBlock),
          toBlock: BigInt(toBlock),
          strict: true,
        }),
      );
      for (const { args: a } of logs) {
        if (a.host.toLowerCase() !== me) continue;
        const kind: ProofWorkKind = a.work === ProofWork.Job ? "job" : "session";
        const id = a.id.toString();
        const fields = {
          work: kind,
          id,
          challenge: a.challengeId.toString(),
          tokens: a.tokens.toString(),
          bond: a.bond.toString(),
          deadline: Number(a.deadline),
        };
        const w = store.get(kind, id);
        if (!w || FINAL_PROOF_PHASES.includes(w.phase)) {
          log.error(
            { ...fields, reason: w?.reason ?? "no record of this work" },
            "count challenge against this host that it cannot answer: it will be slashed after the deadline",
          );
          continue;
        }
        log.warn(fields, "count challenge opened against this host; answering with a proof");
        w.challenge = { id: fields.challenge, deadline: fields.deadline, tokens: Number(a.tokens) };
        w.attempts = 0;
        store.put(w);
        makeDue(workKey(kind, id));
      }
      store.setCheckpoint(toBlock);
      await save();
    }
  }

  return {
    jobServed(jobId, work) {
      const record: WorkProof = {
        kind: "job",
        id: jobId,
        modelId: work.modelId,
        requestHash: work.requestHash,
        base: 0,
        tokenIds: work.tokenIds ? [...work.tokenIds] : [],
        chunks: {},
        phase: "pending",
        provenTokens: 0,
        attempts: 0,
        nextAt: 0,
        updatedAt: Date.now(),
      };
      if (!work.tokenIds?.length)
        end(record, "unprovable", "the answer's token ids are unknown (a cached answer)");
      store.put(record);
      soon();
    },
    jobCompleted(jobId) {
      makeDue(workKey("job", jobId));
      soon();
    },
    sessionServed(sessionId, terms, from, tokens, tokenIds) {
      let w = store.get("session", sessionId);
      if (!w) {
        const t = termsFromWire(terms);
        w = {
          kind: "session",
          id: sessionId,
          modelId: t.modelId,
          requestHash: termsHash(t),
          terms,
          base: from,
          tokenIds: [],
          chunks: {},
          phase: "waiting",
          provenTokens: 0,
          attempts: 0,
          nextAt: Date.now() + policy.recheckMs,
          updatedAt: Date.now(),
        };
      }
      if (FINAL_PROOF_PHASES.includes(w.phase)) return;
      const have = w.base + w.tokenIds.length;
      if (w.gapAt === undefined) {
        if (tokenIds && tokenIds.length === tokens && have === from) w.tokenIds.push(...tokenIds);
        else {
          w.gapAt = Math.min(have, from);
          log.warn(
            { work: "session", id: sessionId, from: w.gapAt },
            "a session answer's token ids are unknown: its tokens from here on cannot be proven",
          );
        }
      }
      store.put(w);
      soon();
    },
    sessionSettled(sessionId) {
      makeDue(workKey("session", sessionId));
      soon();
    },
    async sync() {
      if (stopping) return;
      try {
        await readChallenges();
      } catch (e) {
        log.warn(
          { err: (e as Error).message.split("\n")[0] },
          "reading challenges failed; will retry",
        );
      }
      const old = Date.now() - policy.keepEndedMs;
      for (const w of store.all())
        if (FINAL_PROOF_PHASES.includes(w.phase) && w.updatedAt < old) store.remove(w.kind, w.id);
      kick();
    },
    async idle() {
      while (inflight.size > 0 || saves.size > 0)
        await Promise.allSettled([...inflight.values(), ...saves]);
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      while (inflight.size > 0) await Promise.allSettled([...inflight.values()]);
      await save();
      if (--runningServices === 0) await disposeProver();
    },
    get: (kind, id) => store.get(kind, id),
    counts() {
      const out: Record<string, number> = { ...figures };
      for (const w of store.all()) out[w.phase] = (out[w.phase] ?? 0) + 1;
      return out;
    },
  };
}
