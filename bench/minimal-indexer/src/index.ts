/**
 * The baseline for the backfill benchmark: a minimal Ponder app over the same events as the
 * real indexer, inserting one row per event into one table and doing nothing else.
 */
import { ponder } from "ponder:registry";
import { event as eventTable } from "ponder:schema";
import type { Abi } from "viem";
import {
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
} from "../../../abis/index.ts";

interface AnyEvent {
  block: { number: bigint };
  log: { logIndex: number };
}
interface AnyContext {
  db: { insert: (t: typeof eventTable) => { values: (v: object) => Promise<unknown> } };
}
const on = ponder.on.bind(ponder) as unknown as (
  name: string,
  fn: (args: { event: AnyEvent; context: AnyContext }) => Promise<void>,
) => void;

const contracts: Record<string, Abi> = {
  FABToken: fabTokenAbi,
  NodeRegistry: nodeRegistryAbi,
  JobMarketplace: jobMarketplaceAbi,
  PaymentEscrow: paymentEscrowAbi,
};
for (const [contract, abi] of Object.entries(contracts)) {
  const names = new Set(abi.flatMap((x) => (x.type === "event" ? [x.name] : [])));
  for (const name of names) {
    on(`${contract}:${name}`, async ({ event, context }) => {
      await context.db.insert(eventTable).values({
        id: `${event.block.number}-${event.log.logIndex}`,
        name,
        blockNumber: event.block.number,
      });
    });
  }
}
