/** PaymentEscrow: releases and refunds, host earnings, daily volume. */
import type { Context } from "ponder:registry";
import { dailyVolume, hostEarning, job, payment } from "ponder:schema";
import { paymentEscrowAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";
import { dayOf, eventId } from "./lib/values.ts";

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

indexContract("PaymentEscrow", paymentEscrowAbi, {
  FundsLocked: async ({ event, context }) => {
    await addVolume(context.db, event.block.timestamp, event.args.token, {
      deposits: event.args.amount,
    });
  },
  PaymentReleased: async ({ event, context }) => {
    const a = event.args;
    const at = event.block.timestamp;
    await context.db.insert(payment).values({
      id: eventId(event),
      jobId: a.jobId,
      kind: "release",
      token: a.token,
      host: a.host,
      renter: a.renter,
      hostAmount: a.hostAmount,
      treasuryAmount: a.treasuryAmount,
      stakersAmount: a.stakersAmount,
      refund: a.refund,
      at,
    });
    await context.db
      .update(job, { id: a.jobId })
      .set({ hostPayment: a.hostAmount, refund: a.refund });
    await context.db
      .insert(hostEarning)
      .values({ host: a.host, token: a.token, amount: a.hostAmount, jobs: 1 })
      .onConflictDoUpdate((e) => ({ amount: e.amount + a.hostAmount, jobs: e.jobs + 1 }));
    const fees = a.treasuryAmount + a.stakersAmount;
    await addVolume(context.db, at, a.token, { volume: a.hostAmount + fees, fees });
  },
  FundsRefunded: async ({ event, context }) => {
    const a = event.args;
    await context.db.insert(payment).values({
      id: eventId(event),
      jobId: a.jobId,
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
    await context.db.update(job, { id: a.jobId }).set({ hostPayment: 0n, refund: a.amount });
  },
});
