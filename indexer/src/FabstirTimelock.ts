/**
 * FabstirTimelock (OpenZeppelin's TimelockController): its operations from scheduling to
 * execution or cancellation. An operation that carries a proposal (linked when the governor's
 * ProposalQueued follows) marks the proposal executed or cancelled too, as the governor's
 * `state()` does when anyone executes it on the timelock directly.
 */
import type { Context } from "ponder:registry";
import { governorConfig, proposal, timelockOperation } from "ponder:schema";
import { fabstirTimelockAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";

async function settleProposal(
  db: Context["db"],
  id: `0x${string}`,
  change: { executedAt: bigint } | { canceledAt: bigint },
): Promise<void> {
  const op = await db.find(timelockOperation, { id });
  if (op?.proposalId == null) return;
  const p = await db.find(proposal, { id: op.proposalId });
  if (!p || p.executedAt !== null || p.canceledAt !== null) return;
  await db.update(proposal, { id: op.proposalId }).set(change);
}

indexContract("FabstirTimelock", fabstirTimelockAbi, {
  CallScheduled: async ({ event, context }) => {
    const { id, predecessor, delay } = event.args;
    const at = event.block.timestamp;
    await context.db
      .insert(timelockOperation)
      .values({
        id,
        calls: 1,
        predecessor,
        delay,
        readyAt: at + delay,
        scheduledAt: at,
        txHash: event.transaction.hash,
      })
      .onConflictDoUpdate((op) => ({ calls: op.calls + 1 }));
  },
  CallExecuted: async ({ event, context }) => {
    const { id } = event.args;
    const at = event.block.timestamp;
    // Operations scheduled before the indexer's start block are not known: nothing to mark.
    if (!(await context.db.find(timelockOperation, { id }))) return;
    await context.db.update(timelockOperation, { id }).set({ executedAt: at });
    await settleProposal(context.db, id, { executedAt: at });
  },
  Cancelled: async ({ event, context }) => {
    const { id } = event.args;
    const at = event.block.timestamp;
    if (!(await context.db.find(timelockOperation, { id }))) return;
    await context.db.update(timelockOperation, { id }).set({ cancelledAt: at });
    await settleProposal(context.db, id, { canceledAt: at });
  },
  MinDelayChange: async ({ event, context }) => {
    const at = event.block.timestamp;
    const timelockMinDelay = event.args.newDuration;
    await context.db
      .insert(governorConfig)
      .values({ id: "FabstirGovernor", timelockMinDelay, updatedAt: at })
      .onConflictDoUpdate({ timelockMinDelay, updatedAt: at });
  },
});
