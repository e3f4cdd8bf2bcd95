/**
 * PaymentEscrow: releases, pays and refunds, host earnings, daily volume. Every lock belongs
 * to a locker (the `locker` of each event): the JobMarketplace's are jobs, and its ids with the
 * top bit set are dispute bonds (of the job with the rest of the id), the SessionManager's are
 * sessions, and the same id under both is two locks. Which is which comes from the configured
 * addresses, not from the chain. A bond is neither a job nor volume: its movements are
 * `bond` payment rows and settle its dispute's row. The ProofSystem's locks are challenge
 * bonds: neither volume nor payment rows (ProofSystem.ts records where each bond went, from
 * ChallengeResolved). Movements of any other locker count in the daily volume only. Every fee
 * split the escrow applies (FeeSplitUpdated) is kept, in order.
 */
import type { Context } from "ponder:registry";
import {
  dailyVolume,
  dispute,
  feeSplitChange,
  hostEarning,
  job,
  payment,
  session,
} from "ponder:schema";
import { zeroAddress } from "viem";
import { paymentEscrowAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";
import { BOND_ID_BIT, dayOf, eventId } from "./lib/values.ts";

type Source = (typeof payment.$inferSelect)["source"];

async function addVolume(
  db: Context["db"],
  at: bigint,
  token: `0x${string}`,
  change: { volume?: bigint; fees?: bigint; deposits?: bigint },
): Promise<void> {
  const day = dayOf(at);
  const zero = { volume: 0n, fees: 0n, deposits: 0n };
  const add = { ...zero, ...change };
  await db
    .insert(dailyVolume)
    .values({ day, token, ...add })
    .onConflictDoUpdate((v) => ({
      volume: v.volume + add.volume,
      fees: v.fees + add.fees,
      deposits: v.deposits + add.deposits,
    }));
}

/** The configured contracts a lock can belong to (the handlers' `context.contracts`). */
interface Lockers {
  JobMarketplace: { address: unknown };
  SessionManager: { address: unknown };
  ProofSystem: { address: unknown };
}

/**
 * Whose lock `id` of `locker` is: a job's, a dispute bond's, a session's, a challenge bond's
 * (the ProofSystem's), or another locker's (null).
 */
function sourceOf(
  contracts: Lockers,
  locker: `0x${string}`,
  id: bigint,
): Source | "challenge" | null {
  const is = (address: unknown) =>
    typeof address === "string" && address.toLowerCase() === locker.toLowerCase();
  if (is(contracts.JobMarketplace.address)) return id >= BOND_ID_BIT ? "bond" : "job";
  if (is(contracts.SessionManager.address)) return "session";
  if (is(contracts.ProofSystem.address)) return "challenge";
  return null;
}

/** Bonds (a dispute's, a challenge's) are neither deposits nor volume. */
const isBond = (source: ReturnType<typeof sourceOf>) => source === "bond" || source === "challenge";

/** The lock's id in the column of its source (a bond's under its job's id). */
const idsOf = (source: Source, id: bigint) =>
  source === "session"
    ? { jobId: null, sessionId: id }
    : { jobId: source === "bond" ? id ^ BOND_ID_BIT : id, sessionId: null };

/** Records where a dispute's bond went (once its lock closed), if the dispute is indexed. */
async function settleBond(
  db: Context["db"],
  jobId: bigint,
  bondToHost: bigint,
  bondRefund: bigint,
): Promise<void> {
  if (!(await db.find(dispute, { jobId }))) return;
  await db.update(dispute, { jobId }).set({ bondToHost, bondRefund });
}

indexContract("PaymentEscrow", paymentEscrowAbi, {
  FundsLocked: async ({ event, context }) => {
    const { id, token, locker, amount } = event.args;
    if (isBond(sourceOf(context.contracts, locker, id))) return;
    await addVolume(context.db, event.block.timestamp, token, { deposits: amount });
  },
  PaymentReleased: async ({ event, context }) => {
    const a = event.args;
    const at = event.block.timestamp;
    const fees = a.treasuryAmount + a.stakersAmount;
    const source = sourceOf(context.contracts, a.locker, a.id);
    if (!isBond(source)) {
      await addVolume(context.db, at, a.token, { volume: a.hostAmount + fees, fees });
    }
    if (source === null || source === "challenge") return;
    // `pay` (a session checkpoint) keeps the lock open: no renter, no refund in the event.
    const kind = a.renter === zeroAddress ? "pay" : "release";
    const sessionRow = source === "session" ? await context.db.find(session, { id: a.id }) : null;
    await context.db.insert(payment).values({
      id: eventId(event),
      source,
      ...idsOf(source, a.id),
      kind,
      token: a.token,
      host: a.host,
      renter: kind === "pay" && sessionRow ? sessionRow.renter : a.renter,
      hostAmount: a.hostAmount,
      treasuryAmount: a.treasuryAmount,
      stakersAmount: a.stakersAmount,
      refund: a.refund,
      at,
    });
    if (source === "bond") {
      await settleBond(context.db, a.id ^ BOND_ID_BIT, a.hostAmount, a.refund);
      return;
    }
    if (source === "job") {
      await context.db
        .update(job, { id: a.id })
        .set({ hostPayment: a.hostAmount, refund: a.refund });
      await context.db
        .insert(hostEarning)
        .values({
          host: a.host,
          token: a.token,
          amount: a.hostAmount,
          jobs: 1,
          sessionAmount: 0n,
          sessions: 0,
        })
        .onConflictDoUpdate((e) => ({ amount: e.amount + a.hostAmount, jobs: e.jobs + 1 }));
      return;
    }
    if (!sessionRow || a.hostAmount === 0n) return;
    // A session counts once, at the first payment that earns the host something. (Read before
    // the update: a row Ponder returns may be its cached copy, which the update changes.)
    const first = sessionRow.hostPayment === 0n ? 1 : 0;
    await context.db
      .update(session, { id: a.id })
      .set({ hostPayment: sessionRow.hostPayment + a.hostAmount });
    await context.db
      .insert(hostEarning)
      .values({
        host: a.host,
        token: a.token,
        amount: a.hostAmount,
        jobs: 0,
        sessionAmount: a.hostAmount,
        sessions: first,
      })
      .onConflictDoUpdate((e) => ({
        amount: e.amount + a.hostAmount,
        sessionAmount: e.sessionAmount + a.hostAmount,
        sessions: e.sessions + first,
      }));
  },
  FundsRefunded: async ({ event, context }) => {
    const a = event.args;
    const source = sourceOf(context.contracts, a.locker, a.id);
    if (source === null || source === "challenge") return;
    await context.db.insert(payment).values({
      id: eventId(event),
      source,
      ...idsOf(source, a.id),
      kind: "refund",
      token: a.token,
      host: null,
      renter: a.renter,
      hostAmount: 0n,
      treasuryAmount: 0n,
      stakersAmount: 0n,
      refund: a.amount,
      at: event.block.timestamp,
    });
    if (source === "bond") await settleBond(context.db, a.id ^ BOND_ID_BIT, 0n, a.amount);
    if (source === "job") {
      await context.db.update(job, { id: a.id }).set({ hostPayment: 0n, refund: a.amount });
    }
  },
  FeeSplitUpdated: async ({ event, context }) => {
    const { hostBps, treasuryBps, stakersBps } = event.args;
    await context.db.insert(feeSplitChange).values({
      id: eventId(event),
      hostBps,
      treasuryBps,
      stakersBps,
      at: event.block.timestamp,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
  },
});
