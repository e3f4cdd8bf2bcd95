/**
 * The steps of a proposal's life, each checked against the proposal's state before a
 * transaction is sent (a step that cannot succeed says why and when it could, and costs
 * nothing): propose, vote, queue, execute, cancel; and FAB delegation, without which a holder
 * has no votes. Queue, execute and cancel take only the id: the actions and description come
 * back from the governor's ProposalCreated log.
 */
import { type Address, isAddressEqual, zeroAddress } from "viem";
import { fabstirGovernorAbi, fabTokenAbi } from "../abis/index.ts";
import { formatUnits18 } from "../protocol/cli-output.ts";
import { type DecodedAction, decodeAction, type ProposalAction } from "./actions.ts";
import type { Governance } from "./client.ts";
import {
  AlreadyVotedError,
  GovernanceUsageError,
  InsufficientVotesError,
  NotProposerError,
  ProposalExistsError,
  ProposalStateError,
  TimelockNotReadyError,
} from "./errors.ts";
import {
  accountVotes,
  chainNow,
  type ProposalState,
  proposalArgs,
  proposalRecord,
  proposalStatus,
} from "./proposals.ts";
import { formatTime } from "./time.ts";

/** GovernorCountingSimple's vote types. */
export const SUPPORT = { against: 0, for: 1, abstain: 2 } as const;
export type Support = keyof typeof SUPPORT;

const fab = (v: bigint) => `${formatUnits18(v)} FAB`;

/**
 * Refuses (InsufficientVotesError) when the account's votes, as the governor counts them (one
 * second back), are below the proposal threshold, saying what is missing.
 */
export async function requireProposerVotes(gov: Governance): Promise<void> {
  const account = gov.chain.account.address;
  const governor = { address: gov.addresses.FabstirGovernor, abi: fabstirGovernorAbi } as const;
  const now = await chainNow(gov);
  const [threshold, votes] = await Promise.all([
    gov.chain.read("proposalThreshold", { ...governor, functionName: "proposalThreshold" }),
    gov.chain.read("getVotes", {
      ...governor,
      functionName: "getVotes",
      args: [account, now - 1n],
    }),
  ]);
  if (votes >= threshold) return;
  const held = await accountVotes(gov, account);
  let hint = "";
  if (held.delegate === zeroAddress && held.balance > 0n)
    hint = ` It holds ${fab(held.balance)} but has not delegated them, and undelegated FAB has no votes: run \`delegate\` (to itself by default) first.`;
  else if (held.delegate !== zeroAddress && !isAddressEqual(held.delegate, account))
    hint = ` Its votes are delegated to ${held.delegate}.`;
  else if (held.votes >= threshold)
    hint = " Its votes count from the second after its delegation: try again in a moment.";
  else hint = " Acquire FAB, or ask holders to delegate to it.";
  throw new InsufficientVotesError(
    `proposing needs ${fab(threshold)} of votes; ${account} has ${fab(votes)}.${hint}`,
    votes,
    threshold,
  );
}

export interface Proposed {
  id: bigint;
  tx: `0x${string}`;
  snapshot: bigint;
  deadline: bigint;
  actions: DecodedAction[];
}

/** Proposes `actions`; refuses first when the account lacks the votes or the proposal exists. */
export async function propose(
  gov: Governance,
  actions: readonly ProposalAction[],
  description: string,
): Promise<Proposed> {
  if (actions.length === 0) throw new GovernanceUsageError("a proposal needs at least one action");
  if (!description.trim()) throw new GovernanceUsageError("a proposal needs a --description");
  const governor = { address: gov.addresses.FabstirGovernor, abi: fabstirGovernorAbi } as const;
  const p = proposalArgs(actions, description);
  const id = await gov.chain.read("hashProposal", {
    ...governor,
    functionName: "hashProposal",
    args: [p.targets, p.values, p.calldatas, p.descriptionHash],
  });
  const existing = await gov.chain.read("proposalSnapshot", {
    ...governor,
    functionName: "proposalSnapshot",
    args: [id],
  });
  if (existing !== 0n) throw new ProposalExistsError(id);
  await requireProposerVotes(gov);
  const receipt = await gov.chain.send("propose", {
    ...governor,
    functionName: "propose",
    args: [p.targets, p.values, p.calldatas, description],
  });
  const status = await proposalStatus(gov, await proposalRecord(gov, id));
  return {
    id,
    tx: receipt.transactionHash,
    snapshot: status.snapshot,
    deadline: status.deadline,
    actions: actions.map((a) => decodeAction(a, gov.addresses)),
  };
}

function refuse(id: bigint, state: ProposalState, message: string): never {
  throw new ProposalStateError(id, state, `proposal ${id} is ${state}: ${message}`);
}

/** Why a closed proposal cannot take `step`. */
function closed(id: bigint, state: ProposalState, step: string): never {
  refuse(id, state, `it can no longer be ${step}`);
}

/** Casts the account's vote; refuses unless voting is open and it has not voted. */
export async function vote(gov: Governance, id: bigint, support: Support, reason?: string) {
  const governor = { address: gov.addresses.FabstirGovernor, abi: fabstirGovernorAbi } as const;
  const account = gov.chain.account.address;
  const [status, now] = await Promise.all([
    proposalStatus(gov, await proposalRecord(gov, id)),
    chainNow(gov),
  ]);
  if (status.state === "Pending")
    refuse(id, status.state, `voting opens after ${formatTime(status.snapshot, now)}`);
  if (status.state !== "Active") refuse(id, status.state, "voting is closed");
  const [voted, weight] = await Promise.all([
    gov.chain.read("hasVoted", { ...governor, functionName: "hasVoted", args: [id, account] }),
    gov.chain.read("getVotes", {
      ...governor,
      functionName: "getVotes",
      args: [account, status.snapshot],
    }),
  ]);
  if (voted) throw new AlreadyVotedError(id, account);
  const receipt = reason
    ? await gov.chain.send("castVoteWithReason", {
        ...governor,
        functionName: "castVoteWithReason",
        args: [id, SUPPORT[support], reason],
      })
    : await gov.chain.send("castVote", {
        ...governor,
        functionName: "castVote",
        args: [id, SUPPORT[support]],
      });
  return {
    id,
    voter: account,
    support,
    weight,
    reason: reason ?? null,
    tx: receipt.transactionHash,
  };
}

/** Queues a succeeded proposal in the timelock; returns when it may be executed. */
export async function queue(gov: Governance, id: bigint) {
  const record = await proposalRecord(gov, id);
  const [status, now] = await Promise.all([proposalStatus(gov, record), chainNow(gov)]);
  switch (status.state) {
    case "Succeeded":
      break;
    case "Pending":
    case "Active":
      refuse(id, status.state, `voting ends after ${formatTime(status.deadline, now)}`);
      break;
    case "Defeated":
      refuse(
        id,
        status.state,
        `the vote failed (for ${fab(status.votes.for)}, against ${fab(status.votes.against)}, abstain ${fab(status.votes.abstain)}; it needs more for than against and for + abstain at the quorum)`,
      );
      break;
    case "Queued":
      refuse(
        id,
        status.state,
        `it is queued already; execute it from ${formatTime(status.eta ?? 0n, now)}`,
      );
      break;
    default:
      closed(id, status.state, "queued");
  }
  const p = proposalArgs(record.actions, record.description);
  const receipt = await gov.chain.send("queue", {
    address: gov.addresses.FabstirGovernor,
    abi: fabstirGovernorAbi,
    functionName: "queue",
    args: [p.targets, p.values, p.calldatas, p.descriptionHash],
  });
  const after = await proposalStatus(gov, record);
  return { id, eta: after.eta ?? 0n, tx: receipt.transactionHash };
}

/** Executes a queued proposal once the timelock delay has passed. */
export async function execute(gov: Governance, id: bigint) {
  const record = await proposalRecord(gov, id);
  const [status, now] = await Promise.all([proposalStatus(gov, record), chainNow(gov)]);
  if (status.state === "Succeeded") refuse(id, status.state, "queue it first (`queue <id>`)");
  if (status.state === "Pending" || status.state === "Active")
    refuse(
      id,
      status.state,
      `voting ends after ${formatTime(status.deadline, now)}, then queue it`,
    );
  if (status.state !== "Queued") closed(id, status.state, "executed");
  const eta = status.eta ?? 0n;
  if (now < eta)
    throw new TimelockNotReadyError(
      id,
      eta,
      `proposal ${id} is queued and the timelock delay has not passed: it can be executed from ${formatTime(eta, now)}`,
    );
  const p = proposalArgs(record.actions, record.description);
  const receipt = await gov.chain.send("execute", {
    address: gov.addresses.FabstirGovernor,
    abi: fabstirGovernorAbi,
    functionName: "execute",
    args: [p.targets, p.values, p.calldatas, p.descriptionHash],
  });
  return { id, tx: receipt.transactionHash };
}

/** Cancels a proposal: the governor lets its proposer do so while it is pending. */
export async function cancel(gov: Governance, id: bigint) {
  const record = await proposalRecord(gov, id);
  const [status, now] = await Promise.all([proposalStatus(gov, record), chainNow(gov)]);
  if (!isAddressEqual(record.proposer, gov.chain.account.address))
    throw new NotProposerError(id, record.proposer);
  if (status.state !== "Pending")
    refuse(
      id,
      status.state,
      `its proposer may cancel it only while it is Pending (before voting opened at ${formatTime(status.snapshot + 1n, now)})`,
    );
  const p = proposalArgs(record.actions, record.description);
  const receipt = await gov.chain.send("cancel", {
    address: gov.addresses.FabstirGovernor,
    abi: fabstirGovernorAbi,
    functionName: "cancel",
    args: [p.targets, p.values, p.calldatas, p.descriptionHash],
  });
  return { id, tx: receipt.transactionHash };
}

/** Delegates the account's FAB votes to `to` (itself by default). */
export async function delegate(gov: Governance, to: Address = gov.chain.account.address) {
  const receipt = await gov.chain.send("delegate", {
    address: gov.addresses.FABToken,
    abi: fabTokenAbi,
    functionName: "delegate",
    args: [to],
  });
  const after = await accountVotes(gov, gov.chain.account.address);
  return { ...after, tx: receipt.transactionHash };
}
