/**
 * FabstirGovernor (OpenZeppelin's Governor): proposals with their actions, tallies summed from
 * the votes, the late-quorum extensions, queueing (with the timelock operation it schedules),
 * execution and cancellation, and the governor's settings with the quorum numerator's history.
 */
import type { Context } from "ponder:registry";
import {
  governorConfig,
  proposal,
  quorumNumeratorChange,
  timelockOperation,
  vote,
} from "ponder:schema";
import { keccak256, stringToHex } from "viem";
import { fabstirGovernorAbi } from "../../abis/index.ts";
import { proposalTally, timelockOperationId, VOTE_SUPPORT } from "./lib/governance.ts";
import { indexContract } from "./lib/index-contract.ts";
import { eventId } from "./lib/values.ts";

const CONFIG_ID = "FabstirGovernor";

async function setConfig(
  db: Context["db"],
  at: bigint,
  change: Partial<Omit<typeof governorConfig.$inferInsert, "id" | "updatedAt">>,
): Promise<void> {
  await db
    .insert(governorConfig)
    .values({ id: CONFIG_ID, ...change, updatedAt: at })
    .onConflictDoUpdate({ ...change, updatedAt: at });
}

interface VoteArgs {
  voter: `0x${string}`;
  proposalId: bigint;
  support: number;
  weight: bigint;
  reason: string;
}

async function recordVote(
  context: { db: Context["db"] },
  event: { block: { number: bigint; timestamp: bigint }; transaction: { hash: `0x${string}` } },
  a: VoteArgs,
  params: `0x${string}` | null,
): Promise<void> {
  const support = VOTE_SUPPORT[a.support];
  if (support === undefined) throw new Error(`unknown vote type ${a.support} on ${a.proposalId}`);
  await context.db.insert(vote).values({
    proposalId: a.proposalId,
    voter: a.voter,
    support,
    weight: a.weight,
    reason: a.reason,
    params,
    at: event.block.timestamp,
    blockNumber: event.block.number,
    txHash: event.transaction.hash,
  });
  await context.db
    .update(proposal, { id: a.proposalId })
    .set((p) => ({ ...proposalTally(p, support, a.weight), voters: p.voters + 1 }));
}

indexContract("FabstirGovernor", fabstirGovernorAbi, {
  ProposalCreated: async ({ event, context }) => {
    const a = event.args;
    await context.db.insert(proposal).values({
      id: a.proposalId,
      seq: eventId(event),
      proposer: a.proposer,
      actions: a.targets.map((target, i) => ({
        target,
        value: String(a.values[i] ?? 0n),
        signature: a.signatures[i] ?? "",
        calldata: a.calldatas[i] ?? "0x",
      })),
      description: a.description,
      descriptionHash: keccak256(stringToHex(a.description)),
      voteStart: a.voteStart,
      voteEnd: a.voteEnd,
      extended: false,
      forVotes: 0n,
      againstVotes: 0n,
      abstainVotes: 0n,
      voters: 0,
      createdAt: event.block.timestamp,
      createdBlock: event.block.number,
      createdTx: event.transaction.hash,
    });
  },
  VoteCast: async ({ event, context }) => {
    await recordVote(context, event, event.args, null);
  },
  VoteCastWithParams: async ({ event, context }) => {
    await recordVote(context, event, event.args, event.args.params);
  },
  ProposalExtended: async ({ event, context }) => {
    const { proposalId, extendedDeadline } = event.args;
    await context.db
      .update(proposal, { id: proposalId })
      .set({ voteEnd: extendedDeadline, extended: true });
  },
  ProposalQueued: async ({ event, context }) => {
    const { proposalId, etaSeconds } = event.args;
    const p = await context.db.find(proposal, { id: proposalId });
    if (!p) throw new Error(`ProposalQueued of unknown proposal ${proposalId}`);
    // The operation GovernorTimelockControl scheduled just before (its CallScheduled events).
    const timelockId = timelockOperationId(event.log.address, p.actions, p.descriptionHash);
    await context.db.update(proposal, { id: proposalId }).set({
      eta: etaSeconds,
      queuedAt: event.block.timestamp,
      timelockId,
    });
    if (await context.db.find(timelockOperation, { id: timelockId })) {
      await context.db.update(timelockOperation, { id: timelockId }).set({ proposalId });
    }
  },
  ProposalExecuted: async ({ event, context }) => {
    await context.db
      .update(proposal, { id: event.args.proposalId })
      .set({ executedAt: event.block.timestamp });
  },
  ProposalCanceled: async ({ event, context }) => {
    await context.db
      .update(proposal, { id: event.args.proposalId })
      .set({ canceledAt: event.block.timestamp });
  },
  QuorumNumeratorUpdated: async ({ event, context }) => {
    const numerator = event.args.newQuorumNumerator;
    const at = event.block.timestamp;
    await context.db.insert(quorumNumeratorChange).values({ id: eventId(event), numerator, at });
    await setConfig(context.db, at, { quorumNumerator: numerator });
  },
  VotingDelaySet: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { votingDelay: event.args.newVotingDelay });
  },
  VotingPeriodSet: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, {
      votingPeriod: event.args.newVotingPeriod,
    });
  },
  ProposalThresholdSet: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, {
      proposalThreshold: event.args.newProposalThreshold,
    });
  },
  LateQuorumVoteExtensionSet: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, {
      lateQuorumExtension: event.args.newVoteExtension,
    });
  },
  TimelockChange: async ({ event, context }) => {
    await setConfig(context.db, event.block.timestamp, { timelock: event.args.newTimelock });
  },
});
