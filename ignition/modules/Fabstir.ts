import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

const DAY = 24n * 60n * 60n;

/**
 * The Fabstir core: FABToken, PaymentEscrow, NodeRegistry, JobMarketplace and SessionManager, each
 * a UUPS implementation behind a FabstirProxy (ERC-1967), wired together. The same
 * module deploys the local chain, Base Sepolia and Base; parameters tune it per network.
 */
export default buildModule("Fabstir", (m) => {
  const admin = m.getParameter("admin", m.getAccount(0));
  const treasury = m.getParameter("treasury", m.getAccount(0));
  const stakersPool = m.getParameter("stakersPool", m.getAccount(0));
  const fabSupply = m.getParameter("fabSupply", 1_000_000_000n * 10n ** 18n);
  const minimumStake = m.getParameter("minimumStake", 1_000n * 10n ** 18n);
  const unbondingPeriod = m.getParameter("unbondingPeriod", 7n * DAY);
  const disputeWindow = m.getParameter("disputeWindow", DAY);
  const closeWindow = m.getParameter("sessionCloseWindow", 60n * 60n);

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

  m.call(escrow, "setLocker", [marketplace, true], { id: "setLockerMarketplace" });
  m.call(escrow, "setLocker", [sessions, true], { id: "setLockerSessions" });
  m.call(registry, "setJobMarketplace", [marketplace]);

  return { fab, escrow, registry, marketplace, sessions };
});
