import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployCore } from "../lib/core.ts";
import { deployGovernance } from "../lib/governance.ts";

/**
 * What a public network (Base Sepolia, Base) deploys: the core (ignition/lib/core.ts), then governance and
 * tokenomics (ignition/lib/governance.ts) with the handover, after which the deployer holds no
 * role anywhere. Required parameters: `treasury` (receives the whole FAB supply: a distribution
 * multisig or vesting contract, never the deployer, or it would hold every vote), `guardian` (a multisig: may only pause), `arbiter` (decides
 * disputes and challenges until governance replaces it), `keeper` (may run buybacks within the
 * treasury's bounds), `router` (Uniswap V2 Router02 on the network) and `weth` (on Base and Base
 * Sepolia, 0x4200000000000000000000000000000000000006). The registry checks offers against the
 * ModelCatalog: hosts may offer only models governance has listed. None of them may be the deployer: it
 * renounces every role it held at the end. See docs/governance.md.
 */
export default buildModule("FabstirGoverned", (m) => {
  const { contracts: core, setup } = deployCore(m, {
    requireTreasury: true,
    checkOffersAgainstCatalog: true,
  });
  const governance = deployGovernance(m, core, {
    router: m.getParameter<string>("router"),
    weth: m.getParameter<string>("weth"),
    setup,
  });
  return { ...core, ...governance };
});
