/**
 * The renter's side of the marketplace, shared by the renter CLI, the renter gateway and
 * scripts. One paid request (`run`) goes:
 *   choose a host (discovery API, by price or reputation)
 *   -> post the job with its deposit (JobMarketplace; ETH or an allowed ERC-20)
 *   -> wait for the host's claim (cancelled and refunded if it never comes)
 *   -> sign the EIP-712 job authorization and stream the answer from the host
 *   -> wait for the host's completion and check its output hash and token count
 *   -> accept, which pays host, protocol and stakers and refunds the unused deposit.
 * Each step is an event, so callers show progress and keep the job id. The node never
 * trusts the indexer for money; neither does the renter: job state is read from the chain.
 */
import { randomBytes } from "node:crypto";
import {
  erc20Abi,
  type PrivateKeyAccount,
  parseEventLogs,
  stringToHex,
  toHex,
  zeroAddress,
} from "viem";
import { jobMarketplaceAbi, paymentEscrowAbi, reputationSystemAbi } from "../abis/index.ts";
import {
  type ChainClient,
  ContractRevertError,
  createChainClient,
} from "../protocol/chain-client.ts";
import { evidenceHash, type OutputEvidence } from "../protocol/challenges.ts";
import { outputHash, requestHash } from "../protocol/hashing.ts";
import { signJobAuthorization } from "../protocol/job-auth.ts";
import { type Job, type JobStatus, MAX_JOB_TOKENS, readJob } from "../protocol/jobs.ts";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import { chainModelId } from "../protocol/model-id.ts";
import { type ChatCompletionBody, chatToServeRequest } from "../protocol/openai.ts";
import type { FinishReason, ServeRequest } from "../protocol/wire.ts";
import {
  createDiscoveryClient,
  type Discovery,
  type HostListing,
  tokenAddress,
} from "./discovery.ts";
import {
  HostRequestError,
  HostUnresponsiveError,
  InsufficientFundsError,
  InvalidRequestError,
  JobNotFoundError,
  NoHostError,
  RenterUsageError,
  TransactionRefusedError,
} from "./errors.ts";
import { checkWithHost, streamFromHost } from "./host-stream.ts";
import { createSessionPool, readSessionTerms, type SessionPool } from "./sessions.ts";
import { createSpotChecker } from "./spot-check.ts";
import { createTrustGuard, postEvidence, type TrustGuard } from "./trust.ts";

export interface RenterAddresses {
  JobMarketplace: `0x${string}`;
  PaymentEscrow: `0x${string}`;
  SessionManager: `0x${string}`;
  /** Ratings (rate); without it the renter cannot rate. */
  ReputationSystem?: `0x${string}`;
  /** Output challenges of failed spot-checks; without it a failed check only distrusts the host. */
  ProofSystem?: `0x${string}`;
}

export interface RenterOptions {
  rpcUrl: string;
  chainId: number;
  /** The discovery API (the indexer's HTTP server). */
  apiUrl: string;
  account: PrivateKeyAccount;
  addresses: RenterAddresses;
  logger?: Logger;
  /** How often job state is polled on chain. */
  pollIntervalMs?: number;
  /** How long a host has to claim a posted job before it is cancelled and refunded. */
  claimTimeoutMs?: number;
  /** How long to wait for the host's on-chain completion after the answer arrived. */
  completionTimeoutMs?: number;
  /** Sessions: answers a deposit pays for, lifetime, idle close (renter/sessions.ts). */
  sessions?: { answers?: number; ttlSec?: number; idleCloseMs?: number };
  /**
   * The least on-chain reputation score (0-1000) a host must have, for jobs and sessions: hosts
   * below it are not chosen, and the contracts refuse them (0, the default: any host).
   */
  minScore?: number;
  /**
   * Spot-checks of session answers (renter/trust.ts): the fraction of answers checked by
   * another host serving the model (0..1), and the arbiter that receives a failed check's
   * evidence. Without it nothing is checked.
   */
  spotCheck?: {
    rate: number;
    arbiterUrl?: string;
    /** The sha256 of each model's reference file, by model name (a verifier running another gives no verdict). */
    modelSha256?: Record<string, string>;
    checkpointTimeoutMs?: number;
  };
}

export interface RunOptions {
  /** A host address to use; otherwise the best one by `by`. */
  host?: `0x${string}`;
  by?: "price" | "score";
  /** "ETH" (default) or an allowed ERC-20 address. */
  token?: string;
  /** The most a host may charge per token; default the chosen host's price. */
  maxPricePerToken?: bigint;
  /** Tokens paid for at most; default the request's max_tokens, else 256. */
  maxTokens?: number;
  /** Seconds until the job's deadline. */
  ttlSec?: number;
  /** Accept (pay) once the host's completion matches the answer; default true. */
  accept?: boolean;
  /** The least on-chain score a host must have; default the renter's `minScore`. */
  minScore?: number;
  signal?: AbortSignal;
}

export interface Payment {
  host: bigint;
  treasury: bigint;
  stakers: bigint;
  refund: bigint;
}

export type RunEvent =
  | { type: "host"; host: ReachableHost }
  | { type: "posted"; jobId: bigint; deposit: bigint; token: `0x${string}`; tx: `0x${string}` }
  | { type: "claimed"; jobId: bigint }
  | { type: "token"; text: string }
  | {
      type: "answer";
      jobId: bigint;
      text: string;
      finishReason: FinishReason;
      usage: { promptTokens: number; completionTokens: number };
      cached: boolean;
    }
  | {
      type: "completed";
      jobId: bigint;
      tokensUsed: number;
      /** Whether the host's on-chain output hash and token count match the answer received. */
      verified: boolean;
    }
  | { type: "accepted"; jobId: bigint; tx: `0x${string}`; payment: Payment };

export interface RunResult {
  jobId: bigint;
  host: ReachableHost;
  /** The request as the job's promptHash covers it (what a dispute's evidence reveals). */
  served: ServeRequest;
  text: string;
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
  cached: boolean;
  deposit: bigint;
  token: `0x${string}`;
  verified: boolean;
  /** Set when the job was accepted. */
  payment: Payment | undefined;
}

/** A listed host the renter can pay and reach: it prices the model and serves HTTP. */
export type ReachableHost = HostListing & { httpUrl: string; pricePerToken: string };

const reachable = (h: HostListing): h is ReachableHost =>
  typeof h.httpUrl === "string" && h.httpUrl.length > 0 && h.pricePerToken !== null;

export const RENTER_DEFAULTS = {
  maxTokens: 256,
  ttlSec: 600,
  pollIntervalMs: 200,
  claimTimeoutMs: 60_000,
  completionTimeoutMs: 60_000,
} as const;

export interface Renter {
  readonly address: `0x${string}`;
  readonly discovery: Discovery;
  readonly chain: ChainClient;
  readonly addresses: RenterAddresses;
  /** Chat on sessions (the default): one deposit, many answers, no transaction per answer. */
  readonly sessions: SessionPool;
  /** The spot-checks of session answers, when `spotCheck` was given. */
  readonly trust: TrustGuard | undefined;
  /** Hosts for a model, best first (cheapest for "price", best reputation for "score"). */
  chooseHost: (model: string, by: "price" | "score", token?: string) => Promise<ReachableHost>;
  /** Runs one paid request, step by step. */
  run: (body: ChatCompletionBody, options?: RunOptions) => AsyncGenerator<RunEvent, RunResult>;
  /**
   * A job as the chain has it (protocol/jobs.ts: the ABI's getJob shape with its status by
   * label). `pricePerToken` is the renter's maximum until a host claims, the host's price
   * after; `timeout` is the deadline while Posted or Claimed, the end of the dispute window
   * once Completed, the arbitration deadline once Disputed. While Claimed, `tokensUsed` is the
   * claim's time (unix seconds).
   */
  job: (id: bigint) => Promise<Job>;
  /** The host's completion as its JobCompleted event states it, if it completed. */
  completion: (
    id: bigint,
  ) => Promise<{ outputHash: `0x${string}`; tokensUsed: bigint } | undefined>;
  accept: (id: bigint) => Promise<{ tx: `0x${string}`; payment: Payment }>;
  /** Disputes a completed job, locking the dispute bond (`bond`, in `token`). */
  dispute: (
    id: bigint,
    reason: string,
  ) => Promise<{ tx: `0x${string}`; bond: bigint; token: `0x${string}` }>;
  cancel: (id: bigint) => Promise<{ tx: `0x${string}` }>;
  /**
   * Disputes a completed job and sends its evidence (request and answer) to the arbiter, which
   * re-checks the answer with other hosts and decides (renter/trust.ts, docs/trust.md).
   */
  disputeAnswer: (
    id: bigint,
    a: { model: string; served: ServeRequest; answer: string; arbiterUrl: string },
  ) => Promise<{ tx: `0x${string}`; bond: bigint; token: `0x${string}`; evidenceSent: boolean }>;
  /** Takes back a claimed job its host did not complete or hand back in time (refund). */
  expire: (id: bigint) => Promise<{ tx: `0x${string}` }>;
  /** Rates a settled job or session of this renter once (1-5 stars, weighted by its price). */
  rate: (
    kind: "job" | "session",
    id: bigint,
    stars: number,
  ) => Promise<{
    tx: `0x${string}`;
    host: `0x${string}` | undefined;
    weight: bigint;
    score: number | undefined;
  }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createRenter(options: RenterOptions): Renter {
  const log = (options.logger ?? silentLogger).child({ component: "renter" });
  const poll = options.pollIntervalMs ?? RENTER_DEFAULTS.pollIntervalMs;
  const chain = createChainClient({
    rpcUrl: options.rpcUrl,
    chainId: options.chainId,
    account: options.account,
    logger: options.logger,
    pollingIntervalMs: poll,
  });
  const discovery = createDiscoveryClient(options.apiUrl);
  const { JobMarketplace: marketplace, PaymentEscrow: escrow } = options.addresses;
  const me = options.account.address;

  async function send(
    what: string,
    jobId: bigint | undefined,
    call: Parameters<ChainClient["send"]>[1],
  ) {
    try {
      return await chain.send(what, call);
    } catch (e) {
      if (e instanceof ContractRevertError)
        throw new TransactionRefusedError(what, jobId, e.errorName ?? e.message, e);
      throw e;
    }
  }

  async function job(id: bigint): Promise<Job> {
    const j = await readJob(chain, marketplace, id);
    if (j.status === "None") throw new JobNotFoundError(id);
    return j;
  }

  async function completion(id: bigint) {
    const [e] = await chain.query(`JobCompleted ${id}`, (c) =>
      c.getContractEvents({
        address: marketplace,
        abi: jobMarketplaceAbi,
        eventName: "JobCompleted",
        args: { jobId: id },
        fromBlock: 0n,
      }),
    );
    return e
      ? { outputHash: e.args.outputHash as `0x${string}`, tokensUsed: e.args.tokensUsed as bigint }
      : undefined;
  }

  async function until(
    id: bigint,
    statuses: JobStatus[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Job | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const j = await job(id);
      if (statuses.includes(j.status)) return j;
      if (Date.now() > end || signal?.aborted) return undefined;
      await sleep(poll);
    }
  }

  async function chooseHost(
    model: string,
    by: "price" | "score",
    token?: string,
    minScore = options.minScore ?? 0,
  ): Promise<ReachableHost> {
    // The API filters by the minimum score, so qualifying hosts past the cheapest 20 are found.
    const hosts = await discovery.hosts({
      model,
      sort: by,
      token,
      limit: 20,
      ...(minScore > 0 ? { minScore } : {}),
    });
    // A host reachable over HTTP, and (for "score") one that actually offers the model.
    const best = hosts.filter(reachable).find((h) => h.score >= minScore);
    if (!best)
      throw new NoHostError(
        `no eligible host serves ${model} for ${token ?? "ETH"}${minScore > 0 ? ` with a score of at least ${minScore}` : ""}`,
      );
    return best;
  }

  function paymentOf(receipt: Awaited<ReturnType<ChainClient["send"]>>): Payment {
    const [released] = parseEventLogs({
      abi: paymentEscrowAbi,
      eventName: "PaymentReleased",
      logs: receipt.logs.filter((l) => l.address.toLowerCase() === escrow.toLowerCase()),
    });
    if (!released) throw new Error("the settlement emitted no PaymentReleased");
    const a = released.args;
    return {
      host: a.hostAmount,
      treasury: a.treasuryAmount,
      stakers: a.stakersAmount,
      refund: a.refund,
    };
  }

  /** Sends one of the renter's JobMarketplace transactions for job `id`. */
  function jobTx(
    functionName: "acceptJob" | "cancelJob" | "expireJob",
    id: bigint,
    extra: readonly unknown[] = [],
  ) {
    return send(functionName, id, {
      address: marketplace,
      abi: jobMarketplaceAbi,
      functionName,
      args: [id, ...extra],
    });
  }

  async function accept(id: bigint) {
    const receipt = await jobTx("acceptJob", id);
    return { tx: receipt.transactionHash, payment: paymentOf(receipt) };
  }

  async function* run(
    body: ChatCompletionBody,
    opts: RunOptions = {},
  ): AsyncGenerator<RunEvent, RunResult> {
    const request = chatToServeRequest(body);
    const asked = opts.maxTokens ?? body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const param = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
    // Bad input is refused here, before anything is posted or paid.
    if (asked !== undefined && (!Number.isInteger(asked) || asked < 1))
      throw new InvalidRequestError(`${param} must be a whole number of at least 1`, param);
    if (asked !== undefined && asked > MAX_JOB_TOKENS)
      throw new InvalidRequestError(
        `${param} is ${asked}; a marketplace job pays for at most ${MAX_JOB_TOKENS} tokens`,
        param,
      );
    const token = tokenAddress(opts.token);
    const host = opts.host
      ? await hostByAddress(opts.host, body.model, token)
      : await chooseHost(body.model, opts.by ?? "price", opts.token, opts.minScore);
    yield { type: "host", host };
    if (asked !== undefined && host.contextLength !== null && asked >= host.contextLength)
      throw new InvalidRequestError(
        `${param} is ${asked}; ${body.model} on host ${host.address} has a context of ${host.contextLength} tokens for the prompt and the answer together`,
        param,
      );
    // The host measures the prompt (free, no job): one that cannot fit is refused now.
    const room = await checkWithHost(host.httpUrl, body, opts.signal);
    if (room && asked !== undefined && asked > room.maxTokens)
      throw new InvalidRequestError(
        `${param} is ${asked}, but after the prompt's ${room.promptTokens} tokens ${body.model}'s context of ${room.contextLength} leaves room for ${room.maxTokens}`,
        param,
        "context_length_exceeded",
      );
    const maxTokens = asked ?? Math.min(RENTER_DEFAULTS.maxTokens, room?.maxTokens ?? Infinity);
    const price = opts.maxPricePerToken ?? BigInt(host.pricePerToken);
    const deposit = BigInt(maxTokens) * price;
    await ensureFunds(token, deposit);
    const now = (await chain.query("block", (c) => c.getBlock())).timestamp;
    const jobRequest = {
      modelId: chainModelId(body.model),
      promptHash: requestHash(request),
      token,
      maxTokens,
      maxPricePerToken: price,
      deadline: now + BigInt(opts.ttlSec ?? RENTER_DEFAULTS.ttlSec),
      host: host.address,
      minScore: opts.minScore ?? options.minScore ?? 0,
    };
    if (token !== zeroAddress) await approve(token, deposit);
    const posted = await send("postJob", undefined, {
      address: marketplace,
      abi: jobMarketplaceAbi,
      functionName: "postJob",
      args: [jobRequest],
      value: token === zeroAddress ? deposit : 0n,
    });
    const [event] = parseEventLogs({
      abi: jobMarketplaceAbi,
      eventName: "JobPosted",
      logs: posted.logs,
    });
    if (!event) throw new Error("postJob emitted no JobPosted");
    const jobId = event.args.jobId;
    log.info(
      { job: jobId.toString(), host: host.address, deposit: deposit.toString() },
      "job posted",
    );
    yield { type: "posted", jobId, deposit, token, tx: posted.transactionHash };

    const claimed = await until(
      jobId,
      ["Claimed", "Cancelled", "Expired"],
      options.claimTimeoutMs ?? RENTER_DEFAULTS.claimTimeoutMs,
      opts.signal,
    );
    if (claimed?.status !== "Claimed") {
      // Posted jobs can be cancelled by their renter: the deposit comes back.
      await cancel(jobId).catch((e) =>
        log.warn({ job: jobId.toString(), err: String(e) }, "cancel failed"),
      );
      throw new HostUnresponsiveError(
        jobId,
        `host ${host.address} did not claim job ${jobId} in time; the job was cancelled and refunded`,
      );
    }
    yield { type: "claimed", jobId };

    const signature = await signJobAuthorization(
      options.account,
      { chainId: options.chainId, marketplace },
      { jobId, host: host.address, requestHash: jobRequest.promptHash },
    );
    let answer: Extract<RunEvent, { type: "answer" }> | undefined;
    try {
      for await (const e of streamFromHost(
        host.httpUrl,
        body,
        { kind: "job", jobId, signature },
        opts.signal,
      )) {
        if (e.type === "token") yield e;
        else answer = { ...e, type: "answer", jobId };
      }
    } catch (e) {
      if (!(e instanceof HostRequestError && e.hostCode === "context_length_exceeded")) throw e;
      // The host hands such a job back on chain: wait for the refund, then say what was wrong.
      const refunded = await until(
        jobId,
        ["Refused", "Expired"],
        options.completionTimeoutMs ?? RENTER_DEFAULTS.completionTimeoutMs,
      );
      throw new InvalidRequestError(
        `${e.message}; job ${jobId} ${refunded ? "was refunded" : "will be refunded when the host hands it back or at its deadline"}`,
        "messages",
        "context_length_exceeded",
        jobId,
      );
    }
    if (!answer) throw new Error("the host's stream ended without an answer");
    yield answer;

    const completed = await until(
      jobId,
      ["Completed", "Settled"],
      options.completionTimeoutMs ?? RENTER_DEFAULTS.completionTimeoutMs,
      opts.signal,
    );
    const claim = completed ? await completion(jobId) : undefined;
    const verified =
      claim !== undefined &&
      claim.outputHash.toLowerCase() === outputHash(answer.text).toLowerCase() &&
      claim.tokensUsed === BigInt(answer.usage.completionTokens);
    yield { type: "completed", jobId, tokensUsed: completed?.tokensUsed ?? 0, verified };
    let payment: Payment | undefined;
    if (verified && opts.accept !== false && completed?.status === "Completed") {
      const accepted = await accept(jobId);
      payment = accepted.payment;
      yield { type: "accepted", jobId, tx: accepted.tx, payment };
    } else if (!verified)
      log.warn(
        { job: jobId.toString() },
        "the host's completion does not match the answer; not accepted",
      );
    return {
      jobId,
      host,
      served: request,
      text: answer.text,
      finishReason: answer.finishReason,
      usage: answer.usage,
      cached: answer.cached,
      deposit,
      token,
      verified,
      payment,
    };
  }

  async function hostByAddress(address: `0x${string}`, model: string, token: `0x${string}`) {
    const hosts = await discovery.hosts({ model, token, sort: "price", limit: 100 });
    const found = hosts.find((h) => h.address.toLowerCase() === address.toLowerCase());
    if (!found) throw new NoHostError(`host ${address} does not serve ${model} for ${token}`);
    if (!reachable(found))
      throw new NoHostError(`host ${address} has no HTTP endpoint or no price for ${model}`);
    return found;
  }

  /** Refuses a deposit the renter's wallet cannot cover, before any transaction. */
  async function ensureFunds(token: `0x${string}`, deposit: bigint) {
    const balance =
      token === zeroAddress
        ? await chain.query("balance", (c) => c.getBalance({ address: me }))
        : await chain.read("balanceOf", {
            address: token,
            abi: erc20Abi,
            functionName: "balanceOf",
            args: [me],
          });
    if (balance < deposit)
      throw new InsufficientFundsError(
        `the deposit is ${deposit} (max tokens x price) of ${token === zeroAddress ? "wei" : `token ${token}`}, but the wallet ${me} holds ${balance}`,
      );
  }

  async function approve(token: `0x${string}`, amount: bigint) {
    const allowance = await chain.read("allowance", {
      address: token,
      abi: erc20Abi,
      functionName: "allowance",
      args: [me, escrow],
    });
    if (allowance >= amount) return;
    await send("approve", undefined, {
      address: token,
      abi: erc20Abi,
      functionName: "approve",
      args: [escrow, amount],
    });
  }

  async function cancel(id: bigint) {
    return { tx: (await jobTx("cancelJob", id)).transactionHash };
  }

  /**
   * Disputes a completed job: locks the dispute bond (a share of the job's payment, in its
   * token) that the arbiter returns if the renter is right (see docs/trust.md).
   */
  async function dispute(id: bigint, reason: string) {
    if (Buffer.byteLength(reason) > 32)
      throw new RenterUsageError("a dispute reason is at most 32 bytes (it is stored as bytes32)");
    return disputeWith(id, stringToHex(reason, { size: 32 }));
  }

  /**
   * Disputes a completed job with the evidence for the arbiter: the request and the answer,
   * whose hash is the dispute's reason (protocol/challenges.ts). The arbiter re-checks the
   * answer with other hosts: if it is the model's, the host is paid and keeps the bond.
   */
  async function disputeAnswer(
    id: bigint,
    a: { model: string; served: ServeRequest; answer: string; arbiterUrl: string },
  ) {
    const evidence: OutputEvidence = {
      v: 1,
      chainId: options.chainId,
      proofSystem: options.addresses.ProofSystem ?? zeroAddress,
      work: "job",
      id: id.toString(),
      model: a.model,
      request: { messages: a.served.messages ?? [], params: a.served.params ?? {} },
      answer: a.answer,
      salt: toHex(randomBytes(32)),
    };
    const r = await disputeWith(id, evidenceHash(evidence));
    const evidenceSent = await postEvidence(a.arbiterUrl, "dispute", id, evidence, options.logger);
    return { ...r, evidenceSent };
  }

  async function disputeWith(id: bigint, reason: `0x${string}`) {
    const j = await job(id);
    const bond = await chain.read("disputeBondOf", {
      address: marketplace,
      abi: jobMarketplaceAbi,
      functionName: "disputeBondOf",
      args: [id],
    });
    if (bond > 0n) {
      await ensureFunds(j.token, bond);
      if (j.token !== zeroAddress) await approve(j.token, bond);
    }
    const r = await send("disputeJob", id, {
      address: marketplace,
      abi: jobMarketplaceAbi,
      functionName: "disputeJob",
      args: [id, reason],
      value: j.token === zeroAddress ? bond : 0n,
    });
    return { tx: r.transactionHash, bond, token: j.token };
  }

  /** Takes back a job its host claimed and neither completed nor handed back in time. */
  async function expire(id: bigint) {
    await job(id);
    return { tx: (await jobTx("expireJob", id)).transactionHash };
  }

  /** Rates a settled job or session of this renter, once: 1 to 5 stars. */
  async function rate(kind: "job" | "session", id: bigint, stars: number) {
    const reputation = options.addresses.ReputationSystem;
    if (!reputation) throw new RenterUsageError("no ReputationSystem address is known");
    if (!Number.isInteger(stars) || stars < 1 || stars > 5)
      throw new RenterUsageError(`stars are 1 to 5, got ${stars}`);
    const r =
      kind === "job"
        ? await send("rateJob", id, {
            address: reputation,
            abi: reputationSystemAbi,
            functionName: "rateJob",
            args: [id, stars],
          })
        : await send("rateSession", undefined, {
            address: reputation,
            abi: reputationSystemAbi,
            functionName: "rateSession",
            args: [await readSessionTerms(chain, options.addresses.SessionManager, id), id, stars],
          });
    const [rated] = parseEventLogs({ abi: reputationSystemAbi, eventName: "Rated", logs: r.logs });
    return {
      tx: r.transactionHash,
      host: rated?.args.host,
      weight: rated?.args.weight ?? 0n,
      score: rated?.args.score,
    };
  }

  const sessions = createSessionPool({
    chain,
    account: options.account,
    chainId: options.chainId,
    sessions: options.addresses.SessionManager,
    escrow,
    hosts: async (model, token) =>
      (
        await discovery.hosts({
          model,
          sort: "price",
          token,
          limit: 20,
          ...(options.minScore ? { minScore: options.minScore } : {}),
        })
      )
        .filter(reachable)
        .filter((h) => h.score >= (options.minScore ?? 0)),
    ensureFunds,
    minScore: options.minScore,
    ...options.sessions,
    logger: options.logger,
  });

  const trust: TrustGuard | undefined = options.spotCheck
    ? createTrustGuard({
        chain,
        chainId: options.chainId,
        sessions,
        sessionManager: options.addresses.SessionManager,
        approve,
        proofSystem: options.addresses.ProofSystem,
        arbiterUrl: options.spotCheck.arbiterUrl,
        checkpointTimeoutMs: options.spotCheck.checkpointTimeoutMs,
        modelSha256: options.spotCheck.modelSha256,
        checker: createSpotChecker({
          rate: options.spotCheck.rate,
          // A host caught here judges no one else's answers.
          verifiers: async (model) =>
            (await discovery.hosts({ model, sort: "score", limit: 20 }))
              .filter(reachable)
              .filter((h) => !trust?.caught(h.address)),
        }),
        logger: options.logger,
      })
    : undefined;

  return {
    address: me,
    discovery,
    chain,
    addresses: options.addresses,
    sessions,
    trust,
    chooseHost,
    run,
    job,
    completion,
    accept,
    dispute,
    disputeAnswer,
    cancel,
    expire,
    rate,
  };
}

/** Runs a request to the end, ignoring progress. */
export async function runToEnd(gen: AsyncGenerator<RunEvent, RunResult>): Promise<RunResult> {
  for (;;) {
    const next = await gen.next();
    if (next.done) return next.value;
  }
}
