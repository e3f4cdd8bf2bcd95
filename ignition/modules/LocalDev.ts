import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import Fabstir from "./Fabstir.ts";

/**
 * Local chains only: the core plus a test stablecoin (standing in for USDC on Base)
 * that the escrow accepts. Never deploy this module to a public network.
 */
export default buildModule("FabstirLocalDev", (m) => {
  const core = m.useModule(Fabstir);
  const stablecoin = m.contract("TestStablecoin", []);
  m.call(core.escrow, "setTokenAllowed", [stablecoin, true]);
  return { ...core, stablecoin };
});
