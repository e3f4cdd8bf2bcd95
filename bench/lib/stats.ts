/** Small helpers shared by the benchmarks: percentiles and a plain-text report. */

/** The p-th percentile (0..100) of `values` (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Prints rows as an aligned table (first row is the header). */
export function printTable(rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length))) ?? [];
  for (const [n, r] of cells.entries()) {
    console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  "));
    if (n === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

export const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** "PASS"/"MISS" against a target, for the report. */
export const verdict = (ok: boolean) => (ok ? "meets target" : "MISSES target");
