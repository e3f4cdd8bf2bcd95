/**
 * Registers an indexing function for every event of a contract's ABI: each event is
 * appended to the event log, then handed to the contract's handler for that event, if
 * any. A contract added later is one call of this in one new file (plus schema).
 */
import { type Context, type Event, type EventNames, ponder } from "ponder:registry";
import { eventLog } from "ponder:schema";
import type { Abi } from "viem";
import { eventId, jsonArgs } from "./values.ts";

type EventsOf<C extends string> = EventNames extends infer N
  ? N extends `${C}:${infer E}`
    ? E
    : never
  : never;

export type Handlers<C extends string> = {
  [E in EventsOf<C>]?: (args: {
    event: Event<`${C}:${E}` & EventNames>;
    context: Context<`${C}:${E}` & EventNames>;
  }) => Promise<void>;
};

/** What every event has, whatever its contract and name. */
interface AnyEvent {
  args: unknown;
  block: { number: bigint; timestamp: bigint };
  log: { logIndex: number };
  transaction: { hash: `0x${string}` };
}

export function indexContract<C extends string>(
  contract: C,
  abi: Abi,
  handlers: Handlers<C>,
): void {
  const names = new Set(abi.filter((item) => item.type === "event").map((item) => item.name));
  for (const name of names) {
    const handler = handlers[name as EventsOf<C>] as
      | ((args: { event: unknown; context: unknown }) => Promise<void>)
      | undefined;
    // The registry is typed per literal event name; here every name of the ABI is registered.
    const on = ponder.on.bind(ponder) as unknown as (
      name: string,
      fn: (args: { event: AnyEvent; context: Context }) => Promise<void>,
    ) => void;
    on(`${contract}:${name}`, async ({ event, context }) => {
      await context.db.insert(eventLog).values({
        id: eventId(event),
        contract,
        name,
        args: jsonArgs(event.args),
        blockNumber: event.block.number,
        blockTime: event.block.timestamp,
        txHash: event.transaction.hash,
        logIndex: event.log.logIndex,
      });
      if (handler) await handler({ event, context });
    });
  }
}
