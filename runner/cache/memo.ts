// What a rebuild remembers besides results, one memo per stage that asks: the port names of
// code (planning), highlighted code and the pages written (the build). A bad entry is a miss.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeAtomic } from "../atomic.ts";
import { sha } from "../digest.ts";

// The format of the memo files; a file of any other is read as empty.
const FORMAT = "lectern-result-2";

/** Remembers the port names of code already analysed (plan.ts asks it before parsing). */
export interface PortMemo {
  get(code: string): string[] | undefined;
  set(code: string, names: string[]): void;
}

/** Highlighted code by language and code (highlight.ts asks it before highlighting). */
export interface HighlightMemo {
  get(key: string): string | undefined;
  set(key: string, html: string): void;
}

/** What a build remembers of the pages it wrote: a key of their inputs (site.ts). */
export interface PageMemo {
  fresh(path: string, key: string): boolean;
  record(path: string, key: string): void;
}

/**
 * Port names by code, so a rebuild does not compile and parse every cell again just to plan it.
 * Only analyses that succeeded are kept; a bad entry is a miss.
 */
export function portMemo(cacheDir: string): PortMemo & { flush(): Promise<void> } {
  const writes: Promise<void>[] = [];
  // Bump the first part whenever plan.ts reads code differently.
  const path = (code: string) => join(cacheDir, "ports", `${sha("ports-2", code)}.json`);
  return {
    get(code) {
      try {
        const names = JSON.parse(readFileSync(path(code), "utf8")) as unknown;
        return Array.isArray(names) && names.every((n) => typeof n === "string") ? names : undefined;
      } catch {
        return undefined;
      }
    },
    set(code, names) {
      writes.push(writeAtomic(path(code), JSON.stringify(names)).catch(() => {}));
    },
    async flush() {
      await Promise.all(writes);
    },
  };
}

/** The map in `field` of one of our memo files; empty when there is none, or it is unreadable or of another format. */
function readMemo(path: string, field: "entries" | "pages"): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    const map = parsed[field];
    if (parsed.format === FORMAT && map && typeof map === "object") return map as Record<string, string>;
  } catch {
    // None yet, or unreadable.
  }
  return {};
}

/**
 * Highlighted code from earlier builds, in one file read once and written once. Only the
 * entries this build used are kept, so it holds no more than the site needs.
 */
export function highlightMemo(cacheDir: string): HighlightMemo & { save(): Promise<void> } {
  const path = join(cacheDir, "highlight.json");
  const known = readMemo(path, "entries");
  const used: Record<string, string> = {};
  let changed = false;
  return {
    get(key) {
      const html = known[sha(key)];
      if (typeof html === "string") used[sha(key)] = html;
      return typeof html === "string" ? html : undefined;
    },
    set(key, html) {
      used[sha(key)] = html;
      changed = true;
    },
    async save() {
      if (changed || Object.keys(used).length !== Object.keys(known).length) {
        await writeAtomic(path, JSON.stringify({ format: FORMAT, entries: used }));
      }
    },
  };
}

/** The digest of a published file as it is on disk now; null when it is gone. */
function fileDigest(file: string): string | null {
  try {
    return sha(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

/**
 * The pages a build wrote, by output path, with the key of what they were made from. A page
 * whose key is unchanged and whose file is still there is neither rendered nor written again.
 */
export function pageMemo(cacheDir: string): PageMemo & { save(): Promise<void> } {
  const path = join(cacheDir, "pages.json");
  // None yet, or unreadable: every page is written.
  const known = readMemo(path, "pages");
  const next = { ...known };
  return {
    // A published page is fresh only while it is byte for byte what Lectern wrote: one edited
    // since (by hand, or by a cell run without a sandbox) is written again.
    fresh: (file, key) => known[resolve(file)] === `${key}:${fileDigest(file)}`,
    record: (file, key) => void (next[resolve(file)] = `${key}:${fileDigest(file)}`),
    async save() {
      await writeAtomic(path, JSON.stringify({ format: FORMAT, pages: next }));
    },
  };
}
