import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployCore } from "../lib/core.ts";

/**
 * The Fabstir core alone, with the deployer as every contract's admin (the contracts' unit tests
 * deploy it, through LocalCore.ts). What it deploys: ignition/lib/core.ts. A real deployment
 * uses FabstirGoverned.ts, which hands every role to governance.
 */
export default buildModule("Fabstir", (m) => deployCore(m).contracts);
