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
  // 10 units (0.00001 USD) is about one token's price on the local marketplace.
  m.call(core.reputation, "setRatingUnit", [stablecoin, 10n], { id: "setRatingUnitStablecoin" });
  return { ...core, stablecoin };
});
