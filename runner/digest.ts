// The digests every stage keys its files by: `sha` of some strings, and the toolchain's key (what
// a cell's behaviour depends on besides its own code). Shared, so that the cache keys a result by
// its inputs without reaching into the compiler, and the compiler names its outputs the same way.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { CELLS_DIR } from "./paths.ts";

/** The first 32 hex digits of the SHA-256 of the parts, each ended by a NUL (so "a","bc" is not "ab","c"). */
export function sha(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 32);
}

// Its package.json only: esbuild itself is loaded only when something must be compiled.
const esbuildVersion = (createRequire(import.meta.url)("esbuild/package.json") as { version: string }).version;

// What else a cell's behaviour depends on: the code Lectern puts in its process (every file of
// cells/, not a list that a new file can be missing from), the compiler, the platform.
let runtimeKey: string | null = null;
export function toolchainKey(): string {
  runtimeKey ??= sha(
    ...readdirSync(CELLS_DIR, { recursive: true, encoding: "utf8" })
      .filter((f) => /\.(ts|py|c|h)$/.test(f))
      .sort()
      .map((f) => f + "\n" + readFileSync(join(CELLS_DIR, f), "utf8")),
    esbuildVersion,
    process.version,
  );
  return runtimeKey;
}
