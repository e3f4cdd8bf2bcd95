/**
 * The chain's time as far as the indexer has read it: the timestamp of the latest indexed block
 * (Ponder's checkpoint, as its /status reports it). Proposal states and the pool's 30-day
 * window are computed against it, so the API never asks the chain and answers consistently
 * with the rows it serves.
 */
import { db } from "ponder:api";
import { sql } from "ponder";

/** Ponder's checkpoints start with the block's unix timestamp in 10 digits. */
const TIMESTAMP_DIGITS = 10;

export async function indexedTime(): Promise<bigint> {
  const result = (await db.execute(sql`select latest_checkpoint from _ponder_checkpoint`)) as {
    rows: { latest_checkpoint: string }[];
  };
  let latest = 0n;
  for (const { latest_checkpoint } of result.rows) {
    const at = BigInt(latest_checkpoint.slice(0, TIMESTAMP_DIGITS));
    if (at > latest) latest = at;
  }
  return latest;
}
