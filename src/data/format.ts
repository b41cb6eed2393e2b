/** Human-readable durations: 62.5 -> "1m 2.500s", 3.2 -> "3.200s", 3600 -> "1h", 0 -> "0s". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const sign = seconds < 0 ? '-' : '';
  // Work in integer milliseconds so 59.9996 rounds to "1m" instead of "60.000s".
  let ms = Math.round(Math.abs(seconds) * 1000);
  const h = Math.floor(ms / 3_600_000);
  ms -= h * 3_600_000;
  const m = Math.floor(ms / 60_000);
  ms -= m * 60_000;
  const parts: string[] = [];
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (ms) parts.push(`${(ms / 1000).toFixed(3)}s`);
  return parts.length ? sign + parts.join(' ') : '0s';
}
