// build --shard K/N: a stable share of a course's pages, so N parallel CI jobs build all of it
// between them and their caches merge into one.
import { usage } from "./options.ts";

export interface Shard {
  k: number;
  n: number;
}

export function parseShard(raw: unknown): Shard | null {
  if (raw === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(String(raw));
  const k = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || k < 1 || k > n) throw usage(`--shard takes K/N with 1 <= K <= N, as in --shard 2/4, not "${String(raw)}"`);
  return { k, n };
}

/**
 * Shard K of N: the pages sorted by path, every Nth from the Kth. The same pages give the same
 * shares on every machine, and the shares differ in size by at most one page.
 */
export function shardOf(paths: string[], shard: Shard | null): string[] {
  if (shard === null) return paths;
  const sorted = [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.filter((_, i) => i % shard.n === shard.k - 1);
}
