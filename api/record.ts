/**
 * A host's on-chain record as the API shows it (GET /hosts/:address `record`): the
 * ReputationSystem's (score, work, offences, ratings) and the ProofSystem's (proofs, challenges).
 */
import type { hostProofRecord, hostReputation } from "ponder:schema";

type RecordRow = typeof hostReputation.$inferSelect;
type ProofsRow = typeof hostProofRecord.$inferSelect;

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

/**
 * The ProofSystem's part of the record: accepted proof submissions, and challenges of the
 * host's work by outcome. The host won a challenge it Answered (proved the count in time) or
 * that the arbiter Rejected, and lost one it left Unanswered or that was Upheld (each slashed);
 * Unarbitrated and Voided are neither side's loss.
 */
export function proofRecordOf(p: ProofsRow | undefined) {
  const n = (
    k: Exclude<keyof ProofsRow, "host" | "provenTokens" | "challengeSlashed" | "updatedAt">,
  ) => p?.[k] ?? 0;
  return {
    proofs: {
      submissions: n("proofs"),
      jobs: n("jobsProven"),
      sessions: n("sessionsProven"),
      tokens: p?.provenTokens ?? 0n,
      chunks: n("provenChunks"),
    },
    challenges: {
      total: n("challenges"),
      open: n("challengesOpen"),
      won: n("challengesAnswered") + n("challengesRejected"),
      lost: n("challengesUnanswered") + n("challengesUpheld"),
      answered: n("challengesAnswered"),
      rejected: n("challengesRejected"),
      unanswered: n("challengesUnanswered"),
      upheld: n("challengesUpheld"),
      unarbitrated: n("challengesUnarbitrated"),
      voided: n("challengesVoided"),
      slashed: p?.challengeSlashed ?? 0n,
    },
  };
}

export function recordOf(r: RecordRow, p?: ProofsRow) {
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
    ...proofRecordOf(p),
  };
}
