// Cell results on disk in the cache folder, keyed by everything that can change them, so a
// rebuild runs only what an edit touched. A missing, corrupt or half-written entry is a miss.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeAtomic } from "../atomic.ts";
import { compileCell, sha, toolchainKey } from "../execute/compile.ts";
import { LecternError } from "../errors.ts";
import { PACKAGE_JSON } from "../paths.ts";
import type { HighlightMemo } from "../render/highlight.ts";
import type { PortMemo } from "../plan/plan.ts";
import type { PageMemo } from "../render/site.ts";
import { withLazyTrace, withoutLazyTrace } from "../trace/trace.ts";
import { decodeRecords, TraceRecords, wholeRecords } from "../trace/tracefile.ts";
import type { CellResult, Plan, Status } from "../types.ts";

// 2: the trace stored as the cell's records, beside the result.
const FORMAT = "lectern-result-2";
const PACKAGE = JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version: string };
export const LECTERN_VERSION = PACKAGE.version;

/**
 * Each cell's key: its code, fence info (attributes, stdin), effective timeout, the local files
 * it imports, the keys of the cells it needs, and the Lectern and Node versions. Prose is not in it.
 */
export async function cellKeys(plan: Plan, cacheDir: string, defaultTimeout: number): Promise<Map<string, string | null>> {
  const keys = new Map<string, string | null>();
  const byName = new Map(plan.cells.map((c) => [c.name, c]));
  const keyOf = async (name: string): Promise<string | null> => {
    if (keys.has(name)) return keys.get(name)!;
    const cell = byName.get(name)!;
    let inputs: Record<string, string>;
    try {
      // Also checks the compiled file against the digest Lectern wrote: one changed since is
      // compiled again (compile.ts), so what runs is always what Lectern compiled.
      ({ inputs } = await compileCell(cell, plan.page.path, cacheDir));
    } catch (err) {
      // A cell that does not compile has no key (its run said why), nor do the cells that need it.
      if (!(err instanceof LecternError)) throw err;
      keys.set(name, null);
      return null;
    }
    const deps: string[] = [];
    for (const dep of [...cell.deps].sort()) {
      const key = await keyOf(dep);
      if (key === null) {
        keys.set(name, null);
        return null;
      }
      deps.push(dep, key);
    }
    const key = sha(
      FORMAT,
      LECTERN_VERSION,
      process.version,
      toolchainKey(),
      cell.lang,
      cell.info,
      cell.code,
      String(cell.attrs.timeout ?? defaultTimeout),
      JSON.stringify(Object.entries(inputs).sort()),
      ...deps,
    );
    keys.set(name, key);
    return key;
  };
  // Plans have no cycles (plan.ts checks), so the recursion ends.
  for (const cell of plan.cells) await keyOf(cell.name);
  return keys;
}

const STATUSES: Status[] = ["passed", "failed", "timeout", "skipped"];

function resultPath(cacheDir: string, key: string, ext: "json" | "trace" = "json"): string {
  return join(cacheDir, "results", `${key}.${ext}`);
}

interface Entry {
  format?: string;
  key?: string;
  result?: CellResult;
  /** Set when the trace is in `KEY.trace`, as the cell wrote it (TraceRecords.toJSON). */
  records?: { clock0?: unknown; sha256?: unknown };
}

/**
 * A stored result for a cell where the page has it now (the key leaves out prose and default
 * names), marked cached; null when there is none or it cannot be trusted.
 */
export function loadResult(cacheDir: string, key: string, cell: { name: string; line: number }): CellResult | null {
  try {
    const entry = JSON.parse(readFileSync(resultPath(cacheDir, key), "utf8")) as Entry;
    const r = entry.result;
    if (entry.format !== FORMAT || entry.key !== key || !r || !STATUSES.includes(r.status) || typeof r.output !== "string" || !Array.isArray(r.chunks)) {
      return null;
    }
    const here = { name: cell.name, line: cell.line, cached: true };
    if (typeof entry.records?.clock0 === "number") {
      const records = new TraceRecords(readFileSync(resultPath(cacheDir, key, "trace")), entry.records.clock0);
      // Another store of the same key may have put its records there between our two files.
      if (records.digest() !== entry.records.sha256 || wholeRecords(records.bytes) !== records.bytes.length) return null;
      return withLazyTrace({ ...r, ...here, traceRecords: records }, () => decodeRecords(cell.name, records));
    }
    return { ...r, ...here, trace: r.trace?.map((e) => ({ ...e, cell: cell.name })) };
  } catch {
    return null;
  }
}

/**
 * Stores a result. Its trace goes beside it as the records the cell wrote (one write; the
 * events of 10,000 datagrams as JSON took 40 ms to make and write), and the JSON entry after
 * it, with the records' digest: two stores of one key (two builds sharing the cache, or one
 * cell on two pages) can interleave their files, and an entry is only ever read with its own.
 */
export async function storeResult(cacheDir: string, key: string, result: CellResult): Promise<void> {
  // The trace is stored as its records, and not decoded to be left out.
  const { traceRecords: records, ...rest } = withoutLazyTrace(result);
  const entry: Entry = { format: FORMAT, key, result: { ...rest, cached: false } };
  if (records && records.bytes.length > 0) {
    await writeAtomic(resultPath(cacheDir, key, "trace"), records.bytes);
    entry.records = records.toJSON();
  } else {
    entry.result!.trace = result.trace ?? [];
  }
  await writeAtomic(resultPath(cacheDir, key), JSON.stringify(entry));
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

/**
 * The pages a build wrote, by output path, with the key of what they were made from. A page
 * whose key is unchanged and whose file is still there is neither rendered nor written again.
 */
function fileDigest(file: string): string | null {
  try {
    return sha(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

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
