/**
 * Governance as a library: every step of a proposal's life on the FabstirGovernor (propose,
 * vote, queue, execute, cancel, upgrade proposals checked against the storage-layout
 * snapshots), FAB delegation, and the reads behind `list`, `show` and `status`; and the
 * tokenomics' stakers and keepers: staking in the StakersPool, claiming its rewards, and the
 * treasury's buybacks.
 * governance/cli.ts is a thin layer over these functions; scripts and tests call them directly.
 */
export {
  type Addresses,
  CONTRACT_ABIS,
  contractAt,
  type DecodedAction,
  decodeAction,
  encodeAction,
  isContractName,
  type ProposalAction,
  parseActionSpec,
  rawAction,
} from "./actions.ts";
export { type ConnectOptions, connectGovernance, type Governance } from "./client.ts";
export {
  AlreadyVotedError,
  GovernanceError,
  GovernanceUsageError,
  IncompatibleLayoutError,
  InsufficientFabError,
  InsufficientReserveError,
  InsufficientStakeError,
  InsufficientVotesError,
  InvalidImplementationError,
  LayoutUncheckedError,
  NotKeeperError,
  NotProposerError,
  PositionLockedError,
  ProposalExistsError,
  ProposalNotFoundError,
  ProposalStateError,
  SlippageTooLooseError,
  TimelockNotReadyError,
} from "./errors.ts";
export {
  cancel,
  delegate,
  execute,
  type Proposed,
  propose,
  queue,
  requireProposerVotes,
  SUPPORT,
  type Support,
  vote,
} from "./lifecycle.ts";
export {
  type ClaimOptions,
  claimRewards,
  ETH,
  FAB_DECIMALS,
  formatToken,
  type LockTierInfo,
  lockTiers,
  type PoolPosition,
  type PoolStatus,
  parseAmount,
  parseToken,
  poolStatus,
  rewardTokens,
  stakeFab,
  type TokenInfo,
  tokenInfo,
  withdrawFab,
} from "./pool.ts";
export {
  accountVotes,
  chainNow,
  governanceStatus,
  governorSettings,
  listProposals,
  PROPOSAL_STATES,
  type ProposalDetails,
  type ProposalRecord,
  type ProposalState,
  type ProposalStatus,
  proposalArgs,
  proposalRecords,
  showProposal,
} from "./proposals.ts";
export { formatDuration, formatTime } from "./time.ts";
export {
  BUYBACK_DEADLINE_S,
  BUYBACK_DESTINATIONS,
  type BuybackDestination,
  type BuybackOptions,
  buyback,
  knownTokens,
  routerQuoteAbi,
  type TreasuryToken,
  treasuryStatus,
} from "./treasury.ts";
export {
  IMPLEMENTATION_SLOT,
  implementationOf,
  type ProposedUpgrade,
  proposeUpgrade,
  readArtifact,
  type UpgradeOptions,
} from "./upgrade.ts";
