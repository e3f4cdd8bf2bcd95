/** The baseline's only table: one row per event, no derived state. */
import { onchainTable } from "ponder";

export const event = onchainTable("event", (t) => ({
  id: t.text().primaryKey(),
  name: t.text().notNull(),
  blockNumber: t.bigint().notNull(),
}));
