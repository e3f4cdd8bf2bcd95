/**
 * The on-chain reputation record of a host (host_reputation) and the score on its host row:
 * every ReputationSystem event that carries a host's new score goes through `recordScore`.
 */
import type { Context } from "ponder:registry";
import { host, hostReputation } from "ponder:schema";

type Db = Context["db"];
type RecordRow = typeof hostReputation.$inferSelect;

/** ReputationSystem.NEUTRAL_SCORE: the score of a host with no history. */
export const NEUTRAL_SCORE = 500;

/** A host's record before its first event: nothing counted, the neutral score. */
function emptyRecord(address: `0x${string}`, at: bigint): RecordRow {
  return {
    host: address,
    score: NEUTRAL_SCORE,
    scoreAt: at,
    jobs: 0,
    sessions: 0,
    tokens: 0n,
    jobSecondsTotal: 0n,
    disputesWon: 0,
    abandoned: 0,
    disputesLost: 0,
    challengesLost: 0,
    offences: 0,
    slashed: 0n,
    compensation: 0n,
    slashFailures: 0,
    ratings: 0,
    starsTotal: 0,
    ratingWeight: 0n,
    weightedStars: 0n,
    updatedAt: at,
  };
}

/**
 * Applies `change` to the host's record (created on first sight) and, when the event carries
 * one, sets its new `score` on the record and on the host's row (discovery sorts by it).
 */
export async function updateRecord(
  db: Db,
  address: `0x${string}`,
  at: bigint,
  score: number | null,
  change: (row: RecordRow) => Partial<RecordRow>,
): Promise<void> {
  const scored = score === null ? {} : { score, scoreAt: at };
  const fresh = emptyRecord(address, at);
  await db
    .insert(hostReputation)
    .values({ ...fresh, ...change(fresh), ...scored })
    .onConflictDoUpdate((r) => ({ ...change(r), ...scored, updatedAt: at }));
  if (score === null) return;
  const row = await db.find(host, { address });
  if (row) await db.update(host, { address }).set({ score, scoreAt: at });
}
