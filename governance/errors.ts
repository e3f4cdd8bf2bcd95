/**
 * What can stop a governance step (or a staker's or keeper's), by what the caller can do about
 * it. Each error has a stable `code` (the CLI's `--json` output carries it) and, where one is
 * concerned, the proposal id. Every one is a user error (the step does not fit the proposal's
 * state, the account or the input) except TimelockNotReadyError and PositionLockedError, which
 * are retryable: the same step works later.
 */
import { FabstirError } from "../protocol/errors.ts";

export class GovernanceError extends FabstirError {
  override readonly code: string;
  override readonly retryable: boolean;
  override readonly userError = true;
  /** The proposal this error concerns, if any. */
  readonly proposalId: bigint | undefined;
  constructor(
    code: string,
    message: string,
    opts: { retryable?: boolean; proposalId?: bigint; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.proposalId = opts.proposalId;
  }
}

/** A flag, an action or an argument that cannot be understood. */
export class GovernanceUsageError extends GovernanceError {
  constructor(message: string) {
    super("usage", message);
  }
}

/** The proposer's votes are below the governor's proposal threshold. */
export class InsufficientVotesError extends GovernanceError {
  readonly votes: bigint;
  readonly threshold: bigint;
  constructor(message: string, votes: bigint, threshold: bigint) {
    super("insufficient_votes", message);
    this.votes = votes;
    this.threshold = threshold;
  }
}

/** No ProposalCreated log of the governor has this id. */
export class ProposalNotFoundError extends GovernanceError {
  constructor(proposalId: bigint) {
    super("proposal_not_found", `no proposal ${proposalId} on this governor`, { proposalId });
  }
}

/** The same actions with the same description were proposed before. */
export class ProposalExistsError extends GovernanceError {
  constructor(proposalId: bigint) {
    super(
      "proposal_exists",
      `proposal ${proposalId} has the same actions and description already; change the description to propose them again`,
      { proposalId },
    );
  }
}

/** The proposal's state does not allow the step (voting not open, not succeeded, ...). */
export class ProposalStateError extends GovernanceError {
  readonly state: string;
  constructor(proposalId: bigint, state: string, message: string) {
    super("proposal_state", message, { proposalId });
    this.state = state;
  }
}

/** The account voted on this proposal already. */
export class AlreadyVotedError extends GovernanceError {
  constructor(proposalId: bigint, voter: string) {
    super("already_voted", `${voter} has voted on proposal ${proposalId} already`, {
      proposalId,
    });
  }
}

/** The proposal is queued and its timelock delay has not passed: execute it at `eta`. */
export class TimelockNotReadyError extends GovernanceError {
  /** Seconds (the chain's clock) from which it can be executed. */
  readonly eta: bigint;
  constructor(proposalId: bigint, eta: bigint, message: string) {
    super("timelock_not_ready", message, { proposalId, retryable: true });
    this.eta = eta;
  }
}

/** Only the proposer may cancel, and only while the proposal is pending. */
export class NotProposerError extends GovernanceError {
  constructor(proposalId: bigint, proposer: string) {
    super("not_proposer", `only the proposer (${proposer}) may cancel proposal ${proposalId}`, {
      proposalId,
    });
  }
}

/** The new implementation's storage layout would corrupt the proxy's state. */
export class IncompatibleLayoutError extends GovernanceError {
  /** The checker's findings, one line each. */
  readonly errors: string[];
  constructor(contract: string, errors: string[]) {
    super(
      "incompatible_storage_layout",
      `the new ${contract} implementation's storage layout is incompatible with the live proxy's:\n${errors.map((e) => `  ${e}`).join("\n")}`,
    );
    this.errors = errors;
  }
}

/** The storage layout could not be checked (no snapshot, no source, does not compile). */
export class LayoutUncheckedError extends GovernanceError {
  constructor(contract: string, why: string, cause: unknown) {
    super("storage_layout_unchecked", `cannot check ${contract}'s storage layout: ${why}`, {
      cause,
    });
  }
}

/** The implementation address is not a UUPS implementation (no code, no proxiableUUID). */
export class InvalidImplementationError extends GovernanceError {
  constructor(message: string) {
    super("invalid_implementation", message);
  }
}

/** The account's FAB (its spendable balance, not what custodians hold for it) is short. */
export class InsufficientFabError extends GovernanceError {
  readonly balance: bigint;
  readonly requested: bigint;
  constructor(message: string, balance: bigint, requested: bigint) {
    super("insufficient_fab", message);
    this.balance = balance;
    this.requested = requested;
  }
}

/** A withdrawal above what the account's position in the tier holds. */
export class InsufficientStakeError extends GovernanceError {
  readonly tier: number;
  readonly staked: bigint;
  readonly requested: bigint;
  constructor(message: string, tier: number, staked: bigint, requested: bigint) {
    super("insufficient_stake", message);
    this.tier = tier;
    this.staked = staked;
    this.requested = requested;
  }
}

/** The pool position is locked: the same withdrawal works from `lockEnd`. */
export class PositionLockedError extends GovernanceError {
  readonly tier: number;
  /** Seconds (the chain's clock) from which the position can be withdrawn. */
  readonly lockEnd: bigint;
  constructor(message: string, tier: number, lockEnd: bigint) {
    super("position_locked", message, { retryable: true });
    this.tier = tier;
    this.lockEnd = lockEnd;
  }
}

/** Buybacks are for the treasury's KEEPER_ROLE and its admin (the timelock) only. */
export class NotKeeperError extends GovernanceError {
  constructor(account: string) {
    super(
      "not_keeper",
      `${account} is not a keeper of the treasury (KEEPER_ROLE) nor its admin: buybacks are theirs`,
    );
  }
}

/** A buyback's slippage is looser than the treasury accepts (its maxSlippageBps). */
export class SlippageTooLooseError extends GovernanceError {
  readonly slippageBps: number;
  readonly maxSlippageBps: number;
  constructor(slippageBps: number, maxSlippageBps: number) {
    super(
      "slippage_too_loose",
      `a slippage of ${slippageBps} bps is looser than the treasury's maximum of ${maxSlippageBps} bps: it would refuse the buyback`,
    );
    this.slippageBps = slippageBps;
    this.maxSlippageBps = maxSlippageBps;
  }
}

/** A buyback above the token's buyback reserve (after the sync), or with an empty reserve. */
export class InsufficientReserveError extends GovernanceError {
  readonly reserve: bigint;
  readonly requested: bigint;
  constructor(message: string, reserve: bigint, requested: bigint) {
    super("insufficient_reserve", message);
    this.reserve = reserve;
    this.requested = requested;
  }
}
