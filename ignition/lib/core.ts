import type { Future, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";

const DAY = 24n * 60n * 60n;

/**
 * The Fabstir core: FABToken, PaymentEscrow, NodeRegistry, JobMarketplace, SessionManager,
 * ReputationSystem, ProofSystem and ModelCatalog, each a UUPS implementation behind a FabstirProxy (ERC-1967),
 * wired together with the deployer as every contract's admin: the reputation system records the
 * marketplace's, the sessions' and the proof system's work and offences, slashes through the
 * registry's SLASHER_ROLE and gives the escrow its hosts' fee discounts; the proof system
 * verifies output-count proofs (its default verifier is the project's own circuit, circuits/)
 * and holds challenge bonds in the escrow. Parameters tune it per network and are read in the
 * calling module's namespace. Returns the contracts and every configuring call (`setup`).
 *
 * A function, not only a module: a module that hands the roles over (ignition/lib/governance.ts)
 * must order the handover after every `setup` call, and Ignition cannot take a whole module in
 * `after` at this size (its dependency expansion never finishes).
 */
export function deployCore(
  m: IgnitionModuleBuilder,
  options: {
    /**
     * Require the `treasury` parameter (who receives the FAB supply) instead of defaulting to
     * the deployer: a governed deployment must not leave the deployer every vote.
     */
    requireTreasury?: boolean;
    /**
     * Set the ModelCatalog as the registry's: hosts may then only offer listed models. A public
     * deployment does; the local chains leave it unset (no model check), because their tests
     * register hosts offering models of their own that nobody lists.
     */
    checkOffersAgainstCatalog?: boolean;
  } = {},
) {
  const setup: Future[] = [];
  const admin = m.getParameter("admin", m.getAccount(0));
  const treasury = options.requireTreasury
    ? m.getParameter<string>("treasury")
    : m.getParameter("treasury", m.getAccount(0));
  const stakersPool = m.getParameter("stakersPool", m.getAccount(0));
  const fabSupply = m.getParameter("fabSupply", 1_000_000_000n * 10n ** 18n);
  const minimumStake = m.getParameter("minimumStake", 1_000n * 10n ** 18n);
  // Longer than a session's challenge window (3 days after expiry) plus the arbitration window
  // (7 days), so stake leaving after a session's expiry is still there for its challenges
  // (open sessions are not counted as a host's commitments when it unstakes).
  const unbondingPeriod = m.getParameter("unbondingPeriod", 14n * DAY);
  const disputeWindow = m.getParameter("disputeWindow", DAY);
  const closeWindow = m.getParameter("sessionCloseWindow", 60n * 60n);
  // How much of the payment token is one unit of rating weight (ETH: 1 gwei, about one token's
  // price on the local marketplace); governance sets units for other tokens.
  const ratingUnitEth = m.getParameter("ratingUnitEth", 10n ** 9n);

  const fabImpl = m.contract("FABToken", [], { id: "FABTokenImpl" });
  const fabProxy = m.contract(
    "FabstirProxy",
    [fabImpl, m.encodeFunctionCall(fabImpl, "initialize", [admin, treasury, fabSupply])],
    { id: "FABTokenProxy" },
  );
  const fab = m.contractAt("FABToken", fabProxy, { id: "FABToken" });

  const escrowImpl = m.contract("PaymentEscrow", [], { id: "PaymentEscrowImpl" });
  const escrowProxy = m.contract(
    "FabstirProxy",
    [escrowImpl, m.encodeFunctionCall(escrowImpl, "initialize", [admin, treasury, stakersPool])],
    { id: "PaymentEscrowProxy" },
  );
  const escrow = m.contractAt("PaymentEscrow", escrowProxy, { id: "PaymentEscrow" });

  const registryImpl = m.contract("NodeRegistry", [], { id: "NodeRegistryImpl" });
  const registryProxy = m.contract(
    "FabstirProxy",
    [
      registryImpl,
      m.encodeFunctionCall(registryImpl, "initialize", [admin, fab, minimumStake, unbondingPeriod]),
    ],
    { id: "NodeRegistryProxy" },
  );
  const registry = m.contractAt("NodeRegistry", registryProxy, { id: "NodeRegistry" });

  const marketplaceImpl = m.contract("JobMarketplace", [registry, escrow], {
    id: "JobMarketplaceImpl",
  });
  const marketplaceProxy = m.contract(
    "FabstirProxy",
    [marketplaceImpl, m.encodeFunctionCall(marketplaceImpl, "initialize", [admin, disputeWindow])],
    { id: "JobMarketplaceProxy" },
  );
  const marketplace = m.contractAt("JobMarketplace", marketplaceProxy, { id: "JobMarketplace" });

  const sessionsImpl = m.contract("SessionManager", [registry, escrow], {
    id: "SessionManagerImpl",
  });
  const sessionsProxy = m.contract(
    "FabstirProxy",
    [sessionsImpl, m.encodeFunctionCall(sessionsImpl, "initialize", [admin, closeWindow])],
    { id: "SessionManagerProxy" },
  );
  const sessions = m.contractAt("SessionManager", sessionsProxy, { id: "SessionManager" });

  const reputationImpl = m.contract("ReputationSystem", [], { id: "ReputationSystemImpl" });
  const reputationProxy = m.contract(
    "FabstirProxy",
    [
      reputationImpl,
      m.encodeFunctionCall(reputationImpl, "initialize", [admin, registry, treasury]),
    ],
    { id: "ReputationSystemProxy" },
  );
  const reputation = m.contractAt("ReputationSystem", reputationProxy, { id: "ReputationSystem" });

  // The registry holds hosts' stake in custody: hosts keep their FAB votes while staked.
  const custodianRole = m.staticCall(fab, "CUSTODIAN_ROLE", []);
  setup.push(m.call(fab, "grantRole", [custodianRole, registry], { id: "grantCustodianRegistry" }));
  setup.push(m.call(escrow, "setLocker", [marketplace, true], { id: "setLockerMarketplace" }));
  setup.push(m.call(escrow, "setLocker", [sessions, true], { id: "setLockerSessions" }));
  setup.push(m.call(registry, "setJobMarketplace", [marketplace]));

  const slasherRole = m.staticCall(registry, "SLASHER_ROLE", []);
  setup.push(
    m.call(registry, "grantRole", [slasherRole, reputation], { id: "grantSlasherReputation" }),
  );
  setup.push(m.call(reputation, "setSources", [marketplace, sessions]));
  setup.push(
    m.call(reputation, "setRecorder", [marketplace, true], { id: "setRecorderMarketplace" }),
  );
  setup.push(m.call(reputation, "setRecorder", [sessions, true], { id: "setRecorderSessions" }));
  setup.push(
    m.call(
      reputation,
      "setRatingUnit",
      ["0x0000000000000000000000000000000000000000", ratingUnitEth],
      {
        id: "setRatingUnitEth",
      },
    ),
  );
  const outputVerifier = m.contract("OutputCountVerifier", []);
  const proofsImpl = m.contract("ProofSystem", [marketplace, sessions, escrow], {
    id: "ProofSystemImpl",
  });
  const proofsProxy = m.contract(
    "FabstirProxy",
    [
      proofsImpl,
      m.encodeFunctionCall(proofsImpl, "initialize", [admin, outputVerifier, reputation]),
    ],
    { id: "ProofSystemProxy" },
  );
  const proofs = m.contractAt("ProofSystem", proofsProxy, { id: "ProofSystem" });
  setup.push(m.call(escrow, "setLocker", [proofs, true], { id: "setLockerProofs" }));
  setup.push(m.call(reputation, "setRecorder", [proofs, true], { id: "setRecorderProofs" }));

  const catalogImpl = m.contract("ModelCatalog", [], { id: "ModelCatalogImpl" });
  const catalogProxy = m.contract(
    "FabstirProxy",
    [catalogImpl, m.encodeFunctionCall(catalogImpl, "initialize", [admin])],
    { id: "ModelCatalogProxy" },
  );
  const catalog = m.contractAt("ModelCatalog", catalogProxy, { id: "ModelCatalog" });
  if (options.checkOffersAgainstCatalog) {
    setup.push(m.call(registry, "setModelCatalog", [catalog]));
  }

  setup.push(m.call(marketplace, "setReputation", [reputation]));
  setup.push(m.call(sessions, "setReputation", [reputation]));
  setup.push(m.call(escrow, "setFeeDiscounts", [reputation]));

  return {
    contracts: { fab, escrow, registry, marketplace, sessions, reputation, proofs, catalog },
    setup,
  };
}
