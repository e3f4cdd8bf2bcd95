/**
 * A proposal's state as OpenZeppelin's Governor (with GovernorTimelockControl) computes it, from
 * the indexed rows: executed and cancelled first, then by time against the snapshot and the
 * deadline, then by the tally (GovernorCountingSimple: for and abstain votes count toward the
 * quorum; it passes when for > against) and whether it was queued. `now` is the latest indexed
 * block's time; `quorum` is the quorum at the snapshot (null while the snapshot is ahead).
 */

export const PROPOSAL_STATES = [
  "Pending",
  "Active",
  "Canceled",
  "Defeated",
  "Succeeded",
  "Queued",
  "Executed",
] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

export interface Tally {
  voteStart: bigint;
  voteEnd: bigint;
  forVotes: bigint;
  againstVotes: bigint;
  abstainVotes: bigint;
  eta: bigint | null;
  executedAt: bigint | null;
  canceledAt: bigint | null;
}

/** The governor's quorum denominator (GovernorVotesQuorumFraction: a percentage). */
export const QUORUM_DENOMINATOR = 100n;

export function quorumOf(supply: bigint, numerator: bigint): bigint {
  return (supply * numerator) / QUORUM_DENOMINATOR;
}

export function proposalState(p: Tally, now: bigint, quorum: bigint | null): ProposalState {
  if (p.executedAt !== null) return "Executed";
  if (p.canceledAt !== null) return "Canceled";
  if (p.voteStart >= now) return "Pending";
  if (p.voteEnd >= now) return "Active";
  const quorumReached = quorum !== null && quorum <= p.forVotes + p.abstainVotes;
  if (!quorumReached || p.forVotes <= p.againstVotes) return "Defeated";
  return p.eta === null ? "Succeeded" : "Queued";
}
