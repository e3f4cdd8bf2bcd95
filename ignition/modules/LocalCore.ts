import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { addLocalStablecoin } from "../lib/local.ts";
import Fabstir from "./Fabstir.ts";

/**
 * Local chains only, for the contracts' unit tests: the core with the deployer still its admin,
 * plus a test stablecoin (standing in for USDC on Base) that the escrow accepts. The local
 * marketplace (`npm start`) deploys LocalDev.ts instead, which hands everything to governance.
 */
export default buildModule("FabstirLocalCore", (m) => {
  const core = m.useModule(Fabstir);
  const { stablecoin } = addLocalStablecoin(m, core);
  return { ...core, stablecoin };
});
