/**
 * The reputation score of a host, 0..1000, computed from indexed data only, so anyone
 * can recompute it from the event log. Deterministic: the same history gives the same
 * score. Components (each 0..1, weights sum to 1000):
 *
 *   reliability 400  (jobs completed + sessions served) / (jobs claimed and not refused +
 *                    sessions served) (none of either: 0.5)
 *   disputes    200  1 - disputes lost / jobs completed (no jobs: 1)
 *   expiries    150  1 - jobs expired after claim / jobs claimed and not refused (none: 1)
 *   stake       150  min(stake / (10 x 1000 FAB), 1): skin in the game, saturating
 *   tenure      100  min(seconds since first registration / 90 days, 1)
 *
 * A refused job (handed back before its deadline because the renter's authenticated request
 * could not be served, e.g. a prompt longer than the model's context) counts neither for nor
 * against the host: it is left out of the claims that reliability and expiries are taken over.
 * Counting it as a failure would push hosts to let such jobs expire instead, which keeps the
 * renter's deposit locked until the deadline; the refusal count stays visible on its own.
 *
 * A session counts only in the host's favour: a settled session in which the host was paid
 * (it presented renter-signed receipts) counts like a completed job. A session that paid
 * nothing counts neither way: the renter alone opens it, may simply not use it, and gets its
 * whole deposit back, so counting it against the host would let anyone sink a host's score
 * for the price of gas. A served session costs a host dealing with itself the same escrow
 * fees a self-dealt job does. The session counters stay visible on their own.
 *
 * "Time active" is measured at the block of the host's latest event, not at query
 * time, so the stored score only changes when the host's history does.
 * On-chain reputation will extend this later.
 */
export interface ReputationInput {
  jobsClaimed: number;
  jobsCompleted: number;
  jobsExpired: number;
  jobsRefused: number;
  disputesLost: number;
  /** Settled sessions in which the host was paid (absent: none). */
  sessionsServed?: number;
  stake: bigint;
  firstRegisteredAt: bigint;
  at: bigint;
}

export interface Reputation {
  score: number;
  components: {
    reliability: number;
    disputes: number;
    expiries: number;
    stake: number;
    tenure: number;
  };
}

export const WEIGHTS = {
  reliability: 400,
  disputes: 200,
  expiries: 150,
  stake: 150,
  tenure: 100,
} as const;
export const STAKE_SATURATION = 10_000n * 10n ** 18n;
export const TENURE_SATURATION_SECONDS = 90n * 86_400n;

export function reputation(h: ReputationInput): Reputation {
  const served = h.jobsClaimed - h.jobsRefused; // claims the host kept
  const sessions = h.sessionsServed ?? 0;
  const engagements = Math.max(served, 0) + sessions;
  const reliability =
    engagements <= 0 ? 0.5 : Math.min((h.jobsCompleted + sessions) / engagements, 1);
  const disputes = h.jobsCompleted === 0 ? 1 : 1 - Math.min(h.disputesLost / h.jobsCompleted, 1);
  const expiries = served <= 0 ? 1 : 1 - Math.min(h.jobsExpired / served, 1);
  const stake =
    h.stake >= STAKE_SATURATION ? 1 : Number((h.stake * 1_000_000n) / STAKE_SATURATION) / 1_000_000;
  const age = h.at > h.firstRegisteredAt ? h.at - h.firstRegisteredAt : 0n;
  const tenure =
    age >= TENURE_SATURATION_SECONDS ? 1 : Number(age) / Number(TENURE_SATURATION_SECONDS);
  const components = { reliability, disputes, expiries, stake, tenure };
  const score = Math.round(
    reliability * WEIGHTS.reliability +
      disputes * WEIGHTS.disputes +
      expiries * WEIGHTS.expiries +
      stake * WEIGHTS.stake +
      tenure * WEIGHTS.tenure,
  );
  return { score, components };
}
