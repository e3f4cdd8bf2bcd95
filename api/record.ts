/** A host's on-chain reputation record as the API shows it (GET /hosts/:address `record`). */
import type { hostReputation } from "ponder:schema";

type RecordRow = typeof hostReputation.$inferSelect;

/** The record of a host with no reputation event yet: nothing counted, its score as indexed. */
export function emptyRecord(address: `0x${string}`, score: number, scoreAt: bigint): RecordRow {
  return {
    host: address,
    score,
    scoreAt,
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
    updatedAt: scoreAt,
  };
}

/**
 * Stars (1-5) averaged over the ratings, each weighted by what its renter paid; the plain
 * average when every weight is 0 (payments below one rating unit); null without ratings.
 * Rounded to 3 decimals.
 */
export function ratingAverage(r: {
  ratings: number;
  ratingWeight: bigint;
  weightedStars: bigint;
  starsTotal: number;
}): number | null {
  if (r.ratings === 0) return null;
  const average =
    r.ratingWeight > 0n
      ? Number((r.weightedStars * 1_000n) / r.ratingWeight) / 1_000
      : r.starsTotal / r.ratings;
  return Math.round(average * 1_000) / 1_000;
}

export function recordOf(r: RecordRow) {
  return {
    score: r.score,
    scoreAt: r.scoreAt,
    jobs: r.jobs,
    sessions: r.sessions,
    tokens: r.tokens,
    meanJobSeconds: r.jobs === 0 ? null : Number(r.jobSecondsTotal) / r.jobs,
    disputesWon: r.disputesWon,
    disputesLost: r.disputesLost,
    abandoned: r.abandoned,
    challengesLost: r.challengesLost,
    offences: r.offences,
    slashed: r.slashed,
    compensation: r.compensation,
    slashFailures: r.slashFailures,
    ratings: {
      count: r.ratings,
      average: ratingAverage(r),
      plainAverage: r.ratings === 0 ? null : Math.round((r.starsTotal / r.ratings) * 1_000) / 1_000,
      weight: r.ratingWeight,
    },
  };
}
