/**
 * The host's sessions on a real local chain (Hardhat node, contracts deployed by the Ignition
 * module), with the real tiny model behind the node's real HTTP API and libp2p protocol and
 * the session store in a temp dir: a renter opens a session and asks three times, each
 * request carrying the signed receipt for the answers before it, then the host closes it at
 * the renter's request (paid exactly the last receipt, split by the escrow, the rest
 * refunded); each refusal with its wire code and status, before any generation; a crash
 * mid-session (the receipt synced before the answer started is what the restarted host
 * knows); the sync loop's checkpoint, idle close and close after the renter's on-chain
 * request; and a session request over libp2p.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { type LocalAccount, type PrivateKeyAccount, parseEventLogs, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  CLOSE_REASON,
  paymentEscrowAbi,
  SESSION_STATUS,
  sessionManagerAbi,
} from "../../abis/index.ts";
import { devPrivateKey, type LocalChain, startLocalChain } from "../../fixtures/local-chain.ts";
import { until } from "../../fixtures/marketplace.ts";
import { localNode } from "../../fixtures/p2p.ts";
import { fundTestHost, startTestService } from "../../fixtures/test-host.ts";
import { requestHash } from "../../protocol/hashing.ts";
import { type HttpServer, startHttpServer } from "../../protocol/http-server.ts";
import { createLogger } from "../../protocol/logger.ts";
import { chainModelId } from "../../protocol/model-id.ts";
import { chatToServeRequest } from "../../protocol/openai.ts";
import {
  EMPTY_DIGEST,
  emptyReceipt,
  nextDigest,
  nextReceipt,
  type Receipt,
  randomSalt,
  receiptToWire,
  type SessionAuthorization,
  type SessionTerms,
  type SignedReceipt,
  sessionHeaders,
  signReceipt,
  termsOfOpened,
  termsToWire,
} from "../../protocol/sessions.ts";
import type { GenerationEvent } from "../../protocol/wire.ts";
import { errorStatus } from "../../protocol/wire-errors.ts";
import { createHttpApp } from "../http/server.ts";
import type { InferenceService } from "../inference/service.ts";
import { createNodeMetrics, type NodeMetrics } from "../metrics.ts";
import { type TestModels, tinyTestModels } from "../models/test-models.ts";
import { RemoteError } from "../p2p/errors.ts";
import { requestInference, startInferenceServer } from "../p2p/inference.ts";
import type { P2PNode } from "../p2p/node.ts";
import { createRequestHandler } from "../serving/handler.ts";
import type { RequestHandler } from "../serving/types.ts";
import { type HostChain, startHostChain } from "./host-chain.ts";
import type { DesiredRegistration } from "./registration.ts";
import type { SessionRecord } from "./session-store.ts";
import type { SessionPolicy } from "./sessions.ts";

const MODEL = "tiny-chat";
const PRICE = 10n ** 9n; // wei per output token
const CONTEXT_SIZE = 512;
const HOST_INDEX = 7;
const RENTER_INDEX = 8;
const OTHER_INDEX = 9;
/** Long enough that no session of these tests nears its expiry unless a test means it to. */
const TTL_SEC = 7 * 24 * 3_600;

/** One running host: its chain side, the HTTP API over the real handler, and its metrics. */
interface RunningHost {
  chain: HostChain;
  server: HttpServer;
  metrics: NodeMetrics;
  sessionFile: string;
}

/** The renter's side of one session. */
interface RenterSession {
  id: bigint;
  terms: SessionTerms;
  deposit: bigint;
  /** The key the renter named as the session's signer. */
  key: PrivateKeyAccount;
  /** What the renter owes after the answers it received (unsigned). */
  owed: Receipt;
}

interface Answer {
  text: string;
  tokens: number;
  /** The requestHash of the request it answers (the receipt's digest binds the two). */
  request: `0x${string}`;
}

describe("host sessions on a local chain", () => {
  let chain: LocalChain;
  let models: TestModels;
  let service: InferenceService;
  let dir: string;
  let registration: DesiredRegistration;
  let host: RunningHost | undefined;
  let p2pHost: P2PNode | undefined;
  let p2pClient: P2PNode | undefined;
  const hostAccount = privateKeyToAccount(devPrivateKey(HOST_INDEX));
  const other = privateKeyToAccount(devPrivateKey(OTHER_INDEX));
  const stateFile = () => path.join(dir, "chain-state.json");
  const domain = () => ({ chainId: 31337, sessions: chain.addresses.SessionManager });
  const renterWallet = () => chain.wallet(RENTER_INDEX);
  /** The renter's own wallet key (it may sign receipts besides the session signer). */
  const renterAccount = (): LocalAccount => renterWallet().account;

  function running(): RunningHost {
    assert.ok(host, "a host is running");
    return host;
  }

  async function startHost(sessionFile: string, policy?: Partial<SessionPolicy>) {
    const hostChain = await startHostChain({
      rpcUrl: chain.url,
      chainId: 31337,
      account: hostAccount,
      addresses: chain.addresses,
      startBlock: 0,
      stateFile: stateFile(),
      sessionFile,
      sessionPolicy: policy,
      registration,
      pollIntervalMs: 100,
      retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
      logger: process.env.FABSTIR_TEST_LOG ? createLogger({ level: "debug" }) : undefined,
    });
    const metrics = createNodeMetrics();
    const handler = createRequestHandler({
      service,
      metrics,
      jobs: hostChain.jobs,
      sessions: hostChain.sessions,
      capabilities: () => ({
        version: "test",
        models: [],
        load: { running: 0, queued: 0, slots: 2 },
      }),
    });
    const server = await startHttpServer(
      createHttpApp({
        handler,
        closeSession: (id, receipt) => hostChain.sessions.close(id, receipt),
      }),
    );
    host = { chain: hostChain, server, metrics, sessionFile };
    return { host, handler };
  }
  async function stopHost() {
    await host?.server.close();
    await host?.chain.stop();
    host = undefined;
  }

  // ---------------------------------------------------------------- the renter's side

  async function openSession(deposit = 200n * PRICE, ttlSec = TTL_SEC): Promise<RenterSession> {
    const key = privateKeyToAccount(generatePrivateKey());
    const now = (await chain.publicClient.getBlock()).timestamp;
    const hash = await renterWallet().writeContract({
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
          expiry: now + BigInt(ttlSec),
          minScore: 0,
          salt: randomSalt(),
        },
      ],
      value: deposit,
    });
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
    const [opened] = parseEventLogs({
      abi: sessionManagerAbi,
      eventName: "SessionOpened",
      logs: receipt.logs,
    });
    assert.ok(opened);
    const a = opened.args;
    return {
      id: a.sessionId,
      terms: termsOfOpened(a),
      deposit,
      key,
      owed: emptyReceipt(a.sessionId),
    };
  }

  const sign = (r: Receipt, by: LocalAccount) => signReceipt(by, domain(), r);

  function openai() {
    return new OpenAI({
      baseURL: `${running().server.url}/v1`,
      apiKey: "unused",
      maxRetries: 0,
    });
  }

  const body = (content: string, maxTokens = 16) => ({
    model: MODEL,
    messages: [{ role: "user" as const, content }],
    temperature: 0,
    max_tokens: maxTokens,
  });

  function headersFor(
    s: RenterSession,
    receipt?: SignedReceipt,
    /** null: send no terms (the host must know the session already). */
    terms: SessionTerms | null = s.terms,
  ) {
    const auth: SessionAuthorization = {
      sessionId: s.id.toString(),
      terms: terms ? termsToWire(terms) : undefined,
      receipt: receipt ? receiptToWire(receipt) : undefined,
    };
    return sessionHeaders(auth);
  }

  /**
   * Streams one answer on the session over HTTP; calls `onFirstChunk` once the first token is
   * in. Returns the streamed text and the tokens the host reported.
   */
  async function ask(
    s: RenterSession,
    receipt?: SignedReceipt,
    opts: { content?: string; maxTokens?: number; onFirstChunk?: () => Promise<void> } = {},
  ): Promise<Answer> {
    const asked = body(opts.content ?? `tell me about session ${s.id}`, opts.maxTokens);
    const stream = await openai().chat.completions.create(
      {
        ...asked,
        stream: true,
        stream_options: { include_usage: true },
      },
      { headers: headersFor(s, receipt) },
    );
    let text = "";
    let tokens: number | undefined;
    let first = true;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content ?? "";
      text += piece;
      if (piece && first) {
        first = false;
        await opts.onFirstChunk?.();
      }
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
    assert.ok(tokens !== undefined, "the stream reported its usage");
    return { text, tokens, request: requestHash(chatToServeRequest(asked)) };
  }

  /** The renter received `answer`: it owes for it and signs (with the session key). */
  async function received(s: RenterSession, answer: Answer): Promise<SignedReceipt> {
    s.owed = nextReceipt(s.owed, answer, s.terms.pricePerToken);
    return sign(s.owed, s.key);
  }

  /** One answer with the receipt for those before it; returns the receipt that covers it too. */
  async function turn(s: RenterSession, receipt?: SignedReceipt) {
    const answer = await ask(s, receipt);
    assert.ok(answer.tokens > 0 && answer.text.length > 0);
    return { answer, receipt: await received(s, answer) };
  }

  async function closeThroughHost(s: RenterSession, receipt?: SignedReceipt) {
    const res = await fetch(`${running().server.url}/v1/sessions/${s.id}/close`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(receipt ? { receipt: receiptToWire(receipt) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function onChain(id: bigint) {
    const [status, s] = await chain.publicClient.readContract({
      address: chain.addresses.SessionManager,
      abi: sessionManagerAbi,
      functionName: "sessionState",
      args: [id],
    });
    return { status: SESSION_STATUS[status], ...s };
  }

  async function settledEvent(id: bigint) {
    const [e] = await chain.publicClient.getContractEvents({
      address: chain.addresses.SessionManager,
      abi: sessionManagerAbi,
      eventName: "SessionSettled",
      args: { sessionId: id },
      fromBlock: 0n,
    });
    assert.ok(e, `session ${id} settled`);
    return e;
  }

  /** The host's record of a session, as its store file holds it on disk now. */
  async function onDisk(file: string, id: bigint): Promise<SessionRecord | undefined> {
    const data = JSON.parse(await readFile(file, "utf8")) as {
      records: Record<string, SessionRecord>;
    };
    return data.records[id.toString()];
  }

  // ---------------------------------------------------------------- refusals

  /** Completion tokens the host generated so far (all requests). */
  async function generated(): Promise<number> {
    const m = await running().metrics.tokens.get();
    return m.values.filter((v) => v.labels.kind === "completion").reduce((n, v) => n + v.value, 0);
  }

  /** Asserts the request is refused with `code` and its wire status, and generates nothing. */
  async function refused(
    s: RenterSession,
    code: string,
    opts: { receipt?: SignedReceipt; terms?: SessionTerms | null; maxTokens?: number } = {},
  ) {
    const before = await generated();
    await assert.rejects(
      openai().chat.completions.create(body("refuse me", opts.maxTokens), {
        headers: headersFor(s, opts.receipt, opts.terms === undefined ? s.terms : opts.terms),
      }),
      (e: unknown) =>
        e instanceof OpenAI.APIError && e.code === code && e.status === errorStatus(code),
    );
    assert.equal(await generated(), before, `${code}: nothing generated`);
  }

  beforeAll(async () => {
    [chain, models] = await Promise.all([startLocalChain(), tinyTestModels()]);
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-host-sessions-"));
    service = await startTestService(models, MODEL, CONTEXT_SIZE);
    registration = await fundTestHost(chain, hostAccount.address, {
      model: MODEL,
      price: PRICE,
      contextSize: CONTEXT_SIZE,
    });
    // The default policy: no checkpoint or idle close gets in the way of the first tests.
    await startHost(path.join(dir, "sessions.json"));
  });
  afterAll(async () => {
    await Promise.all([p2pHost?.stop(), p2pClient?.stop()]);
    await stopHost();
    await service?.stop();
    await chain?.stop();
    await models?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves three answers paid by receipts and closes at the renter's request: paid exactly the last receipt, split 85/10/5, the rest refunded", async () => {
    const s = await openSession();
    // The first request carries the terms and no receipt; each next one the receipt so far.
    const first = await turn(s);
    const second = await turn(s, first.receipt);
    const third = await turn(s, second.receipt);
    assert.equal(third.receipt.tokens, s.owed.tokens);
    const { addresses } = chain;
    const escrow = async () => {
      const [hostBalance, renterBalance, [treasury, stakers], [, locked]] = await Promise.all([
        chain.publicClient.readContract({
          address: addresses.PaymentEscrow,
          abi: paymentEscrowAbi,
          functionName: "balanceOf",
          args: [hostAccount.address, zeroAddress],
        }),
        chain.publicClient.readContract({
          address: addresses.PaymentEscrow,
          abi: paymentEscrowAbi,
          functionName: "balanceOf",
          args: [s.terms.renter, zeroAddress],
        }),
        chain.publicClient.readContract({
          address: addresses.PaymentEscrow,
          abi: paymentEscrowAbi,
          functionName: "feesOf",
          args: [zeroAddress],
        }),
        chain.publicClient.readContract({
          address: addresses.PaymentEscrow,
          abi: paymentEscrowAbi,
          functionName: "lockOf",
          args: [addresses.SessionManager, s.id],
        }),
      ]);
      return { hostBalance, renterBalance, treasury, stakers, locked };
    };
    const before = await escrow();
    assert.equal(before.locked, s.deposit);
    assert.equal((await onChain(s.id)).paid, 0n, "nothing paid before the close");

    const closed = await closeThroughHost(s, third.receipt);
    assert.equal(closed.status, 200);
    assert.equal(closed.body.paid, third.receipt.amount.toString());
    assert.equal(closed.body.tokens, third.receipt.tokens);

    const state = await onChain(s.id);
    assert.equal(state.status, "Settled");
    assert.equal(state.paid, third.receipt.amount);
    assert.equal(state.tokens, third.receipt.tokens);
    const paid = third.receipt.amount;
    assert.equal(paid, BigInt(s.owed.tokens) * PRICE);
    const after = await escrow();
    const hostShare = (paid * 8_500n) / 10_000n;
    const treasuryShare = (paid * 1_000n) / 10_000n;
    assert.equal(after.hostBalance - before.hostBalance, hostShare);
    assert.equal(after.treasury - before.treasury, treasuryShare);
    assert.equal(after.stakers - before.stakers, paid - hostShare - treasuryShare);
    assert.equal(after.renterBalance - before.renterBalance, s.deposit - paid);
    assert.equal(after.locked, 0n);
    const settled = await settledEvent(s.id);
    assert.equal(settled.args.closedBy, hostAccount.address);
    assert.equal(CLOSE_REASON[settled.args.reason ?? 99], "Host");
    assert.equal(settled.args.refund, s.deposit - paid);

    // Closed: the session serves no more, and a second close is refused.
    await refused(s, "session_closed", { receipt: third.receipt });
    const again = await closeThroughHost(s, third.receipt);
    assert.equal(again.status, 409);
    assert.equal((again.body.error as { code: string }).code, "session_closed");
  });

  it("refuses bad receipts, missing receipts, wrong terms and hosts, a busy session and malformed headers, without generating", async () => {
    const s = await openSession();
    const first = await turn(s);
    const served = s.owed;

    // A receipt for the right figures, signed by a key that is neither the renter nor its signer.
    await refused(s, "invalid_signature", { receipt: await sign(served, other) });
    // The renter's own signature, but for another session.
    await refused(s, "receipt_mismatch", {
      receipt: await sign({ ...served, sessionId: s.id + 1_000n }, renterAccount()),
    });
    // Less than what was served: fewer tokens and a lower amount, or the amount alone.
    await refused(s, "receipt_mismatch", {
      receipt: await sign(
        { ...served, tokens: served.tokens - 1, amount: served.amount - PRICE },
        s.key,
      ),
    });
    await refused(s, "receipt_mismatch", {
      receipt: await sign({ ...served, amount: served.amount - 1n }, s.key),
    });
    // The right figures for another text, or for the same text asked by another request.
    await refused(s, "receipt_mismatch", {
      receipt: await sign(
        { ...served, digest: nextDigest(EMPTY_DIGEST, first.answer.request, "another answer") },
        s.key,
      ),
    });
    await refused(s, "receipt_mismatch", {
      receipt: await sign(
        {
          ...served,
          digest: nextDigest(
            EMPTY_DIGEST,
            requestHash(chatToServeRequest(body("another question"))),
            first.answer.text,
          ),
        },
        s.key,
      ),
    });
    // More than the deposit: the chain would never pay it, so it must not replace a good one.
    await refused(s, "receipt_mismatch", {
      receipt: await sign(
        { ...served, tokens: served.tokens + 1_000, amount: s.deposit + PRICE },
        s.key,
      ),
    });
    // No receipt at all after an answer.
    await refused(s, "receipt_required");
    // Terms that are not the session's (the host knows it now), an unknown id, another host.
    await refused(s, "session_not_found", {
      receipt: first.receipt,
      terms: { ...s.terms, pricePerToken: PRICE / 2n },
    });
    const unknown = { ...s, id: 1_000_000n };
    await refused(unknown, "session_not_found", { terms: null });
    await refused(unknown, "session_not_found");
    const fresh = await openSession();
    await refused(fresh, "session_not_found", {
      terms: { ...fresh.terms, expiry: fresh.terms.expiry + 1n },
    });
    // The terms are checked before the chain: a session naming another host is not ours.
    await refused(fresh, "wrong_host", { terms: { ...fresh.terms, host: other.address } });

    // Malformed headers never reach the gate.
    for (const headers of [
      { "x-fabstir-session": "12abc" },
      { ...headersFor(s), "x-fabstir-session-receipt": "{not json" },
      { ...headersFor(s), "x-fabstir-session-terms": JSON.stringify({ renter: "0x1" }) },
    ])
      await assert.rejects(
        openai().chat.completions.create(body("malformed"), { headers }),
        (e: unknown) =>
          e instanceof OpenAI.BadRequestError && e.status === 400 && e.code === "invalid_request",
      );

    // None of that was recorded: the right receipt is still accepted. Two requests at once
    // with it: one is served, the other refused as busy (one answer at a time per session).
    const before = await generated();
    const both = await Promise.allSettled([ask(s, first.receipt), ask(s, first.receipt)]);
    const ok = both.filter((r) => r.status === "fulfilled");
    const busy = both.filter((r) => r.status === "rejected");
    assert.equal(ok.length, 1, "one request served");
    assert.equal(busy.length, 1, "one request refused");
    const e = (busy[0] as PromiseRejectedResult).reason;
    assert.ok(e instanceof OpenAI.APIError && e.status === 409 && e.code === "session_busy");
    const second = (ok[0] as PromiseFulfilledResult<Answer>).value;
    assert.equal((await generated()) - before, second.tokens, "only the served request generated");
    s.owed = nextReceipt(s.owed, second, PRICE);

    // A receipt signed by the renter's own key is as good as the session signer's.
    const third = await turn(s, await sign(s.owed, renterAccount()));
    const closed = await closeThroughHost(s, third.receipt);
    assert.equal(closed.status, 200);
    assert.equal((await onChain(s.id)).paid, third.receipt.amount);
  });

  it("refuses a request the rest of the deposit cannot pay one token of", async () => {
    // One token's worth: the first answer is cut to one token, then nothing is left.
    const s = await openSession(PRICE);
    const first = await ask(s, undefined, { maxTokens: 16 });
    assert.equal(first.tokens, 1, "the answer was bounded by the deposit");
    const receipt = await received(s, first);
    await refused(s, "insufficient_funds", { receipt, maxTokens: 16 });
    // The receipt leaves all of the deposit unpaid, so a sync round checkpoints it: the
    // renter's close, racing that checkpoint, waits for it rather than failing as busy.
    const syncing = running().chain.sessions.sync();
    const closed = await closeThroughHost(s, receipt);
    await syncing;
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    const state = await onChain(s.id);
    assert.equal(state.status, "Settled");
    assert.equal(state.paid, PRICE);
  });

  it("refuses an expired session, then closes it on chain", async () => {
    const s = await openSession(10n * PRICE, 600);
    await chain.testClient.increaseTime({ seconds: 700 });
    await chain.mine(1);
    await refused(s, "session_expired");
    // The host took note of it and closes it in its next sync rounds: the renter is refunded.
    const state = await until("the host to close the expired session", async () => {
      const st = await onChain(s.id);
      return st.status === "Settled" && st;
    });
    assert.equal(state.paid, 0n);
    assert.equal((await settledEvent(s.id)).args.refund, s.deposit);
  });

  it("closes with its latest receipt when the renter asks to close on chain", async () => {
    const s = await openSession();
    const first = await turn(s);
    // The second answer is served; the renter asks to close without signing for it.
    await turn(s, first.receipt);
    const hash = await renterWallet().writeContract({
      address: chain.addresses.SessionManager,
      abi: sessionManagerAbi,
      functionName: "requestClose",
      args: [s.terms, s.id],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    assert.equal((await onChain(s.id)).status, "Closing");
    const state = await until("the host to close the session", async () => {
      const st = await onChain(s.id);
      return st.status === "Settled" && st;
    });
    assert.equal(state.paid, first.receipt.amount);
    assert.equal(state.tokens, first.receipt.tokens);
    const settled = await settledEvent(s.id);
    assert.equal(settled.args.closedBy, hostAccount.address);
    assert.equal(CLOSE_REASON[settled.args.reason ?? 99], "Host");
    await until(
      "the host to record the close",
      async () => (await onDisk(running().sessionFile, s.id))?.status === "done",
    );
    assert.equal((await onDisk(running().sessionFile, s.id))?.outcome?.reason, "renter_requested");
  });

  it("serves a session request over libp2p", async () => {
    const current = running();
    // The same handler as the HTTP API's: the session gate of the running host.
    const handler: RequestHandler = createRequestHandler({
      service,
      sessions: current.chain.sessions,
      capabilities: () => ({
        version: "test",
        models: [],
        load: { running: 0, queued: 0, slots: 2 },
      }),
    });
    [p2pHost, p2pClient] = await Promise.all([localNode(), localNode()]);
    await startInferenceServer(p2pHost, handler);
    const s = await openSession();
    const request = (receipt?: SignedReceipt) => ({
      model: MODEL,
      messages: [{ role: "user" as const, content: "hello over libp2p" }],
      params: { temperature: 0, maxTokens: 16 },
      cache: "off" as const,
      session: {
        sessionId: s.id.toString(),
        terms: termsToWire(s.terms),
        receipt: receipt ? receiptToWire(receipt) : undefined,
      },
    });
    const events: GenerationEvent[] = [];
    for await (const e of requestInference(
      p2pClient,
      (p2pHost.multiaddrs()[0] ?? "").toString(),
      request(),
    ))
      events.push(e);
    const done = events.at(-1);
    assert.ok(done?.type === "done" && done.usage.completionTokens > 0);
    const text = events.map((e) => (e.type === "token" ? e.text : "")).join("");
    assert.equal(text, done.text);
    const receipt = await received(s, {
      text,
      tokens: done.usage.completionTokens,
      request: requestHash(request()),
    });
    // The next request without its receipt is refused with the same code as over HTTP.
    await assert.rejects(
      (async () => {
        for await (const _ of requestInference(p2pClient as P2PNode, p2pHost.peerId, request()));
      })(),
      (e: unknown) => e instanceof RemoteError && e.code === "receipt_required",
    );
    // The host accounted for exactly what it streamed: the receipt closes the session.
    const closed = await closeThroughHost(s, receipt);
    assert.equal(closed.status, 200);
    assert.equal((await onChain(s.id)).paid, receipt.amount);
  });

  it("survives a crash: the receipt synced before an answer is what the restarted host knows, and a later receipt is accepted", async () => {
    const crashed = running();
    const s = await openSession();
    const first = await turn(s);
    // While the second answer streams, its receipt (for the first) is on disk already.
    let atCrash: string | undefined;
    const second = await ask(s, first.receipt, {
      onFirstChunk: async () => {
        const record = await onDisk(crashed.sessionFile, s.id);
        assert.deepEqual(record?.receipt, receiptToWire(first.receipt));
        assert.equal(record?.served.amount, first.receipt.amount.toString());
        atCrash = await readFile(crashed.sessionFile, "utf8");
      },
    });
    assert.ok(atCrash);
    const secondReceipt = await received(s, second);

    // The crash: no stop(). The dead process's loop is halted (a dead process runs nothing),
    // and the disk holds what it held mid-answer: the count of the second answer never got
    // there. The state and session files are the ones the new process starts on.
    await crashed.server.close();
    await crashed.chain.monitor.stop();
    await crashed.chain.sessions.idle();
    await writeFile(crashed.sessionFile, atCrash);
    host = undefined;
    await startHost(crashed.sessionFile);

    // The new process knows the stored receipt: one below it is refused...
    await refused(s, "receipt_mismatch", {
      receipt: await sign(
        {
          ...first.receipt,
          tokens: first.receipt.tokens - 1,
          amount: first.receipt.amount - PRICE,
        },
        s.key,
      ),
    });
    // ...and the renter's receipt for both answers, above what it remembers, is accepted.
    const third = await turn(s, secondReceipt);
    const closed = await closeThroughHost(s, third.receipt);
    assert.equal(closed.status, 200);
    const state = await onChain(s.id);
    assert.equal(state.status, "Settled");
    assert.equal(state.paid, third.receipt.amount);
    assert.equal(state.tokens, third.receipt.tokens);
  });

  it("checkpoints in its sync rounds without closing, then closes an idle session", async () => {
    await stopHost();
    // A fresh store (the earlier sessions stay with the other file) and an eager policy.
    const idleCloseSec = 3;
    await startHost(path.join(dir, "sessions-sync.json"), { checkpointBps: 1, idleCloseSec });
    const s = await openSession();
    const first = await turn(s);
    const servedAt = Date.now();
    await turn(s, first.receipt);
    const checkpointed = await until("a checkpoint", async () => {
      const st = await onChain(s.id);
      return st.paid > 0n && st;
    });
    assert.ok(Date.now() - servedAt < idleCloseSec * 1000, "checked before the idle close");
    assert.equal(checkpointed.status, "Open");
    assert.equal(checkpointed.paid, first.receipt.amount);
    const [event] = await chain.publicClient.getContractEvents({
      address: chain.addresses.SessionManager,
      abi: sessionManagerAbi,
      eventName: "SessionCheckpointed",
      args: { sessionId: s.id },
      fromBlock: 0n,
    });
    assert.equal(event?.args.amount, first.receipt.amount);
    assert.equal(event?.args.increment, first.receipt.amount);

    // No more requests: closed as idle, paid what the checkpoint paid, the rest refunded.
    const state = await until("the idle close", async () => {
      const st = await onChain(s.id);
      return st.status === "Settled" && st;
    });
    assert.ok(Date.now() - servedAt >= idleCloseSec * 1000, "not closed before it was idle");
    assert.equal(state.paid, first.receipt.amount);
    const settled = await settledEvent(s.id);
    assert.notEqual(settled.transactionHash, event?.transactionHash);
    assert.equal(settled.args.refund, s.deposit - first.receipt.amount);
    await until(
      "the host to record the close",
      async () => (await onDisk(running().sessionFile, s.id))?.outcome?.reason === "idle",
    );
  });
});
