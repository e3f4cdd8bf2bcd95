/**
 * SessionManager: sessions, their checkpoints, and the hosts' session counters. Every field
 * comes from the events (SessionOpened carries a session's terms, SessionCheckpointed each
 * paid receipt, SessionSettled the outcome); nothing is read from the chain. The escrow's
 * side of a session (the fee split of each payment) is in PaymentEscrow.ts.
 */
import { model, session, sessionCheckpoint } from "ponder:schema";
import { sessionManagerAbi } from "../../abis/index.ts";
import { bumpDaily, bumpModel, markActive, updateHost } from "./lib/host-stats.ts";
import { indexContract } from "./lib/index-contract.ts";
import { CLOSE_REASON, eventId } from "./lib/values.ts";

indexContract("SessionManager", sessionManagerAbi, {
  SessionOpened: async ({ event, context }) => {
    const a = event.args;
    const at = event.block.timestamp;
    await context.db.insert(session).values({
      id: a.sessionId,
      renter: a.renter,
      host: a.host,
      modelId: a.modelId,
      token: a.token,
      signer: BigInt(a.signer) === 0n ? null : a.signer,
      pricePerToken: a.pricePerToken,
      expiry: a.expiry,
      feeDiscountBps: a.feeDiscountBps,
      salt: a.salt,
      deposit: a.deposit,
      topUps: 0,
      paid: 0n,
      tokens: 0n,
      remaining: a.deposit,
      hostPayment: 0n,
      checkpointCount: 0,
      status: "Open",
      openedAt: at,
      openedBlock: event.block.number,
      openedTx: event.transaction.hash,
      openedEvent: eventId(event),
      updatedAt: at,
    });
    await updateHost(context.db, a.host, at, (h) => ({ sessionsOpened: h.sessionsOpened + 1 }));
    await bumpModel(context.db, a.modelId, (m) => ({ sessionsOpened: m.sessionsOpened + 1 }));
    await bumpDaily(context.db, at, (d) => ({ sessionsOpened: d.sessionsOpened + 1 }));
  },
  SessionToppedUp: async ({ event, context }) => {
    const { sessionId: id, deposit } = event.args;
    await context.db.update(session, { id }).set((s) => ({
      deposit,
      topUps: s.topUps + 1,
      remaining: deposit - s.paid,
      updatedAt: event.block.timestamp,
    }));
  },
  SessionCheckpointed: async ({ event, context }) => {
    const { sessionId: id, host, tokens, amount, increment, digest } = event.args;
    const at = event.block.timestamp;
    const before = await context.db.find(session, { id });
    if (!before) return;
    const tokensIncrement = tokens - before.tokens;
    await context.db.update(session, { id }).set({
      paid: amount,
      tokens,
      remaining: before.deposit - amount,
      checkpointCount: before.checkpointCount + 1,
      lastDigest: digest,
      updatedAt: at,
    });
    await context.db.insert(sessionCheckpoint).values({
      id: eventId(event),
      sessionId: id,
      host,
      tokens,
      amount,
      increment,
      tokensIncrement,
      digest,
      at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await updateHost(context.db, host, at, (h) => ({
      sessionTokensServed: h.sessionTokensServed + tokensIncrement,
    }));
    await context.db
      .update(model, { id: before.modelId })
      .set((m) => ({ sessionTokensServed: m.sessionTokensServed + tokensIncrement }));
    await bumpDaily(context.db, at, (d) => ({ sessionTokens: d.sessionTokens + tokensIncrement }));
    await markActive(context.db, host, at);
  },
  SessionCloseRequested: async ({ event, context }) => {
    const { sessionId: id, closeAt } = event.args;
    const at = event.block.timestamp;
    await context.db
      .update(session, { id })
      .set({ status: "Closing", closeRequestedAt: at, closeAt, updatedAt: at });
  },
  SessionSettled: async ({ event, context }) => {
    const { sessionId: id, closedBy, reason, tokens, paid, refund } = event.args;
    const at = event.block.timestamp;
    const closeReason = CLOSE_REASON[reason];
    if (closeReason === undefined)
      throw new Error(`unknown close reason ${reason} of session ${id}`);
    const before = await context.db.find(session, { id });
    if (!before) return;
    await context.db.update(session, { id }).set({
      status: "Settled",
      paid,
      tokens,
      remaining: 0n,
      refund,
      closedBy,
      closeReason,
      settledAt: at,
      settledBlock: event.block.number,
      settledTx: event.transaction.hash,
      updatedAt: at,
    });
    await updateHost(context.db, before.host, at, (h) => ({
      sessionsSettled: h.sessionsSettled + 1,
      sessionsServed: h.sessionsServed + (paid > 0n ? 1 : 0),
    }));
    await bumpDaily(context.db, at, (d) => ({ sessionsSettled: d.sessionsSettled + 1 }));
  },
});
