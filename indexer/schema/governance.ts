/**
 * Governance, indexed: the FabstirGovernor's proposals and votes, the FabstirTimelock's
 * operations, FAB's delegates and custody, and the histories a proposal's quorum is computed
 * from (FAB's total supply and the governor's quorum numerator, both checkpointed on FAB's
 * timestamp clock). Re-exported by ../ponder.schema.ts; conventions as there.
 */
import { index, onchainEnum, onchainTable, primaryKey, relations } from "ponder";

/** GovernorCountingSimple's vote types, by their uint8 value (0 against, 1 for, 2 abstain). */
export const VOTE_SUPPORT = ["Against", "For", "Abstain"] as const;
export const voteSupport = onchainEnum("vote_support", VOTE_SUPPORT);

/**
 * A proposal (ProposalCreated) and what happened to it. The state the governor's `state()`
 * returns depends on the time and the quorum; the API derives it from these columns, the
 * quorum history and the latest indexed block's time (docs/indexer.md, Governance).
 */
export const proposal = onchainTable(
  "proposal",
  (t) => ({
    id: t.bigint().primaryKey(), // the governor's proposal id (a hash)
    seq: t.text().notNull(), // event id of ProposalCreated: chain order
    proposer: t.hex().notNull(),
    // [{ target, value (decimal string), signature, calldata }], in the proposal's order
    actions: t.json().$type<ProposalAction[]>().notNull(),
    description: t.text().notNull(),
    descriptionHash: t.hex().notNull(), // keccak256 of the description, as queue/execute take it
    voteStart: t.bigint().notNull(), // the snapshot: votes and quorum are as of this time
    voteEnd: t.bigint().notNull(), // the deadline, moved by ProposalExtended (late quorum)
    extended: t.boolean().notNull(),
    forVotes: t.bigint().notNull(),
    againstVotes: t.bigint().notNull(),
    abstainVotes: t.bigint().notNull(),
    voters: t.integer().notNull(),
    timelockId: t.hex(), // the timelock operation once queued
    eta: t.bigint(), // when the timelock lets it execute (ProposalQueued)
    createdAt: t.bigint().notNull(),
    createdBlock: t.bigint().notNull(),
    createdTx: t.hex().notNull(),
    queuedAt: t.bigint(),
    executedAt: t.bigint(), // ProposalExecuted, or its timelock operation executed directly
    canceledAt: t.bigint(), // ProposalCanceled, or its timelock operation cancelled
  }),
  (t) => ({
    bySeq: index().on(t.seq),
    byProposer: index().on(t.proposer),
  }),
);

export interface ProposalAction {
  target: `0x${string}`;
  value: string;
  signature: string;
  calldata: `0x${string}`;
}

/** A vote (VoteCast or VoteCastWithParams): one per voter and proposal. */
export const vote = onchainTable(
  "vote",
  (t) => ({
    proposalId: t.bigint().notNull(),
    voter: t.hex().notNull(),
    support: voteSupport("support").notNull(),
    weight: t.bigint().notNull(), // the voter's votes at the proposal's snapshot
    reason: t.text().notNull(),
    params: t.hex(), // VoteCastWithParams only
    at: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.proposalId, t.voter] }),
    byVoter: index().on(t.voter),
  }),
);

/**
 * A FabstirTimelock operation (CallScheduled, one event per call), executed or cancelled;
 * `proposalId` names the governor's proposal it carries out (null for an operation scheduled
 * by another proposer).
 */
export const timelockOperation = onchainTable(
  "timelock_operation",
  (t) => ({
    id: t.hex().primaryKey(), // the operation id (hashOperationBatch)
    proposalId: t.bigint(),
    calls: t.integer().notNull(),
    predecessor: t.hex().notNull(),
    delay: t.bigint().notNull(), // seconds
    readyAt: t.bigint().notNull(),
    scheduledAt: t.bigint().notNull(),
    executedAt: t.bigint(),
    cancelledAt: t.bigint(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ byProposal: index().on(t.proposalId) }),
);

/** The governor's settings (one row, id "FabstirGovernor"), all seconds on FAB's clock but the threshold. */
export const governorConfig = onchainTable("governor_config", (t) => ({
  id: t.text().primaryKey(),
  votingDelay: t.bigint(),
  votingPeriod: t.bigint(),
  proposalThreshold: t.bigint(), // FAB wei
  quorumNumerator: t.bigint(), // percent of the supply (denominator 100)
  lateQuorumExtension: t.bigint(),
  timelock: t.hex(),
  timelockMinDelay: t.bigint(), // the timelock's MinDelayChange
  updatedAt: t.bigint().notNull(),
}));

/** Every QuorumNumeratorUpdated: the governor reads the numerator as of a proposal's snapshot. */
export const quorumNumeratorChange = onchainTable(
  "quorum_numerator_change",
  (t) => ({
    id: t.text().primaryKey(), // event id
    numerator: t.bigint().notNull(),
    at: t.bigint().notNull(),
  }),
  (t) => ({ byAt: index().on(t.at) }),
);

/** FAB's total supply after each mint or burn (a Transfer from or to 0x0): the quorum's base. */
export const fabSupplyChange = onchainTable(
  "fab_supply_change",
  (t) => ({
    id: t.text().primaryKey(), // event id
    delta: t.bigint().notNull(), // minted (positive) or burned (negative)
    supply: t.bigint().notNull(), // afterwards
    at: t.bigint().notNull(),
    txHash: t.hex().notNull(),
  }),
  (t) => ({ byAt: index().on(t.at) }),
);

/** FAB's totals (one row, id "FABToken"). */
export const fabToken = onchainTable("fab_token", (t) => ({
  id: t.text().primaryKey(),
  totalSupply: t.bigint().notNull(),
  burned: t.bigint().notNull(),
  updatedAt: t.bigint().notNull(),
}));

/** An account's voting power (DelegateVotesChanged) and how many accounts delegate to it. */
export const delegate = onchainTable(
  "delegate",
  (t) => ({
    address: t.hex().primaryKey(),
    votes: t.bigint().notNull(),
    delegators: t.integer().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({ byVotes: index().on(t.votes) }),
);

/** Whom an account delegates its votes to (DelegateChanged). */
export const delegation = onchainTable(
  "delegation",
  (t) => ({
    delegator: t.hex().primaryKey(),
    delegate: t.hex().notNull(),
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({ byDelegate: index().on(t.delegate) }),
);

/** FAB a custodian (the NodeRegistry, the StakersPool) holds for an owner, who keeps its votes. */
export const fabCustody = onchainTable(
  "fab_custody",
  (t) => ({
    custodian: t.hex().notNull(),
    owner: t.hex().notNull(),
    amount: t.bigint().notNull(), // rows are kept at 0 when paid out
    updatedAt: t.bigint().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.custodian, t.owner] }),
    byOwner: index().on(t.owner),
  }),
);

export const proposalRelations = relations(proposal, ({ many }) => ({
  votes: many(vote),
  operations: many(timelockOperation),
}));
export const voteRelations = relations(vote, ({ one }) => ({
  proposalRow: one(proposal, { fields: [vote.proposalId], references: [proposal.id] }),
}));
export const timelockOperationRelations = relations(timelockOperation, ({ one }) => ({
  proposalRow: one(proposal, {
    fields: [timelockOperation.proposalId],
    references: [proposal.id],
  }),
}));
export const delegateRelations = relations(delegate, ({ many }) => ({
  delegations: many(delegation),
}));
export const delegationRelations = relations(delegation, ({ one }) => ({
  delegateRow: one(delegate, { fields: [delegation.delegate], references: [delegate.address] }),
}));
