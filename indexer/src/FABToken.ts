/** FABToken: every event goes to the event log; no derived state yet (governance will add some). */
import { fabTokenAbi } from "../../abis/index.ts";
import { indexContract } from "./lib/index-contract.ts";

indexContract("FABToken", fabTokenAbi, {});
