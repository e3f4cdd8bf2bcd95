/**
 * The renter's side of the trust layer (docs/trust.md): sampled spot-checks of its own answers
 * and, when one fails, a bonded output challenge with its evidence sent to the arbiter.
 *
 * After a session answer reached the caller (never on its hot path), a sampled fraction is
 * checked by another host serving the same model (renter/spot-check.ts). A failed check:
 * 1. distrusts the host: its sessions are closed (the host settles them with the latest
 *    receipt, whose digest covers the failed answer) and no new session goes to it;
 * 2. waits until the host checkpointed a digest covering the answer (SessionCheckpointed);
 * 3. opens `challengeSessionOutput` on the ProofSystem with the bond in the session's token
 *    and the evidence's hash (protocol/challenges.ts);
 * 4. sends the evidence (the request, the answer, the digest's steps) to the arbiter, and only
 *    to it: the arbiter re-checks it with other hosts and decides on chain.
 * A renter that does not run an arbiter client still opens the challenge; with no decision
 * before the arbitration deadline its bond comes back and nobody is slashed.
 */
import { randomBytes } from "node:crypto";
import { type Address, type Hex, parseEventLogs, toHex, zeroAddress } from "viem";
import { proofSystemAbi, sessionManagerAbi } from "../abis/index.ts";
import type { ChainClient } from "../protocol/chain-client.ts";
import { digestCovers, evidenceHash, type OutputEvidence } from "../protocol/challenges.ts";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import type { HeldSession, SessionAnswer, SessionPool } from "./sessions.ts";
import type { SpotChecker, SpotCheckVerdict } from "./spot-check.ts";

export interface TrustOptions {
  chain: ChainClient;
  chainId: number;
  sessions: SessionPool;
  sessionManager: Address;
  /** Lets the escrow take `amount` of an ERC-20 (the bond) from the renter, if it cannot yet. */
  approve: (token: Address, amount: bigint) => Promise<void>;
  checker: SpotChecker;
  /** Without a ProofSystem a failed check only distrusts the host. */
  proofSystem?: Address;
  /** The arbiter's HTTP endpoint, which receives the evidence; without it none is sent. */
  arbiterUrl?: string;
  /** The sha256 of each model's reference file: a verifier that ran another gives no verdict. */
  modelSha256?: Record<string, string>;
  /** How long to wait for the host to checkpoint the failed answer; default 10 min. */
  checkpointTimeoutMs?: number;
  pollMs?: number;
  logger?: Logger;
}

/** What happened to one sampled answer. */
export interface TrustReport {
  sessionId: bigint;
  host: Address;
  step: number;
  verdict: SpotCheckVerdict;
  at: number;
  /** Set once a failed check became a challenge. */
  challenge?: { id: bigint; tx: Hex; bond: bigint; token: Address; evidenceSent: boolean };
  /** Why a failed check did not become a challenge (or its evidence was not delivered). */
  error?: string;
}

export interface TrustGuard {
  /** Checks a sampled answer in the background; resolves when its report is final. */
  afterAnswer: (answer: SessionAnswer) => Promise<TrustReport | undefined>;
  /** The reports so far, newest last (at most the last 1000). */
  reports: () => TrustReport[];
  /** Waits for the checks and challenges in flight. */
  idle: () => Promise<void>;
  /** Whether `host` failed a check here: its verdicts on others' answers are not asked for. */
  caught: (host: string) => boolean;
}

const MAX_REPORTS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export function createTrustGuard(o: TrustOptions): TrustGuard {
  const log = (o.logger ?? silentLogger).child({ component: "trust" });
  const reports: TrustReport[] = [];
  const caught = new Set<string>();
  const inFlight = new Set<Promise<unknown>>();
  const pollMs = o.pollMs ?? 500;

  /** Resolves once the host checkpointed a digest covering steps[0..step]; the steps then. */
  async function checkpointedSteps(s: HeldSession, step: number) {
    const deadline = Date.now() + (o.checkpointTimeoutMs ?? 600_000);
    for (;;) {
      const logs = await o.chain.query(`SessionCheckpointed ${s.id}`, (c) =>
        c.getContractEvents({
          address: o.sessionManager,
          abi: sessionManagerAbi,
          eventName: "SessionCheckpointed",
          args: { sessionId: s.id },
          fromBlock: 0n,
        }),
      );
      const digests = logs.map((l) => l.args.digest as Hex);
      const steps = s.steps.slice();
      const covered = digestCovers(steps, step, digests);
      if (covered) return steps;
      if (Date.now() > deadline)
        throw new Error(`the host did not checkpoint answer ${step} of session ${s.id} in time`);
      await sleep(pollMs);
    }
  }

  async function challenge(
    answer: SessionAnswer,
    session: HeldSession,
  ): Promise<TrustReport["challenge"]> {
    if (!o.proofSystem)
      throw new Error("no ProofSystem address: the failed check is not challenged");
    const steps = await checkpointedSteps(session, answer.step);
    const evidence: OutputEvidence = {
      v: 1,
      chainId: o.chainId,
      proofSystem: o.proofSystem,
      work: "session",
      id: answer.sessionId.toString(),
      model: session.model,
      request: {
        messages: answer.served.messages ?? [],
        params: answer.served.params ?? {},
      },
      answer: answer.text,
      steps,
      index: answer.step,
      salt: toHex(randomBytes(32)),
    };
    const hash = evidenceHash(evidence);
    const [token, bond] = await o.chain.read("challengeBondOfSession", {
      address: o.proofSystem,
      abi: proofSystemAbi,
      functionName: "challengeBondOfSession",
      args: [session.terms, session.id],
    });
    if (token !== zeroAddress) await o.approve(token, bond);
    const tx = await o.chain.send("challengeSessionOutput", {
      address: o.proofSystem,
      abi: proofSystemAbi,
      functionName: "challengeSessionOutput",
      args: [session.terms, session.id, hash],
      value: token === zeroAddress ? bond : 0n,
    });
    const [opened] = parseEventLogs({
      abi: proofSystemAbi,
      eventName: "OutputChallengeOpened",
      logs: tx.logs,
    });
    if (!opened) throw new Error("challengeSessionOutput emitted no OutputChallengeOpened");
    const id = opened.args.challengeId;
    log.warn(
      { challenge: id.toString(), session: session.id.toString(), host: session.host.address },
      "output challenge opened",
    );
    const evidenceSent = o.arbiterUrl
      ? await postEvidence(o.arbiterUrl, "challenge", id, evidence, o.logger)
      : false;
    return { id, tx: tx.transactionHash, bond, token, evidenceSent };
  }

  async function run(answer: SessionAnswer): Promise<TrustReport | undefined> {
    const session = o.sessions.held().find((s) => s.id === answer.sessionId);
    if (!session) return undefined;
    const verdict = await o.checker.maybeCheck({
      model: session.model,
      messages: answer.served.messages ?? [],
      answer: answer.text,
      params: answer.served.params,
      host: answer.host.address,
      cached: answer.cached,
      modelSha256: o.modelSha256?.[session.model],
    });
    if (!verdict) return undefined;
    const report: TrustReport = {
      sessionId: answer.sessionId,
      host: answer.host.address,
      step: answer.step,
      verdict,
      at: Date.now(),
    };
    reports.push(report);
    if (reports.length > MAX_REPORTS) reports.shift();
    const r = verdict.result;
    log.info(
      {
        session: answer.sessionId.toString(),
        host: answer.host.address,
        outcome: r.outcome,
        ...(r.outcome === "unchecked" ? { reason: r.reason } : { missRate: r.check.miss_rate }),
      },
      "spot-check",
    );
    if (r.outcome !== "failed") return report;
    caught.add(answer.host.address.toLowerCase());
    try {
      await o.sessions.distrust(answer.host.address);
      report.challenge = await challenge(answer, session);
      if (!report.challenge?.evidenceSent && o.arbiterUrl)
        report.error = "the arbiter did not accept the evidence";
    } catch (e) {
      report.error = e instanceof Error ? e.message : String(e);
      log.error({ session: answer.sessionId.toString(), err: report.error }, "challenge failed");
    }
    return report;
  }

  return {
    afterAnswer(answer) {
      const p = run(answer)
        .catch((e) => {
          log.error({ session: answer.sessionId.toString(), err: String(e) }, "spot-check failed");
          return undefined;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      return p;
    },
    reports: () => reports.slice(),
    caught: (host) => caught.has(host.toLowerCase()),
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Posts a case's evidence to the arbiter (`POST /v1/challenges/:id/evidence` or
 * `/v1/disputes/:jobId/evidence`), retrying transport and server errors a few times; whether
 * the arbiter accepted it. A refusal (4xx: the evidence does not match the chain) is final.
 */
export async function postEvidence(
  url: string,
  kind: "challenge" | "dispute",
  id: bigint,
  evidence: OutputEvidence,
  logger: Logger = silentLogger,
  attempts = 5,
): Promise<boolean> {
  const route = kind === "challenge" ? "challenges" : "disputes";
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const res = await fetch(`${url.replace(/\/+$/, "")}/v1/${route}/${id}/evidence`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(evidence),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.ok) return true;
      const body = (await res.json().catch(() => undefined)) as
        | { error?: { message?: string } }
        | undefined;
      if (res.status < 500) {
        logger.error(
          { kind, id: id.toString(), status: res.status, err: body?.error?.message },
          "the arbiter refused the evidence",
        );
        return false;
      }
    } catch (e) {
      logger.warn({ kind, id: id.toString(), err: String(e) }, "sending the evidence failed");
    }
    await sleep(1_000 * 2 ** attempt);
  }
  return false;
}
