/**
 * The reputation score of a host, 0..1000, computed from indexed data only, so anyone
 * can recompute it from the event log. Deterministic: the same history gives the same
 * score. Components (each 0..1, weights sum to 1000):
 *
 *   reliability 400  jobs completed / jobs claimed and not refused (no such jobs: 0.5)
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
  const reliability = served <= 0 ? 0.5 : Math.min(h.jobsCompleted / served, 1);
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
