/**
 * The host's output-count proofs on a real local chain (Hardhat node, contracts deployed by the
 * Ignition module, the real ProofSystem and its Groth16 verifier), with the real tiny model and
 * the real prover (snarkjs over circuits/build/): a completed job's proof is submitted and
 * accepted (its commitment opens to the engine's own token ids, bound to the renter's prompt
 * hash); a session's checkpoint and close are proven in two submissions that extend one chain;
 * a restart after a submission whose outcome the store never recorded sends nothing twice; and,
 * with proofs submitted only when challenged, a count challenge is answered from the kept proof
 * before its deadline, so the challenger's bond goes to the host.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEventLogs, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  CHALLENGE_STATUS,
  paymentEscrowAbi,
  proofSystemAbi,
  sessionManagerAbi,
} from "../../abis/index.ts";
import { devPrivateKey, type LocalChain, startLocalChain } from "../../fixtures/local-chain.ts";
import { postJob, readJob, until } from "../../fixtures/marketplace.ts";
import { fundTestHost, startTestService } from "../../fixtures/test-host.ts";
import { requestHash } from "../../protocol/hashing.ts";
import { signJobAuthorization } from "../../protocol/job-auth.ts";
import { createLogger } from "../../protocol/logger.ts";
import { chainModelId } from "../../protocol/model-id.ts";
import { bindingOf, CHUNK_TOKENS, outputCommitment, ProofWork } from "../../protocol/proofs.ts";
import {
  emptyReceipt,
  nextReceipt,
  type Receipt,
  receiptToWire,
  type SessionTerms,
  signReceipt,
  termsHash,
  termsToWire,
} from "../../protocol/sessions.ts";
import type { GenerationEvent, ServeRequest } from "../../protocol/wire.ts";
import type { InferenceService } from "../inference/service.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { createRequestHandler } from "../serving/handler.ts";
import type { RequestHandler } from "../serving/types.ts";
import { type HostChain, startHostChain } from "./host-chain.ts";

import type { WorkProof } from "./proof-store.ts";
import type { ProofPolicy } from "./proofs.ts";
import type { DesiredRegistration } from "./registration.ts";

const MODEL = "tiny-chat";
const PRICE = 10n ** 9n; // wei per output token
const CONTEXT_SIZE = 512;
const HOST_INDEX = 7;
const RENTER_INDEX = 8;
const CHALLENGER_INDEX = 9;

describe("host proofs on a local chain", () => {
  let chain: LocalChain;
  let models: TestModels;
  let service: InferenceService;
  let dir: string;
  let registration: DesiredRegistration;
  let host: HostChain | undefined;
  let handler: RequestHandler;
  const hostAccount = privateKeyToAccount(devPrivateKey(HOST_INDEX));
  const renter = privateKeyToAccount(devPrivateKey(RENTER_INDEX));
  const proofFile = () => path.join(dir, "proofs.json");

  async function startHost(policy: Partial<ProofPolicy>) {
    host = await startHostChain({
      rpcUrl: chain.url,
      chainId: 31337,
      account: hostAccount,
      addresses: chain.addresses,
      startBlock: 0,
      stateFile: path.join(dir, "chain-state.json"),
      sessionFile: path.join(dir, "sessions.json"),
      // Every unpaid receipt is checkpointed at the next sync (a session proof per checkpoint).
      sessionPolicy: { checkpointBps: 1 },
      registration,
      // Nothing but proofs moves the host's nonce while a test counts it.
      policy: { minTimeLeftSec: 10, autoRelease: false },
      proofs: { file: proofFile(), policy: { retryBaseMs: 200, recheckMs: 500, ...policy } },
      pollIntervalMs: 100,
      retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
      logger: process.env.FABSTIR_TEST_LOG ? createLogger({ level: "debug" }) : undefined,
    });
    handler = createRequestHandler({
      service,
      jobs: host.jobs,
      sessions: host.sessions,
      capabilities: () => ({
        version: "test",
        models: [],
        load: { running: 0, queued: 0, slots: 1 },
      }),
    });
    return host;
  }
  async function stopHost() {
    await host?.stop();
    host = undefined;
  }
  const running = () => {
    assert.ok(host, "a host is running");
    return host;
  };
  const proofs = () => {
    const p = running().proofs;
    assert.ok(p, "proofs are on");
    return p;
  };

  const request = (content: string, maxTokens = 12): ServeRequest => ({
    model: MODEL,
    messages: [{ role: "user", content }],
    params: { temperature: 0, maxTokens },
  });

  /** The whole answer through the node's request handler; returns its `done` event. */
  async function serve(r: ServeRequest) {
    let done: Extract<GenerationEvent, { type: "done" }> | undefined;
    for await (const e of handler.serve(r, {
      signal: new AbortController().signal,
      transport: "http",
    }))
      if (e.type === "done") done = e;
    assert.ok(done, "the answer ended with done");
    return done;
  }

  /** The token ids the engine generates for `r` (greedy: the same as the host's answer). */
  async function engineTokenIds(r: ServeRequest) {
    for await (const e of service.engine(MODEL).generate({
      messages: r.messages ?? [],
      params: r.params,
    }))
      if (e.type === "done") {
        assert.ok(e.tokenIds, "the engine reports its token ids");
        assert.equal(e.tokenIds.length, e.usage.completionTokens);
        return e.tokenIds;
      }
    throw new Error("no done event");
  }

  /** A renter's job for `r`, claimed by the host and answered; returns its id and the answer. */
  async function servedJob(r: ServeRequest) {
    const jobId = await postJob(chain, RENTER_INDEX, r, { maxPricePerToken: PRICE * 2n });
    await until(
      `job ${jobId} claimed`,
      async () => (await readJob(chain, jobId)).status === "Claimed",
    );
    const signature = await signJobAuthorization(
      renter,
      { chainId: 31337, marketplace: chain.addresses.JobMarketplace },
      { jobId, host: hostAccount.address, requestHash: requestHash(r) },
    );
    const done = await serve({ ...r, job: { jobId: jobId.toString(), signature } });
    return { jobId, done };
  }

  const recordOf = (work: number, id: bigint) =>
    chain.publicClient.readContract({
      address: chain.addresses.ProofSystem,
      abi: proofSystemAbi,
      functionName: "recordOf",
      args: [work, id],
    });

  const outputProven = (work: number, id: bigint) =>
    chain.publicClient.getContractEvents({
      address: chain.addresses.ProofSystem,
      abi: proofSystemAbi,
      eventName: "OutputProven",
      args: { work, id },
      fromBlock: 0n,
    });

  const escrowBalance = (who: `0x${string}`) =>
    chain.publicClient.readContract({
      address: chain.addresses.PaymentEscrow,
      abi: paymentEscrowAbi,
      functionName: "balanceOf",
      args: [who, zeroAddress],
    });

  const nonceOf = (who: `0x${string}`) =>
    chain.publicClient.getTransactionCount({ address: who, blockTag: "latest" });

  const phase = (kind: "job" | "session", id: bigint) => proofs().get(kind, id.toString())?.phase;

  beforeAll(async () => {
    [chain, models] = await Promise.all([startLocalChain(), tinyTestModels()]);
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-host-proofs-"));
    service = await startTestService(models, MODEL, CONTEXT_SIZE);
    registration = await fundTestHost(chain, hostAccount.address, {
      model: MODEL,
      price: PRICE,
      contextSize: CONTEXT_SIZE,
    });
  });
  afterAll(async () => {
    await stopHost();
    await service?.stop();
    await chain?.stop();
    await models?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let provenJob: { id: bigint; request: ServeRequest } | undefined;

  it("proves a completed job off the answer's path; the chain accepts the proof", async (t) => {
    await startHost({ submit: "always" });
    const r = request("Name three colours.");
    const started = performance.now();
    const { jobId, done } = await servedJob(r);
    const answeredMs = performance.now() - started;
    // The wire's done is unchanged: the ids stay on the node.
    assert.equal("tokenIds" in done, false);
    const job = await until(`job ${jobId} completed`, async () => {
      const j = await readJob(chain, jobId);
      return j.status === "Completed" && j;
    });
    assert.equal(job.tokensUsed, done.usage.completionTokens);
    const record = await until(
      `job ${jobId} proven`,
      async () => {
        const rec = await recordOf(ProofWork.Job, jobId);
        return rec.provenAt > 0n && rec;
      },
      120_000,
    );
    assert.equal(record.tokens, job.tokensUsed);
    assert.equal(record.chunks, Math.ceil(job.tokensUsed / CHUNK_TOKENS));
    assert.equal(record.proofs, 1);
    // The commitment opens to the token ids the engine generates for this request, bound to
    // the job, its model and the prompt hash the renter posted.
    const ids = await engineTokenIds(r);
    const binding = bindingOf({
      kind: ProofWork.Job,
      id: jobId,
      modelId: chainModelId(MODEL),
      requestHash: requestHash(r),
    });
    assert.equal(record.commitment, outputCommitment(binding, ids));
    const [event] = await outputProven(ProofWork.Job, jobId);
    assert.equal(event?.args.requestHash, requestHash(r));
    assert.equal(event?.args.binding, binding);
    await until("the store says proven", async () => phase("job", jobId) === "proven");
    const counts = proofs().counts();
    assert.ok((counts.chunksProved ?? 0) >= 1);
    t.annotate(
      `answer ${Math.round(answeredMs)} ms; proof ${Math.round((counts.proveMs ?? 0) / (counts.chunksProved ?? 1))} ms per chunk (first in the process: cold)`,
    );
    provenJob = { id: jobId, request: r };
  });

  it("a restart after a submission it never recorded sends nothing twice", async () => {
    assert.ok(provenJob);
    await stopHost();
    // As if the node died after its proof was mined but before the store recorded it.
    const file = JSON.parse(await readFile(proofFile(), "utf8")) as {
      works: Record<string, WorkProof>;
    };
    const key = `job:${provenJob.id}`;
    const w = file.works[key];
    assert.ok(w);
    file.works[key] = {
      ...w,
      phase: "pending",
      reason: undefined,
      tokenIds: await engineTokenIds(provenJob.request),
      provenTokens: 0,
      nextAt: 0,
    };
    await writeFile(proofFile(), JSON.stringify(file));
    const nonce = await nonceOf(hostAccount.address);
    await startHost({ submit: "always" });
    await until("the restarted node settles the job's proof", async () => {
      await running().monitor.caughtUp(Number(await chain.publicClient.getBlockNumber()));
      return phase("job", provenJob?.id ?? 0n) === "proven";
    });
    const after = proofs().get("job", provenJob.id.toString());
    assert.equal(after?.reason, "already proven on chain");
    assert.equal(after?.lastError, undefined);
    assert.equal(await nonceOf(hostAccount.address), nonce, "no transaction sent");
    assert.equal((await outputProven(ProofWork.Job, provenJob.id)).length, 1);
    assert.equal((await recordOf(ProofWork.Job, provenJob.id)).proofs, 1);
  });

  it("proves a session's checkpoint and its close as one chain of two submissions", async () => {
    const h = host ?? (await startHost({ submit: "always" }));
    const key = privateKeyToAccount(generatePrivateKey());
    const renterWallet = chain.wallet(RENTER_INDEX);
    const now = (await chain.publicClient.getBlock()).timestamp;
    const deposit = 1_000n * PRICE;
    const hash = await renterWallet.writeContract({
      address: chain.addresses.SessionManager,
      abi: sessionManagerAbi,
      functionName: "openSession",
      args: [
        {
          host: hostAccount.address,
          modelId: chainModelId(MODEL),
          token: zeroAddress,
          signer: key.address,
          maxPricePerToken: PRICE,
          deposit,
          expiry: now + 86_400n,
          minScore: 0,
          salt: 0n,
        },
      ],
      value: deposit,
    });
    const opened = parseEventLogs({
      abi: sessionManagerAbi,
      eventName: "SessionOpened",
      logs: (await chain.publicClient.waitForTransactionReceipt({ hash })).logs,
    })[0]?.args;
    assert.ok(opened);
    const id = opened.sessionId;
    const terms: SessionTerms = {
      renter: opened.renter,
      host: opened.host,
      token: opened.token,
      signer: opened.signer,
      modelId: opened.modelId,
      pricePerToken: opened.pricePerToken,
      expiry: opened.expiry,
      feeDiscountBps: opened.feeDiscountBps,
      salt: opened.salt,
    };
    const domain = { chainId: 31337, sessions: chain.addresses.SessionManager };
    let owed: Receipt = emptyReceipt(id);
    const ids: number[] = [];
    /** One answer with the receipt for those before it; returns the receipt covering it too. */
    async function turn(content: string, receipt?: Receipt) {
      const r = request(content);
      const signed = receipt ? await signReceipt(key, domain, receipt) : undefined;
      const done = await serve({
        ...r,
        session: {
          sessionId: id.toString(),
          terms: termsToWire(terms),
          receipt: signed ? receiptToWire(signed) : undefined,
        },
      });
      ids.push(...(await engineTokenIds(r)));
      owed = nextReceipt(
        owed,
        { tokens: done.usage.completionTokens, text: done.text, request: requestHash(r) },
        terms.pricePerToken,
      );
      return owed;
    }
    const first = await turn("Count to three.");
    // The second request carries the first receipt: the sync checkpoints it, then it is proven.
    const second = await turn("Count to four.", first);
    const checkpointed = await until(
      "the first answer proven",
      async () => {
        const rec = await recordOf(ProofWork.Session, id);
        return rec.tokens === first.tokens && rec;
      },
      120_000,
    );
    const binding = bindingOf({
      kind: ProofWork.Session,
      id,
      modelId: terms.modelId,
      requestHash: termsHash(terms),
    });
    assert.equal(checkpointed.commitment, outputCommitment(binding, ids.slice(0, first.tokens)));
    // The renter is done: the host closes with the second receipt and proves the rest.
    await h.sessions.close(id.toString(), await signReceipt(key, domain, second));
    const closed = await until(
      "the whole session proven",
      async () => {
        const rec = await recordOf(ProofWork.Session, id);
        return rec.tokens === second.tokens && rec;
      },
      120_000,
    );
    assert.equal(closed.proofs, 2);
    // The second submission extends the chain from the first one's commitment, its own tokens
    // cut into chunks from where the first ended.
    assert.equal(
      closed.commitment,
      outputCommitment(checkpointed.commitment, ids.slice(first.tokens)),
    );
    const events = await outputProven(ProofWork.Session, id);
    assert.deepEqual(
      events.map((e) => [e.args.fromTokens, e.args.tokens]),
      [
        [0n, BigInt(first.tokens)],
        [BigInt(first.tokens), BigInt(second.tokens)],
      ],
    );
    assert.equal(events[1]?.args.fromCommitment, checkpointed.commitment);
    await until("the store says proven", async () => phase("session", id) === "proven");
  });

  it("answers a count challenge from the kept proof before its deadline: the challenger's bond goes to the host", async (t) => {
    await stopHost();
    await startHost({ submit: "challenged" });
    const { jobId } = await servedJob(request("Say hello to the challenger."));
    await until(
      `job ${jobId} completed`,
      async () => (await readJob(chain, jobId)).status === "Completed",
    );
    // Proven off chain and kept; nothing submitted until someone asks.
    await until("the proof kept", async () => phase("job", jobId) === "waiting", 120_000);
    const kept = proofs().get("job", jobId.toString());
    assert.equal(Object.keys(kept?.chunks ?? {}).length, 1);
    assert.equal((await recordOf(ProofWork.Job, jobId)).provenAt, 0n);
    const provedBefore = proofs().counts().chunksProved ?? 0;

    const challenger = chain.wallet(CHALLENGER_INDEX);
    const [, bond] = await chain.publicClient.readContract({
      address: chain.addresses.ProofSystem,
      abi: proofSystemAbi,
      functionName: "challengeBondOfJob",
      args: [jobId],
    });
    assert.ok(bond > 0n);
    const hostBefore = await escrowBalance(hostAccount.address);
    const challengerBefore = await escrowBalance(challenger.account.address);
    const opened = performance.now();
    const tx = await challenger.writeContract({
      address: chain.addresses.ProofSystem,
      abi: proofSystemAbi,
      functionName: "challengeJobCount",
      args: [jobId],
      value: bond,
    });
    const logs = parseEventLogs({
      abi: proofSystemAbi,
      eventName: "CountChallengeOpened",
      logs: (await chain.publicClient.waitForTransactionReceipt({ hash: tx })).logs,
    });
    const challengeId = logs[0]?.args.challengeId;
    assert.ok(challengeId);
    const challenge = await until(
      "the challenge answered",
      async () => {
        const c = await chain.publicClient.readContract({
          address: chain.addresses.ProofSystem,
          abi: proofSystemAbi,
          functionName: "challengeOf",
          args: [challengeId],
        });
        return CHALLENGE_STATUS[c.status] === "Answered" && c;
      },
      60_000,
    );
    const answerMs = performance.now() - opened;
    const block = await chain.publicClient.getBlock();
    assert.ok(block.timestamp <= challenge.deadline, "answered before the deadline");
    assert.equal(await escrowBalance(hostAccount.address), hostBefore + bond);
    assert.equal(await escrowBalance(challenger.account.address), challengerBefore);
    const record = await recordOf(ProofWork.Job, jobId);
    assert.equal(record.openCountChallenge, 0n);
    assert.equal(record.tokens, (await readJob(chain, jobId)).tokensUsed);
    // The kept chunk proof answered: nothing was proven again.
    assert.equal(proofs().counts().chunksProved, provedBefore);
    t.annotate(`challenge answered ${Math.round(answerMs)} ms after it was opened`);
  });
});
