/**
 * The renter's sessions: the default way its tools chat. The first request for a model opens
 * a session with the chosen host (one transaction: a deposit sized for a number of answers,
 * at the host's price); later requests reuse it with no transaction, carrying the signed
 * receipt for the answers before them; a session that runs low is topped up; idle sessions
 * and all sessions at shutdown are closed (the host settles them on chain with the last
 * receipt and the rest of the deposit comes back).
 *
 * Receipts cover what the renter received: the running digest of the texts it got, and the
 * tokens the host reports for them, checked against the stream (at least one token per
 * streamed piece, at most one per byte of text plus one, and never more than max_tokens;
 * without the model's tokenizer the renter cannot count exactly). An answer that fails these
 * checks is not signed for.
 *
 * Receipts are signed by a key the pool makes for each session and names as the session's
 * signer on chain, so the renter's wallet key signs only the opening and top-ups.
 *
 * Failover: when a host fails (unreachable, an error, accounting that does not match the
 * stream) before the answer's first token reached the caller, the pool closes that session,
 * opens one with the next host and retries the request once.
 */
import {
  type Address,
  erc20Abi,
  type LocalAccount,
  type PrivateKeyAccount,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { sessionManagerAbi } from "../abis/index.ts";
import { type ChainClient, ContractRevertError } from "../protocol/chain-client.ts";
import type { DigestStep } from "../protocol/challenges.ts";
import { outputHash, requestHash } from "../protocol/hashing.ts";
import { type Logger, silentLogger } from "../protocol/logger.ts";
import { chainModelId } from "../protocol/model-id.ts";
import { type ChatCompletionBody, chatToServeRequest } from "../protocol/openai.ts";
import {
  emptyReceipt,
  nextReceipt,
  type Receipt,
  randomSalt,
  readSessionState,
  receiptToWire,
  type SessionTerms,
  type SignedReceipt,
  signReceipt,
  termsOfOpened,
  termsToWire,
} from "../protocol/sessions.ts";
import type { FinishReason, ServeRequest } from "../protocol/wire.ts";
import type { ReachableHost } from "./client.ts";
import {
  HostRequestError,
  HostUnreachableError,
  InvalidRequestError,
  NoHostError,
  RenterError,
  SessionNotFoundError,
  TransactionRefusedError,
} from "./errors.ts";
import { checkWithHost, streamFromHost } from "./host-stream.ts";

export const SESSION_DEFAULTS = {
  /** Answers of max_tokens each that a deposit (and a top-up) pays for. */
  answers: 20,
  /** Seconds until a session expires. */
  ttlSec: 3_600,
  /** Close a session after this long with no request. */
  idleCloseMs: 5 * 60_000,
  /** Leave a failed host out of new sessions for this long. */
  hostBackoffMs: 5 * 60_000,
  /** Leave a host that failed a spot-check out of new sessions for this long. */
  distrustMs: 24 * 3_600_000,
  maxTokens: 256,
} as const;

export interface SessionPoolOptions {
  chain: ChainClient;
  account: PrivateKeyAccount;
  chainId: number;
  sessions: Address;
  escrow: Address;
  /** Hosts for a model, best first (the renter's discovery). */
  hosts: (model: string, token: Address) => Promise<ReachableHost[]>;
  /** Refuses a deposit the wallet cannot cover, before any transaction. */
  ensureFunds: (token: Address, amount: bigint) => Promise<void>;
  answers?: number;
  ttlSec?: number;
  idleCloseMs?: number;
  /** The least on-chain reputation score the host must have when a session opens (0: any). */
  minScore?: number;
  logger?: Logger;
}

export interface SessionChatOptions {
  /** "ETH" (default) or an allowed ERC-20 address, as the discovery API names it. */
  token?: Address;
  /** A host to use for a new session; otherwise the best one. */
  host?: Address;
  /** The most a host may charge per token; default the chosen host's price. */
  maxPricePerToken?: bigint;
  signal?: AbortSignal;
}

/** One session the pool holds. */
export interface HeldSession {
  id: bigint;
  terms: SessionTerms;
  host: ReachableHost;
  model: string;
  deposit: bigint;
  /** What the renter owes so far (the latest receipt it signed). */
  receipt: SignedReceipt | undefined;
  answers: number;
  /** Each answer's (requestHash, outputHash), in order: what the receipts' digest folds. */
  steps: DigestStep[];
  openedTx: `0x${string}`;
  lastUsed: number;
}

export type SessionEvent =
  | { type: "host"; host: ReachableHost }
  | { type: "opened"; sessionId: bigint; deposit: bigint; tx: `0x${string}` }
  | { type: "topped_up"; sessionId: bigint; amount: bigint; tx: `0x${string}` }
  | { type: "failover"; from: Address; reason: string }
  /** The session this answer is asked on (just before the request goes to its host). */
  | { type: "asking"; sessionId: bigint; host: Address }
  | { type: "token"; text: string };

export interface SessionAnswer {
  sessionId: bigint;
  host: ReachableHost;
  /** The request exactly as the host served it (what its requestHash covers). */
  served: ServeRequest;
  /** This answer's place in the session's digest (its index in HeldSession.steps). */
  step: number;
  text: string;
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
  cached: boolean;
  token: Address;
  /** This answer's cost. */
  cost: bigint;
  /** The session so far: tokens, spent (signed for) and what is left of the deposit. */
  tokens: number;
  spent: bigint;
  remaining: bigint;
  /** Transactions this answer needed (0 on a reused session, 1 to open or top up). */
  transactions: number;
}

export interface SessionClosed {
  sessionId: bigint;
  /** Paid to the host in all (the latest receipt). */
  paid: bigint;
  /** How it was closed: by the host at once, or by the renter's on-chain request. */
  how: "host" | "requested";
  transactionHash?: `0x${string}`;
}

export interface SessionPool {
  chat: (
    body: ChatCompletionBody,
    options?: SessionChatOptions,
  ) => AsyncGenerator<SessionEvent, SessionAnswer>;
  held: () => HeldSession[];
  /** Closes one session: the host settles it with the latest receipt, else an on-chain request. */
  close: (id: bigint) => Promise<SessionClosed>;
  /** Closes every session (shutdown). */
  closeAll: () => Promise<SessionClosed[]>;
  /**
   * Stops using `host` (a failed spot-check): no new session with it for `ms` (default a day),
   * and its held sessions are closed. Returns the sessions it closed, as they were.
   */
  distrust: (host: Address, ms?: number) => Promise<HeldSession[]>;
  /** Stops the idle timer and closes every session. */
  stop: () => Promise<SessionClosed[]>;
}

/** A session's terms, from its SessionOpened event (the chain stores only their hash). */
export async function readSessionTerms(
  chain: ChainClient,
  sessions: Address,
  id: bigint,
  fromBlock = 0n,
): Promise<SessionTerms> {
  const [e] = await chain.query(`SessionOpened ${id}`, (c) =>
    c.getContractEvents({
      address: sessions,
      abi: sessionManagerAbi,
      eventName: "SessionOpened",
      args: { sessionId: id },
      fromBlock,
    }),
  );
  if (!e) throw new SessionNotFoundError(`session ${id} does not exist`);
  return termsOfOpened(e.args as Required<typeof e.args>);
}

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8");

export function createSessionPool(o: SessionPoolOptions): SessionPool {
  const log = (o.logger ?? silentLogger).child({ component: "sessions" });
  const answersPerDeposit = o.answers ?? SESSION_DEFAULTS.answers;
  const domain = { chainId: o.chainId, sessions: o.sessions };
  /** Sessions by model and token. */
  const pool = new Map<string, HeldSession>();
  /** Session keys by session id (the signer named in its terms). */
  const signers = new Map<bigint, LocalAccount>();
  /** One request at a time per session. */
  const queues = new Map<string, Promise<unknown>>();
  const failedHosts = new Map<string, number>();
  const keyOf = (model: string, token: Address) => `${model}\u0000${token.toLowerCase()}`;

  async function send(what: string, call: Parameters<ChainClient["send"]>[1]) {
    try {
      return await o.chain.send(what, call);
    } catch (e) {
      if (e instanceof ContractRevertError)
        throw new TransactionRefusedError(what, undefined, e.errorName ?? e.message, e);
      throw e;
    }
  }

  async function approve(token: Address, amount: bigint) {
    if (token === zeroAddress) return;
    const allowance = await o.chain.read("allowance", {
      address: token,
      abi: erc20Abi,
      functionName: "allowance",
      args: [o.account.address, o.escrow],
    });
    if (allowance >= amount) return;
    await send("approve", {
      address: token,
      abi: erc20Abi,
      functionName: "approve",
      args: [o.escrow, amount],
    });
  }

  async function pickHosts(model: string, token: Address, chosen?: Address) {
    const hosts = await o.hosts(model, token);
    if (chosen) {
      const h = hosts.find((x) => x.address.toLowerCase() === chosen.toLowerCase());
      if (!h) throw new NoHostError(`host ${chosen} does not serve ${model} for ${token}`);
      return [h];
    }
    const now = Date.now();
    const healthy = hosts.filter((h) => (failedHosts.get(h.address.toLowerCase()) ?? 0) < now);
    if (healthy.length === 0)
      throw new NoHostError(
        `no eligible host serves ${model} for ${token === zeroAddress ? "ETH" : token}`,
      );
    return healthy;
  }

  async function open(
    model: string,
    token: Address,
    host: ReachableHost,
    maxTokens: number,
    maxPrice: bigint | undefined,
  ): Promise<HeldSession> {
    const price = BigInt(host.pricePerToken);
    if (maxPrice !== undefined && price > maxPrice)
      throw new NoHostError(
        `host ${host.address} asks ${price} per token, above the maximum ${maxPrice}`,
      );
    const deposit = BigInt(maxTokens) * price * BigInt(answersPerDeposit);
    await o.ensureFunds(token, deposit);
    await approve(token, deposit);
    const signer = privateKeyToAccount(generatePrivateKey());
    const block = await o.chain.query("block", (c) => c.getBlock());
    const expiry = block.timestamp + BigInt(o.ttlSec ?? SESSION_DEFAULTS.ttlSec);
    const modelId = chainModelId(model);
    const tx = await send("openSession", {
      address: o.sessions,
      abi: sessionManagerAbi,
      functionName: "openSession",
      args: [
        {
          host: host.address,
          modelId,
          token,
          signer: signer.address,
          maxPricePerToken: maxPrice ?? price,
          deposit,
          expiry,
          minScore: o.minScore ?? 0,
          salt: randomSalt(),
        },
      ],
      value: token === zeroAddress ? deposit : 0n,
    });
    const [opened] = parseEventLogs({
      abi: sessionManagerAbi,
      eventName: "SessionOpened",
      logs: tx.logs,
    });
    if (!opened) throw new Error("openSession emitted no SessionOpened");
    const a = opened.args;
    const terms = termsOfOpened(a);
    const held: HeldSession = {
      id: a.sessionId,
      terms,
      host,
      model,
      deposit,
      receipt: undefined,
      answers: 0,
      steps: [],
      openedTx: tx.transactionHash,
      lastUsed: Date.now(),
    };
    signers.set(held.id, signer);
    log.info(
      { session: held.id.toString(), host: host.address, deposit: deposit.toString() },
      "session opened",
    );
    return held;
  }

  async function topUp(s: HeldSession, amount: bigint) {
    await o.ensureFunds(s.terms.token, amount);
    await approve(s.terms.token, amount);
    const tx = await send("topUp", {
      address: o.sessions,
      abi: sessionManagerAbi,
      functionName: "topUp",
      args: [s.terms, s.id, amount],
      value: s.terms.token === zeroAddress ? amount : 0n,
    });
    s.deposit += amount;
    return tx.transactionHash;
  }

  const spent = (s: HeldSession) => s.receipt?.amount ?? 0n;

  /** Streams one answer on `s`; the receipt for it is signed when it checks out. */
  async function* ask(
    s: HeldSession,
    body: ChatCompletionBody,
    maxTokens: number,
    signal: AbortSignal | undefined,
    state: { streamed: boolean },
  ): AsyncGenerator<
    SessionEvent,
    {
      answer: Omit<SessionAnswer, "transactions" | "step">;
      receipt: SignedReceipt;
      step: DigestStep;
    }
  > {
    const auth = {
      sessionId: s.id.toString(),
      terms: termsToWire(s.terms),
      receipt: s.receipt ? receiptToWire(s.receipt) : undefined,
    };
    let pieces = 0;
    let done:
      | {
          text: string;
          finishReason: FinishReason;
          usage: { promptTokens: number; completionTokens: number };
          cached: boolean;
        }
      | undefined;
    const request = { ...body, max_tokens: maxTokens, max_completion_tokens: undefined };
    for await (const e of streamFromHost(
      s.host.httpUrl,
      request,
      { kind: "session", auth },
      signal,
    )) {
      if (e.type === "token") {
        pieces++;
        state.streamed = true;
        yield e;
      } else done = e;
    }
    if (!done)
      throw new HostRequestError(undefined, "the host's stream ended without an answer", {});
    const tokens = done.usage.completionTokens;
    const bytes = utf8Bytes(done.text);
    // The host's count against what arrived: never more than asked, at least one per piece,
    // at most one per byte (plus one for a token that ends the answer without text).
    if (tokens > maxTokens || tokens < Math.min(pieces, maxTokens) || tokens > bytes + 1)
      throw new AccountingMismatchError(
        `host ${s.host.address} reports ${tokens} tokens for ${pieces} streamed pieces and ${bytes} bytes (max_tokens ${maxTokens})`,
      );
    const base: Receipt = s.receipt ?? emptyReceipt(s.id);
    const served = chatToServeRequest(request);
    const step = { request: requestHash(served), output: outputHash(done.text) };
    const next = nextReceipt(
      base,
      { tokens, text: done.text, request: step.request },
      s.terms.pricePerToken,
    );
    const signer = signers.get(s.id);
    if (!signer) throw new SessionNotFoundError(`no signer for session ${s.id}`);
    const receipt = await signReceipt(signer, domain, next);
    const cost = next.amount - base.amount;
    return {
      receipt,
      step,
      answer: {
        sessionId: s.id,
        host: s.host,
        served,
        text: done.text,
        finishReason: done.finishReason,
        usage: done.usage,
        cached: done.cached,
        token: s.terms.token,
        cost,
        tokens: next.tokens,
        spent: next.amount,
        remaining: s.deposit - next.amount,
      },
    };
  }

  async function* chatOnce(
    body: ChatCompletionBody,
    opts: SessionChatOptions,
    askedTokens: number | undefined,
    exclude: Set<string>,
    state: { streamed: boolean; session?: HeldSession },
  ): AsyncGenerator<SessionEvent, SessionAnswer> {
    const explicit = askedTokens !== undefined;
    let maxTokens = askedTokens ?? SESSION_DEFAULTS.maxTokens;
    const token = opts.token ?? zeroAddress;
    const key = keyOf(body.model, token);
    let transactions = 0;
    let s = pool.get(key);
    if (s && exclude.has(s.host.address.toLowerCase())) s = undefined;
    if (!s) {
      const hosts = (await pickHosts(body.model, token, opts.host)).filter(
        (h) => !exclude.has(h.address.toLowerCase()),
      );
      const host = hosts[0];
      if (!host) throw new NoHostError(`no other host serves ${body.model}`);
      yield { type: "host", host };
      tooLong(host, maxTokens, body.model);
      // The host measures the prompt (free, no transaction): one that cannot fit is refused
      // before a deposit is locked for it.
      const room = await checkWithHost(host.httpUrl, body, opts.signal);
      if (room && maxTokens > room.maxTokens && !explicit) maxTokens = Math.max(1, room.maxTokens);
      if (room && maxTokens > room.maxTokens)
        throw new InvalidRequestError(
          `max_tokens is ${maxTokens}, but after the prompt's ${room.promptTokens} tokens ${body.model}'s context of ${room.contextLength} leaves room for ${room.maxTokens}`,
          "max_tokens",
          "context_length_exceeded",
        );
      s = await open(body.model, token, host, maxTokens, opts.maxPricePerToken);
      transactions++;
      pool.set(key, s);
      yield { type: "opened", sessionId: s.id, deposit: s.deposit, tx: s.openedTx };
    } else tooLong(s.host, maxTokens, body.model);
    state.session = s;
    const need = BigInt(maxTokens) * s.terms.pricePerToken;
    if (s.deposit - spent(s) < need) {
      const amount = need * BigInt(answersPerDeposit);
      const tx = await topUp(s, amount);
      transactions++;
      yield { type: "topped_up", sessionId: s.id, amount, tx };
    }
    yield { type: "asking", sessionId: s.id, host: s.host.address };
    const { answer, receipt, step } = yield* ask(s, body, maxTokens, opts.signal, state);
    s.receipt = receipt;
    s.answers++;
    s.steps.push(step);
    s.lastUsed = Date.now();
    return { ...answer, step: s.steps.length - 1, transactions };
  }

  /** Waits for the requests queued before on `key`; the returned function lets the next one go. */
  async function takeTurn(key: string): Promise<() => void> {
    const before = queues.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chain = before.then(() => mine);
    queues.set(key, chain);
    await before;
    return () => {
      release();
      if (queues.get(key) === chain) queues.delete(key);
    };
  }

  async function* chat(
    body: ChatCompletionBody,
    opts: SessionChatOptions = {},
  ): AsyncGenerator<SessionEvent, SessionAnswer> {
    const asked = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const param = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
    if (asked !== undefined && (!Number.isInteger(asked) || asked < 1))
      throw new InvalidRequestError(`${param} must be a whole number of at least 1`, param);
    if (asked !== undefined && asked > 16_777_215)
      throw new InvalidRequestError(`${param} is ${asked}; at most 16777215 per answer`, param);
    const token = opts.token ?? zeroAddress;
    const key = keyOf(body.model, token);
    // Requests of one session are answered one at a time: wait for the ones before.
    const done = await takeTurn(key);
    const exclude = new Set<string>();
    try {
      for (let attempt = 0; ; attempt++) {
        const state: { streamed: boolean; session?: HeldSession } = { streamed: false };
        try {
          return yield* chatOnce(body, opts, asked, exclude, state);
        } catch (e) {
          const failed = state.session;
          if (!failed || !hostFault(e) || state.streamed || attempt > 0 || opts.host) throw e;
          const reason = e instanceof Error ? e.message : String(e);
          log.warn(
            { session: failed.id.toString(), host: failed.host.address, reason },
            "host failed: failing over",
          );
          yield { type: "failover", from: failed.host.address, reason };
          exclude.add(failed.host.address.toLowerCase());
          failedHosts.set(
            failed.host.address.toLowerCase(),
            Date.now() + SESSION_DEFAULTS.hostBackoffMs,
          );
          pool.delete(key);
          // Settle what was signed so far; a host that is gone is closed by an on-chain request.
          close(failed.id, failed).catch((err) =>
            log.warn(
              { session: failed.id.toString(), err: String(err) },
              "closing the failed session failed",
            ),
          );
        }
      }
    } finally {
      done();
    }
  }

  function heldById(id: bigint): HeldSession | undefined {
    for (const s of pool.values()) if (s.id === id) return s;
    return undefined;
  }

  async function close(id: bigint, known?: HeldSession): Promise<SessionClosed> {
    const s = known ?? heldById(id);
    if (!s) throw new SessionNotFoundError(`this renter holds no session ${id}`);
    for (const [k, v] of pool) if (v.id === id) pool.delete(k);
    const url = `${s.host.httpUrl.replace(/\/+$/, "")}/v1/sessions/${id}/close`;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(s.receipt ? { receipt: receiptToWire(s.receipt) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
      const json = (await res.json().catch(() => undefined)) as
        | { paid?: string; transaction_hash?: string | null; error?: { message?: string } }
        | undefined;
      if (!res.ok) throw new Error(`${res.status} ${json?.error?.message ?? res.statusText}`);
      signers.delete(id);
      log.info({ session: id.toString(), paid: json?.paid }, "session closed by the host");
      return {
        sessionId: id,
        paid: BigInt(json?.paid ?? "0"),
        how: "host",
        transactionHash: (json?.transaction_hash ?? undefined) as `0x${string}` | undefined,
      };
    } catch (e) {
      log.warn(
        { session: id.toString(), err: String(e) },
        "the host did not close the session: asking on chain",
      );
    }
    const state = await readSessionState(o.chain, o.sessions, id);
    if (state.status !== "Open") return { sessionId: id, paid: state.paid, how: "requested" };
    const tx = await send("requestClose", {
      address: o.sessions,
      abi: sessionManagerAbi,
      functionName: "requestClose",
      args: [s.terms, id],
    });
    signers.delete(id);
    return {
      sessionId: id,
      paid: state.paid,
      how: "requested",
      transactionHash: tx.transactionHash,
    };
  }

  async function closeAll() {
    const all = [...new Set(pool.values())];
    const results = await Promise.allSettled(all.map((s) => close(s.id, s)));
    return results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  }

  async function distrust(host: Address, ms = SESSION_DEFAULTS.distrustMs) {
    const key = host.toLowerCase();
    failedHosts.set(key, Math.max(failedHosts.get(key) ?? 0, Date.now() + ms));
    const theirs = [...new Set(pool.values())].filter((s) => s.host.address.toLowerCase() === key);
    log.warn({ host, sessions: theirs.length }, "host distrusted: closing its sessions");
    await Promise.allSettled(theirs.map((s) => close(s.id, s)));
    return theirs;
  }

  const idleMs = o.idleCloseMs ?? SESSION_DEFAULTS.idleCloseMs;
  const timer = setInterval(
    () => {
      const now = Date.now();
      for (const [key, s] of pool)
        if (now - s.lastUsed > idleMs && !queues.has(key))
          close(s.id, s).catch((e) =>
            log.warn({ session: s.id.toString(), err: String(e) }, "idle close failed"),
          );
    },
    Math.max(1_000, Math.min(idleMs / 2, 30_000)),
  );
  timer.unref();

  return {
    chat,
    held: () => [...pool.values()],
    close: (id) => close(id),
    closeAll,
    distrust,
    stop: async () => {
      clearInterval(timer);
      return closeAll();
    },
  };
}

/** Refuses max_tokens that cannot fit the host's context whatever the prompt. */
function tooLong(host: ReachableHost, maxTokens: number, model: string) {
  if (host.contextLength !== null && maxTokens >= host.contextLength)
    throw new InvalidRequestError(
      `max_tokens is ${maxTokens}; ${model} on host ${host.address} has a context of ${host.contextLength} tokens for the prompt and the answer together`,
      "max_tokens",
    );
}

/** The host's token count does not match what the renter received: nothing is signed for it. */
export class AccountingMismatchError extends RenterError {
  constructor(message: string) {
    super("host_error", message, { retryable: true });
  }
}

/** Whether `e` is the host's fault (worth failing over), not the request's or the wallet's. */
function hostFault(e: unknown): boolean {
  if (e instanceof AccountingMismatchError || e instanceof HostUnreachableError) return true;
  if (e instanceof HostRequestError)
    return e.status === undefined || e.status >= 500 || e.status === 409 || e.status === 404;
  return false;
}
