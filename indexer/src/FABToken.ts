/**
 * FABToken: the total supply after each mint and burn (the governor's quorum is a share of it),
 * each account's voting power and delegation, and the FAB custodians (the NodeRegistry, the
 * StakersPool) hold for owners. Plain transfers only go to the event log.
 */
import type { Context } from "ponder:registry";
import { delegate, delegation, fabCustody, fabSupplyChange, fabToken } from "ponder:schema";
import { zeroAddress } from "viem";
import { fabTokenAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";
import { eventId } from "./lib/values.ts";

const TOKEN_ID = "FABToken";

/** Adds `change` to `address`'s delegator count (the row is created at 0 votes if new). */
async function countDelegators(
  db: Context["db"],
  address: `0x${string}`,
  change: number,
  at: bigint,
): Promise<void> {
  if (address === zeroAddress) return;
  await db
    .insert(delegate)
    .values({ address, votes: 0n, delegators: change, updatedAt: at })
    .onConflictDoUpdate((d) => ({ delegators: d.delegators + change, updatedAt: at }));
}

async function moveCustody(
  db: Context["db"],
  custodian: `0x${string}`,
  owner: `0x${string}`,
  change: bigint,
  at: bigint,
): Promise<void> {
  await db
    .insert(fabCustody)
    .values({ custodian, owner, amount: change, updatedAt: at })
    .onConflictDoUpdate((c) => ({ amount: c.amount + change, updatedAt: at }));
}

indexContract("FABToken", fabTokenAbi, {
  Transfer: async ({ event, context }) => {
    const { from, to, value } = event.args;
    const delta = from === zeroAddress ? value : to === zeroAddress ? -value : 0n;
    if (delta === 0n) return;
    const at = event.block.timestamp;
    const row = await context.db
      .insert(fabToken)
      .values({ id: TOKEN_ID, totalSupply: delta, burned: delta < 0n ? -delta : 0n, updatedAt: at })
      .onConflictDoUpdate((r) => ({
        totalSupply: r.totalSupply + delta,
        burned: r.burned + (delta < 0n ? -delta : 0n),
        updatedAt: at,
      }));
    await context.db.insert(fabSupplyChange).values({
      id: eventId(event),
      delta,
      supply: row.totalSupply,
      at,
      txHash: event.transaction.hash,
    });
  },
  DelegateChanged: async ({ event, context }) => {
    const { delegator, fromDelegate, toDelegate } = event.args;
    const at = event.block.timestamp;
    await countDelegators(context.db, fromDelegate, -1, at);
    await countDelegators(context.db, toDelegate, 1, at);
    await context.db
      .insert(delegation)
      .values({ delegator, delegate: toDelegate, updatedAt: at })
      .onConflictDoUpdate({ delegate: toDelegate, updatedAt: at });
  },
  DelegateVotesChanged: async ({ event, context }) => {
    const { delegate: address, newVotes } = event.args;
    const at = event.block.timestamp;
    await context.db
      .insert(delegate)
      .values({ address, votes: newVotes, delegators: 0, updatedAt: at })
      .onConflictDoUpdate({ votes: newVotes, updatedAt: at });
  },
  CustodyIn: async ({ event, context }) => {
    const { custodian, owner, amount } = event.args;
    await moveCustody(context.db, custodian, owner, amount, event.block.timestamp);
  },
  CustodyOut: async ({ event, context }) => {
    const { custodian, owner, amount } = event.args;
    await moveCustody(context.db, custodian, owner, -amount, event.block.timestamp);
  },
});
