/**
 * The ProofSystem indexed and served, against real parts: a Hardhat node with the production
 * Ignition deployment, real Groth16 proofs (protocol/proofs.ts, the committed circuit setup)
 * verified on chain, challenges of both kinds through every outcome, and `ponder start` on
 * PGlite and on the local Postgres server. Every expected value is read back from the chain.
 *
 *   job 1  honest, 70 tokens, proven (2 chunks)
 *   job 2  cheat, count challenge 1 by the renter, never answered: Unanswered, slashed
 *   job 3  honest, count challenge 2 by a watcher, answered with a proof: Answered
 *   job 4  cheat, output challenge 3 by the renter, Upheld by the arbiter: slashed again
 *   job 5  honest, output challenges 4 (Rejected) and 5 (no arbiter: Unarbitrated)
 *   job 6  cheat, count challenge 6, the model loses every verifier: Voided
 *   session 1  honest, 100 tokens proven, then 30 more in a second submission
 */
import assert from "node:assert/strict";
import { createClient, sql } from "@ponder/client";
import {
  type Address,
  getContract,
  keccak256,
  maxUint256,
  parseEther,
  parseEventLogs,
  stringToHex,
  zeroAddress,
} from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  CHALLENGE_STATUS,
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  proofSystemAbi,
  reputationSystemAbi,
  sessionManagerAbi,
} from "../../abis/index.ts";
import {
  freshPostgres,
  type GovernanceWallet,
  getJson,
  type Indexer,
  type LocalChain,
  startIndexer,
  startLocalChain,
  type Wallet,
  waitFor,
} from "../../fixtures/local-chain.ts";
import {
  bindingOf,
  disposeProver,
  outputCommitment,
  ProofWork,
  proveOutput,
  toChunkArgs,
} from "../../protocol/proofs.ts";
import {
  emptyReceipt,
  nextReceipt,
  type Receipt,
  receiptArg,
  type SessionTerms,
  sessionIdOf,
  signReceipt,
  termsHash,
} from "../../protocol/sessions.ts";

const MODEL = "llama-3.1-8b";
const MODEL_ID = stringToHex(MODEL, { size: 32 });
const OTHER_ID = stringToHex("smollm-135m", { size: 32 });
const ETH = zeroAddress;
const FAB = 10n ** 18n;
const PRICE = parseEther("0.000001");
const DAY = 86_400;
const EVIDENCE = keccak256(stringToHex("the answer failed a teacher-forced top-k check"));

/** Token ids of an answer of `n` tokens (any uint32s; the circuit only counts them). */
const output = (n: number, salt = 0) =>
  Array.from({ length: n }, (_, i) => (i * 7 + salt) % 32_000);

interface Scenario {
  honest: Address;
  cheat: Address;
  renter: Address;
  watcher: Address;
  /** What each job's proof was made of: binding and token ids. */
  jobProofs: Map<bigint, { binding: bigint; tokenIds: number[] }>;
  session: { id: bigint; terms: SessionTerms; binding: bigint; tokenIds: number[] };
  verifier: Address;
  minBond: bigint;
}

async function runScenario(chain: LocalChain): Promise<Scenario> {
  const admin = chain.wallet(0);
  /** Dev account 10 holds ARBITER_ROLE; parameters and verifiers are governance's. */
  const arbiter = chain.wallet(10);
  const gov = await chain.governance();
  const renter = chain.wallet(1);
  const honest = chain.wallet(2);
  const cheat = chain.wallet(3);
  const watcher = chain.wallet(4);
  const { FABToken, NodeRegistry, JobMarketplace, SessionManager, ProofSystem } = chain.addresses;
  const send = async (hash: Promise<`0x${string}`>) => {
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
    assert.equal(receipt.status, "success");
    return receipt;
  };
  /** The ProofSystem as `w` sends to it (typed by its ABI). */
  const proofs = (w: Wallet | GovernanceWallet) =>
    getContract({ address: ProofSystem, abi: proofSystemAbi, client: w });
  const fund = async (w: Wallet) => {
    await send(
      admin.writeContract({
        address: FABToken,
        abi: fabTokenAbi,
        functionName: "transfer",
        args: [w.account.address, 5_000n * FAB],
        chain: null,
      }),
    );
    await send(
      w.writeContract({
        address: FABToken,
        abi: fabTokenAbi,
        functionName: "approve",
        args: [NodeRegistry, maxUint256],
        chain: null,
      }),
    );
    await send(
      w.writeContract({
        address: NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "register",
        chain: null,
        args: [
          {
            stake: 5_000n * FAB,
            hardware: {
              gpuModel: stringToHex("RTX 4090", { size: 32 }),
              vramMiB: 24_576,
              gpuCount: 1,
            },
            region: stringToHex("eu-west", { size: 32 }),
            endpoints: { peerId: "0x0024", multiaddrs: [], httpUrl: "http://127.0.0.1:8080" },
            metadataDigest: keccak256(stringToHex(w.account.address)),
            offers: [{ modelId: MODEL_ID, token: ETH, pricePerToken: PRICE }],
          },
        ],
      }),
    );
  };
  await fund(honest);
  await fund(cheat);

  const block = await chain.publicClient.getBlock();
  let jobs = 0n;
  /** Posts a job for `host`, which claims and completes it with `tokens`; returns its id. */
  const work = async (host: Wallet, tokens: number) => {
    const promptHash = keccak256(stringToHex(`prompt ${jobs + 1n}`));
    await send(
      renter.writeContract({
        address: JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName: "postJob",
        args: [
          {
            modelId: MODEL_ID,
            promptHash,
            token: ETH,
            maxTokens: 100,
            maxPricePerToken: PRICE,
            deadline: block.timestamp + 3_600n,
            host: host.account.address,
            minScore: 0,
          },
        ],
        value: 100n * PRICE,
        chain: null,
      }),
    );
    jobs += 1n;
    const id = jobs;
    await send(
      host.writeContract({
        address: JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName: "claimJob",
        args: [id],
        chain: null,
      }),
    );
    await send(
      host.writeContract({
        address: JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName: "completeJob",
        args: [id, keccak256(stringToHex(`answer ${id}`)), tokens],
        chain: null,
      }),
    );
    return { id, promptHash };
  };
  const jobProofs: Scenario["jobProofs"] = new Map();
  const proveJob = async (
    host: Wallet,
    job: { id: bigint; promptHash: `0x${string}` },
    n: number,
  ) => {
    const binding = bindingOf({
      kind: ProofWork.Job,
      id: job.id,
      modelId: MODEL_ID,
      requestHash: job.promptHash,
    });
    const tokenIds = output(n, Number(job.id));
    const { chunks } = await proveOutput({ binding, tokenIds });
    await send(proofs(host).write.submitJobProof([job.id, job.promptHash, toChunkArgs(chunks)]));
    jobProofs.set(job.id, { binding, tokenIds });
  };
  const bondOf = async (jobId: bigint) => {
    const [, bond] = await chain.publicClient.readContract({
      address: ProofSystem,
      abi: proofSystemAbi,
      functionName: "challengeBondOfJob",
      args: [jobId],
    });
    return bond;
  };

  // Challenges 1 to 6, in this order (see the top of the file).
  const job1 = await work(honest, 70);
  await proveJob(honest, job1, 70);
  const job2 = await work(cheat, 40);
  await send(proofs(renter).write.challengeJobCount([job2.id], { value: await bondOf(job2.id) }));
  const job3 = await work(honest, 10);
  await send(proofs(watcher).write.challengeJobCount([job3.id], { value: await bondOf(job3.id) }));
  await proveJob(honest, job3, 10); // answers challenge 2 in the same transaction
  const job4 = await work(cheat, 30);
  await send(
    proofs(renter).write.challengeJobOutput([job4.id, EVIDENCE], { value: await bondOf(job4.id) }),
  );
  await send(proofs(arbiter).write.resolveOutputChallenge([3n, true]));
  const job5 = await work(honest, 20);
  await send(
    proofs(renter).write.challengeJobOutput([job5.id, EVIDENCE], { value: await bondOf(job5.id) }),
  );
  await send(
    proofs(watcher).write.challengeJobOutput([job5.id, EVIDENCE], { value: await bondOf(job5.id) }),
  );
  await send(proofs(arbiter).write.resolveOutputChallenge([4n, false]));
  const job6 = await work(cheat, 8);
  await send(proofs(renter).write.challengeJobCount([job6.id], { value: await bondOf(job6.id) }));

  // Session 1 with the honest host: 100 tokens paid and proven, then 30 more.
  const deposit = 1_000n * PRICE;
  await send(
    renter.writeContract({
      address: SessionManager,
      abi: sessionManagerAbi,
      functionName: "openSession",
      args: [
        {
          host: honest.account.address,
          modelId: MODEL_ID,
          token: ETH,
          signer: zeroAddress,
          maxPricePerToken: PRICE,
          deposit,
          expiry: block.timestamp + BigInt(DAY),
          minScore: 0,
          salt: 1n,
        },
      ],
      value: deposit,
      chain: null,
    }),
  );
  const terms: SessionTerms = {
    renter: renter.account.address,
    host: honest.account.address,
    token: ETH,
    signer: zeroAddress,
    modelId: MODEL_ID,
    pricePerToken: PRICE,
    expiry: block.timestamp + BigInt(DAY),
    feeDiscountBps: 0,
    salt: 1n,
  };
  const sessionId = sessionIdOf(terms);
  const domain = { chainId: await chain.publicClient.getChainId(), sessions: SessionManager };
  let receipt: Receipt = emptyReceipt(sessionId);
  const checkpoint = async (tokens: number) => {
    receipt = nextReceipt(
      receipt,
      { tokens, text: `answer ${receipt.tokens}`, request: keccak256(stringToHex("request")) },
      PRICE,
    );
    const { signature } = await signReceipt(renter.account, domain, receipt);
    await send(
      honest.writeContract({
        address: SessionManager,
        abi: sessionManagerAbi,
        functionName: "checkpoint",
        args: [terms, sessionId, receiptArg(receipt), signature],
        chain: null,
      }),
    );
  };
  const sessionBinding = bindingOf({
    kind: ProofWork.Session,
    id: sessionId,
    modelId: MODEL_ID,
    requestHash: termsHash(terms),
  });
  const sessionTokens = output(130, 99);
  await checkpoint(100);
  const first = await proveOutput({
    binding: sessionBinding,
    tokenIds: sessionTokens.slice(0, 100),
  });
  await send(
    proofs(honest).write.submitSessionProof([terms, sessionId, toChunkArgs(first.chunks)]),
  );
  await checkpoint(30);
  const rest = await proveOutput({
    binding: sessionBinding,
    tokenIds: sessionTokens.slice(100),
    start: first.commitment,
  });
  await send(proofs(honest).write.submitSessionProof([terms, sessionId, toChunkArgs(rest.chunks)]));
  await disposeProver();

  // The verifier registry: a model's own verifier set twice and removed once.
  const verifier = await chain.publicClient.readContract({
    address: ProofSystem,
    abi: proofSystemAbi,
    functionName: "defaultVerifier",
  });
  await send(proofs(gov).write.setVerifier([MODEL_ID, verifier]));
  await send(proofs(gov).write.setVerifier([OTHER_ID, verifier]));
  await send(proofs(gov).write.removeVerifier([MODEL_ID]));

  // A day later challenge 1 is unanswered; then the model loses every verifier and challenge 6
  // can only be voided; the default verifier comes back.
  await chain.testClient.increaseTime({ seconds: DAY + 1 });
  await chain.mine(1);
  await send(proofs(watcher).write.resolveCountChallenge([1n]));
  await send(proofs(gov).write.setDefaultVerifier([zeroAddress]));
  await send(proofs(watcher).write.resolveCountChallenge([6n]));
  await send(proofs(gov).write.setDefaultVerifier([verifier]));
  // Nobody arbitrates challenge 5 within its window: the default applies.
  await chain.testClient.increaseTime({ seconds: 7 * DAY });
  await chain.mine(1);
  await send(proofs(renter).write.settleOutputChallenge([5n]));
  const minBond = parseEther("0.00001");
  await send(proofs(gov).write.setMinBond([ETH, minBond]));
  return {
    honest: honest.account.address.toLowerCase() as Address,
    cheat: cheat.account.address.toLowerCase() as Address,
    renter: renter.account.address.toLowerCase() as Address,
    watcher: watcher.account.address.toLowerCase() as Address,
    jobProofs,
    session: { id: sessionId, terms, binding: sessionBinding, tokenIds: sessionTokens },
    verifier: verifier.toLowerCase() as Address,
    minBond,
  };
}

describe("ProofSystem indexed: proofs, challenges and each host's record", {
  timeout: 600_000,
}, () => {
  let chain: LocalChain;
  let s: Scenario;

  beforeAll(async () => {
    chain = await startLocalChain();
    s = await runScenario(chain);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  /** What the ProofSystem stored of a job's or session's proofs. */
  const recordOf = (work: number, id: bigint) =>
    chain.publicClient.readContract({
      address: chain.addresses.ProofSystem,
      abi: proofSystemAbi,
      functionName: "recordOf",
      args: [work, id],
    });
  const challengeOf = (id: bigint) =>
    chain.publicClient.readContract({
      address: chain.addresses.ProofSystem,
      abi: proofSystemAbi,
      functionName: "challengeOf",
      args: [id],
    });
  const allLogs = () => chain.publicClient.getLogs({ fromBlock: 0n });
  const resolvedLogs = async () =>
    parseEventLogs({ abi: proofSystemAbi, eventName: "ChallengeResolved", logs: await allLogs() });
  const offenceLogs = async () =>
    parseEventLogs({
      abi: reputationSystemAbi,
      eventName: "OffenceRecorded",
      logs: await allLogs(),
    });
  const lockLogs = async () =>
    parseEventLogs({ abi: paymentEscrowAbi, eventName: "FundsLocked", logs: await allLogs() });
  /** The rows of an SQL-over-HTTP answer. */
  const sqlRows = async (query: ReturnType<typeof sql>) => {
    const result = (await createClient(`${indexer.url}/sql`).db.execute(query)) as unknown as
      | { rows?: Record<string, unknown>[] }
      | Record<string, unknown>[];
    return Array.isArray(result) ? result : (result.rows ?? []);
  };
  let indexer: Indexer;

  for (const database of ["pglite", "postgres"] as const) {
    describe(`on ${database}`, () => {
      let dropDb: (() => Promise<void>) | undefined;

      beforeAll(async () => {
        const pgDb = database === "postgres" ? await freshPostgres() : undefined;
        dropDb = pgDb?.drop;
        indexer = await startIndexer(chain, { databaseUrl: pgDb?.url });
        await waitFor("the last challenge and the minimum bond indexed", async () => {
          const five = (await getJson(indexer.url, "/challenges/5")).body;
          return five.status === "Unarbitrated" && (await indexer.ready()) ? true : undefined;
        }).catch((e) => {
          throw new Error(`${e}\n${indexer.output()}`);
        });
      });
      afterAll(async () => {
        await indexer?.stop();
        await dropDb?.();
      });

      it("indexes each accepted proof with the commitment the chain stored", async () => {
        const one = (await getJson(indexer.url, "/jobs/1")).body;
        const proven = s.jobProofs.get(1n);
        assert.ok(proven);
        const onChain = await recordOf(ProofWork.Job, 1n);
        assert.equal(one.proofs.length, 1);
        const [p] = one.proofs;
        assert.deepEqual(
          [
            p.work,
            p.jobId,
            p.sessionId,
            p.host,
            p.requestMatches,
            p.fromTokens,
            p.tokens,
            p.chunks,
          ],
          ["Job", "1", null, s.honest, true, "0", "70", 2],
        );
        assert.equal(BigInt(p.binding), proven.binding);
        assert.equal(
          BigInt(p.fromCommitment),
          proven.binding,
          "a job's chain starts at its binding",
        );
        assert.equal(BigInt(p.commitment), onChain.commitment);
        assert.equal(BigInt(p.commitment), outputCommitment(proven.binding, proven.tokenIds));
        assert.equal(p.verifier, s.verifier);
        assert.deepEqual(one.challenges, []);

        // A session's second submission extends the first one's chain.
        const session = (await getJson(indexer.url, `/sessions/${s.session.id}`)).body;
        const chainSession = await recordOf(ProofWork.Session, s.session.id);
        assert.deepEqual(
          session.proofs.map((x: Record<string, unknown>) => [
            x.work,
            x.fromTokens,
            x.tokens,
            x.chunks,
          ]),
          [
            ["Session", "0", "100", 2],
            ["Session", "100", "130", 1],
          ],
        );
        const [a, b] = session.proofs;
        assert.equal(
          BigInt(a.commitment),
          outputCommitment(s.session.binding, s.session.tokenIds.slice(0, 100)),
        );
        assert.equal(b.fromCommitment, a.commitment);
        assert.equal(BigInt(b.commitment), chainSession.commitment);
        // Each submission cuts its own range of the output into chunks of 64 (docs/proofs.md).
        assert.equal(
          BigInt(b.commitment),
          outputCommitment(BigInt(a.commitment), s.session.tokenIds.slice(100)),
        );
        assert.equal(b.requestHash, termsHash(s.session.terms));
        assert.equal(chainSession.proofs, 2);

        // GET /proofs: newest first, filtered, paged.
        const all = (await getJson(indexer.url, "/proofs")).body;
        assert.deepEqual(
          all.proofs.map(
            (x: { jobId: string | null; sessionId: string | null }) =>
              x.jobId ?? (x.sessionId === String(s.session.id) ? "s" : x.sessionId),
          ),
          ["s", "s", "3", "1"],
        );
        assert.equal(all.nextCursor, null);
        const page = (await getJson(indexer.url, "/proofs?limit=3")).body;
        assert.equal(page.proofs.length, 3);
        const next = (await getJson(indexer.url, `/proofs?limit=3&cursor=${page.nextCursor}`)).body;
        assert.deepEqual(
          next.proofs.map((x: { jobId: string }) => x.jobId),
          ["1"],
        );
        assert.equal(next.nextCursor, null);
        const jobsOnly = (await getJson(indexer.url, "/proofs?work=Job")).body.proofs;
        assert.deepEqual(
          jobsOnly.map((x: { jobId: string }) => x.jobId),
          ["3", "1"],
        );
        assert.equal((await getJson(indexer.url, `/proofs?host=${s.cheat}`)).body.proofs.length, 0);
        assert.equal(
          (await getJson(indexer.url, `/proofs?session=${s.session.id}`)).body.proofs.length,
          2,
        );
      });

      it("indexes challenges from opening to outcome as the chain has them", async () => {
        const resolved = await resolvedLogs();
        const offences = await offenceLogs();
        const expected: [string, string, string, string][] = [
          ["1", "Count", "Unanswered", s.cheat],
          ["2", "Count", "Answered", s.honest],
          ["3", "Output", "Upheld", s.cheat],
          ["4", "Output", "Rejected", s.honest],
          ["5", "Output", "Unarbitrated", s.honest],
          ["6", "Count", "Voided", s.cheat],
        ];
        for (const [id, kind, status, host] of expected) {
          const { status: code, body: c } = await getJson(indexer.url, `/challenges/${id}`);
          assert.equal(code, 200);
          const onChain = await challengeOf(BigInt(id));
          assert.equal(CHALLENGE_STATUS[onChain.status], status, `challenge ${id} on chain`);
          assert.deepEqual(
            [c.id, c.kind, c.status, c.host, c.work],
            [id, kind, status, host, "Job"],
          );
          assert.equal(c.challenger, onChain.challenger.toLowerCase());
          assert.equal(Number(c.tokens), onChain.tokens);
          assert.equal(c.evidenceHash, kind === "Output" ? EVIDENCE : null);
          const end = resolved.find((r) => r.args.challengeId === BigInt(id));
          assert.ok(end, `challenge ${id} resolved on chain`);
          assert.equal(BigInt(c.bond), end.args.bond);
          assert.equal(c.bondTo, end.args.bondTo.toLowerCase());
          assert.equal(BigInt(c.slashed), end.args.slashed);
          assert.equal(c.offenceNotRecorded, null);
          // The host wins the bond when it won; the challenger gets it back otherwise.
          const hostWon = status === "Answered" || status === "Rejected";
          assert.equal(c.bondTo, hostWon ? host : c.challenger, `challenge ${id} bond`);
          // A lost challenge is an offence of the host, slashed, the challenger compensated.
          const lost = status === "Unanswered" || status === "Upheld";
          const offence = offences.find((o) => BigInt(o.args.ref) === BigInt(id));
          assert.equal(Boolean(offence), lost, `challenge ${id} offence`);
          if (lost && offence) {
            assert.ok(end.args.slashed > 0n);
            assert.deepEqual(
              [c.offence.offence, c.offence.challengeId, c.offence.jobId, c.offence.wronged],
              ["ChallengeLost", id, null, c.challenger],
            );
            assert.equal(BigInt(c.offence.slashed), end.args.slashed);
            assert.equal(BigInt(c.offence.compensation), offence.args.compensation);
          } else {
            assert.equal(c.offence, null);
            assert.equal(end.args.slashed, 0n);
          }
        }
        // Challenge 2 was answered by the proof of its job, submitted in the same transaction.
        const two = (await getJson(indexer.url, "/challenges/2")).body;
        assert.deepEqual(
          two.proofs.map((p: { jobId: string; tokens: string }) => [p.jobId, p.tokens]),
          [["3", "10"]],
        );
        assert.equal(two.proofs[0].txHash, two.resolvedTx);
        const job5 = (await getJson(indexer.url, "/jobs/5")).body;
        assert.deepEqual(
          job5.challenges.map((c: { id: string; status: string }) => [c.id, c.status]),
          [
            ["4", "Rejected"],
            ["5", "Unarbitrated"],
          ],
        );
        assert.deepEqual(job5.proofs, []);
      });

      it("lists challenges newest first, filtered and paged, and rejects bad parameters", async () => {
        const ids = async (query: string) => {
          const { status, body } = await getJson(indexer.url, `/challenges${query}`);
          assert.equal(status, 200, query);
          return body.challenges.map((c: { id: string }) => c.id);
        };
        assert.deepEqual(await ids(""), ["6", "5", "4", "3", "2", "1"]);
        assert.deepEqual(await ids(`?host=${s.cheat}`), ["6", "3", "1"]);
        assert.deepEqual(await ids(`?challenger=${s.watcher}`), ["5", "2"]);
        assert.deepEqual(await ids("?kind=Output"), ["5", "4", "3"]);
        assert.deepEqual(await ids("?status=Upheld"), ["3"]);
        assert.deepEqual(await ids("?job=5"), ["5", "4"]);
        assert.deepEqual(await ids("?work=Session"), []);
        assert.deepEqual(await ids(`?host=${s.honest}&kind=Count`), ["2"]);
        const page = (await getJson(indexer.url, "/challenges?limit=4")).body;
        assert.deepEqual(
          page.challenges.map((c: { id: string }) => c.id),
          ["6", "5", "4", "3"],
        );
        assert.equal(page.nextCursor, "3");
        assert.deepEqual(await ids(`?limit=4&cursor=${page.nextCursor}`), ["2", "1"]);

        for (const [query, parameter] of [
          ["/challenges?status=None", "status"],
          ["/challenges?status=Lost", "status"],
          ["/challenges?kind=Spot", "kind"],
          ["/challenges?host=0x12", "host"],
          ["/challenges?limit=101", "limit"],
          ["/challenges?cursor=abc", "cursor"],
          ["/challenges?colour=blue", "query"],
          ["/challenges/abc", "query"],
          ["/proofs?cursor=7", "cursor"],
          ["/proofs?job=-1", "job"],
          ["/proofs?work=Batch", "work"],
          ["/proofs?limit=0", "limit"],
        ] as const) {
          const { status, body } = await getJson(indexer.url, query);
          assert.equal(status, 400, query);
          assert.equal(body.error.code, "invalid_parameter", query);
          if (parameter !== "query") assert.equal(body.error.parameter, parameter, query);
        }
        const missing = await getJson(indexer.url, "/challenges/99");
        assert.equal(missing.status, 404);
        assert.equal(missing.body.error.code, "not_found");

        // The OpenAPI document describes the routes with the parameters they validate.
        const { paths } = (await getJson(indexer.url, "/openapi.json")).body;
        const names = (path: string) =>
          paths[path].get.parameters.map((p: { name: string }) => p.name).sort();
        assert.deepEqual(names("/challenges"), [
          "challenger",
          "cursor",
          "host",
          "job",
          "kind",
          "limit",
          "session",
          "status",
          "work",
        ]);
        assert.deepEqual(names("/proofs"), ["cursor", "host", "job", "limit", "session", "work"]);
        assert.ok(paths["/challenges/{id}"].get.responses["404"]);
        assert.deepEqual(
          paths["/challenges"].get.parameters.find((p: { name: string }) => p.name === "status")
            .schema.enum,
          ["Open", "Answered", "Unanswered", "Upheld", "Rejected", "Unarbitrated", "Voided"],
        );
      });

      it("shows each host's proofs and challenges in its record, beside its offences", async () => {
        const honest = (await getJson(indexer.url, `/hosts/${s.honest}`)).body;
        assert.deepEqual(honest.record.proofs, {
          submissions: 4,
          jobs: 2,
          sessions: 1,
          tokens: String(70 + 10 + 130),
          chunks: 2 + 1 + 2 + 1,
        });
        assert.deepEqual(honest.record.challenges, {
          total: 3,
          open: 0,
          won: 2,
          lost: 0,
          answered: 1,
          rejected: 1,
          unanswered: 0,
          upheld: 0,
          unarbitrated: 1,
          voided: 0,
          slashed: "0",
        });
        assert.deepEqual(
          honest.challenges.map((c: { id: string }) => c.id),
          ["5", "4", "2"],
        );
        assert.equal(honest.proofs.length, 4);
        assert.deepEqual(honest.offences, []);

        const cheat = (await getJson(indexer.url, `/hosts/${s.cheat}`)).body;
        const resolved = await resolvedLogs();
        const slashed = resolved
          .filter((r) => ["1", "3"].includes(String(r.args.challengeId)))
          .reduce((sum, r) => sum + r.args.slashed, 0n);
        assert.deepEqual(cheat.record.proofs, {
          submissions: 0,
          jobs: 0,
          sessions: 0,
          tokens: "0",
          chunks: 0,
        });
        assert.deepEqual(cheat.record.challenges, {
          total: 3,
          open: 0,
          won: 0,
          lost: 2,
          answered: 0,
          rejected: 0,
          unanswered: 1,
          upheld: 1,
          unarbitrated: 0,
          voided: 1,
          slashed: String(slashed),
        });
        // The ReputationSystem's side of the same losses: two offences, escalated, slashed.
        assert.equal(cheat.record.challengesLost, 2);
        assert.equal(BigInt(cheat.record.slashed), slashed);
        assert.deepEqual(
          cheat.offences.map((o: { offence: string; challengeId: string }) => [
            o.offence,
            o.challengeId,
          ]),
          // Challenge 3 was upheld at once, challenge 1 went unanswered a day later.
          [
            ["ChallengeLost", "1"],
            ["ChallengeLost", "3"],
          ],
        );
        assert.ok(
          BigInt(cheat.offences[0].slashed) > BigInt(cheat.offences[1].slashed),
          "escalated",
        );
        assert.equal(BigInt(cheat.slashed), slashed, "the registry's total");
        const score = await chain.publicClient.readContract({
          address: chain.addresses.ReputationSystem,
          abi: reputationSystemAbi,
          functionName: "scoreOf",
          args: [s.cheat],
        });
        assert.ok(cheat.record.score < 500 && score < 500, `${cheat.record.score}, ${score}`);
      });

      it("ranks the honest host first by the on-chain score and filters the slashed one out", async () => {
        const listed = (await getJson(indexer.url, `/hosts?model=${MODEL}&sort=score`)).body.hosts;
        assert.deepEqual(
          listed.map((h: { address: string }) => h.address),
          [s.honest, s.cheat],
        );
        const [first, second] = listed;
        assert.ok(first.score > second.score, `${first.score} > ${second.score}`);
        assert.deepEqual([first.offences, second.offences], [0, 2]);
        // Sorted by price (equal) the address breaks the tie; minScore still leaves the cheat out.
        const atLeast = (min: number, sort = "score") =>
          getJson(indexer.url, `/hosts?model=${MODEL}&sort=${sort}&minScore=${min}`).then((r) =>
            r.body.hosts.map((h: { address: string }) => h.address),
          );
        assert.deepEqual(await atLeast(second.score), [s.honest, s.cheat]);
        assert.deepEqual(await atLeast(second.score + 1), [s.honest]);
        assert.deepEqual(await atLeast(second.score + 1, "price"), [s.honest]);
        assert.deepEqual(await atLeast(first.score + 1), []);
      });

      it("keeps challenge bonds out of the deposits and the volume", async () => {
        const locked = await lockLogs();
        const proofSystem = chain.addresses.ProofSystem.toLowerCase();
        const bonds = locked.filter((l) => l.args.locker.toLowerCase() === proofSystem);
        assert.equal(bonds.length, 6, "one bond per challenge");
        const deposits = locked
          .filter((l) => l.args.locker.toLowerCase() !== proofSystem)
          .reduce((sum, l) => sum + l.args.amount, 0n);
        const [row] = await sqlRows(
          sql`select coalesce(sum(deposits), 0)::text as deposits from daily_volume`,
        );
        assert.equal(BigInt(String(row?.deposits)), deposits);
      });

      it("serves proofs, challenges and the ProofSystem's parameters through GraphQL", async () => {
        const res = await fetch(`${indexer.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            query: `{
              challenges(where: { status: Upheld }) { items { id hostRow { address } jobRow { tokensUsed } offence { challengeId } } }
              offences { items { challengeRow { id status } } }
              hostProofRecords(orderBy: "provenTokens", orderDirection: "desc") { items { host proofs challengesLost: challengesUpheld } }
              job(id: "1") { proofs { items { tokens } } }
              session(id: "${s.session.id}") { proofs { totalCount } }
              host(address: "${s.cheat}") { proofRecord { challengesVoided } challenges { totalCount } }
              proofConfigs { items { defaultVerifier reputation jobChallengeWindow sessionChallengeWindow responseWindow arbitrationWindow bondBps } }
              modelVerifiers { items { modelId verifier } }
              challengeMinBonds { items { token amount } }
            }`,
          }),
        });
        const { data, errors } = (await res.json()) as {
          // biome-ignore lint/suspicious/noExplicitAny: the test checks the shape itself
          data: any;
          errors?: unknown;
        };
        assert.equal(errors, undefined, JSON.stringify(errors));
        assert.deepEqual(data.challenges.items, [
          {
            id: "3",
            hostRow: { address: s.cheat },
            jobRow: { tokensUsed: 30 },
            offence: { challengeId: "3" },
          },
        ]);
        assert.deepEqual(
          data.offences.items.map(
            (o: { challengeRow: { id: string; status: string } }) => o.challengeRow,
          ),
          [
            { id: "3", status: "Upheld" },
            { id: "1", status: "Unanswered" },
          ],
        );
        assert.deepEqual(data.hostProofRecords.items[0], {
          host: s.honest,
          proofs: 4,
          challengesLost: 0,
        });
        assert.deepEqual(data.job.proofs.items, [{ tokens: "70" }]);
        assert.equal(data.session.proofs.totalCount, 2);
        assert.deepEqual(data.host, {
          proofRecord: { challengesVoided: 1 },
          challenges: { totalCount: 3 },
        });
        assert.deepEqual(data.proofConfigs.items, [
          {
            defaultVerifier: s.verifier,
            reputation: chain.addresses.ReputationSystem.toLowerCase(),
            jobChallengeWindow: 3 * DAY,
            sessionChallengeWindow: 3 * DAY,
            responseWindow: DAY,
            arbitrationWindow: 7 * DAY,
            bondBps: 1_000,
          },
        ]);
        assert.deepEqual(data.modelVerifiers.items, [{ modelId: OTHER_ID, verifier: s.verifier }]);
        assert.deepEqual(data.challengeMinBonds.items, [{ token: ETH, amount: String(s.minBond) }]);
        const counts = Object.fromEntries(
          (
            await sqlRows(
              sql`select name, count(*)::int as n from event_log where contract = 'ProofSystem' group by name`,
            )
          ).map((r) => [r.name, r.n]),
        );
        assert.equal(counts.OutputProven, 4);
        assert.equal(counts.ChallengeResolved, 6);
        assert.equal(counts.CountChallengeOpened, 3);
        assert.equal(counts.OutputChallengeOpened, 3);
        assert.equal(counts.DefaultVerifierSet, 3);
      });
    });
  }
});
