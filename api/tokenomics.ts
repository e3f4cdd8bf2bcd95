/**
 * The pool's reward rates: what the last 30 days distributed, annualised, per FAB the pool
 * counts (its own staked FAB plus hosts' registry stake) and per share. The rewards are other
 * tokens than the FAB staked, so a rate is "reward-token base units per whole FAB per year",
 * never a percentage (that needs a price of each reward token in FAB, which is not indexed).
 */

export const DAY = 86_400n;
export const RATE_WINDOW_DAYS = 30n;
/** One whole FAB (or 1e18 shares): the unit the rates are stated per. */
export const WHOLE = 10n ** 18n;

/** `distributed` over the window, annualised, per `WHOLE` of `base`; null without a base. */
export function ratePerYear(distributed: bigint, base: bigint): bigint | null {
  if (base === 0n) return null;
  return (distributed * 365n * WHOLE) / (RATE_WINDOW_DAYS * base);
}
