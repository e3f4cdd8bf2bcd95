/** Times on the chain's clock (seconds) as people read them. */

/** `90` → `1m 30s`; `7200` → `2h`. */
export function formatDuration(seconds: bigint | number): string {
  let s = Number(seconds);
  if (s <= 0) return "0s";
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}

/** `2026-05-01T12:00:00.000Z (in 1m 30s)`, relative to `now` on the same clock. */
export function formatTime(at: bigint, now: bigint): string {
  const iso = new Date(Number(at) * 1000).toISOString();
  if (at === now) return `${iso} (now)`;
  return at > now
    ? `${iso} (in ${formatDuration(at - now)})`
    : `${iso} (${formatDuration(now - at)} ago)`;
}
