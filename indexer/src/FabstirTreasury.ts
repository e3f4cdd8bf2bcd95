/**
 * FabstirTreasury: its buyback reserve and free funds per token (Synced carries both totals;
 * buybacks and releases take from them), every buyback with what it bought and where the FAB
 * went, and the treasury's parameters.
 */
import type { Context } from "ponder:registry";
import { buyback, treasuryBalance, treasuryConfig } from "ponder:schema";
import { fabstirTreasuryAbi } from "../../abis/index.ts";
import { BUYBACK_DESTINATION } from "../schema/tokenomics.ts";
import { indexContract } from "./lib/index-contract.ts";
import { eventId } from "./lib/values.ts";

const CONFIG_ID = "FabstirTreasury";

type Balance = typeof treasuryBalance.$inferSelect;

async function setConfig(
  db: Context["db"],
  at: bigint,
  change: Partial<Omit<typeof treasuryConfig.$inferInsert, "id" | "updatedAt">>,
): Promise<void> {
  await db
    .insert(treasuryConfig)
    .values({ id: CONFIG_ID, ...change, updatedAt: at })
    .onConflictDoUpdate({ ...change, updatedAt: at });
}

async function updateBalance(
  db: Context["db"],
  token: `0x${string}`,
  at: bigint,
  change: (b: Balance) => Partial<Omit<Balance, "token" | "updatedAt">>,
): Promise<void> {
  const before = (await db.find(treasuryBalance, { token })) ?? {
    token,
    reserve: 0n,
    free: 0n,
    arrived: 0n,
    boughtBack: 0n,
    fabBought: 0n,
    fabBurned: 0n,
    released: 0n,
    updatedAt: at,
  };
  const values = { ...change(before), updatedAt: at };
  await db
    .insert(treasuryBalance)
    .values({ ...before, ...values })
    .onConflictDoUpdate(values);
}

function destinationOf(value: number) {
  const label = BUYBACK_DESTINATION[value];
  if (label === undefined) throw new Error(`unknown buyback destination ${value}`);
  return label;
}

indexContract("FabstirTreasury", fabstirTreasuryAbi, {
  TreasuryInitialized: async ({ event, context }) => {
    const { escrow, fab } = event.args;
    await setConfig(context.db, event.block.timestamp, { escrow, fab });
  },
  Synced: async ({ event, context }) => {
    const { token, arrived, reserve, free } = event.args;
    await updateBalance(context.db, token, event.block.timestamp, (b) => ({
      reserve,
      free,
      arrived: b.arrived + arrived,
    }));
  },
  BuybackExecuted: async ({ event, context }) => {
    const { token, amountIn, fabOut } = event.args;
    const destination = destinationOf(event.args.destination);
    const at = event.block.timestamp;
    await context.db.insert(buyback).values({
      id: eventId(event),
      token,
      amountIn,
      fabOut,
      destination,
      at,
      blockNumber: event.block.number,
      txHash: event.transaction.hash,
    });
    await updateBalance(context.db, token, at, (b) => ({
      reserve: b.reserve - amountIn,
      boughtBack: b.boughtBack + amountIn,
      fabBought: b.fabBought + fabOut,
      fabBurned: b.fabBurned + (destination === "Burn" ? fabOut : 0n),
    }));
  },
  Released: async ({ event, context }) => {
    const { token, amount } = event.args;
    await updateBalance(context.db, token, event.block.timestamp, (b) => ({
      free: b.free - amount,
      released: b.released + amount,
    }));
  },
  BuybackShareUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { buybackBps: event.args.current });
  },
  MaxSlippageUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { maxSlippageBps: event.args.current });
  },
  BuybackDestinationUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, {
      destination: destinationOf(event.args.current),
    });
  },
  RouterUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { router: event.args.current });
  },
  StakersPoolUpdated: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { stakersPool: event.args.current });
  },
});
