/**
 * The host's side of the job flow. From JobMarketplace's events it picks the jobs that fit
 * (a model it serves, a token it prices, a price within the renter's maximum, chosen for
 * it or open, enough time left, capacity free), checks that the escrow really holds the
 * deposit, and claims them. When the renter then asks (over HTTP or libp2p) with a signed
 * authorization, the gate checks it against the chain and lets the request through once;
 * the answer's hash and exact completion token count go on chain with completeJob. A
 * periodic sync retries what failed on the RPC (claims, completions), hands back claimed
 * jobs whose renter has not asked by half the marketplace's claim timeout (refuseJob: the
 * renter is refunded, and the host is not charged with an abandoned claim, which the
 * marketplace records and slashes once the claim timeout passes), releases payment of
 * completed jobs once their dispute window is over, and settles disputes no arbiter resolved
 * by their deadline (settleDispute: the documented default pays the completion).
 */
import { stringToHex, zeroAddress } from "viem";
import { jobMarketplaceAbi, paymentEscrowAbi, reputationSystemAbi } from "../../abis/index.ts";
import { type ChainClient, ContractRevertError } from "../../protocol/chain-client.ts";
import { outputHash, requestHash } from "../../protocol/hashing.ts";
import { recoverJobAuthorizer } from "../../protocol/job-auth.ts";
import { type JobStatus, readJob } from "../../protocol/jobs.ts";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import { chainModelId } from "../../protocol/model-id.ts";
import type { JobAuthorization, ServeRequest, Usage } from "../../protocol/wire.ts";
import { JobRefusedError } from "../errors.ts";
import type { NodeMetrics } from "../metrics.ts";
import type { JobGate, JobLease } from "../serving/handler.ts";
import type { MarketplaceLog } from "./monitor.ts";
import type { ProofHooks } from "./proofs.ts";
import type { ChainStateStore, JobOutcome, JobRecord } from "./state.ts";

export interface JobPolicy {
  /** Claimed jobs not yet served, at most. */
  maxActiveJobs: number;
  /** Do not claim a job with less time than this before its deadline. */
  minTimeLeftSec: number;
  /** Release payment of completed jobs whose dispute window is over (and settle disputes
   * no arbiter resolved by their deadline). */
  autoRelease: boolean;
  /** Hand a claimed job back when its renter has not asked by this share of the claim
   * timeout (or this many seconds before the deadline, whichever comes first). */
  giveUpShare: number;
}

export const DEFAULT_JOB_POLICY: JobPolicy = {
  maxActiveJobs: 16,
  minTimeLeftSec: 60,
  autoRelease: true,
  giveUpShare: 0.5,
};

export interface JobManagerOptions {
  client: ChainClient;
  chainId: number;
  marketplace: `0x${string}`;
  escrow: `0x${string}`;
  /** The ReputationSystem: this host's score is checked against jobs' minimum scores. */
  reputation?: `0x${string}`;
  state: ChainStateStore;
  /** Prices per output token this host asks, by chain model id, then lower-case token address. */
  prices: Map<`0x${string}`, Map<string, bigint>>;
  policy?: Partial<JobPolicy>;
  metrics?: NodeMetrics;
  logger?: Logger;
  /** Unix seconds now; the chain's clock may differ (tests move it). */
  now?: () => Promise<number>;
  /** Output-count proofs (node/chain/proofs.ts): told of each answer and completion. */
  proofs?: ProofHooks;
}

export interface JobManager extends JobGate {
  /** The monitor's handler: one range of marketplace logs, in order. */
  handleLogs: (logs: MarketplaceLog[], toBlock: number) => Promise<void>;
  /** Retries pending claims and completions, gives up expired jobs, releases payments. */
  sync: () => Promise<void>;
  /** Jobs waiting on chain work started by this manager (completions in flight). */
  idle: () => Promise<void>;
  counts: () => Record<string, number>;
}

type Posted = Extract<MarketplaceLog, { eventName: "JobPosted" }>;

/** The status each ending event leaves a job in. */
const ENDED_BY = {
  JobCancelled: "Cancelled",
  JobExpired: "Expired",
  JobRefused: "Refused",
} as const satisfies Record<string, JobStatus>;

export function createJobManager(options: JobManagerOptions): JobManager {
  const { client, state } = options;
  const log = (options.logger ?? silentLogger).child({ component: "jobs" });
  const policy = { ...DEFAULT_JOB_POLICY, ...options.policy };
  const me = client.account.address.toLowerCase() as `0x${string}`;
  const inflight = new Set<Promise<unknown>>();
  const now =
    options.now ??
    (async () =>
      Number(
        (await client.query("block time", (c) => c.getBlock({ blockTag: "latest" }))).timestamp,
      ));
  const domain = { chainId: options.chainId, marketplace: options.marketplace };

  /** Jobs with chain work in progress: one action per job at a time. */
  const busy = new Map<string, Promise<unknown>>();
  async function exclusive(id: string, fn: () => Promise<unknown>) {
    if (busy.has(id)) return;
    const action = fn().finally(() => busy.delete(id));
    busy.set(id, action);
    await action;
  }

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => undefined);
    return p;
  };

  /** A JobMarketplace transaction that takes only the job id. */
  const jobTx = (fn: "claimJob" | "expireJob" | "releasePayment" | "settleDispute", r: JobRecord) =>
    client.send(`${fn} ${r.id}`, {
      address: options.marketplace,
      abi: jobMarketplaceAbi,
      functionName: fn,
      args: [BigInt(r.id)],
    });

  const priceFor = (modelId: `0x${string}`, token: `0x${string}`) =>
    options.prices.get(modelId.toLowerCase() as `0x${string}`)?.get(token.toLowerCase());

  const chainJob = (id: string) => readJob(client, options.marketplace, BigInt(id));

  /** Read fresh for every claimed job a sync looks at: governance may shorten it any time. */
  const claimTimeout = async () =>
    Number(
      await client.read("claimTimeout", {
        address: options.marketplace,
        abi: jobMarketplaceAbi,
        functionName: "claimTimeout",
      }),
    );
  /** This host's score changes slowly: read at most once a minute. */
  let score: { value: number; at: number } | undefined;
  const myScore = async () => {
    if (!score || Date.now() - score.at > 60_000)
      score = { value: await readScore(), at: Date.now() };
    return score.value;
  };
  const readScore = async () =>
    options.reputation
      ? Number(
          await client.read("scoreOf", {
            address: options.reputation,
            abi: reputationSystemAbi,
            functionName: "scoreOf",
            args: [client.account.address],
          }),
        )
      : 0;

  async function escrowHolds(r: JobRecord): Promise<boolean> {
    const [token, amount] = await client.read(`lockOf ${r.id}`, {
      address: options.escrow,
      abi: paymentEscrowAbi,
      functionName: "lockOf",
      args: [options.marketplace, BigInt(r.id)],
    });
    const deposit = BigInt(r.maxTokens) * BigInt(r.maxPricePerToken);
    return token.toLowerCase() === r.token.toLowerCase() && amount >= deposit && amount > 0n;
  }

  function active() {
    return Object.values(state.data.jobs).filter(
      (j) => j.status === "claimed" || j.status === "serving" || j.status === "refusing",
    ).length;
  }

  function finish(r: JobRecord, outcome: JobOutcome) {
    state.update(r.id, { status: "done", outcome });
  }

  /** Why a posted job does not fit this host, or undefined when it does. */
  async function misfit(e: Posted["args"], t: number): Promise<string | undefined> {
    if (e.host !== zeroAddress && e.host.toLowerCase() !== me) return "chosen for another host";
    if (e.renter.toLowerCase() === me) return "own job";
    const price = priceFor(e.modelId, e.token);
    if (price === undefined) return "model or token not offered";
    if (price > e.maxPricePerToken) return "price above the renter's maximum";
    if (Number(e.deadline) - t < policy.minTimeLeftSec) return "too little time left";
    if (active() >= policy.maxActiveJobs) return "at capacity";
    if (e.minScore > 0 && (await myScore()) < e.minScore) return "score below the renter's minimum";
    return undefined;
  }

  async function claim(r: JobRecord) {
    if (!(await escrowHolds(r))) {
      log.warn({ job: r.id }, "escrow does not hold the deposit; not claiming");
      options.metrics?.jobs.inc({ outcome: "refused" });
      return finish(r, { kind: "underfunded" });
    }
    try {
      const receipt = await jobTx("claimJob", r);
      // The claim's own block time starts the claim timeout, as on chain; a later sync would
      // see a later block and hold the job past the point where it should be handed back.
      const block = await client.query("claim block", (c) =>
        c.getBlock({ blockNumber: receipt.blockNumber }),
      );
      state.update(r.id, { status: "claimed", claimedAt: Number(block.timestamp) });
      options.metrics?.jobs.inc({ outcome: "claimed" });
      log.info({ job: r.id }, "claimed job");
    } catch (e) {
      if (e instanceof ContractRevertError) {
        // Someone else claimed it, or it was cancelled: not ours.
        log.info({ job: r.id, reason: e.errorName }, "claim refused by the marketplace");
        return finish(r, { kind: "not_claimed", error: e.errorName });
      }
      throw e;
    }
  }

  async function complete(r: JobRecord) {
    if (r.outputHash === undefined || r.tokensUsed === undefined) return;
    try {
      await client.send(`completeJob ${r.id}`, {
        address: options.marketplace,
        abi: jobMarketplaceAbi,
        functionName: "completeJob",
        args: [BigInt(r.id), r.outputHash, r.tokensUsed],
      });
      state.update(r.id, { status: "completed" });
      options.metrics?.jobs.inc({ outcome: "completed" });
      log.info({ job: r.id, tokens: r.tokensUsed }, "completed job");
      options.proofs?.jobCompleted(r.id);
    } catch (e) {
      if (!(e instanceof ContractRevertError)) throw e;
      const job = await chainJob(r.id);
      if (job.status === "Completed" || job.status === "Settled") {
        state.update(r.id, { status: "completed" });
        options.proofs?.jobCompleted(r.id);
      } else {
        log.warn({ job: r.id, reason: e.errorName }, "completion refused; giving the job up");
        options.metrics?.jobs.inc({ outcome: "given_up" });
        finish(r, { kind: "completion_refused", error: e.errorName });
      }
    }
    await state.save();
  }

  /** Hands a claimed job back (refuseJob): the marketplace refunds its renter at once. */
  async function handBack(r: JobRecord) {
    const refusal = r.refusal ?? "context_length_exceeded";
    try {
      await client.send(`refuseJob ${r.id}`, {
        address: options.marketplace,
        abi: jobMarketplaceAbi,
        functionName: "refuseJob",
        args: [BigInt(r.id), stringToHex(refusal, { size: 32 })],
      });
      options.metrics?.jobs.inc({ outcome: "refused" });
      log.info({ job: r.id, refusal }, "handed the job back; its renter is refunded");
      finish(r, { kind: "refused", refusal });
    } catch (e) {
      if (!(e instanceof ContractRevertError)) throw e;
      const job = await chainJob(r.id);
      // Past its deadline a job can no longer be handed back, only expired: the sync's expiry
      // does that (and the renter's request is refused as expired meanwhile).
      if (job.status === "Claimed") state.update(r.id, { status: "claimed" });
      // Otherwise it ended already (expired, refused): nothing left to hand back.
      else finish(r, { kind: "ended", status: job.status });
    }
    await state.save();
  }

  /** Retries a job's pending chain work; errors are logged and retried at the next sync. */
  async function syncJob(r: JobRecord, t: number) {
    if (r.status === "refusing") return handBack(r);
    if (r.status === "posted") {
      if (t > r.deadline) return finish(r, { kind: "missed" });
      const job = await chainJob(r.id);
      if (job.status !== "Posted") return finish(r, { kind: "not_claimed", error: job.status });
      return claim(r);
    }
    if (r.status === "served") return complete(r);
    if (r.status === "claimed") {
      const claimedAt = r.claimedAt ?? t;
      if (r.claimedAt === undefined) state.update(r.id, { claimedAt });
      const timeout = await claimTimeout();
      const takenBackAt = Math.min(r.deadline, claimedAt + timeout);
      const giveUpAt = Math.min(
        claimedAt + Math.floor(timeout * policy.giveUpShare),
        r.deadline - policy.minTimeLeftSec / 2,
      );
      if (t > giveUpAt && t <= takenBackAt) {
        // The renter is absent: hand the job back (refund) rather than hold it into the
        // claim timeout, where the marketplace counts it as an abandoned claim.
        log.info({ job: r.id }, "the renter has not asked for its job; handing it back");
        state.update(r.id, { status: "refusing", refusal: "renter_absent" });
        return handBack(state.job(r.id) as JobRecord);
      }
      if (t <= takenBackAt) return;
      const job = await chainJob(r.id);
      if (job.status !== "Claimed") return finish(r, { kind: "ended", status: job.status });
      try {
        await jobTx("expireJob", r);
      } catch (e) {
        if (!(e instanceof ContractRevertError)) throw e;
      }
      options.metrics?.jobs.inc({ outcome: "given_up" });
      log.warn(
        { job: r.id },
        "a claimed job outlived its claim timeout (was this node down?); expired: refunded and counted as abandoned",
      );
      return finish(r, { kind: "unasked" });
    }
    if (r.status === "completed" && policy.autoRelease) {
      const job = await chainJob(r.id);
      if (job.status === "Settled") return finish(r, { kind: "settled" });
      if ((job.status !== "Completed" && job.status !== "Disputed") || t <= job.timeout) return;
      try {
        // After the dispute window, or after a dispute's arbitration deadline (the default).
        await jobTx(job.status === "Completed" ? "releasePayment" : "settleDispute", r);
        finish(r, { kind: "settled" });
      } catch (e) {
        if (!(e instanceof ContractRevertError)) throw e;
      }
    }
  }

  /** A job's record from its JobPosted event. */
  function recordOf(e: Posted["args"], status: JobRecord["status"]): JobRecord {
    return {
      id: e.jobId.toString(),
      status,
      renter: e.renter.toLowerCase() as `0x${string}`,
      modelId: e.modelId,
      promptHash: e.promptHash,
      token: e.token.toLowerCase() as `0x${string}`,
      maxTokens: Number(e.maxTokens),
      maxPricePerToken: e.maxPricePerToken.toString(),
      deadline: Number(e.deadline),
      updatedAt: Date.now(),
    };
  }

  async function onPosted(e: Posted["args"], t: number) {
    const id = e.jobId.toString();
    if (state.job(id)) return;
    const why = await misfit(e, t);
    if (why) {
      log.debug({ job: id, why }, "job does not fit");
      return;
    }
    const record = recordOf(e, "posted");
    state.put(record);
    try {
      await exclusive(id, () => claim(record));
    } catch (err) {
      // Transient: the record stays "posted" and the next sync tries again.
      log.warn({ job: id, err: (err as Error).message.split("\n")[0] }, "claim failed; will retry");
    }
  }

  /** Our claim of a job this node has no record of (its state file was lost): adopt it. */
  async function adopt(jobId: bigint) {
    const posted = await client.query(`JobPosted ${jobId}`, (c) =>
      c.getContractEvents({
        address: options.marketplace,
        abi: jobMarketplaceAbi,
        eventName: "JobPosted",
        args: { jobId },
        fromBlock: 0n,
        strict: true,
      }),
    );
    const e = posted[0]?.args;
    if (!e) return;
    state.put(recordOf(e, "claimed"));
    log.info({ job: jobId.toString() }, "adopted a job claimed by this host");
  }

  async function handleLogs(logs: MarketplaceLog[], toBlock: number) {
    const t = logs.length > 0 ? await now() : 0;
    for (const l of logs) {
      switch (l.eventName) {
        case "JobPosted":
          await onPosted(l.args, t);
          break;
        case "JobClaimed": {
          const r = state.job(l.args.jobId);
          if (l.args.host.toLowerCase() === me) {
            if (!r) await adopt(l.args.jobId);
            else if (r.status === "posted") state.update(r.id, { status: "claimed" });
          } else if (r && r.status === "posted") finish(r, { kind: "not_claimed" });
          break;
        }
        case "JobCompleted": {
          const r = state.job(l.args.jobId);
          if (r && r.status !== "done") state.update(r.id, { status: "completed" });
          break;
        }
        case "JobSettled": {
          const r = state.job(l.args.jobId);
          if (r && r.status !== "done" && r.status !== "serving") finish(r, { kind: "settled" });
          break;
        }
        case "JobCancelled":
        case "JobExpired":
        case "JobRefused": {
          const r = state.job(l.args.jobId);
          const status = ENDED_BY[l.eventName];
          if (r && r.status !== "done" && r.status !== "serving")
            finish(r, { kind: "ended", status });
          break;
        }
        default:
          break;
      }
    }
    state.data.checkpoint = toBlock;
    await state.save();
  }

  async function sync() {
    const pending = Object.values(state.data.jobs).filter(
      (r) => r.status !== "done" && r.status !== "serving" && !busy.has(r.id),
    );
    if (pending.length === 0) return;
    const t = await now();
    for (const r of pending) {
      try {
        await exclusive(r.id, () => syncJob(r, t));
      } catch (e) {
        log.warn(
          { job: r.id, err: (e as Error).message.split("\n")[0] },
          "job sync failed; will retry",
        );
      }
    }
    await state.save();
  }

  /**
   * Saves the state, then runs the job's next chain step in the background (tracked, so
   * `idle()` waits for it); a failure is logged and left to the next sync.
   */
  function afterSave(id: string, step: (r: JobRecord) => Promise<void>, failed: string) {
    const record = state.job(id) as JobRecord;
    track(
      state
        .save()
        .then(() => exclusive(id, () => step(record)))
        .catch((e) => log.warn({ job: id, err: (e as Error).message.split("\n")[0] }, failed)),
    );
  }

  async function open(auth: JobAuthorization, request: ServeRequest): Promise<JobLease> {
    const id = auth.jobId;
    const refuse = (code: ConstructorParameters<typeof JobRefusedError>[0], message: string) => {
      options.metrics?.jobs.inc({ outcome: "refused" });
      return new JobRefusedError(code, id, message);
    };
    let r = state.job(id);
    if (r?.status === "posted" && busy.has(id)) {
      // Our claim is in flight: the renter can see it mined before this node has its receipt.
      await busy.get(id)?.catch(() => undefined);
      r = state.job(id);
    }
    if (r?.status === "refusing")
      throw r.refusal === "renter_absent"
        ? refuse(
            "job_expired",
            "the renter did not ask in time; the job is being handed back and refunded",
          )
        : refuse(
            "context_length_exceeded",
            "this job's request does not fit the model's context; the job is being refunded",
          );
    if (r && (r.status === "serving" || r.outputHash !== undefined))
      throw refuse("job_already_served", "this job was already served; one request per job");
    if (r?.status === "done" && r.outcome?.kind === "underfunded")
      throw refuse("underfunded", "the escrow does not hold this job's deposit");
    if (r?.status !== "claimed")
      throw refuse("job_not_claimed", "this host has not claimed the job");
    // Reserve the job now: a concurrent second request with the same authorization is refused.
    state.update(id, { status: "serving" });
    try {
      const job = await chainJob(id);
      if (job.status !== "Claimed" || job.host.toLowerCase() !== me)
        throw refuse("job_not_claimed", `the job is ${job.status} on chain`);
      if ((await now()) > job.timeout) throw refuse("job_expired", "the job's deadline has passed");
      const hash = requestHash(request);
      const signer = await recoverJobAuthorizer(
        domain,
        { jobId: BigInt(id), host: client.account.address, requestHash: hash },
        auth.signature,
      );
      if (!signer) throw refuse("invalid_signature", "the signature is malformed");
      if (signer.toLowerCase() !== job.renter.toLowerCase())
        throw refuse("wrong_renter", "the request is not signed by the job's renter");
      if (hash !== r.promptHash)
        throw refuse("prompt_mismatch", "the request does not match the job's prompt hash");
      let model: `0x${string}` | undefined;
      try {
        model = chainModelId(request.model);
      } catch {}
      if (model?.toLowerCase() !== r.modelId.toLowerCase())
        throw refuse("model_mismatch", "the request names another model than the job");
      if (!(await escrowHolds(r)))
        throw refuse("underfunded", "the escrow does not hold this job's deposit");
    } catch (e) {
      state.update(id, { status: "claimed" });
      throw e;
    }
    await state.save();
    log.info({ job: id }, "serving job");
    let settled = false;
    return {
      maxTokens: r.maxTokens,
      finish: (result: { text: string; usage: Usage; tokenIds?: number[] }) => {
        if (settled) return;
        settled = true;
        state.update(id, {
          status: "served",
          outputHash: outputHash(result.text),
          tokensUsed: result.usage.completionTokens,
        });
        // The job's request hash in its proof's binding is the prompt hash the renter posted
        // (and signed over, checked above): the marketplace does not store it on chain.
        options.proofs?.jobServed(id, {
          modelId: r.modelId,
          requestHash: r.promptHash,
          tokenIds: result.tokenIds,
        });
        afterSave(id, complete, "completion failed; will retry");
      },
      refuse: (error) => {
        if (settled) return;
        settled = true;
        log.info({ job: id, err: error.message }, "the renter's request cannot be served");
        state.update(id, { status: "refusing", refusal: error.code });
        afterSave(id, handBack, "handing the job back failed; will retry");
      },
      fail: (error: unknown) => {
        if (settled) return;
        settled = true;
        // Nothing was delivered in full: the renter may ask again before the deadline.
        log.info({ job: id, err: String(error) }, "job answer interrupted");
        state.update(id, { status: "claimed" });
        track(state.save());
      },
    };
  }

  return {
    open,
    handleLogs,
    sync,
    idle: async () => {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    counts: () => {
      const out: Record<string, number> = {};
      for (const r of Object.values(state.data.jobs)) out[r.status] = (out[r.status] ?? 0) + 1;
      return out;
    },
  };
}

/** On start: a job left "serving" by a killed process was not delivered; the renter may retry. */
export function recoverInterrupted(state: ChainStateStore): number {
  let n = 0;
  for (const r of Object.values(state.data.jobs))
    if (r.status === "serving") {
      state.update(r.id, { status: "claimed" });
      n++;
    }
  return n;
}
