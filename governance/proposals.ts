/**
 * Reading governance: the governor's settings, an account's votes, and proposals as the
 * governor's ProposalCreated logs record them (their actions and description, which queue and
 * execute need again) with their state, tally and timeline read from the governor.
 */
import { type Address, type Hex, keccak256, stringToHex } from "viem";
import { fabstirGovernorAbi, fabstirTimelockAbi, fabTokenAbi } from "../abis/index.ts";
import { type DecodedAction, decodeAction, type ProposalAction } from "./actions.ts";
import type { Governance } from "./client.ts";
import { ProposalNotFoundError } from "./errors.ts";

/** OpenZeppelin's IGovernor.ProposalState, in order. */
export const PROPOSAL_STATES = [
  "Pending",
  "Active",
  "Canceled",
  "Defeated",
  "Succeeded",
  "Queued",
  "Expired",
  "Executed",
] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

/** A proposal as it was made (the ProposalCreated log). */
export interface ProposalRecord {
  id: bigint;
  proposer: Address;
  actions: ProposalAction[];
  description: string;
  descriptionHash: Hex;
  block: bigint;
  tx: Hex;
}

export interface ProposalStatus {
  id: bigint;
  state: ProposalState;
  proposer: Address;
  description: string;
  votes: { for: bigint; against: bigint; abstain: bigint };
  /** Votes count as of this time; voting opens just after it. */
  snapshot: bigint;
  /** Voting closes after this time (a late quorum may have moved it). */
  deadline: bigint;
  /** When a queued proposal may be executed; null until queued. */
  eta: bigint | null;
}

export interface ProposalDetails extends ProposalStatus {
  actions: DecodedAction[];
  /** The votes needed (for + abstain) as of the snapshot. */
  quorum: bigint;
  /** The chain's clock now. */
  now: bigint;
  block: bigint;
  tx: Hex;
}

/** The arrays propose, queue, execute and cancel take. */
export function proposalArgs(actions: readonly ProposalAction[], description: string) {
  return {
    targets: actions.map((a) => a.target),
    values: actions.map((a) => a.value),
    calldatas: actions.map((a) => a.calldata),
    descriptionHash: keccak256(stringToHex(description)),
  };
}

/** The governor's clock (FAB's: seconds), which every time of a proposal is on. */
export async function chainNow(gov: Governance): Promise<bigint> {
  const clock = await gov.chain.read("clock", {
    address: gov.addresses.FabstirGovernor,
    abi: fabstirGovernorAbi,
    functionName: "clock",
  });
  return BigInt(clock);
}

/** Every proposal of the governor, oldest first. */
export async function proposalRecords(gov: Governance): Promise<ProposalRecord[]> {
  const logs = await gov.chain.query("ProposalCreated logs", (c) =>
    c.getContractEvents({
      address: gov.addresses.FabstirGovernor,
      abi: fabstirGovernorAbi,
      eventName: "ProposalCreated",
      fromBlock: BigInt(gov.startBlock),
      toBlock: "latest",
      strict: true,
    }),
  );
  return logs.map((log) => {
    const a = log.args;
    return {
      id: a.proposalId,
      proposer: a.proposer,
      actions: a.targets.map((target, i) => ({
        target,
        value: a.values[i] ?? 0n,
        calldata: a.calldatas[i] ?? "0x",
      })),
      description: a.description,
      descriptionHash: keccak256(stringToHex(a.description)),
      block: log.blockNumber,
      tx: log.transactionHash,
    };
  });
}

/** The proposal `id` as it was made; ProposalNotFoundError when the governor has none. */
export async function proposalRecord(gov: Governance, id: bigint): Promise<ProposalRecord> {
  const found = (await proposalRecords(gov)).find((p) => p.id === id);
  if (!found) throw new ProposalNotFoundError(id);
  return found;
}

/** The state name of proposal `id`. */
export async function proposalState(gov: Governance, id: bigint): Promise<ProposalState> {
  const state = await gov.chain.read("state", {
    address: gov.addresses.FabstirGovernor,
    abi: fabstirGovernorAbi,
    functionName: "state",
    args: [id],
  });
  return PROPOSAL_STATES[state] ?? "Pending";
}

/** State, tally and timeline of a proposal. */
export async function proposalStatus(
  gov: Governance,
  record: ProposalRecord,
): Promise<ProposalStatus> {
  const governor = { address: gov.addresses.FabstirGovernor, abi: fabstirGovernorAbi } as const;
  const args = [record.id] as const;
  const [state, [against, inFavour, abstain], snapshot, deadline, eta] = await Promise.all([
    proposalState(gov, record.id),
    gov.chain.read("proposalVotes", { ...governor, functionName: "proposalVotes", args }),
    gov.chain.read("proposalSnapshot", { ...governor, functionName: "proposalSnapshot", args }),
    gov.chain.read("proposalDeadline", { ...governor, functionName: "proposalDeadline", args }),
    gov.chain.read("proposalEta", { ...governor, functionName: "proposalEta", args }),
  ]);
  return {
    id: record.id,
    state,
    proposer: record.proposer,
    description: record.description,
    votes: { for: inFavour, against, abstain },
    snapshot,
    deadline,
    eta: eta === 0n ? null : eta,
  };
}

/** Every proposal with its state, oldest first. */
export async function listProposals(gov: Governance): Promise<ProposalStatus[]> {
  const records = await proposalRecords(gov);
  return Promise.all(records.map((r) => proposalStatus(gov, r)));
}

/** One proposal in full: actions decoded, tally against the quorum, timeline. */
export async function showProposal(gov: Governance, id: bigint): Promise<ProposalDetails> {
  const record = await proposalRecord(gov, id);
  const [status, now] = await Promise.all([proposalStatus(gov, record), chainNow(gov)]);
  // The quorum of a snapshot still in the future is not known yet: today's stands in for it.
  const quorum = await gov.chain.read("quorum", {
    address: gov.addresses.FabstirGovernor,
    abi: fabstirGovernorAbi,
    functionName: "quorum",
    args: [status.snapshot < now ? status.snapshot : now - 1n],
  });
  return {
    ...status,
    actions: record.actions.map((a) => decodeAction(a, gov.addresses)),
    quorum,
    now,
    block: record.block,
    tx: record.tx,
  };
}

/** The governor's settings and the timelock's delay. */
export async function governorSettings(gov: Governance) {
  const governor = { address: gov.addresses.FabstirGovernor, abi: fabstirGovernorAbi } as const;
  const [delay, period, threshold, numerator, denominator, extension, minDelay, now] =
    await Promise.all([
      gov.chain.read("votingDelay", { ...governor, functionName: "votingDelay" }),
      gov.chain.read("votingPeriod", { ...governor, functionName: "votingPeriod" }),
      gov.chain.read("proposalThreshold", { ...governor, functionName: "proposalThreshold" }),
      gov.chain.read("quorumNumerator", { ...governor, functionName: "quorumNumerator" }),
      gov.chain.read("quorumDenominator", { ...governor, functionName: "quorumDenominator" }),
      gov.chain.read("lateQuorumVoteExtension", {
        ...governor,
        functionName: "lateQuorumVoteExtension",
      }),
      gov.chain.read("getMinDelay", {
        address: gov.addresses.FabstirTimelock,
        abi: fabstirTimelockAbi,
        functionName: "getMinDelay",
      }),
      chainNow(gov),
    ]);
  const quorum = await gov.chain.read("quorum", {
    ...governor,
    functionName: "quorum",
    args: [now - 1n],
  });
  return {
    governor: gov.addresses.FabstirGovernor,
    timelock: gov.addresses.FabstirTimelock,
    votingDelay: delay,
    votingPeriod: period,
    proposalThreshold: threshold,
    quorumPercent: Number((numerator * 10_000n) / denominator) / 100,
    /** Today's quorum in FAB votes. */
    quorum,
    lateQuorumExtension: BigInt(extension),
    timelockDelay: minDelay,
  };
}

/** An account's FAB balance, votes and delegate. */
export async function accountVotes(gov: Governance, account: Address) {
  const fab = { address: gov.addresses.FABToken, abi: fabTokenAbi } as const;
  const [balance, votes, delegate] = await Promise.all([
    gov.chain.read("balanceOf", { ...fab, functionName: "balanceOf", args: [account] }),
    gov.chain.read("getVotes", { ...fab, functionName: "getVotes", args: [account] }),
    gov.chain.read("delegates", { ...fab, functionName: "delegates", args: [account] }),
  ]);
  return { account, balance, votes, delegate };
}

/** `status`: the account's votes and the governor's settings. */
export async function governanceStatus(gov: Governance, account = gov.chain.account.address) {
  const [votes, settings] = await Promise.all([accountVotes(gov, account), governorSettings(gov)]);
  return { ...votes, settings };
}
