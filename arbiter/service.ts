/**
 * The arbiter: decides output challenges (ProofSystem) and job disputes (JobMarketplace) by
 * re-executing the evidence the challenger revealed to it, and only to it.
 *
 * Who resolves, and why (docs/trust.md): a key holding ARBITER_ROLE on both contracts (the
 * deployer's now, governance's once it exists) runs this service. It does not judge by itself:
 * it asks hosts that serve the same model, other than the accused host and the challenger, for
 * the teacher-forced check (`POST /v1/verify`, protocol/verify.ts) and follows their majority.
 * A committee voting on chain would remove the trusted key, but needs commit-reveal votes and
 * paying and slashing the voters; until governance (issue 14) exists this is the honest
 * middle: every decision is reproducible by anyone the evidence is shown to, and a challenge no
 * arbiter decides ends by the contracts' default (bond returned, nobody slashed).
 *
 * Before re-executing, the evidence is checked against the chain: its hash must be the
 * challenge's evidenceHash (or the dispute's reason), and the request and answer must be what
 * the host committed to (protocol/challenges.ts). Evidence that does not match is refused with
 * a clear error, never decided on.
 *
 *   POST /v1/challenges/:id/evidence   the evidence of an open output challenge
 *   POST /v1/disputes/:jobId/evidence  the evidence of a disputed job (hash = the dispute's reason)
 *   GET  /v1/challenges/:id            the arbiter's record: pending, verdicts, decision, tx
 *   GET  /v1/disputes/:jobId
 *   GET  /health
 *
 * Evidence and decisions are kept in `dataDir` (one JSON file per case): a restarted arbiter
 * resumes the cases it had not decided.
 */
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Address, Hex } from "viem";
import { jobMarketplaceAbi, proofSystemAbi, sessionManagerAbi } from "../abis/index.ts";
import { type ChainClient, ContractRevertError } from "../protocol/chain-client.ts";
import {
  evidenceHash,
  evidenceMismatch,
  type OutputEvidence,
  outputEvidenceSchema,
  type WorkCommitment,
} from "../protocol/challenges.ts";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import { chainModelId, hashOfModelId } from "../protocol/model-id.ts";
import { askVerifier, type CheckResult, verifyCutoffs } from "../protocol/verify.ts";
import { errorObject } from "../protocol/wire-errors.ts";

export interface VerifierHost {
  address: string;
  httpUrl: string;
}

export interface ArbiterOptions {
  /** A key with ARBITER_ROLE on the ProofSystem (challenges) and the JobMarketplace (disputes). */
  chain: ChainClient;
  chainId: number;
  addresses: { ProofSystem: Address; SessionManager: Address; JobMarketplace: Address };
  /** Hosts that serve `model` (the discovery API's listing, say). */
  verifiers: (model: string) => Promise<VerifierHost[]>;
  /**
   * The sha256 of each model's reference file, by model name: a verifier that ran another
   * file gives no verdict. Models named `sha256:<hex>` carry their own. Without either, any
   * file the verifiers run counts (say so: a verifier reports its file's hash itself).
   */
  modelSha256?: Record<string, string>;
  dataDir: string;
  /** Verdicts to collect per case (fewer if fewer hosts can check); default 3. */
  verdicts?: number;
  /** How often undecided cases are retried (no verifier answered yet); default 30 s. */
  retryMs?: number;
  verifierTimeoutMs?: number;
  logger?: Logger;
}

export type CaseKind = "challenge" | "dispute";

/** One case as the arbiter keeps it. The evidence never leaves the arbiter through the API. */
export interface ArbiterCase {
  kind: CaseKind;
  /** The challenge id or the job id. */
  id: string;
  host: Address;
  /** The party the decision is against if it goes for the host. */
  challenger: Address;
  /** Unix seconds: after it the contracts' default applies and nothing can be decided. */
  deadline: number;
  evidence: OutputEvidence;
  receivedAt: number;
  verdicts: {
    verifier: string;
    outcome: CheckResult["outcome"];
    missRate?: number;
    modelSha256?: string;
    detail?: string;
  }[];
  status: "pending" | "upheld" | "rejected" | "expired" | "closed";
  /** Why the last attempt did not decide. */
  note?: string;
  tx?: Hex;
}

export interface Arbiter {
  app: Hono;
  /** Decides every pending case once (the timer calls it; tests may too). */
  work: () => Promise<void>;
  get: (kind: CaseKind, id: string) => ArbiterCase | undefined;
  stop: () => Promise<void>;
}

/** Why evidence was refused; `status` is the HTTP status. */
export class EvidenceError extends Error {
  readonly status: 400 | 404 | 409 | 422;
  readonly code: string;
  constructor(status: 400 | 404 | 409 | 422, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const CHALLENGE_KIND_OUTPUT = 1;
const CHALLENGE_STATUS_OPEN = 1;
const WORK = ["job", "session"] as const;
const JOB_STATUS_DISPUTED = 4;

export async function createArbiter(o: ArbiterOptions): Promise<Arbiter> {
  const log = (o.logger ?? silentLogger).child({ component: "arbiter" });
  const wanted = o.verdicts ?? 3;
  const cases = new Map<string, ArbiterCase>();
  const keyOf = (kind: CaseKind, id: string) => `${kind}-${id}`;
  await mkdir(o.dataDir, { recursive: true });
  for (const f of await readdir(o.dataDir)) {
    if (!f.endsWith(".json")) continue;
    const c = JSON.parse(await readFile(path.join(o.dataDir, f), "utf8")) as ArbiterCase;
    cases.set(keyOf(c.kind, c.id), c);
  }

  async function save(c: ArbiterCase) {
    const file = path.join(o.dataDir, `${keyOf(c.kind, c.id)}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(c, null, 2));
    await rename(`${file}.tmp`, file);
  }

  async function sessionDigests(sessionId: bigint): Promise<Hex[]> {
    const logs = await o.chain.query(`SessionCheckpointed ${sessionId}`, (c) =>
      c.getContractEvents({
        address: o.addresses.SessionManager,
        abi: sessionManagerAbi,
        eventName: "SessionCheckpointed",
        args: { sessionId },
        fromBlock: 0n,
      }),
    );
    return logs.map((l) => l.args.digest as Hex);
  }

  async function jobCommitment(jobId: bigint): Promise<WorkCommitment> {
    const [posted] = await o.chain.query(`JobPosted ${jobId}`, (c) =>
      c.getContractEvents({
        address: o.addresses.JobMarketplace,
        abi: jobMarketplaceAbi,
        eventName: "JobPosted",
        args: { jobId },
        fromBlock: 0n,
      }),
    );
    const [completed] = await o.chain.query(`JobCompleted ${jobId}`, (c) =>
      c.getContractEvents({
        address: o.addresses.JobMarketplace,
        abi: jobMarketplaceAbi,
        eventName: "JobCompleted",
        args: { jobId },
        fromBlock: 0n,
      }),
    );
    if (!posted || !completed)
      throw new EvidenceError(404, "job_not_found", `job ${jobId} was not posted and completed`);
    return {
      work: "job",
      promptHash: posted.args.promptHash as Hex,
      outputHash: completed.args.outputHash as Hex,
    };
  }

  function parseEvidence(raw: unknown, work: "job" | "session"): OutputEvidence {
    const parsed = outputEvidenceSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new EvidenceError(
        400,
        "invalid_request",
        `malformed evidence: ${issue?.path.join(".") || "body"}: ${issue?.message}`,
      );
    }
    const e = parsed.data;
    if (e.chainId !== o.chainId)
      throw new EvidenceError(
        422,
        "wrong_chain",
        `evidence for chain ${e.chainId}, not ${o.chainId}`,
      );
    if (e.work !== work)
      throw new EvidenceError(422, "evidence_mismatch", `the evidence is about a ${e.work}`);
    return e;
  }

  /** Checks an output challenge's evidence against the chain and opens the case. */
  async function receiveChallenge(id: bigint, raw: unknown): Promise<ArbiterCase> {
    const c = await o.chain.read(`challengeOf ${id}`, {
      address: o.addresses.ProofSystem,
      abi: proofSystemAbi,
      functionName: "challengeOf",
      args: [id],
    });
    if (c.kind !== CHALLENGE_KIND_OUTPUT || c.status !== CHALLENGE_STATUS_OPEN)
      throw new EvidenceError(409, "not_open", `challenge ${id} is not an open output challenge`);
    const work = WORK[c.work] ?? "job";
    const e = parseEvidence(raw, work);
    if (e.proofSystem.toLowerCase() !== o.addresses.ProofSystem.toLowerCase())
      throw new EvidenceError(422, "evidence_mismatch", "the evidence names another ProofSystem");
    if (e.id !== c.id.toString())
      throw new EvidenceError(
        422,
        "evidence_mismatch",
        `the evidence is about ${work} ${e.id}, the challenge ${work} ${c.id}`,
      );
    if (evidenceHash(e) !== c.evidenceHash)
      throw new EvidenceError(
        422,
        "evidence_mismatch",
        "the evidence does not hash to the challenge's evidenceHash",
      );
    if (chainModelId(e.model) !== c.modelId)
      throw new EvidenceError(422, "evidence_mismatch", `${e.model} is not the work's model`);
    const commitment =
      work === "session"
        ? ({ work, digests: await sessionDigests(c.id) } as const)
        : await jobCommitment(c.id);
    const mismatch = evidenceMismatch(e, commitment);
    if (mismatch) throw new EvidenceError(422, "evidence_mismatch", mismatch);
    return {
      kind: "challenge",
      id: id.toString(),
      host: c.host,
      challenger: c.challenger,
      deadline: Number(c.deadline),
      evidence: e,
      receivedAt: Date.now(),
      verdicts: [],
      status: "pending",
    };
  }

  /** Checks a disputed job's evidence (its hash is the dispute's reason) and opens the case. */
  async function receiveDispute(jobId: bigint, raw: unknown): Promise<ArbiterCase> {
    const [job, modelId] = await o.chain.read(`getJob ${jobId}`, {
      address: o.addresses.JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "getJob",
      args: [jobId],
    });
    if (job.status !== JOB_STATUS_DISPUTED)
      throw new EvidenceError(409, "not_open", `job ${jobId} is not disputed`);
    const e = parseEvidence(raw, "job");
    if (e.id !== jobId.toString())
      throw new EvidenceError(422, "evidence_mismatch", `the evidence is about job ${e.id}`);
    const [disputed] = await o.chain.query(`JobDisputed ${jobId}`, (c) =>
      c.getContractEvents({
        address: o.addresses.JobMarketplace,
        abi: jobMarketplaceAbi,
        eventName: "JobDisputed",
        args: { jobId },
        fromBlock: 0n,
      }),
    );
    if (!disputed || evidenceHash(e) !== disputed.args.reason)
      throw new EvidenceError(
        422,
        "evidence_mismatch",
        "the evidence does not hash to the dispute's reason",
      );
    if (chainModelId(e.model) !== modelId)
      throw new EvidenceError(422, "evidence_mismatch", `${e.model} is not the job's model`);
    const mismatch = evidenceMismatch(e, await jobCommitment(jobId));
    if (mismatch) throw new EvidenceError(422, "evidence_mismatch", mismatch);
    return {
      kind: "dispute",
      id: jobId.toString(),
      host: job.host,
      challenger: disputed.args.renter as Address,
      deadline: Number(job.timeout),
      evidence: e,
      receivedAt: Date.now(),
      verdicts: [],
      status: "pending",
    };
  }

  /** Collects verdicts from hosts other than the accused and the challenger. */
  async function collect(c: ArbiterCase) {
    const exclude = new Set([c.host.toLowerCase(), c.challenger.toLowerCase()]);
    // A verifier that gave a verdict is not asked again; one that could not check is, later.
    for (const v of c.verdicts)
      if (v.outcome !== "unchecked") exclude.add(v.verifier.toLowerCase());
    const decided = () => c.verdicts.filter((v) => v.outcome !== "unchecked").length;
    const candidates = (await o.verifiers(c.evidence.model)).filter(
      (v) => !exclude.has(v.address.toLowerCase()),
    );
    const { topK, topP } = verifyCutoffs(c.evidence.request.params);
    for (const v of candidates) {
      if (decided() >= wanted) break;
      const r = await askVerifier(
        v.httpUrl,
        {
          model: c.evidence.model,
          messages: c.evidence.request.messages,
          answer: c.evidence.answer,
          top_k: topK,
          top_p: topP,
        },
        {
          timeoutMs: o.verifierTimeoutMs,
          modelSha256: hashOfModelId(c.evidence.model) ?? o.modelSha256?.[c.evidence.model],
        },
      );
      // Keep one entry per verifier: its verdict, or why it could not check the last time.
      c.verdicts = c.verdicts.filter((x) => x.verifier.toLowerCase() !== v.address.toLowerCase());
      c.verdicts.push(
        r.outcome === "unchecked"
          ? { verifier: v.address, outcome: r.outcome, detail: `${r.reason}: ${r.detail}` }
          : {
              verifier: v.address,
              outcome: r.outcome,
              missRate: r.check.miss_rate,
              modelSha256: r.check.model_sha256,
            },
      );
    }
  }

  /** Works one case as far as it goes now. */
  async function decide(c: ArbiterCase) {
    if (c.status !== "pending") return;
    // Deadlines are the chain's time, not this machine's.
    const now = (await o.chain.query("latest block", (client) => client.getBlock())).timestamp;
    if (now > BigInt(c.deadline)) {
      // Anyone may apply the default once the deadline passed: the arbiter does, so the bond
      // and the payment do not wait for someone to ask.
      c.status = "expired";
      c.note = "the deadline passed before a decision: the contracts' default applies";
      try {
        const tx =
          c.kind === "challenge"
            ? await o.chain.send("settleOutputChallenge", {
                address: o.addresses.ProofSystem,
                abi: proofSystemAbi,
                functionName: "settleOutputChallenge",
                args: [BigInt(c.id)],
              })
            : await o.chain.send("settleDispute", {
                address: o.addresses.JobMarketplace,
                abi: jobMarketplaceAbi,
                functionName: "settleDispute",
                args: [BigInt(c.id)],
              });
        c.tx = tx.transactionHash;
      } catch (e) {
        const name = e instanceof ContractRevertError ? (e.errorName ?? e.message) : String(e);
        // The chain's clock is behind ours, or the RPC failed: try again on the next round.
        if (!(e instanceof ContractRevertError) || name.endsWith("ArbitrationOpen")) {
          c.status = "pending";
          c.note = `applying the default failed, will retry: ${name}`;
        } else c.note += ` (already applied: ${name})`;
      }
      return save(c);
    }
    await collect(c);
    const checked = c.verdicts.filter((v) => v.outcome !== "unchecked");
    if (checked.length === 0) {
      c.note = "no verifier gave a verdict yet: retrying";
      return save(c);
    }
    // The majority decides; a tie goes to the host (the challenge must show the cheat).
    const failed = checked.filter((v) => v.outcome === "failed").length;
    const upheld = failed * 2 > checked.length;
    try {
      const tx =
        c.kind === "challenge"
          ? await o.chain.send("resolveOutputChallenge", {
              address: o.addresses.ProofSystem,
              abi: proofSystemAbi,
              functionName: "resolveOutputChallenge",
              args: [BigInt(c.id), upheld],
            })
          : await o.chain.send("resolveDispute", {
              address: o.addresses.JobMarketplace,
              abi: jobMarketplaceAbi,
              functionName: "resolveDispute",
              // For the renter: refund in full; for the host: pay in full.
              args: [BigInt(c.id), upheld ? 0 : 10_000],
            });
      c.status = upheld ? "upheld" : "rejected";
      c.tx = tx.transactionHash;
      c.note = undefined;
      log.info(
        { kind: c.kind, id: c.id, host: c.host, upheld, failed, verdicts: checked.length },
        "decided",
      );
    } catch (e) {
      // Settled by someone else (the default after the deadline) or resolved already.
      if (e instanceof ContractRevertError) {
        c.status = "closed";
        c.note = `the contract refused the decision: ${e.errorName ?? e.message}`;
      } else c.note = `sending the decision failed: ${String(e)}`;
      log.warn({ kind: c.kind, id: c.id, err: c.note }, "decision not sent");
    }
    await save(c);
  }

  let working: Promise<void> | undefined;
  async function work() {
    // One pass at a time: a case is never decided twice concurrently.
    while (working) await working;
    working = (async () => {
      for (const c of cases.values())
        await decide(c).catch((e) => log.error({ id: c.id, err: String(e) }, "case failed"));
    })();
    try {
      await working;
    } finally {
      working = undefined;
    }
  }

  const timer = setInterval(() => void work(), o.retryMs ?? 30_000);
  timer.unref();

  const app = new Hono();
  app.onError((e, c) => {
    if (e instanceof EvidenceError) return c.json(errorObject(e.code, e.message), e.status);
    log.error({ err: e instanceof Error ? e.stack : String(e) }, "request failed");
    return c.json(errorObject("internal", "internal error"), 500);
  });
  app.notFound((c) =>
    c.json(errorObject("not_found", `no route ${c.req.method} ${c.req.path}`), 404),
  );
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      arbiter: o.chain.account.address,
      pending: [...cases.values()].filter((x) => x.status === "pending").length,
    }),
  );

  const idParam = (raw: string) => {
    if (!/^\d{1,78}$/.test(raw))
      throw new EvidenceError(400, "invalid_request", `not an id: ${raw}`);
    return BigInt(raw);
  };
  const limit = bodyLimit({
    maxSize: 4 << 20,
    onError: (c) => c.json(errorObject("request_too_large", "the evidence is too large"), 413),
  });

  for (const kind of ["challenge", "dispute"] as const) {
    const route = kind === "challenge" ? "/v1/challenges/:id" : "/v1/disputes/:id";
    app.post(`${route}/evidence`, limit, async (c) => {
      const id = idParam(c.req.param("id"));
      const known = cases.get(keyOf(kind, id.toString()));
      if (known) return c.json(publicCase(known), 200);
      let raw: unknown;
      try {
        raw = await c.req.json();
      } catch {
        throw new EvidenceError(400, "invalid_request", "the body is not JSON");
      }
      const fresh =
        kind === "challenge" ? await receiveChallenge(id, raw) : await receiveDispute(id, raw);
      cases.set(keyOf(kind, fresh.id), fresh);
      await save(fresh);
      log.info({ kind, id: fresh.id, host: fresh.host }, "evidence received");
      void work();
      return c.json(publicCase(fresh), 202);
    });
    app.get(route, (c) => {
      const found = cases.get(keyOf(kind, idParam(c.req.param("id")).toString()));
      if (!found)
        return c.json(
          errorObject("not_found", `no evidence for ${kind} ${c.req.param("id")}`),
          404,
        );
      return c.json(publicCase(found));
    });
  }

  return {
    app,
    work,
    get: (kind, id) => cases.get(keyOf(kind, id)),
    async stop() {
      clearInterval(timer);
      while (working) await working;
    },
  };
}

/** A case as the API shows it: everything but the evidence (the request stays private). */
function publicCase(c: ArbiterCase) {
  const { evidence, ...rest } = c;
  return { ...rest, model: evidence.model, work: evidence.work, workId: evidence.id };
}

/**
 * Verifiers from the indexer's discovery API (`GET /hosts?model=`): every listed host with an
 * HTTP endpoint and an on-chain score of at least `minScore` (default 500, the neutral score a
 * new host starts from: a host that lost a challenge or a dispute falls below it and stops
 * judging others), best score first. The arbiter leaves out the accused host and the challenger.
 */
export function discoveryVerifiers(apiUrl: string, { minScore = 500, timeoutMs = 10_000 } = {}) {
  return async (model: string): Promise<VerifierHost[]> => {
    const params = new URLSearchParams({
      model,
      sort: "score",
      minScore: String(minScore),
      limit: "20",
    });
    const res = await fetch(`${apiUrl.replace(/\/+$/, "")}/hosts?${params}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`GET /hosts: ${res.status}`);
    const body = (await res.json()) as { hosts?: { address?: unknown; httpUrl?: unknown }[] };
    return (body.hosts ?? []).flatMap((h) =>
      typeof h.address === "string" && typeof h.httpUrl === "string" && h.httpUrl
        ? [{ address: h.address, httpUrl: h.httpUrl }]
        : [],
    );
  };
}
