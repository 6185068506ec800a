// Durations for people: the one format used in the terminal, the JSON-free reports and the site.

/** `12 ms`, `1.4 s`, `2 min 5 s`: rounded first, so 999.6 ms reads `1.0 s`, not `1000 ms`. */
export function formatDuration(ms: number): string {
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
