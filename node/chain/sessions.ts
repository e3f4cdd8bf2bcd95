/**
 * The host's side of sessions (contracts/sessions/SessionManager.sol). A renter opens a
 * session on chain (one deposit for this host, one model, one token, at this host's price)
 * and then asks with no transaction per answer: each request names the session and carries
 * the renter's signed receipt for every answer before it. The gate:
 * - checks the session on chain (its terms against the stored hash, this host, this model,
 *   open, not expired) and what is left of the deposit;
 * - bounds credit to one answer: answer n+1 starts only with a valid receipt for answers
 *   1..n (signed by the renter or the signer it named; never lower than what was served);
 * - writes the receipt to disk, synced, before the answer starts (session-store.ts);
 * - serves at most what the rest of the deposit pays for.
 * The periodic sync checkpoints when the unpaid receipts pass a share of the deposit, closes
 * sessions that went idle, are about to expire or that the renter asked to close (with the
 * latest receipt), and picks up every open session again after a restart.
 */
import type { Address } from "viem";
import { sessionManagerAbi } from "../../abis/index.ts";
import { type ChainClient, ContractRevertError } from "../../protocol/chain-client.ts";
import { requestHash } from "../../protocol/hashing.ts";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import { chainModelId } from "../../protocol/model-id.ts";
import {
  EMPTY_DIGEST,
  nextDigest,
  readSessionState,
  receiptArg,
  receiptFromWire,
  receiptToWire,
  type SessionAuthorization,
  type SessionTerms,
  type SignedReceipt,
  sessionIdOf,
  signedByRenter,
  termsFromWire,
  termsHash,
  termsToWire,
} from "../../protocol/sessions.ts";
import type { ServeRequest } from "../../protocol/wire.ts";
import { InvalidRequestError, SessionRefusedError } from "../errors.ts";
import type { SessionGate, SessionLease } from "../serving/handler.ts";
import type { ProofHooks } from "./proofs.ts";
import type { SessionRecord, SessionStore, SessionTotals } from "./session-store.ts";

export interface SessionPolicy {
  /** Checkpoint once the receipts not yet paid on chain reach this share of the deposit (bps). */
  checkpointBps: number;
  /** Close a session with no request for this long (seconds). */
  idleCloseSec: number;
  /** Close a session this long before its expiry (seconds), so its last receipt is paid. */
  expiryMarginSec: number;
  /** Stop serving a session after this many answers cut short (not charged). */
  maxAborted: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  checkpointBps: 5_000,
  idleCloseSec: 15 * 60,
  expiryMarginSec: 5 * 60,
  maxAborted: 3,
};

export interface SessionManagerOptions {
  client: ChainClient;
  chainId: number;
  sessions: Address;
  store: SessionStore;
  policy?: Partial<SessionPolicy>;
  logger?: Logger;
  /** Unix seconds now; the chain's clock may differ (tests move it). */
  now?: () => Promise<number>;
  /** Output-count proofs (node/chain/proofs.ts): told of each answer, checkpoint and close. */
  proofs?: ProofHooks;
}

export interface HostSessions extends SessionGate {
  /**
   * The renter is done: takes its last receipt (if any) and closes the session on chain with
   * the latest receipt, refunding the rest of the deposit. Returns the settlement's figures.
   */
  close: (
    sessionId: string,
    receipt: SignedReceipt | undefined,
  ) => Promise<{ paid: bigint; tokens: number; transactionHash?: `0x${string}` }>;
  /** Checkpoints, closes idle, expiring and renter-closed sessions, notices settlements. */
  sync: () => Promise<void>;
  /** Waits for chain work in flight. */
  idle: () => Promise<void>;
  counts: () => Record<string, number>;
}

const ZERO_TOTALS: SessionTotals = { tokens: 0, amount: "0", digest: EMPTY_DIGEST };

export function createHostSessions(options: SessionManagerOptions): HostSessions {
  const { client, store } = options;
  const log = (options.logger ?? silentLogger).child({ component: "sessions" });
  const policy = { ...DEFAULT_SESSION_POLICY, ...options.policy };
  const me = client.account.address.toLowerCase();
  const domain = { chainId: options.chainId, sessions: options.sessions };
  const now =
    options.now ??
    (async () =>
      Number(
        (await client.query("block time", (c) => c.getBlock({ blockTag: "latest" }))).timestamp,
      ));
  /** Sessions answering now: one answer at a time per session. */
  const serving = new Set<string>();
  /** Sessions with chain work in progress: one action at a time per session. */
  const busy = new Map<string, Promise<unknown>>();
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => undefined);
    return p;
  };
  function exclusive<T>(id: string, fn: () => Promise<T>): Promise<T | undefined> {
    const running = busy.get(id);
    if (running) return running.then(() => undefined);
    const action = fn().finally(() => busy.delete(id));
    busy.set(id, action);
    return track(action);
  }
  /** Like `exclusive`, but waits for the action in progress (a checkpoint, say) and then runs. */
  async function queued<T>(id: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const running = busy.get(id);
      if (!running) return exclusive(id, fn) as Promise<T>;
      await running.catch(() => undefined);
    }
  }

  const chainSession = (id: string) => readSessionState(client, options.sessions, BigInt(id));

  const refuse = (
    code: ConstructorParameters<typeof SessionRefusedError>[0],
    id: string,
    m: string,
  ) => new SessionRefusedError(code, id, m);

  /** The record of a session this host may serve, created from checked terms on first use. */
  async function recordFor(auth: SessionAuthorization, model: string): Promise<SessionRecord> {
    const id = auth.sessionId;
    const known = store.get(id);
    if (known) {
      if (
        auth.terms &&
        termsHash(termsFromWire(auth.terms)) !== termsHash(termsFromWire(known.terms))
      )
        throw refuse("session_not_found", id, "the terms sent are not this session's");
      return known;
    }
    if (!auth.terms)
      throw refuse(
        "session_not_found",
        id,
        "unknown session: send its terms with the first request",
      );
    const terms = termsFromWire(auth.terms);
    if (terms.host.toLowerCase() !== me)
      throw refuse("wrong_host", id, `the session is for host ${terms.host}`);
    // The id is the terms' hash: terms that do not hash to it are refused without a chain read.
    if (sessionIdOf(terms) !== BigInt(id))
      throw refuse("session_not_found", id, "the terms sent do not hash to the session id");
    const stored = await client.read(`termsHash ${id}`, {
      address: options.sessions,
      abi: sessionManagerAbi,
      functionName: "termsHash",
      args: [BigInt(id)],
    });
    if (BigInt(stored) === 0n) throw refuse("session_not_found", id, "no such session on chain");
    if (stored.toLowerCase() !== termsHash(terms).toLowerCase())
      throw refuse("session_not_found", id, "the terms sent are not the session's on chain");
    const record: SessionRecord = {
      id,
      terms: termsToWire(terms),
      model,
      status: "open",
      served: { ...ZERO_TOTALS },
      paid: "0",
      aborted: 0,
      lastUsedAt: Date.now(),
      updatedAt: Date.now(),
    };
    store.put(record);
    await store.save();
    log.info({ session: id, renter: terms.renter }, "session joined");
    return record;
  }

  /**
   * Checks the receipt against what was served. A receipt above it is accepted (the renter
   * owes at least that much; after a crash the host may have lost its record of the last
   * answer, never the renter's signature); below it, or for another text, is refused.
   */
  async function acceptReceipt(
    r: SessionRecord,
    terms: SessionTerms,
    receipt: SignedReceipt | undefined,
    deposit: bigint,
  ) {
    const served = r.served;
    const owed = BigInt(served.amount);
    const latest = r.receipt ? BigInt(r.receipt.amount) : 0n;
    if (!receipt) {
      if (owed > latest)
        throw refuse(
          "receipt_required",
          r.id,
          `sign a receipt for the answers served so far: ${served.tokens} tokens, ${served.amount} wei, digest ${served.digest}`,
        );
      return;
    }
    if (receipt.sessionId !== BigInt(r.id))
      throw refuse("receipt_mismatch", r.id, `the receipt is for session ${receipt.sessionId}`);
    if (!(await signedByRenter(domain, terms, receipt)))
      throw refuse(
        "invalid_signature",
        r.id,
        "the receipt is not signed by the renter or its session signer",
      );
    if (receipt.amount < owed || receipt.tokens < served.tokens)
      throw refuse(
        "receipt_mismatch",
        r.id,
        `the receipt covers ${receipt.tokens} tokens / ${receipt.amount} wei; served ${served.tokens} tokens / ${served.amount} wei`,
      );
    // The chain never pays a receipt above the deposit: taken as the latest, it would stand
    // in for the good one and the host could neither checkpoint nor close with it.
    if (receipt.amount > deposit)
      throw refuse(
        "receipt_mismatch",
        r.id,
        `the receipt's amount ${receipt.amount} wei is above the session's deposit (${deposit} wei)`,
      );
    if (receipt.amount === owed && receipt.digest.toLowerCase() !== served.digest.toLowerCase())
      throw refuse(
        "receipt_mismatch",
        r.id,
        `the receipt's digest is not that of the answers served (${served.digest})`,
      );
    if (receipt.amount <= latest) return;
    store.update(r.id, {
      receipt: receiptToWire(receipt),
      served:
        receipt.amount > owed
          ? { tokens: receipt.tokens, amount: receipt.amount.toString(), digest: receipt.digest }
          : served,
    });
    // Money: synced to disk before the next answer starts.
    await store.save();
  }

  async function open(auth: SessionAuthorization, request: ServeRequest): Promise<SessionLease> {
    const id = auth.sessionId;
    if (serving.has(id))
      throw refuse("session_busy", id, "an answer of this session is being served");
    serving.add(id);
    let leased = false;
    try {
      const r = await recordFor(auth, request.model);
      const terms = termsFromWire(r.terms);
      if (chainModelId(request.model).toLowerCase() !== terms.modelId.toLowerCase())
        throw refuse(
          "model_mismatch",
          id,
          `the session is for another model than ${request.model}`,
        );
      if (r.status !== "open") throw refuse("session_closed", id, "the session is closed");
      if (r.aborted >= policy.maxAborted)
        throw refuse(
          "session_closed",
          id,
          `${r.aborted} answers were cut short: open a new session`,
        );
      const [chain, t] = await Promise.all([chainSession(id), now()]);
      if (chain.status !== "Open")
        throw refuse("session_closed", id, `the session is ${chain.status.toLowerCase()}`);
      if (t + 1 >= Number(terms.expiry))
        throw refuse("session_expired", id, "the session has expired");
      const receipt = auth.receipt ? receiptFromWire(auth.receipt) : undefined;
      await acceptReceipt(r, terms, receipt, chain.deposit);
      const remaining = chain.deposit - BigInt(r.served.amount);
      const affordable = terms.pricePerToken > 0n ? remaining / terms.pricePerToken : 0n;
      if (affordable < 1n)
        throw refuse(
          "insufficient_funds",
          id,
          `the deposit has ${remaining} wei left, less than one token (${terms.pricePerToken} wei): top up or open a new session`,
        );
      store.update(id, { lastUsedAt: Date.now() });
      const maxTokens = Number(affordable > 16_777_215n ? 16_777_215n : affordable);
      // The request as the renter sent it (before this host caps max_tokens): the receipt's
      // digest binds the answer to it.
      const asked = requestHash(request);
      leased = true;
      let settled = false;
      return {
        maxTokens,
        finish: ({ text, usage, tokenIds }) => {
          if (settled) return;
          settled = true;
          serving.delete(id);
          const before = store.get(id);
          if (!before) return;
          const tokens = usage.completionTokens;
          options.proofs?.sessionServed(id, before.terms, before.served.tokens, tokens, tokenIds);
          const amount = BigInt(before.served.amount) + BigInt(tokens) * terms.pricePerToken;
          const digest = nextDigest(before.served.digest, asked, text);
          store.update(id, {
            served: { tokens: before.served.tokens + tokens, amount: amount.toString(), digest },
            lastUsedAt: Date.now(),
          });
          track(store.save()).catch((e) =>
            log.error({ session: id, err: String(e) }, "saving a session failed"),
          );
        },
        fail: (error) => {
          if (settled) return;
          settled = true;
          serving.delete(id);
          // The renter's own request error (e.g. a prompt too long) costs nothing and is no abuse.
          if (error instanceof InvalidRequestError) return;
          const before = store.get(id);
          if (before) store.update(id, { aborted: before.aborted + 1 });
          log.info(
            { session: id, err: String(error) },
            "answer not delivered in full: not charged",
          );
          track(store.save()).catch(() => undefined);
        },
      };
    } finally {
      if (!leased) serving.delete(id);
    }
  }

  /** Sends `fn` and records `paid`; a revert is logged and the chain state re-read next sync. */
  async function checkpoint(r: SessionRecord) {
    const receipt = r.receipt ? receiptFromWire(r.receipt) : undefined;
    if (!receipt) return;
    const terms = termsFromWire(r.terms);
    try {
      await client.send(`checkpoint session ${r.id}`, {
        address: options.sessions,
        abi: sessionManagerAbi,
        functionName: "checkpoint",
        args: [terms, BigInt(r.id), receiptArg(receipt), receipt.signature],
      });
      store.update(r.id, { paid: receipt.amount.toString() });
      await store.save();
      log.info({ session: r.id, paid: receipt.amount.toString() }, "session checkpointed");
      options.proofs?.sessionSettled(r.id);
    } catch (e) {
      log.warn(
        { session: r.id, err: e instanceof ContractRevertError ? e.message : String(e) },
        "checkpoint failed",
      );
    }
  }

  async function closeOnChain(r: SessionRecord, reason: string) {
    const terms = termsFromWire(r.terms);
    const receipt = r.receipt ? receiptFromWire(r.receipt) : undefined;
    const fresh = receipt && receipt.amount > BigInt(r.paid);
    store.update(r.id, { status: "closing" });
    await store.save();
    const tx = await client.send(`close session ${r.id}`, {
      address: options.sessions,
      abi: sessionManagerAbi,
      functionName: "closeSession",
      args: [
        terms,
        BigInt(r.id),
        fresh && receipt
          ? receiptArg(receipt)
          : { sessionId: BigInt(r.id), tokens: 0, amount: 0n, digest: EMPTY_DIGEST },
        fresh && receipt ? receipt.signature : "0x",
      ],
    });
    const paid = fresh && receipt ? receipt.amount : BigInt(r.paid);
    store.update(r.id, {
      status: "done",
      paid: paid.toString(),
      outcome: { reason, paid: paid.toString() },
    });
    await store.save();
    log.info({ session: r.id, reason, paid: paid.toString() }, "session closed");
    options.proofs?.sessionSettled(r.id);
    return { paid, tokens: receipt?.tokens ?? 0, transactionHash: tx.transactionHash };
  }

  async function close(sessionId: string, receipt: SignedReceipt | undefined) {
    const r = store.get(sessionId);
    if (!r) throw refuse("session_not_found", sessionId, "this host has not served the session");
    if (r.status === "done")
      throw refuse("session_closed", sessionId, "the session is already closed");
    if (serving.has(sessionId))
      throw refuse("session_busy", sessionId, "an answer is being served");
    await acceptReceipt(
      r,
      termsFromWire(r.terms),
      receipt,
      (await chainSession(sessionId)).deposit,
    );
    // A checkpoint or close already under way is waited for, not reported as busy: the
    // renter's close then runs on what it left (or finds the session settled).
    return queued(sessionId, async () => {
      const current = store.get(sessionId) as SessionRecord;
      const chain = await chainSession(sessionId);
      if (chain.status === "Settled") {
        store.update(sessionId, {
          status: "done",
          paid: chain.paid.toString(),
          outcome: { reason: "settled", paid: chain.paid.toString() },
        });
        await store.save();
        options.proofs?.sessionSettled(sessionId);
        return { paid: chain.paid, tokens: chain.tokens };
      }
      if (current.status === "done")
        throw refuse("session_closed", sessionId, "the session is already closed");
      return closeOnChain(current, "renter");
    });
  }

  async function syncOne(r: SessionRecord, t: number) {
    const chain = await chainSession(r.id);
    const terms = termsFromWire(r.terms);
    if (chain.status === "Settled" || chain.status === "None") {
      store.update(r.id, {
        status: "done",
        paid: chain.paid.toString(),
        outcome: r.outcome ?? { reason: "settled", paid: chain.paid.toString() },
      });
      await store.save();
      options.proofs?.sessionSettled(r.id);
      return;
    }
    if (chain.paid > BigInt(r.paid)) store.update(r.id, { paid: chain.paid.toString() });
    if (serving.has(r.id)) return;
    const idle = Date.now() - r.lastUsedAt > policy.idleCloseSec * 1000;
    const expiring = t + policy.expiryMarginSec >= Number(terms.expiry);
    if (r.status === "closing" || chain.status === "Closing" || idle || expiring) {
      const reason =
        chain.status === "Closing"
          ? "renter_requested"
          : expiring
            ? "expiring"
            : idle
              ? "idle"
              : "retry";
      await closeOnChain(r, reason);
      return;
    }
    const unpaid = BigInt(r.receipt?.amount ?? "0") - chain.paid;
    if (unpaid > 0n && unpaid * 10_000n >= chain.deposit * BigInt(policy.checkpointBps))
      await checkpoint(r);
  }

  async function sync() {
    const open = store.all().filter((r) => r.status !== "done");
    if (open.length === 0) return;
    const t = await now();
    await Promise.all(
      open.map((r) =>
        exclusive(r.id, () => syncOne(r, t)).catch((e) =>
          log.warn({ session: r.id, err: String(e) }, "session sync failed; retrying next round"),
        ),
      ),
    );
  }

  return {
    open,
    close,
    sync,
    idle: async () => {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    counts: () => {
      const out: Record<string, number> = {};
      for (const r of store.all()) out[r.status] = (out[r.status] ?? 0) + 1;
      return out;
    },
  };
}
