import type {
  AccountRuntimeValue,
  CallableContractFuture,
  Future,
  IgnitionModuleBuilder,
  ModuleParameterRuntimeValue,
} from "@nomicfoundation/ignition-core";

type Address =
  | string
  | AccountRuntimeValue
  | ModuleParameterRuntimeValue<string>
  | ModuleParameterRuntimeValue<AccountRuntimeValue>
  | CallableContractFuture<string>;

const DAY = 24n * 60n * 60n;
const FAB = 10n ** 18n;

/** The roles every governed contract hands to the timelock (admin, upgrader) or the guardian. */
const ADMIN = "0x0000000000000000000000000000000000000000000000000000000000000000";

/** The core contracts (as ignition/modules/Fabstir.ts returns them). */
export interface Core {
  fab: CallableContractFuture<"FABToken">;
  escrow: CallableContractFuture<"PaymentEscrow">;
  registry: CallableContractFuture<"NodeRegistry">;
  marketplace: CallableContractFuture<"JobMarketplace">;
  sessions: CallableContractFuture<"SessionManager">;
  reputation: CallableContractFuture<"ReputationSystem">;
  proofs: CallableContractFuture<"ProofSystem">;
  catalog: CallableContractFuture<"ModelCatalog">;
}

export interface GovernanceOptions {
  /** The Uniswap V2 router the treasury buys FAB through, and its WETH. */
  router: Address;
  weth: Address;
  /** Every configuring call made before governance (the core's, the network's): the handover waits for them. */
  setup: Future[];
  /** Extra reward tokens for the stakers pool (ETH is one from the start). */
  rewardTokens?: Address[];
  /** Buyback paths for ERC-20 fees (token → ... → FAB); ETH's is [weth, FAB]. */
  swapPaths?: Array<[Address, Address[]]>;
  /** Defaults for the parameters (a public deployment passes guardian, arbiter and keeper). */
  defaults?: {
    guardian?: AccountRuntimeValue;
    arbiter?: AccountRuntimeValue;
    keeper?: AccountRuntimeValue;
    votingDelay?: bigint;
    votingPeriod?: bigint;
    lateQuorumExtension?: bigint;
    timelockDelay?: bigint;
  };
}

/**
 * Governance and tokenomics on top of the core (issue 14): the FabstirTimelock and
 * FabstirGovernor (OpenZeppelin's), the StakersPool (the escrow's stakers' share, paid pro rata
 * to registry stake and locked FAB) and the FabstirTreasury (the escrow's treasury share, part
 * of it spent on FAB buybacks through Uniswap V2). Then the handover: the timelock receives every
 * admin and upgrader role of every contract, the guardian (meant to be a multisig) every pauser
 * role, the arbiter and keeper their operational roles, and the deployer renounces everything it
 * held (the ModelCatalog's LISTER_ROLE goes to the timelock: listing a model is a governance
 * action), so no single key can change a parameter, move funds or upgrade a contract afterwards.
 * Parameters (module "FabstirGovernance"-independent: read from the calling module's namespace):
 * guardian, arbiter, keeper, votingDelay, votingPeriod, proposalThreshold, quorumPercent,
 * lateQuorumExtension, timelockDelay, buybackBps, stakeTierMinimums, stakeTierDiscounts.
 */
export function deployGovernance(m: IgnitionModuleBuilder, core: Core, options: GovernanceOptions) {
  const deployer = m.getAccount(0);
  const d = options.defaults ?? {};
  const account = (name: string, fallback: AccountRuntimeValue | undefined): Address =>
    fallback === undefined ? m.getParameter<string>(name) : m.getParameter(name, fallback);
  const guardian = account("guardian", d.guardian);
  const arbiter = account("arbiter", d.arbiter);
  const keeper = account("keeper", d.keeper);
  const settings = {
    votingDelay: m.getParameter("votingDelay", d.votingDelay ?? DAY),
    votingPeriod: m.getParameter("votingPeriod", d.votingPeriod ?? 5n * DAY),
    proposalThreshold: m.getParameter("proposalThreshold", 100_000n * FAB),
    quorumPercent: m.getParameter("quorumPercent", 4n),
    lateQuorumExtension: m.getParameter("lateQuorumExtension", d.lateQuorumExtension ?? DAY),
  };
  const timelockDelay = m.getParameter("timelockDelay", d.timelockDelay ?? 2n * DAY);
  const buybackBps = m.getParameter("buybackBps", 2_000n);
  const tierMinimums = m.getParameter<bigint[]>("stakeTierMinimums", [
    10_000n * FAB,
    50_000n * FAB,
  ]);
  const tierDiscounts = m.getParameter<bigint[]>("stakeTierDiscounts", [1_000n, 2_000n]);

  const timelockImpl = m.contract("FabstirTimelock", [], { id: "FabstirTimelockImpl" });
  const timelockProxy = m.contract(
    "FabstirProxy",
    [
      timelockImpl,
      // Anyone may execute a ready operation; the deployer bootstraps the proposer and renounces.
      m.encodeFunctionCall(timelockImpl, "initialize", [
        timelockDelay,
        [],
        ["0x0000000000000000000000000000000000000000"],
        deployer,
      ]),
    ],
    { id: "FabstirTimelockProxy" },
  );
  const timelock = m.contractAt("FabstirTimelock", timelockProxy, { id: "FabstirTimelock" });

  const governorImpl = m.contract("FabstirGovernor", [], { id: "FabstirGovernorImpl" });
  const governorProxy = m.contract(
    "FabstirProxy",
    [
      governorImpl,
      m.encodeFunctionCall(governorImpl, "initialize", [core.fab, timelock, settings]),
    ],
    { id: "FabstirGovernorProxy" },
  );
  const governor = m.contractAt("FabstirGovernor", governorProxy, { id: "FabstirGovernor" });

  const poolImpl = m.contract("StakersPool", [], { id: "StakersPoolImpl" });
  const poolProxy = m.contract(
    "FabstirProxy",
    [poolImpl, m.encodeFunctionCall(poolImpl, "initialize", [deployer, core.fab, core.escrow])],
    { id: "StakersPoolProxy" },
  );
  const pool = m.contractAt("StakersPool", poolProxy, { id: "StakersPool" });

  const treasuryImpl = m.contract("FabstirTreasury", [], { id: "FabstirTreasuryImpl" });
  const treasuryProxy = m.contract(
    "FabstirProxy",
    [
      treasuryImpl,
      m.encodeFunctionCall(treasuryImpl, "initialize", [
        deployer,
        core.escrow,
        core.fab,
        options.router,
        pool,
        buybackBps,
      ]),
    ],
    { id: "FabstirTreasuryProxy" },
  );
  const treasury = m.contractAt("FabstirTreasury", treasuryProxy, { id: "FabstirTreasury" });

  // Wiring: fees flow to the pool and the treasury; the pool counts registry stake and custodies FAB.
  const custodian = m.staticCall(core.fab, "CUSTODIAN_ROLE", [], 0, { id: "fabCustodianRole" });
  const wiring: Future[] = [
    m.call(core.fab, "grantRole", [custodian, pool], { id: "grantCustodianPool" }),
    m.call(pool, "setRegistry", [core.registry]),
    m.call(core.registry, "setStakeObserver", [pool]),
    m.call(core.escrow, "setStakersPool", [pool], { id: "escrowStakersPool" }),
    m.call(core.escrow, "setTreasury", [treasury], { id: "escrowTreasury" }),
    m.call(core.reputation, "setTreasury", [treasury], { id: "reputationTreasury" }),
    m.call(core.reputation, "setStakeTiers", [tierMinimums, tierDiscounts]),
    m.call(
      treasury,
      "setSwapPath",
      ["0x0000000000000000000000000000000000000000", [options.weth, core.fab]],
      {
        id: "treasuryEthPath",
      },
    ),
  ];
  // FAB bought back may be paid to stakers: the pool distributes FAB too.
  wiring.push(m.call(pool, "addRewardToken", [core.fab], { id: "poolRewardFab" }));
  for (const [i, [token, path]] of (options.swapPaths ?? []).entries()) {
    wiring.push(m.call(treasury, "setSwapPath", [token, path], { id: `treasuryPath${i}` }));
  }
  for (const [i, token] of (options.rewardTokens ?? []).entries()) {
    wiring.push(m.call(pool, "addRewardToken", [token], { id: `poolRewardToken${i}` }));
  }
  const proposer = m.staticCall(timelock, "PROPOSER_ROLE", [], 0, { id: "timelockProposerRole" });
  const canceller = m.staticCall(timelock, "CANCELLER_ROLE", [], 0, {
    id: "timelockCancellerRole",
  });
  wiring.push(m.call(timelock, "grantRole", [proposer, governor], { id: "timelockProposer" }));
  wiring.push(m.call(timelock, "grantRole", [canceller, governor], { id: "timelockCanceller" }));

  const after = [...options.setup, ...wiring];
  const governed: Array<[string, CallableContractFuture<string>, string[]]> = [
    ["FABToken", core.fab, ["PAUSER_ROLE", "UPGRADER_ROLE"]],
    ["PaymentEscrow", core.escrow, ["PAUSER_ROLE", "UPGRADER_ROLE"]],
    ["NodeRegistry", core.registry, ["PAUSER_ROLE", "UPGRADER_ROLE"]],
    ["JobMarketplace", core.marketplace, ["PAUSER_ROLE", "UPGRADER_ROLE", "ARBITER_ROLE"]],
    ["SessionManager", core.sessions, ["PAUSER_ROLE", "UPGRADER_ROLE"]],
    ["ReputationSystem", core.reputation, ["UPGRADER_ROLE"]],
    ["ProofSystem", core.proofs, ["UPGRADER_ROLE", "VERIFIER_ADMIN_ROLE", "ARBITER_ROLE"]],
    ["ModelCatalog", core.catalog, ["PAUSER_ROLE", "UPGRADER_ROLE", "LISTER_ROLE"]],
    ["StakersPool", pool, ["PAUSER_ROLE", "UPGRADER_ROLE"]],
    ["FabstirTreasury", treasury, ["PAUSER_ROLE", "UPGRADER_ROLE", "KEEPER_ROLE"]],
  ];
  const holderOf = (role: string): Address =>
    role === "PAUSER_ROLE"
      ? guardian
      : role === "ARBITER_ROLE"
        ? arbiter
        : role === "KEEPER_ROLE"
          ? keeper
          : timelock;
  const grants: Future[] = [];
  for (const [name, contract, roles] of governed) {
    grants.push(
      m.call(contract, "grantRole", [ADMIN, timelock], { id: `${name}_adminToTimelock`, after }),
    );
    for (const role of roles) {
      const id = m.staticCall(contract, role, [], 0, { id: `${name}_${role}` });
      grants.push(
        m.call(contract, "grantRole", [id, holderOf(role)], { id: `${name}_grant_${role}`, after }),
      );
    }
  }
  // The deployer gives up everything it held, last.
  for (const [name, contract, roles] of governed) {
    for (const role of roles) {
      if (role === "KEEPER_ROLE") continue; // never held by the deployer
      const id = m.staticCall(contract, role, [], 0, { id: `${name}_${role}_renounce` });
      m.call(contract, "renounceRole", [id, deployer], {
        id: `${name}_renounce_${role}`,
        after: grants,
      });
    }
    m.call(contract, "renounceRole", [ADMIN, deployer], {
      id: `${name}_renounce_admin`,
      after: grants,
    });
  }
  m.call(timelock, "renounceRole", [ADMIN, deployer], {
    id: "FabstirTimelock_renounce_admin",
    after: grants,
  });

  return { timelock, governor, pool, treasury };
}
