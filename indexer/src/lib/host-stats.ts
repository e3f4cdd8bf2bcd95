/** Writes to a host's row (refreshing the indexer's own score), the day's stats and a model's counters. */
import type { Context } from "ponder:registry";
import { dailyHostActivity, dailyStats, host, model } from "ponder:schema";
import { reputation } from "../../../protocol/reputation.ts";
import { bytes32ToText, dayOf } from "./values.ts";

type Db = Context["db"];
type HostRow = typeof host.$inferSelect;

/** Applies `change` to the host's row (if the host is known) and recomputes the indexer's score at `at`. */
export async function updateHost(
  db: Db,
  address: `0x${string}`,
  at: bigint,
  change: (row: HostRow) => Partial<HostRow>,
): Promise<void> {
  const row = await db.find(host, { address });
  if (!row) return;
  const next = { ...row, ...change(row), updatedAt: at };
  const { score: indexerScore } = reputation({ ...next, at });
  await db.update(host, { address }).set({ ...change(row), updatedAt: at, indexerScore });
}

const EMPTY_DAY = {
  jobsPosted: 0,
  jobsSettled: 0,
  jobsCancelled: 0,
  jobsExpired: 0,
  jobsRefused: 0,
  sessionsOpened: 0,
  sessionsSettled: 0,
  sessionTokens: 0n,
  newHosts: 0,
  activeHosts: 0,
};

/** Applies `change` to the day's stats row in one upsert (a new day starts from zeros). */
export async function bumpDaily(
  db: Db,
  at: bigint,
  change: (row: typeof dailyStats.$inferSelect) => Partial<typeof dailyStats.$inferSelect>,
): Promise<void> {
  const day = dayOf(at);
  const fresh = { day, ...EMPTY_DAY };
  await db
    .insert(dailyStats)
    .values({ ...fresh, ...change(fresh) })
    .onConflictDoUpdate(change);
}

/** Counts `address` among the day's active hosts once. */
export async function markActive(db: Db, address: `0x${string}`, at: bigint): Promise<void> {
  const day = dayOf(at);
  const seen = await db.find(dailyHostActivity, { day, host: address });
  if (seen) return;
  await db.insert(dailyHostActivity).values({ day, host: address });
  await bumpDaily(db, at, (d) => ({ activeHosts: d.activeHosts + 1 }));
}

type ModelRow = typeof model.$inferSelect;

/** Applies `change` to a model's counters, creating its row (all zero) on first sight. */
export async function bumpModel(
  db: Db,
  id: `0x${string}`,
  change: (row: ModelRow) => Partial<ModelRow>,
): Promise<void> {
  const fresh: ModelRow = {
    id,
    name: bytes32ToText(id),
    hostCount: 0,
    jobsPosted: 0,
    tokensServed: 0n,
    sessionsOpened: 0,
    sessionTokensServed: 0n,
  };
  await db
    .insert(model)
    .values({ ...fresh, ...change(fresh) })
    .onConflictDoUpdate(change);
}
