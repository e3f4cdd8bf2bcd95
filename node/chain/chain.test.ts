/**
 * The host node's chain side on a real local chain (Hardhat node, contracts deployed by
 * the Ignition module): registration, the job monitor, claiming, serving over the HTTP
 * API with the renter's EIP-712 authorization, completion and settlement; a restart in
 * the middle of a job, an RPC outage (a proxy in front of the chain is taken down), and
 * each refusal: a bad signature, the wrong renter, a prompt that does not match, a
 * replayed authorization, an expired job and an escrow that does not hold the deposit.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { encodeAbiParameters, keccak256, stringToHex, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  reputationSystemAbi,
} from "../../abis/index.ts";
import { devPrivateKey, type LocalChain, startLocalChain } from "../../fixtures/local-chain.ts";
import { postJob, readJob, until } from "../../fixtures/marketplace.ts";
import { type RpcProxy, startRpcProxy } from "../../fixtures/rpc-proxy.ts";
import { fundTestHost, startTestService } from "../../fixtures/test-host.ts";
import { requestHash } from "../../protocol/hashing.ts";
import { type HttpServer, startHttpServer } from "../../protocol/http-server.ts";
import { signJobAuthorization } from "../../protocol/job-auth.ts";
import { createLogger } from "../../protocol/logger.ts";
import { chainModelId } from "../../protocol/model-id.ts";
import { type ChatCompletionBody, chatToServeRequest } from "../../protocol/openai.ts";
import { HEADERS } from "../../protocol/wire.ts";
import { createHttpApp } from "../http/server.ts";
import type { InferenceService } from "../inference/service.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { createRequestHandler } from "../serving/handler.ts";
import { type HostChain, startHostChain } from "./host-chain.ts";

import { type DesiredRegistration, ensureRegistration } from "./registration.ts";

const MODEL = "tiny-chat";
const PRICE = 10n ** 9n; // wei per output token
const CONTEXT_SIZE = 512;
const HOST_INDEX = 7;
const RENTER_INDEX = 8;
const OTHER_INDEX = 9;
/** The escrow's ERC-7201 storage root; `locks` (by locker, then id) is its 5th slot. */
const ESCROW_STORAGE = 0xa69f861d9f8b0d887c0bced1b78600ea650ddbc02812b60b2ec1d49d430ac200n;

describe("host node on a local chain", () => {
  let chain: LocalChain;
  let proxy: RpcProxy;
  let models: TestModels;
  let service: InferenceService;
  let dir: string;
  let host: HostChain | undefined;
  let server: HttpServer | undefined;
  const hostAccount = privateKeyToAccount(devPrivateKey(HOST_INDEX));
  const renter = privateKeyToAccount(devPrivateKey(RENTER_INDEX));
  const other = privateKeyToAccount(devPrivateKey(OTHER_INDEX));
  let registration: DesiredRegistration;

  const job = (id: bigint) => readJob(chain, id);

  async function startHost() {
    host = await startHostChain({
      rpcUrl: proxy.url,
      chainId: 31337,
      account: hostAccount,
      addresses: chain.addresses,
      startBlock: 0,
      stateFile: path.join(dir, "chain-state.json"),
      sessionFile: path.join(dir, "sessions.json"),
      registration,
      policy: { minTimeLeftSec: 10 },
      pollIntervalMs: 100,
      retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
      logger: process.env.FABSTIR_TEST_LOG ? createLogger({ level: "debug" }) : undefined,
    });
    const handler = createRequestHandler({
      service,
      jobs: host.jobs,
      capabilities: () => ({
        version: "test",
        models: [],
        load: { running: 0, queued: 0, slots: 1 },
      }),
    });
    server = await startHttpServer(createHttpApp({ handler }));
  }
  async function stopHost() {
    await server?.close();
    await host?.stop();
    server = undefined;
    host = undefined;
  }

  /** The renter posts a job for `body` and returns its id. */
  const post = (body: ChatCompletionBody, opts: { ttl?: number } = {}) =>
    postJob(chain, RENTER_INDEX, chatToServeRequest(body), {
      ...opts,
      maxPricePerToken: PRICE * 2n,
    });

  const claimed = (id: bigint) =>
    until(`job ${id} claimed`, async () => (await job(id)).status === "Claimed");

  async function authorize(id: bigint, body: ChatCompletionBody, signer = renter) {
    return signJobAuthorization(
      signer,
      { chainId: 31337, marketplace: chain.addresses.JobMarketplace },
      { jobId: id, host: hostAccount.address, requestHash: requestHash(chatToServeRequest(body)) },
    );
  }

  function client(id: bigint, signature: string) {
    return new OpenAI({
      baseURL: `${server?.url}/v1`,
      apiKey: "unused",
      maxRetries: 0,
      defaultHeaders: { [HEADERS.jobId]: id.toString(), [HEADERS.jobSignature]: signature },
    });
  }

  const body = (content: string) => ({
    model: MODEL,
    messages: [{ role: "user" as const, content }],
    temperature: 0,
    max_tokens: 16,
  });

  beforeAll(async () => {
    [chain, models] = await Promise.all([startLocalChain(), tinyTestModels()]);
    proxy = await startRpcProxy(chain.url);
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-host-chain-"));
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
    await proxy?.stop();
    await chain?.stop();
    await models?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("registers the host once; a second start sends nothing, a price change one setOffers", async () => {
    await startHost();
    assert.deepEqual(host?.registrationActions, ["approve FAB", "register", "setModelContexts"]);
    assert.equal(
      await chain.publicClient.readContract({
        address: chain.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "contextLengthOf",
        args: [hostAccount.address, chainModelId(MODEL)],
      }),
      CONTEXT_SIZE,
    );
    await stopHost();
    await startHost();
    assert.deepEqual(host?.registrationActions, []);
    const client = host?.client;
    assert.ok(client);
    const changed = {
      ...registration,
      offers: [
        { ...registration.offers[0], pricePerToken: PRICE + 1n },
      ] as DesiredRegistration["offers"],
    };
    assert.deepEqual(await ensureRegistration(client, chain.addresses.NodeRegistry, changed), [
      "setOffers",
    ]);
    assert.deepEqual(await ensureRegistration(client, chain.addresses.NodeRegistry, registration), [
      "setOffers",
    ]);
    assert.deepEqual(
      await ensureRegistration(client, chain.addresses.NodeRegistry, registration),
      [],
    );
    // A new context length is one setModelContexts; back again, another.
    const longer = {
      ...registration,
      contexts: [{ modelId: chainModelId(MODEL), contextLength: CONTEXT_SIZE * 2 }],
    };
    assert.deepEqual(await ensureRegistration(client, chain.addresses.NodeRegistry, longer), [
      "setModelContexts",
    ]);
    assert.deepEqual(await ensureRegistration(client, chain.addresses.NodeRegistry, registration), [
      "setModelContexts",
    ]);
  });

  it("claims a posted job, streams the answer to its renter, completes with the exact tokens and gets paid", async () => {
    const b = body("hello node tell me a story");
    const id = await post(b);
    await claimed(id);
    const stream = await client(id, await authorize(id, b)).chat.completions.create({
      ...b,
      stream: true,
      stream_options: { include_usage: true },
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    assert.ok(text.length > 0 && usage);
    const completed = await until("completion", async () => {
      const j = await job(id);
      return j.status === "Completed" && j;
    });
    assert.equal(completed.tokensUsed, usage.completion_tokens);
    assert.equal(completed.pricePerToken, PRICE);
    const [event] = await chain.publicClient.getContractEvents({
      address: chain.addresses.JobMarketplace,
      abi: jobMarketplaceAbi,
      eventName: "JobCompleted",
      args: { jobId: id },
      fromBlock: 0n,
    });
    assert.equal(event?.args.outputHash, keccak256(stringToHex(text)));
    // The renter accepts: the escrow pays exactly tokens x price, split three ways.
    const balance = () =>
      chain.publicClient.readContract({
        address: chain.addresses.PaymentEscrow,
        abi: paymentEscrowAbi,
        functionName: "balanceOf",
        args: [hostAccount.address, zeroAddress],
      });
    const before = await balance();
    const hash = await chain.wallet(RENTER_INDEX).writeContract({
      address: chain.addresses.JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "acceptJob",
      args: [id],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    const [paid] = await chain.publicClient.getContractEvents({
      address: chain.addresses.PaymentEscrow,
      abi: paymentEscrowAbi,
      eventName: "PaymentReleased",
      args: { id },
      fromBlock: 0n,
    });
    const a = paid?.args;
    assert.ok(
      a?.hostAmount !== undefined &&
        a.treasuryAmount !== undefined &&
        a.stakersAmount !== undefined,
    );
    assert.equal(
      a.hostAmount + a.treasuryAmount + a.stakersAmount,
      BigInt(usage.completion_tokens) * PRICE,
    );
    assert.equal((await balance()) - before, a.hostAmount);
    await until(
      "the host to see the settlement",
      async () => host?.state.job(id)?.status === "done",
    );
    // The same authorization again is a replay.
    await assert.rejects(
      client(id, await authorize(id, b)).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.ConflictError && e.code === "job_already_served",
    );
  });

  it("refuses a bad signature, the wrong renter and a prompt that does not match the job", async () => {
    const b = body("what is the capital of france");
    const id = await post(b);
    await claimed(id);
    await assert.rejects(
      client(id, `0x${"00".repeat(65)}`).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.AuthenticationError && e.code === "invalid_signature",
    );
    await assert.rejects(
      client(id, await authorize(id, b, other)).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.PermissionDeniedError && e.code === "wrong_renter",
    );
    const changed = body("what is the capital of spain");
    await assert.rejects(
      client(id, await authorize(id, changed)).chat.completions.create(changed),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === "prompt_mismatch",
    );
    await assert.rejects(
      client(id + 1000n, await authorize(id + 1000n, b)).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.ConflictError && e.code === "job_not_claimed",
    );
    // None of that used the job up: the renter still gets the answer.
    const res = await client(id, await authorize(id, b)).chat.completions.create(b);
    assert.ok(res.choices[0]?.message.content);
    await until("completion", async () => (await job(id)).status === "Completed");
  });

  it("hands back a claimed job whose renter's own request cannot fit the context: refunded at once", async () => {
    const b = body("word ".repeat(2000));
    const id = await post(b);
    await claimed(id);
    await assert.rejects(
      client(id, await authorize(id, b)).chat.completions.create(b),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        e.code === "context_length_exceeded" &&
        e.param === "messages",
    );
    await until("the host to hand the job back", async () => (await job(id)).status === "Refused");
    // The chain can show it before the node has its own transaction's receipt.
    await until("the host to record it", async () => host?.state.job(id)?.status === "done");
    assert.deepEqual(host?.state.job(id)?.outcome, {
      kind: "refused",
      refusal: "context_length_exceeded",
    });
    const [refused] = await chain.publicClient.getContractEvents({
      address: chain.addresses.JobMarketplace,
      abi: jobMarketplaceAbi,
      eventName: "JobRefused",
      args: { jobId: id },
      fromBlock: 0n,
    });
    assert.equal(refused?.args.host, hostAccount.address);
    assert.equal(refused?.args.reason, stringToHex("context_length_exceeded", { size: 32 }));
    const [, locked] = await chain.publicClient.readContract({
      address: chain.addresses.PaymentEscrow,
      abi: paymentEscrowAbi,
      functionName: "lockOf",
      args: [chain.addresses.JobMarketplace, id],
    });
    assert.equal(locked, 0n);
    // Nothing is left to serve.
    await assert.rejects(
      client(id, await authorize(id, b)).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.ConflictError && e.code === "job_not_claimed",
    );
  });

  const reputation = () =>
    chain.publicClient.readContract({
      address: chain.addresses.ReputationSystem,
      abi: reputationSystemAbi,
      functionName: "reputationOf",
      args: [hostAccount.address],
    });
  const stakeOf = async () =>
    (
      await chain.publicClient.readContract({
        address: chain.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "hostState",
        args: [hostAccount.address],
      })
    )[1];

  it("hands back a claimed job whose renter does not ask in time, before it could count as abandoned", async () => {
    // A 10-minute claim timeout: the node gives up at half of it. The chain's clock also runs
    // with the wall clock, so a slow run must not carry it past the timeout: 200 s of margin.
    const setClaimTimeout = async (seconds: number) =>
      chain.publicClient.waitForTransactionReceipt({
        hash: await (await chain.governance()).writeContract({
          address: chain.addresses.JobMarketplace,
          abi: jobMarketplaceAbi,
          functionName: "setClaimTimeout",
          args: [seconds],
        }),
      });
    await setClaimTimeout(600);
    const b = body("a job its renter forgets");
    const id = await post(b, { ttl: 3_600 });
    await claimed(id);
    const stake = await stakeOf();
    // Past the node's give-up point, not yet the claim timeout.
    await chain.testClient.increaseTime({ seconds: 400 });
    await chain.mine(1);
    await until("the host to hand the job back", async () => (await job(id)).status === "Refused");
    await setClaimTimeout(3_600);
    await assert.rejects(
      client(id, await authorize(id, b)).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.APIError && e.status >= 400 && e.status < 500,
    );
    assert.equal((await reputation()).abandoned, 0, "a hand-back is not an abandoned claim");
    assert.equal(await stakeOf(), stake, "nor slashed");
  });

  it("refuses an expired job; a claim that outlived its deadline while the node was down is abandoned and slashed", async () => {
    const b = body("a job that runs out of time");
    const id = await post(b, { ttl: 60 });
    await claimed(id);
    const stake = await stakeOf();
    await stopHost();
    await chain.testClient.increaseTime({ seconds: 120 });
    await chain.mine(1);
    await startHost();
    await assert.rejects(
      client(id, await authorize(id, b)).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 410 && e.code === "job_expired",
    );
    await until("the host to expire the job", async () => (await job(id)).status === "Expired");
    const rep = await reputation();
    assert.equal(rep.abandoned, 1);
    // 1% of the stake for a first abandoned claim (docs/trust.md).
    assert.equal(await stakeOf(), stake - stake / 100n);
    // Below the minimum stake now: a restart tops it up (registration) so it can claim again.
    await stopHost();
    await startHost();
    assert.ok((await stakeOf()) >= stake);
  });

  it("resumes after a restart: catches up on jobs posted while down and serves a job claimed before", async () => {
    const b1 = body("claimed before the restart");
    const id1 = await post(b1);
    await claimed(id1);
    await stopHost();
    const b2 = body("posted while the node was down");
    const id2 = await post(b2);
    assert.equal((await job(id2)).status, "Posted");
    await startHost();
    await claimed(id2);
    for (const [id, b] of [
      [id1, b1],
      [id2, b2],
    ] as const) {
      const res = await client(id, await authorize(id, b)).chat.completions.create(b);
      assert.ok(res.usage && res.usage.completion_tokens > 0);
      await until(
        `completion of ${id}`,
        async () => (await job(id)).tokensUsed === res.usage?.completion_tokens,
      );
    }
  });

  it("refuses to claim or serve a job whose escrow does not hold the deposit", async () => {
    await stopHost();
    const b = body("an underfunded job");
    const id = await post(b);
    // Stands in for a broken or compromised escrow: zero the job's lock in storage
    // (locks[marketplace][id]: a mapping of mappings in the 5th slot).
    const inner = keccak256(
      encodeAbiParameters(
        [{ type: "address" }, { type: "uint256" }],
        [chain.addresses.JobMarketplace, ESCROW_STORAGE + 4n],
      ),
    );
    const slot = keccak256(
      encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [id, inner]),
    );
    await chain.testClient.setStorageAt({
      address: chain.addresses.PaymentEscrow,
      index: slot,
      value: `0x${"00".repeat(32)}`,
    });
    await startHost();
    await until("the host to refuse the job", async () => host?.state.job(id)?.status === "done");
    assert.equal(host?.state.job(id)?.outcome?.kind, "underfunded");
    assert.equal((await job(id)).status, "Posted");
    await assert.rejects(
      client(id, await authorize(id, b)).chat.completions.create(b),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 402 && e.code === "underfunded",
    );
  });

  it("rides out an RPC outage: catches up on a job posted meanwhile and completes one served before it", async () => {
    const b1 = body("served just before the outage");
    const id1 = await post(b1);
    await claimed(id1);
    const stream = await client(id1, await authorize(id1, b1)).chat.completions.create({
      ...b1,
      stream: true,
    });
    proxy.down();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    assert.ok(text);
    const b2 = body("posted during the outage");
    const id2 = await post(b2); // straight to the chain, not through the proxy
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await job(id1)).status, "Claimed", "no completion while the RPC is down");
    assert.equal((await job(id2)).status, "Posted", "no claim while the RPC is down");
    assert.equal(host?.state.job(id1)?.status, "served");
    assert.ok(host?.monitor.lastError, "the monitor saw the outage");
    proxy.up();
    await until("completion after the outage", async () => (await job(id1)).status === "Completed");
    await claimed(id2);
    // Nothing was handled twice: one claim and at most one completion per job.
    const events = await chain.publicClient.getContractEvents({
      address: chain.addresses.JobMarketplace,
      abi: jobMarketplaceAbi,
      fromBlock: 0n,
    });
    for (const name of ["JobClaimed", "JobCompleted"]) {
      const ids = events
        .filter((e) => e.eventName === name)
        .map((e) => String((e.args as { jobId: bigint }).jobId));
      assert.equal(new Set(ids).size, ids.length, `${name} once per job`);
    }
  });
});
